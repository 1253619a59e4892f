//! The `mq` command-line tool, run as a process against libzmq peers over TCP.
//!
//! Every wait is bounded: reads from the child use [`WAIT`], libzmq sockets have
//! RCVTIMEO/SNDTIMEO set, and a child that does not exit in time is killed and the
//! test fails.

#[path = "../../patterns/tests/common/mod.rs"]
mod common;
#[path = "../../patterns/tests/pyzmq/mod.rs"]
mod pyzmq;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use common::{free_tcp_endpoint, zbind, zsock, WAIT};

/// A running `mq` process with its standard streams piped.
struct Mq {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
}

/// What a finished `mq` left behind.
struct Finished {
    status: ExitStatus,
    /// Standard output lines not read during the test.
    stdout: Vec<String>,
    /// All standard error lines not read during the test.
    stderr: Vec<String>,
}

impl Mq {
    /// Starts `mq ARGS…`.
    fn start(args: &[&str]) -> Mq {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mq"))
            .args(args)
            .env_remove("RUST_LOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start mq");
        let stdout = lines_of(child.stdout.take().expect("piped stdout"));
        let stderr = lines_of(child.stderr.take().expect("piped stderr"));
        Mq {
            stdin: child.stdin.take(),
            child,
            stdout,
            stderr,
        }
    }

    /// The endpoint `mq` bound to, from its `listening on` line (it was asked for
    /// port 0).
    fn bound_endpoint(&self) -> String {
        let line = recv_line(&self.stderr, "the 'listening on' line");
        line.strip_prefix("mq: listening on ")
            .unwrap_or_else(|| panic!("unexpected stderr line {line:?}"))
            .to_string()
    }

    /// Writes one line to `mq`'s standard input.
    fn write_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        writeln!(stdin, "{line}").expect("write to mq");
        stdin.flush().expect("flush mq stdin");
    }

    /// Takes `mq`'s standard input (to write from another thread or to close it).
    fn take_stdin(&mut self) -> ChildStdin {
        self.stdin.take().expect("stdin still open")
    }

    /// Ends `mq`'s input.
    fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// The next line `mq` prints.
    fn line(&self) -> String {
        recv_line(&self.stdout, "a line on mq's stdout")
    }

    /// Waits for `mq` to exit (killing it and failing after [`WAIT`]) and collects
    /// what it printed.
    fn finish(mut self) -> Finished {
        self.stdin = None;
        let deadline = Instant::now() + WAIT;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for mq") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                let stderr: Vec<String> = self.stderr.try_iter().collect();
                panic!("mq did not exit within {WAIT:?}; stderr: {stderr:?}");
            }
            thread::sleep(Duration::from_millis(20));
        };
        Finished {
            status,
            stdout: drain(&self.stdout),
            stderr: drain(&self.stderr),
        }
    }
}

impl Drop for Mq {
    fn drop(&mut self) {
        // A test that failed half-way must not leave the process behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Forwards the lines of `stream` to a channel from a background thread.
fn lines_of(stream: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The next line from `lines`, failing the test after [`WAIT`].
fn recv_line(lines: &mpsc::Receiver<String>, what: &str) -> String {
    lines
        .recv_timeout(WAIT)
        .unwrap_or_else(|e| panic!("no {what} within {WAIT:?}: {e}"))
}

/// The remaining lines of an exited process (its pipes are closed, so the reader
/// threads end).
fn drain(lines: &mpsc::Receiver<String>) -> Vec<String> {
    let mut all = Vec::new();
    while let Ok(line) = lines.recv_timeout(WAIT) {
        all.push(line);
    }
    all
}

/// Frames as byte vectors, for comparing libzmq's multipart messages.
fn frames(parts: &[&[u8]]) -> Vec<Vec<u8>> {
    parts.iter().map(|p| p.to_vec()).collect()
}

/// Runs `mq ARGS…` with no input and expects exit status 2 with exactly one line on
/// standard error; returns that line.
fn expect_error(args: &[&str]) -> String {
    let mut mq = Mq::start(args);
    mq.close_stdin();
    let done = mq.finish();
    assert_eq!(done.status.code(), Some(2), "stderr: {:?}", done.stderr);
    assert_eq!(done.stderr.len(), 1, "stderr: {:?}", done.stderr);
    assert!(done.stdout.is_empty(), "stdout: {:?}", done.stdout);
    done.stderr[0].clone()
}

/// Runs `body` in a thread that repeats until `stop` is set (or [`WAIT`] has passed),
/// for peers that must keep sending until a slow joiner has caught up.
fn repeat_until(stop: &Arc<AtomicBool>, mut body: impl FnMut(usize) + Send + 'static) {
    let stop = Arc::clone(stop);
    thread::spawn(move || {
        let deadline = Instant::now() + WAIT;
        let mut i = 0;
        while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
            body(i);
            i += 1;
            thread::sleep(Duration::from_millis(20));
        }
    });
}

#[test]
fn pull_bind_prints_frames_joined_by_tab_and_binary_as_hex() {
    let mq = Mq::start(&["PuLl", "--bind", "tcp://127.0.0.1:0", "--count", "3"]);
    let ctx = zmq::Context::new();
    let push = zsock(&ctx, zmq::PUSH);
    push.connect(&mq.bound_endpoint()).unwrap();
    push.send_multipart(["hello", "world"], 0).unwrap();
    push.send(&b"\x00\x01\xff"[..], 0).unwrap();
    push.send_multipart([&b"tab\there"[..], b"", "café".as_bytes()], 0)
        .unwrap();
    assert_eq!(mq.line(), "hello\tworld");
    assert_eq!(mq.line(), "0x0001ff");
    assert_eq!(mq.line(), "0x7461620968657265\t\tcafé");
    let done = mq.finish();
    assert!(done.status.success(), "stderr: {:?}", done.stderr);
    assert!(done.stdout.is_empty());
}

#[test]
fn push_connect_delivers_input_lines_and_exits_when_input_ends() {
    let ctx = zmq::Context::new();
    let pull = zsock(&ctx, zmq::PULL);
    let endpoint = zbind(&pull, "tcp");
    let mut mq = Mq::start(&["push", "--connect", &endpoint]);
    mq.write_line("one");
    mq.write_line("a\tb\tc");
    mq.write_line("0x00ff\t");
    mq.close_stdin();
    assert_eq!(pull.recv_multipart(0).unwrap(), frames(&[b"one"]));
    assert_eq!(pull.recv_multipart(0).unwrap(), frames(&[b"a", b"b", b"c"]));
    assert_eq!(pull.recv_multipart(0).unwrap(), frames(&[b"\x00\xff", b""]));
    let done = mq.finish();
    assert!(done.status.success(), "stderr: {:?}", done.stderr);
}

#[test]
fn push_count_stops_after_n_lines_sent() {
    let ctx = zmq::Context::new();
    let pull = zsock(&ctx, zmq::PULL);
    let endpoint = zbind(&pull, "tcp");
    let mut mq = Mq::start(&["push", "--connect", &endpoint, "--count", "2"]);
    mq.write_line("first");
    mq.write_line("second");
    mq.write_line("third");
    // Input stays open: the count alone ends mq.
    let stdin = mq.take_stdin();
    let done = mq.finish();
    drop(stdin);
    assert!(done.status.success(), "stderr: {:?}", done.stderr);
    assert_eq!(pull.recv_multipart(0).unwrap(), frames(&[b"first"]));
    assert_eq!(pull.recv_multipart(0).unwrap(), frames(&[b"second"]));
    pull.set_rcvtimeo(200).unwrap();
    assert!(
        pull.recv_multipart(0).is_err(),
        "the third line is not sent"
    );
}

#[test]
fn push_started_before_its_pull_binds_still_delivers() {
    let endpoint = free_tcp_endpoint();
    let mut mq = Mq::start(&["push", "--connect", &endpoint]);
    mq.write_line("early");
    mq.write_line("bird");
    mq.close_stdin();
    // Input has ended; mq keeps retrying the connection to deliver what it holds.
    thread::sleep(Duration::from_millis(300));
    let ctx = zmq::Context::new();
    let pull = zsock(&ctx, zmq::PULL);
    pull.bind(&endpoint).unwrap();
    assert_eq!(pull.recv_multipart(0).unwrap(), frames(&[b"early"]));
    assert_eq!(pull.recv_multipart(0).unwrap(), frames(&[b"bird"]));
    let done = mq.finish();
    assert!(done.status.success(), "stderr: {:?}", done.stderr);
}

#[test]
fn sub_connect_receives_subscribed_topic_until_count() {
    let ctx = zmq::Context::new();
    let publisher = zsock(&ctx, zmq::PUB);
    let endpoint = zbind(&publisher, "tcp");
    let mq = Mq::start(&[
        "sub",
        "--connect",
        &endpoint,
        "--subscribe",
        "X",
        "--count",
        "2",
    ]);
    let stop = Arc::new(AtomicBool::new(false));
    repeat_until(&stop, move |i| {
        publisher.send("Yother", 0).unwrap();
        publisher
            .send_multipart([b"X".to_vec(), i.to_string().into_bytes()], 0)
            .unwrap();
    });
    let done = mq.finish();
    stop.store(true, Ordering::Relaxed);
    assert!(done.status.success(), "stderr: {:?}", done.stderr);
    assert_eq!(done.stdout.len(), 2, "{:?}", done.stdout);
    for line in &done.stdout {
        assert!(line.starts_with("X\t"), "{line:?}");
    }
}

#[test]
fn pub_bind_reaches_libzmq_sub() {
    let mut mq = Mq::start(&["pub", "--bind", "tcp://127.0.0.1:0"]);
    let ctx = zmq::Context::new();
    let sub = zsock(&ctx, zmq::SUB);
    sub.set_subscribe(b"t").unwrap();
    sub.connect(&mq.bound_endpoint()).unwrap();
    // Messages published before the subscription arrives are dropped (slow
    // joiner), so keep publishing until one gets through.
    let stop = Arc::new(AtomicBool::new(false));
    let mut stdin = mq.take_stdin();
    let writer = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            let deadline = Instant::now() + WAIT;
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                if writeln!(stdin, "u\tno\nt\t{i}").and(stdin.flush()).is_err() {
                    break;
                }
                i += 1;
                thread::sleep(Duration::from_millis(20));
            }
            // Dropping stdin ends mq's input.
        })
    };
    let msg = sub.recv_multipart(0).unwrap();
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    assert_eq!(msg.len(), 2);
    assert_eq!(msg[0], b"t");
    let done = mq.finish();
    assert!(done.status.success(), "stderr: {:?}", done.stderr);
}

#[test]
fn req_prints_the_replies_of_libzmq_rep() {
    let ctx = zmq::Context::new();
    let rep = zsock(&ctx, zmq::REP);
    let endpoint = zbind(&rep, "tcp");
    let server = thread::spawn(move || {
        for _ in 0..2 {
            let mut msg = rep.recv_multipart(0).unwrap();
            msg.insert(0, b"re".to_vec());
            rep.send_multipart(msg, 0).unwrap();
        }
    });
    let mut mq = Mq::start(&["REQ", "--connect", &endpoint]);
    mq.write_line("one");
    assert_eq!(mq.line(), "re\tone");
    mq.write_line("two\tparts");
    assert_eq!(mq.line(), "re\ttwo\tparts");
    server.join().unwrap();
    let done = mq.finish();
    assert!(done.status.success(), "stderr: {:?}", done.stderr);
}

#[test]
fn rep_prints_requests_and_replies_with_input_lines() {
    let mut mq = Mq::start(&["rep", "--bind", "tcp://127.0.0.1:0"]);
    let ctx = zmq::Context::new();
    let req = zsock(&ctx, zmq::REQ);
    req.connect(&mq.bound_endpoint()).unwrap();
    req.send("question", 0).unwrap();
    assert_eq!(mq.line(), "question");
    mq.write_line("answer\t0x00");
    assert_eq!(req.recv_multipart(0).unwrap(), frames(&[b"answer", b"\0"]));
    let done = mq.finish();
    assert!(done.status.success(), "stderr: {:?}", done.stderr);
}

/// `mq rep --echo --count COUNT EXTRA…`, bound to an ephemeral TCP port.
fn echo_server(count: &str, extra: &[&str]) -> Mq {
    let mut args = vec![
        "rep",
        "--bind",
        "tcp://127.0.0.1:0",
        "--echo",
        "--count",
        count,
    ];
    args.extend_from_slice(extra);
    Mq::start(&args)
}

/// A libzmq REQ connected to `mq`, once it has had "hi" echoed.
fn echoed_req(ctx: &zmq::Context, mq: &Mq) -> zmq::Socket {
    let req = zsock(ctx, zmq::REQ);
    req.connect(&mq.bound_endpoint()).unwrap();
    req.send("hi", 0).unwrap();
    assert_eq!(req.recv_multipart(0).unwrap(), frames(&[b"hi"]));
    req
}

#[test]
fn rep_echo_answers_libzmq_req() {
    let mq = echo_server("2", &[]);
    let ctx = zmq::Context::new();
    let req = echoed_req(&ctx, &mq);
    req.send_multipart([&b"a"[..], b"\xff"], 0).unwrap();
    assert_eq!(req.recv_multipart(0).unwrap(), frames(&[b"a", b"\xff"]));
    let done = mq.finish();
    assert!(done.status.success(), "stderr: {:?}", done.stderr);
    assert!(done.stdout.is_empty(), "{:?}", done.stdout);
}

/// A libzmq REQ with PLAIN credentials, connected to `endpoint`.
fn plain_req(ctx: &zmq::Context, user: &str, pass: &str, endpoint: &str) -> zmq::Socket {
    let req = zsock(ctx, zmq::REQ);
    req.set_plain_username(Some(user)).unwrap();
    req.set_plain_password(Some(pass)).unwrap();
    req.connect(endpoint).unwrap();
    req
}

#[test]
fn plain_server_lets_in_good_credentials_and_warns_about_bad_ones() {
    let mq = Mq::start(&[
        "rep",
        "--bind",
        "tcp://127.0.0.1:0",
        "--echo",
        "--count",
        "1",
        "--plain-server",
        "admin:s3cret:x",
        "--plain-server",
        "guest:guest",
    ]);
    let endpoint = mq.bound_endpoint();
    let ctx = zmq::Context::new();
    let bad = plain_req(&ctx, "admin", "wrong", &endpoint);
    let warning = recv_line(&mq.stderr, "the warning about the refused client");
    assert!(
        warning.starts_with("mq: warning: handshake with ")
            && warning.ends_with("failed: authentication refused (ZAP status 400)"),
        "{warning:?}"
    );
    drop(bad);
    let good = plain_req(&ctx, "admin", "s3cret:x", &endpoint);
    good.send("hi", 0).unwrap();
    assert_eq!(good.recv_multipart(0).unwrap(), frames(&[b"hi"]));
    let done = mq.finish();
    assert!(done.status.success(), "stderr: {:?}", done.stderr);
    assert!(done.stdout.is_empty(), "{:?}", done.stdout);
}

#[test]
fn a_null_server_with_an_enforced_zap_domain_refuses_and_without_it_lets_in() {
    // A domain alone: mq has no rules for NULL peers, so a NULL client comes in.
    let mq = echo_server("1", &["--zap-domain", "global"]);
    let ctx = zmq::Context::new();
    echoed_req(&ctx, &mq);
    let done = mq.finish();
    assert!(done.status.success(), "stderr: {:?}", done.stderr);
    // Enforced: refused, with a warning saying why.
    let mq = echo_server("1", &["--zap-domain", "global", "--zap-enforce-domain"]);
    let refused = zsock(&ctx, zmq::REQ);
    refused.connect(&mq.bound_endpoint()).unwrap();
    let warning = recv_line(&mq.stderr, "the warning about the refused client");
    assert!(
        warning.starts_with("mq: warning: handshake with ")
            && warning.ends_with("failed: no authenticator: this NULL handshake needs one"),
        "{warning:?}"
    );
}

#[test]
fn plain_client_reaches_a_libzmq_plain_server() {
    let ctx = zmq::Context::new();
    let zap = zsock(&ctx, zmq::REP);
    zap.bind("inproc://zeromq.zap.01").unwrap();
    let rep = zsock(&ctx, zmq::REP);
    rep.set_plain_server(true).unwrap();
    let endpoint = zbind(&rep, "tcp");
    let mut mq = Mq::start(&["req", "--connect", &endpoint, "--plain-client", "bob:pw"]);
    mq.write_line("ping");
    // libzmq asks its ZAP handler about our credentials.
    let request = zap.recv_multipart(0).unwrap();
    assert_eq!(request[5..8], frames(&[b"PLAIN", b"bob", b"pw"])[..]);
    zap.send_multipart([&b"1.0"[..], &request[1], b"200", b"OK", b"bob", b""], 0)
        .unwrap();
    assert_eq!(rep.recv_multipart(0).unwrap(), frames(&[b"ping"]));
    rep.send("pong", 0).unwrap();
    assert_eq!(recv_line(&mq.stdout, "the reply"), "pong");
    mq.close_stdin();
    let done = mq.finish();
    assert!(done.status.success(), "stderr: {:?}", done.stderr);
}

#[test]
fn keygen_prints_a_pair_whose_secret_gives_its_public_key() {
    let mq = Mq::start(&["keygen"]);
    let done = mq.finish();
    assert!(done.status.success(), "stderr: {:?}", done.stderr);
    let [public, secret] = &done.stdout[..] else {
        panic!("two lines expected: {:?}", done.stdout);
    };
    assert_eq!((public.len(), secret.len()), (40, 40));
    let pair = monocoque::CurveKeyPair::from_secret(secret).unwrap();
    assert_eq!(&pair.public().to_z85(), public);
}

/// libzmq's test server keys (its `zmq_curve` documentation).
const SERVER_PUBLIC: &str = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
const SERVER_SECRET: &str = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6";

/// `mq rep --echo` as a CURVE server with [`SERVER_SECRET`] on an ephemeral TCP port,
/// exiting after `count` messages, with the `extra` options.
fn curve_echo_server(count: &str, extra: &[&str]) -> Mq {
    let mut args = vec!["--curve-server", SERVER_SECRET];
    args.extend_from_slice(extra);
    echo_server(count, &args)
}

#[test]
fn keygen_certificates_let_their_client_through_curve_allow_dir() {
    let clients = common::scratch_dir("mq-keygen-clients");
    let alice = clients.join("alice");
    let keygen = Mq::start(&["keygen", "--out", alice.to_str().unwrap()]).finish();
    assert!(keygen.status.success(), "stderr: {:?}", keygen.stderr);
    let (public, secret) = (clients.join("alice.key"), clients.join("alice.key_secret"));
    assert_eq!(
        keygen.stderr,
        [format!(
            "mq: wrote {} and {}",
            public.display(),
            secret.display()
        )]
    );
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&secret).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "the secret certificate is private");

    let server = curve_echo_server("1", &["--curve-allow-dir", clients.to_str().unwrap()]);
    let endpoint = server.bound_endpoint();
    // A stranger is refused; Alice, with the pair pyzmq's zmq.auth reads from the
    // certificate mq wrote, gets her echo.
    let stranger = monocoque::CurveKeyPair::generate();
    let python = pyzmq::spawn(
        r#"
print(refused_status(curve_client(zmq.REQ), sys.argv[1]), flush=True)
alice = certified_client(zmq.REQ, sys.argv[2].encode(), sys.argv[5])
alice.rcvtimeo = 10000
alice.connect(sys.argv[1])
alice.send(b"from alice")
print(alice.recv().decode(), flush=True)
"#,
        &[
            &endpoint,
            SERVER_PUBLIC,
            &stranger.public().to_z85(),
            &stranger.secret_z85(),
            secret.to_str().unwrap(),
        ],
    )
    .wait_with_output()
    .unwrap();
    assert!(
        python.status.success(),
        "{}",
        String::from_utf8_lossy(&python.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&python.stdout), "400\nfrom alice\n");
    let warning = recv_line(&server.stderr, "the warning about the stranger");
    assert!(warning.ends_with("(ZAP status 400)"), "{warning:?}");
    let done = server.finish();
    assert!(done.status.success(), "stderr: {:?}", done.stderr);
    std::fs::remove_dir_all(&clients).unwrap();
}

#[test]
fn curve_server_answers_a_libzmq_curve_client_and_mq_client() {
    let server = curve_echo_server("2", &[]);
    let endpoint = server.bound_endpoint();
    let pair = monocoque::CurveKeyPair::generate();
    let (public, secret) = (pair.public().to_z85(), pair.secret_z85());
    let python = pyzmq::spawn(
        r#"
s = curve_client(zmq.REQ)
s.rcvtimeo = 10000
s.connect(sys.argv[1])
s.send(b"from pyzmq")
print(s.recv().decode(), flush=True)
"#,
        &[&endpoint, SERVER_PUBLIC, &public, &secret],
    )
    .wait_with_output()
    .unwrap();
    assert_eq!(String::from_utf8_lossy(&python.stdout).trim(), "from pyzmq");
    let mut client = Mq::start(&[
        "req",
        "--connect",
        &endpoint,
        "--curve-client",
        SERVER_PUBLIC,
    ]);
    client.write_line("from mq");
    assert_eq!(recv_line(&client.stdout, "the echo"), "from mq");
    client.close_stdin();
    assert!(client.finish().status.success());
    let done = server.finish();
    assert!(done.status.success(), "stderr: {:?}", done.stderr);
}

#[test]
fn plain_credentials_are_checked() {
    assert!(
        expect_error(&["rep", "-b", "tcp://*:1", "--plain-server", "nocolon"])
            .contains("USER:PASS")
    );
    let long = format!("{}:x", "u".repeat(256));
    assert!(expect_error(&["req", "-c", "tcp://h:1", "--plain-client", &long]).contains("255"));
    assert!(expect_error(&[
        "req",
        "-c",
        "tcp://h:1",
        "--plain-client",
        "a:b",
        "--plain-server",
        "c:d"
    ])
    .contains("cannot be used with"));
}

#[test]
fn router_echo_answers_libzmq_dealer_and_req() {
    let mq = Mq::start(&[
        "router",
        "--bind",
        "tcp://127.0.0.1:0",
        "--echo",
        "--count",
        "2",
    ]);
    let endpoint = mq.bound_endpoint();
    let ctx = zmq::Context::new();
    let dealer = zsock(&ctx, zmq::DEALER);
    dealer.connect(&endpoint).unwrap();
    dealer.send_multipart(["a", "b"], 0).unwrap();
    assert_eq!(dealer.recv_multipart(0).unwrap(), frames(&[b"a", b"b"]));
    let req = zsock(&ctx, zmq::REQ);
    req.connect(&endpoint).unwrap();
    req.send("ping", 0).unwrap();
    assert_eq!(req.recv_multipart(0).unwrap(), frames(&[b"ping"]));
    let done = mq.finish();
    assert!(done.status.success(), "stderr: {:?}", done.stderr);
    assert!(done.stdout.is_empty(), "{:?}", done.stdout);
}

#[test]
fn dealer_echo_answers_libzmq_dealer() {
    let ctx = zmq::Context::new();
    let peer = zsock(&ctx, zmq::DEALER);
    let endpoint = zbind(&peer, "tcp");
    let mq = Mq::start(&["dealer", "--connect", &endpoint, "--echo", "--count", "2"]);
    peer.send("one", 0).unwrap();
    assert_eq!(peer.recv_multipart(0).unwrap(), frames(&[b"one"]));
    peer.send_multipart(["", "two"], 0).unwrap();
    assert_eq!(peer.recv_multipart(0).unwrap(), frames(&[b"", b"two"]));
    let done = mq.finish();
    assert!(done.status.success(), "stderr: {:?}", done.stderr);
    assert!(done.stdout.is_empty(), "{:?}", done.stdout);
}

#[test]
fn router_prints_routing_ids_and_routes_input_lines_by_them() {
    let mut mq = Mq::start(&["router", "--bind", "tcp://127.0.0.1:0"]);
    let ctx = zmq::Context::new();
    let dealer = zsock(&ctx, zmq::DEALER);
    dealer.set_identity(b"client-7").unwrap();
    dealer.connect(&mq.bound_endpoint()).unwrap();
    dealer.send("hello", 0).unwrap();
    assert_eq!(mq.line(), "client-7\thello");
    mq.write_line("nobody\tlost");
    mq.write_line("client-7\treply\tx");
    assert_eq!(dealer.recv_multipart(0).unwrap(), frames(&[b"reply", b"x"]));
    let done = mq.finish();
    assert!(done.status.success(), "stderr: {:?}", done.stderr);
    assert!(
        done.stderr.iter().any(|l| l.contains("nobody")),
        "the unknown routing id is reported: {:?}",
        done.stderr
    );
}

#[test]
fn router_answers_libzmq_req_through_a_generated_routing_id() {
    let mut mq = Mq::start(&["router", "--bind", "tcp://127.0.0.1:0"]);
    let ctx = zmq::Context::new();
    let req = zsock(&ctx, zmq::REQ);
    req.connect(&mq.bound_endpoint()).unwrap();
    req.send("question", 0).unwrap();
    let line = mq.line();
    let (id, rest) = line.split_once('\t').expect("routing id, then the request");
    assert!(id.starts_with("0x00"), "generated ids are binary: {line:?}");
    assert_eq!(rest, "\tquestion");
    mq.write_line(&format!("{id}\t\tanswer"));
    assert_eq!(req.recv_multipart(0).unwrap(), frames(&[b"answer"]));
    let done = mq.finish();
    assert!(done.status.success(), "stderr: {:?}", done.stderr);
}

#[test]
fn pair_sends_and_receives_at_once() {
    let ctx = zmq::Context::new();
    let peer = zsock(&ctx, zmq::PAIR);
    let endpoint = zbind(&peer, "tcp");
    let mut mq = Mq::start(&["pair", "--connect", &endpoint, "--count", "1"]);
    mq.write_line("to\tlibzmq");
    assert_eq!(peer.recv_multipart(0).unwrap(), frames(&[b"to", b"libzmq"]));
    peer.send_multipart(["to", "mq"], 0).unwrap();
    assert_eq!(mq.line(), "to\tmq");
    let done = mq.finish();
    assert!(done.status.success(), "stderr: {:?}", done.stderr);
}

#[test]
fn xpub_prints_subscriptions_in_hex() {
    let mq = Mq::start(&["xpub", "--bind", "tcp://127.0.0.1:0", "--count", "1"]);
    let ctx = zmq::Context::new();
    let sub = zsock(&ctx, zmq::SUB);
    sub.connect(&mq.bound_endpoint()).unwrap();
    sub.set_subscribe(b"news").unwrap();
    assert_eq!(mq.line(), "0x016e657773");
    let done = mq.finish();
    assert!(done.status.success(), "stderr: {:?}", done.stderr);
}

#[test]
fn timeout_exits_1_with_a_message() {
    let mut mq = Mq::start(&["pull", "--bind", "tcp://127.0.0.1:0", "--timeout", "0.2"]);
    mq.bound_endpoint();
    mq.close_stdin();
    let done = mq.finish();
    assert_eq!(done.status.code(), Some(1), "stderr: {:?}", done.stderr);
    assert_eq!(done.stderr.len(), 1, "{:?}", done.stderr);
    assert!(done.stderr[0].contains("timed out"), "{:?}", done.stderr);
}

#[test]
fn a_send_nobody_takes_times_out_with_exit_1() {
    // A bound PUSH with no peer: the line waits for one, up to --timeout.
    let mut mq = Mq::start(&["push", "--bind", "tcp://127.0.0.1:*", "--timeout", "0.2"]);
    mq.bound_endpoint();
    mq.write_line("for nobody");
    let done = mq.finish();
    assert_eq!(done.status.code(), Some(1), "stderr: {:?}", done.stderr);
    assert!(
        done.stderr
            .iter()
            .any(|l| l.contains("could not send within 200ms")),
        "{:?}",
        done.stderr
    );
}

#[test]
fn req_timeout_exits_1_when_no_reply_comes() {
    let ctx = zmq::Context::new();
    let silent = zsock(&ctx, zmq::REP);
    let endpoint = zbind(&silent, "tcp");
    let mut mq = Mq::start(&["req", "--connect", &endpoint, "--timeout", "0.2"]);
    mq.write_line("anyone?");
    let done = mq.finish();
    assert_eq!(done.status.code(), Some(1), "stderr: {:?}", done.stderr);
    assert!(
        done.stderr.iter().any(|l| l.contains("no reply")),
        "{:?}",
        done.stderr
    );
}

#[test]
fn unknown_type_exits_2() {
    let line = expect_error(&["bogus", "--connect", "tcp://127.0.0.1:5555"]);
    assert!(line.contains("bogus") && line.contains("ROUTER"), "{line}");
}

#[test]
fn bad_endpoints_exit_2() {
    for endpoint in ["tcp://nowhere", "udp://127.0.0.1:5555", "127.0.0.1:5555"] {
        let line = expect_error(&["pull", "--connect", endpoint]);
        assert!(line.contains("endpoint"), "{line}");
        let line = expect_error(&["push", "--bind", endpoint]);
        assert!(line.contains("endpoint"), "{line}");
    }
}

#[test]
fn address_in_use_exits_2() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("tcp://{}", taken.local_addr().unwrap());
    let line = expect_error(&["pull", "--bind", &endpoint]);
    assert!(line.contains("in use"), "{line}");
}

#[test]
fn usage_errors_exit_2_on_one_line() {
    expect_error(&["pull"]);
    expect_error(&[]);
    expect_error(&["pull", "--bind", "tcp://*:1", "--count", "many"]);
    expect_error(&["push", "--bind", "tcp://*:1", "--echo"]);
    expect_error(&["pub", "--bind", "tcp://*:1", "--subscribe", "x"]);
}

#[test]
fn garbage_connections_are_logged_within_a_budget() {
    // 200 connections that send HTTP instead of a greeting: each is refused, but stderr
    // gets at most the burst of lines (they name the refusal), not one per connection.
    let mq = Mq::start(&["PULL", "--bind", "tcp://127.0.0.1:0", "--count", "1"]);
    let endpoint = mq.bound_endpoint();
    let addr = endpoint.strip_prefix("tcp://").unwrap().to_string();
    for _ in 0..200 {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        let _ = s.write_all(b"GET / HTTP/1.0\r\n\r\n");
        let mut sink = Vec::new();
        s.set_read_timeout(Some(WAIT)).unwrap();
        let _ = s.read_to_end(&mut sink);
    }
    let ctx = zmq::Context::new();
    let push = zsock(&ctx, zmq::PUSH);
    push.connect(&endpoint).unwrap();
    push.send("after the garbage", 0).unwrap();
    assert_eq!(mq.line(), "after the garbage");
    let done = mq.finish();
    assert!(done.status.success(), "stderr: {:?}", done.stderr);
    let refusals = done
        .stderr
        .iter()
        .filter(|l| l.contains("closing connection"))
        .count();
    assert!(
        (1..=monocoque_runtime::LOG_BURST as usize).contains(&refusals),
        "{refusals} refusal lines: {:?}",
        done.stderr
    );
}
