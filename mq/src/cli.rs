//! Command-line parsing and validation: turns `argv` into a [`Config`] or a one-line
//! error message.

use std::time::Duration;

use clap::Parser;
use monocoque::{certificate, Bytes, CurveKeyPair, CurvePublicKey, SocketType};

use crate::frames::parse_frame;

/// The long help (`mq --help`): what each socket type does with standard input and
/// output, and the rules for the cases the options do not spell out.
const LONG_ABOUT: &str = "\
Send and receive ZeroMQ messages from the shell. mq speaks ZMTP 3.1, so its peers \
can be libzmq, pyzmq, JeroMQ, NetMQ or other mq processes.

Message format: one message per line. Frames are separated by TAB. A frame that is \
not printable text (valid UTF-8 without control characters such as TAB or newline) \
is printed as 0x followed by lowercase hex; on input, a frame written as 0x followed \
by an even number of hex digits is sent as those bytes (so printed lines can be fed \
back unchanged). A text frame that looks like hex is printed in hex for the same \
reason. Output is flushed after every line.

Security: --plain-server/--plain-client (PLAIN) or --curve-server/--curve-client (CURVE, encrypted). `mq keygen` prints a new CURVE key pair (public key, then secret key, in Z85); `mq keygen --out NAME` writes NAME.key and NAME.key_secret certificates in the format pyzmq's zmq.auth reads and writes. A CURVE server lets in only the client keys given with --curve-allow and those of the certificates (*.key files) in the directories given with --curve-allow-dir, or any key when neither is given.

What each TYPE does:
  PUSH, PUB      send every input line, exit when input ends (after delivering
                 what is queued). PUB drops messages sent before a subscriber has
                 connected and subscribed (the 'slow joiner'): feed lines slowly or
                 start the subscribers first.
  PULL, SUB      print every received message. SUB (and XSUB) without
                 --subscribe receive everything.
  REQ            send each input line as a request and print its reply; exit when
                 input ends.
  REP            print each request and reply with the next input line; exit when
                 input ends (a request still waiting then gets no reply).
  DEALER, ROUTER, PAIR, XPUB, XSUB
                 send input lines and print received messages at the same time.
                 ROUTER prints the sender's routing id as the first frame and takes
                 the recipient's routing id as the first frame of each input line
                 (an unknown id is reported on standard error and skipped). XPUB
                 prints subscriptions (0x01 + topic, 0x00 + topic); XSUB sends such
                 lines as subscriptions. When input ends they exit, unless --count
                 or --timeout is given: then they keep receiving until the count is
                 reached or the timeout fires. (To only receive, with no input and
                 no limit, keep the input open: tail -f /dev/null | mq router ...)
  REP, ROUTER, DEALER, PAIR with --echo
                 send every received message back unchanged (ROUTER to its sender)
                 and print nothing; standard input is not read.

Endpoints: tcp://host:port, tcp://*:port, ipc:///path. Binding to port 0 or * picks \
a free port and prints 'mq: listening on ENDPOINT' on standard error. Connections \
are made in the background and retried until the peer appears, so the peer may \
start later. The options may be repeated to bind and connect to several endpoints.

Exit status: 0 when done (input ended, or --count reached), 1 when --timeout fired, \
2 on any error (bad arguments, unknown type, bad endpoint, address in use, ...), \
with one line on standard error. Before exiting, queued messages are delivered \
(waiting for peers as long as needed; at most SECS with --timeout).

Logs go to standard error at the 'warn' level; set RUST_LOG (e.g. RUST_LOG=debug) \
to see more.

Examples:
  mq pull --bind tcp://*:5557
  printf 'job\\t42\\n' | mq push --connect tcp://localhost:5557
  mq sub --connect tcp://localhost:5556 --subscribe weather. --count 10
  echo ping | mq req --connect tcp://localhost:5555 --timeout 5
  mq rep --bind tcp://*:5555 --echo
  mq router --bind tcp://*:5555    (reply by typing: ROUTING-ID<TAB>message)";

/// Socket type names for the TYPE help line.
const TYPE_HELP: &str = "Socket type, in any case: PUB, SUB, XPUB, XSUB, PUSH, PULL, \
REQ, REP, DEALER, ROUTER, PAIR";

/// The command line as clap sees it, before validation.
#[derive(Debug, Parser)]
#[command(
    name = "mq",
    version,
    about = "Send and receive ZeroMQ messages: lines on standard input and output, \
             frames separated by TAB.",
    long_about = LONG_ABOUT
)]
struct Args {
    #[arg(value_name = "TYPE", help = TYPE_HELP)]
    socket_type: String,

    /// Listen on this endpoint (repeatable).
    #[arg(short, long, value_name = "EP")]
    bind: Vec<String>,

    /// Connect to this endpoint, retrying until it is up (repeatable).
    #[arg(short, long, value_name = "EP")]
    connect: Vec<String>,

    /// SUB, XSUB: receive only messages whose first frame starts with PREFIX
    /// (repeatable; 0x-hex for binary). Default: everything.
    #[arg(short, long, value_name = "PREFIX")]
    subscribe: Vec<String>,

    /// Routing id announced to peers (what a ROUTER peer sees; 0x-hex for binary).
    #[arg(short, long, value_name = "ID")]
    identity: Option<String>,

    /// Exit 0 after N messages received (send-only PUSH and PUB: after N lines
    /// sent).
    #[arg(short = 'n', long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    count: Option<u64>,

    /// Exit 1 if no message arrives for SECS seconds (fractions allowed). For PUSH
    /// and PUB: if a message cannot be sent, or queued messages not delivered at
    /// exit, within SECS.
    #[arg(short, long, value_name = "SECS", value_parser = parse_seconds)]
    timeout: Option<Duration>,

    /// REP, ROUTER, DEALER, PAIR: send every received message back and print
    /// nothing.
    #[arg(short, long)]
    echo: bool,

    /// Be a PLAIN server that lets in clients with this user name and password
    /// (repeatable: any of them).
    #[arg(long, value_name = "USER:PASS", conflicts_with = "plain_client")]
    plain_server: Vec<String>,

    /// Be a PLAIN client with this user name and password.
    #[arg(long, value_name = "USER:PASS")]
    plain_client: Option<String>,

    /// The ZAP domain a server names when it authenticates clients (ZAP_DOMAIN). A
    /// NULL socket with a domain asks about every peer; mq has no rules for NULL
    /// peers, so it lets them all in (unless --zap-enforce-domain).
    #[arg(long, value_name = "DOMAIN")]
    zap_domain: Option<String>,

    /// ZAP_ENFORCE_DOMAIN: refuse every peer that nothing here can judge (NULL
    /// peers, and CURVE clients without --curve-allow) instead of letting them in.
    /// Needs --zap-domain: without a domain it would turn authentication off.
    #[arg(long, requires = "zap_domain")]
    zap_enforce_domain: bool,

    /// Be a CURVE server with this secret key (40 characters of Z85; see `mq keygen`).
    #[arg(long, value_name = "SECRET", conflicts_with_all = ["plain_server", "plain_client", "curve_client"])]
    curve_server: Option<String>,

    /// CURVE server: let in only clients with this public key (repeatable).
    #[arg(long, value_name = "PUBLIC", requires = "curve_server")]
    curve_allow: Vec<String>,

    /// CURVE server: let in only clients whose public key is in a certificate (a
    /// *.key file, as `mq keygen --out` and pyzmq's zmq.auth write) in DIR, read at
    /// start (repeatable; adds to --curve-allow).
    #[arg(long, value_name = "DIR", requires = "curve_server")]
    curve_allow_dir: Vec<String>,

    /// Be a CURVE client of the server with this public key.
    #[arg(long, value_name = "SERVERPUBLIC", conflicts_with_all = ["plain_server", "plain_client"])]
    curve_client: Option<String>,

    /// CURVE client: our secret key (default: a fresh key pair).
    #[arg(long, value_name = "SECRET", requires = "curve_client")]
    curve_secret: Option<String>,
}

/// What the socket does with standard input and output; decided by its type and
/// `--echo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// PUSH, PUB: input lines are sent.
    Send,
    /// PULL, SUB: received messages are printed.
    Receive,
    /// REQ: each input line is a request; its reply is printed.
    Request,
    /// REP: each request is printed and answered with the next input line.
    Reply,
    /// REP, ROUTER, DEALER, PAIR with `--echo`: received messages are sent back.
    Echo,
    /// DEALER, ROUTER, PAIR, XPUB, XSUB: input is sent while received messages are
    /// printed.
    Duplex,
}

impl Mode {
    /// The mode of a `kind` socket, or why `--echo` does not apply to it.
    fn of(kind: SocketType, echo: bool) -> Result<Mode, String> {
        use SocketType::*;
        let mode = match (kind, echo) {
            (Rep | Router | Dealer | Pair, true) => Mode::Echo,
            (_, true) => {
                return Err(format!(
                    "--echo applies only to REP, ROUTER, DEALER and PAIR, not {kind}"
                ))
            }
            (Push | Pub, false) => Mode::Send,
            (Pull | Sub, false) => Mode::Receive,
            (Req, false) => Mode::Request,
            (Rep, false) => Mode::Reply,
            (Dealer | Router | Pair | XPub | XSub, false) => Mode::Duplex,
        };
        Ok(mode)
    }

    /// Whether this mode reads standard input.
    pub fn reads_input(self) -> bool {
        !matches!(self, Mode::Receive | Mode::Echo)
    }
}

/// A validated command line.
#[derive(Debug, Clone)]
pub struct Config {
    /// The socket type.
    pub kind: SocketType,
    /// What to do with standard input and output.
    pub mode: Mode,
    /// Endpoints to bind, in order.
    pub binds: Vec<String>,
    /// Endpoints to connect to, in order.
    pub connects: Vec<String>,
    /// SUB/XSUB prefixes (empty list: everything).
    pub subscriptions: Vec<Bytes>,
    /// ROUTING_ID, if given.
    pub identity: Option<Bytes>,
    /// Stop after this many messages.
    pub count: Option<u64>,
    /// Give up after this long without progress.
    pub timeout: Option<Duration>,
    /// PLAIN server: the accepted user names and passwords.
    pub plain_server: Vec<(Bytes, Bytes)>,
    /// PLAIN client: our user name and password.
    pub plain_client: Option<(Bytes, Bytes)>,
    /// ZAP_DOMAIN, if given.
    pub zap_domain: Option<Bytes>,
    /// ZAP_ENFORCE_DOMAIN.
    pub zap_enforce_domain: bool,
    /// CURVE server: our key pair and the client keys let in (empty: any).
    pub curve_server: Option<(CurveKeyPair, Vec<CurvePublicKey>)>,
    /// CURVE client: our key pair and the server's public key.
    pub curve_client: Option<(CurveKeyPair, CurvePublicKey)>,
}

/// What parsing the command line ended in.
pub enum Parsed {
    /// Run with this configuration.
    Run(Box<Config>),
    /// `mq keygen [--out NAME]`: print (or write) a new CURVE key pair.
    Keygen(Option<String>),
    /// `--help` or `--version` was printed: exit 0.
    Printed,
}

/// Parses and validates the process arguments. The error is one line, ready for
/// standard error.
pub fn parse() -> Result<Parsed, String> {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("keygen") {
        return match &argv[2..] {
            [] => Ok(Parsed::Keygen(None)),
            [flag, name] if flag == "--out" => Ok(Parsed::Keygen(Some(name.clone()))),
            _ => Err("usage: mq keygen [--out NAME] (see mq --help)".to_string()),
        };
    }
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) => return clap_outcome(&e),
    };
    validate(args).map(|cfg| Parsed::Run(Box::new(cfg)))
}

/// Prints `--help`/`--version`, or turns a usage error into one line.
fn clap_outcome(e: &clap::Error) -> Result<Parsed, String> {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            // Nothing sensible to do if stdout is gone.
            let _ = e.print();
            Ok(Parsed::Printed)
        }
        _ => Err(format!("{} (see mq --help)", one_line(e))),
    }
}

/// Clap's error message without its `error:` prefix, tips and usage, on one line.
fn one_line(e: &clap::Error) -> String {
    let rendered = e.render().to_string();
    let message: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .take_while(|line| !line.is_empty() && !line.starts_with("Usage:"))
        .collect();
    message
        .join(" ")
        .trim_start_matches("error:")
        .trim()
        .to_string()
}

/// Checks what clap cannot: the type name, the endpoints given, which options apply
/// to the type.
fn validate(args: Args) -> Result<Config, String> {
    let kind: SocketType = args.socket_type.parse()?;
    let mode = Mode::of(kind, args.echo)?;
    if args.bind.is_empty() && args.connect.is_empty() {
        return Err("give at least one --bind or --connect endpoint".to_string());
    }
    if !args.subscribe.is_empty() && !matches!(kind, SocketType::Sub | SocketType::XSub) {
        return Err(format!(
            "--subscribe applies only to SUB and XSUB, not {kind}"
        ));
    }
    let identity = args
        .identity
        .as_deref()
        .map(|id| parse_identity(id.as_bytes()))
        .transpose()?;
    Ok(Config {
        kind,
        mode,
        binds: args.bind,
        connects: args.connect,
        subscriptions: args
            .subscribe
            .iter()
            .map(|p| parse_frame(p.as_bytes()))
            .collect(),
        identity,
        count: args.count,
        timeout: args.timeout,
        plain_server: args
            .plain_server
            .iter()
            .map(|c| parse_credentials(c))
            .collect::<Result<_, _>>()?,
        plain_client: args
            .plain_client
            .as_deref()
            .map(parse_credentials)
            .transpose()?,
        zap_domain: args.zap_domain.map(Bytes::from),
        zap_enforce_domain: args.zap_enforce_domain,
        curve_server: match &args.curve_server {
            None => None,
            Some(secret) => Some((
                CurveKeyPair::from_secret(secret).map_err(|e| format!("--curve-server: {e}"))?,
                curve_allowed(&args.curve_allow, &args.curve_allow_dir)?,
            )),
        },
        curve_client: match &args.curve_client {
            None => None,
            Some(server) => Some((
                match &args.curve_secret {
                    Some(secret) => CurveKeyPair::from_secret(secret)
                        .map_err(|e| format!("--curve-secret: {e}"))?,
                    None => CurveKeyPair::generate(),
                },
                CurvePublicKey::new(server).map_err(|e| format!("--curve-client: {e}"))?,
            )),
        },
    })
}

/// The client keys a CURVE server lets in: those of `--curve-allow`, then those of
/// the certificates in each `--curve-allow-dir`. A directory without certificates is
/// an error: it would let nobody in, which is hardly ever what was meant.
fn curve_allowed(keys: &[String], dirs: &[String]) -> Result<Vec<CurvePublicKey>, String> {
    let mut allowed = keys
        .iter()
        .map(|k| CurvePublicKey::new(k).map_err(|e| format!("--curve-allow: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    for dir in dirs {
        let found =
            certificate::load_public_keys(dir).map_err(|e| format!("--curve-allow-dir: {e}"))?;
        if found.is_empty() {
            return Err(format!(
                "--curve-allow-dir: no certificates (*.key files) in {dir}"
            ));
        }
        allowed.extend(found);
    }
    Ok(allowed)
}

/// `USER:PASS`, each at most 255 bytes (PLAIN's limit); the password may contain ':'.
fn parse_credentials(text: &str) -> Result<(Bytes, Bytes), String> {
    let (user, pass) = text
        .split_once(':')
        .ok_or_else(|| "PLAIN credentials are USER:PASS".to_string())?;
    if user.len() > 255 || pass.len() > 255 {
        return Err("a PLAIN user name or password is at most 255 bytes".to_string());
    }
    Ok((
        Bytes::copy_from_slice(user.as_bytes()),
        Bytes::copy_from_slice(pass.as_bytes()),
    ))
}

/// A routing id: 1 to 255 bytes, not starting with a zero byte (libzmq reserves
/// those for the ids it generates).
fn parse_identity(text: &[u8]) -> Result<Bytes, String> {
    let id = parse_frame(text);
    if id.is_empty() || id.len() > 255 {
        return Err("--identity must be 1 to 255 bytes long".to_string());
    }
    if id[0] == 0 {
        return Err("--identity must not start with a zero byte".to_string());
    }
    Ok(id)
}

/// Parses `--timeout`: positive seconds, fractions allowed.
fn parse_seconds(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if secs <= 0.0 {
        return Err("the timeout must be positive".to_string());
    }
    Duration::try_from_secs_f64(secs).map_err(|_| format!("{text:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_args(argv: &[&str]) -> Result<Config, String> {
        let args = Args::try_parse_from(std::iter::once("mq").chain(argv.iter().copied()))
            .map_err(|e| one_line(&e))?;
        validate(args)
    }

    #[test]
    fn types_parse_in_any_case() {
        let cfg = parse_args(&["sUb", "-c", "tcp://127.0.0.1:1"]).unwrap();
        assert_eq!(cfg.kind, SocketType::Sub);
        assert_eq!(cfg.mode, Mode::Receive);
        let err = parse_args(&["nope", "-c", "tcp://127.0.0.1:1"]).unwrap_err();
        assert!(err.contains("nope") && !err.contains('\n'), "{err}");
    }

    #[test]
    fn modes_follow_type_and_echo() {
        let mode = |t: &str, echo: bool| {
            let mut argv = vec![t, "--bind", "tcp://*:1"];
            if echo {
                argv.push("--echo");
            }
            parse_args(&argv).map(|c| c.mode)
        };
        assert_eq!(mode("push", false), Ok(Mode::Send));
        assert_eq!(mode("req", false), Ok(Mode::Request));
        assert_eq!(mode("rep", false), Ok(Mode::Reply));
        assert_eq!(mode("rep", true), Ok(Mode::Echo));
        assert_eq!(mode("router", false), Ok(Mode::Duplex));
        assert!(mode("pull", true).is_err());
    }

    #[test]
    fn an_endpoint_is_required() {
        let err = parse_args(&["pull"]).unwrap_err();
        assert!(err.contains("--bind"), "{err}");
    }

    #[test]
    fn options_must_fit_the_type() {
        assert!(parse_args(&["pub", "-b", "tcp://*:1", "--subscribe", "x"]).is_err());
        let cfg = parse_args(&["xsub", "-c", "tcp://h:1", "-s", "a", "-s", "0x00"]).unwrap();
        assert_eq!(
            cfg.subscriptions,
            vec![Bytes::from("a"), Bytes::from(&b"\0"[..])]
        );
    }

    #[test]
    fn zap_enforce_domain_needs_a_domain() {
        let enforce = |extra: &[&str]| {
            let mut argv = vec!["rep", "-b", "tcp://*:1", "--zap-enforce-domain"];
            argv.extend_from_slice(extra);
            parse_args(&argv)
        };
        let err = enforce(&[]).unwrap_err();
        assert!(err.contains("--zap-domain"), "{err}");
        let cfg = enforce(&["--zap-domain", "global"]).unwrap();
        assert!(cfg.zap_enforce_domain);
        assert_eq!(cfg.zap_domain, Some(Bytes::from("global")));
        let cfg = parse_args(&["rep", "-b", "tcp://*:1"]).unwrap();
        assert!(!cfg.zap_enforce_domain);
    }

    #[test]
    fn identity_is_checked() {
        let id = |s: &str| parse_args(&["dealer", "-c", "tcp://h:1", "--identity", s]);
        assert_eq!(id("client").unwrap().identity, Some(Bytes::from("client")));
        assert_eq!(
            id("0x41ff").unwrap().identity,
            Some(Bytes::from(&b"A\xff"[..]))
        );
        assert!(id("").is_err());
        assert!(id("0x0001").is_err());
    }

    #[test]
    fn curve_allow_dir_adds_the_keys_of_its_certificates() {
        const SECRET: &str = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6";
        let dir = std::env::temp_dir().join(format!("mq-allow-dir-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let dir_arg = dir.to_str().unwrap();
        let server = |extra: &[&str]| {
            let mut argv = vec!["rep", "-b", "tcp://*:1", "--curve-server", SECRET];
            argv.extend_from_slice(extra);
            parse_args(&argv).map(|cfg| cfg.curve_server.unwrap().1)
        };
        let err = server(&["--curve-allow-dir", dir_arg]).unwrap_err();
        assert!(
            err.contains("no certificates") && err.contains(dir_arg),
            "{err}"
        );

        let (alice, bob) = (CurveKeyPair::generate(), CurveKeyPair::generate());
        certificate::save(dir.join("alice"), &alice).unwrap();
        let bob_z85 = bob.public().to_z85();
        let allowed = server(&["--curve-allow", &bob_z85, "--curve-allow-dir", dir_arg]).unwrap();
        assert_eq!(allowed, [bob.public(), alice.public()]);

        std::fs::write(dir.join("broken.key"), "curve\n").unwrap();
        let err = server(&["--curve-allow-dir", dir_arg]).unwrap_err();
        assert!(
            err.starts_with("--curve-allow-dir: ") && err.contains("broken.key"),
            "{err}"
        );
        let err =
            parse_args(&["rep", "-b", "tcp://*:1", "--curve-allow-dir", dir_arg]).unwrap_err();
        assert!(err.contains("--curve-server"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn timeouts_and_counts_are_checked() {
        let t = |s: &str| parse_args(&["pull", "-b", "tcp://*:1", "--timeout", s]);
        assert_eq!(t("1.5").unwrap().timeout, Some(Duration::from_millis(1500)));
        for bad in ["0", "-1", "soon", "1e300"] {
            let err = t(bad).unwrap_err();
            assert!(!err.contains('\n'), "{err}");
        }
        assert!(parse_args(&["pull", "-b", "tcp://*:1", "--count", "0"]).is_err());
    }
}
