//! The socket's life: open it as the command line says, move messages between it and
//! standard input/output in the way its [`Mode`] prescribes, then close it.

use std::cell::Cell;
use std::future::Future;
use std::io::Write;
use std::time::Duration;

use futures_lite::future;
use monocoque::{
    AnySocket, Auth, Bytes, Error, Message, MonitorEvent, Options, Security, SocketType,
};

use crate::cli::{Config, Mode};
use crate::frames::{format_message, parse_line};
use crate::input::Input;

/// Why a run ended early.
#[derive(Debug)]
pub enum Failure {
    /// Bad setup or a socket error (exit status 2).
    Error(String),
    /// `--timeout` fired (exit status 1).
    Timeout(String),
    /// Whoever read standard output has gone (`mq sub … | head -1`): nothing left to
    /// do (exit status 0).
    OutputClosed,
}

/// Opens the socket, exchanges messages until done, and closes it (delivering queued
/// messages unless the run failed).
pub async fn run(cfg: &Config) -> Result<(), Failure> {
    let socket = open(cfg).await?;
    let mut input = if cfg.mode.reads_input() {
        Input::start().await.map_err(Failure::Error)?
    } else {
        Input::none()
    };
    let outcome = exchange(&socket, cfg, &mut input).await;
    match outcome {
        Ok(()) | Err(Failure::OutputClosed) => {
            finish(socket, cfg.timeout).await?;
            outcome
        }
        Err(failure) => Err(failure),
    }
}

/// Creates the socket, subscribes it, and binds and connects it.
async fn open(cfg: &Config) -> Result<AnySocket, Failure> {
    let socket = AnySocket::with_options(cfg.kind, options(cfg));
    warn_failed_handshakes(&socket);
    for prefix in subscriptions(cfg) {
        socket.subscribe(&prefix).map_err(socket_error)?;
    }
    for endpoint in &cfg.binds {
        let bound = socket
            .bind(endpoint)
            .map_err(|e| endpoint_error(endpoint, e))?;
        if picks_port(endpoint) {
            eprintln!("mq: listening on {bound}");
        }
    }
    for endpoint in &cfg.connects {
        socket
            .connect(endpoint)
            .map_err(|e| endpoint_error(endpoint, e))?;
    }
    Ok(socket)
}

/// Socket options from the command line. A ROUTER reports unroutable messages
/// (ROUTER_MANDATORY) so that `mq` can say so instead of dropping them silently.
fn options(cfg: &Config) -> Options {
    let mut options = Options {
        router_mandatory: cfg.kind == SocketType::Router,
        ..Options::default()
    };
    if let Some(id) = &cfg.identity {
        options.routing_id = id.clone();
    }
    if let Some((username, password)) = &cfg.plain_client {
        options.security = Security::PlainClient {
            username: username.clone(),
            password: password.clone(),
        };
    }
    if !cfg.plain_server.is_empty() {
        options.security = Security::PlainServer;
        let users = cfg.plain_server.iter().cloned();
        let auth = users.fold(Auth::new(), |auth, (user, pass)| {
            auth.plain_user(user, pass)
        });
        options.authenticator = Some(auth.into());
    }
    if let Some((keys, allowed)) = &cfg.curve_server {
        options.security = Security::CurveServer { keys: keys.clone() };
        if !allowed.is_empty() {
            let auth = allowed
                .iter()
                .fold(Auth::new(), |auth, key| auth.curve_key(*key));
            options.authenticator = Some(auth.into());
        }
    }
    if let Some((keys, server_key)) = &cfg.curve_client {
        options.security = Security::CurveClient {
            keys: keys.clone(),
            server_key: *server_key,
        };
    }
    if let Some(domain) = &cfg.zap_domain {
        options.zap_domain = domain.clone();
    }
    options.zap_enforce_domain = cfg.zap_enforce_domain;
    // `--timeout` bounds each receive, and each send of a sender (the socket's own
    // RCVTIMEO and SNDTIMEO, which start no timer while messages or room are there).
    // A REQ's round trip is bounded as a whole instead (see `request`).
    if matches!(
        cfg.mode,
        Mode::Receive | Mode::Echo | Mode::Reply | Mode::Duplex
    ) {
        options.rcvtimeo = cfg.timeout;
    }
    if cfg.mode == Mode::Send {
        options.sndtimeo = cfg.timeout;
    }
    options
}

/// Prints one warning line for each handshake that fails, with the reason.
fn warn_failed_handshakes(socket: &AnySocket) {
    let monitor = socket.monitor();
    glommio::spawn_local(async move {
        loop {
            match monitor.recv().await {
                MonitorEvent::HandshakeFailedAuth { remote, status } => eprintln!(
                    "mq: warning: handshake with {remote} failed: authentication refused (ZAP status {status})"
                ),
                MonitorEvent::HandshakeFailedProtocol { remote, reason, .. }
                | MonitorEvent::HandshakeFailedNoDetail { remote, reason } => {
                    eprintln!("mq: warning: handshake with {remote} failed: {reason}")
                }
                _ => {}
            }
        }
    })
    .detach();
}

/// The prefixes to subscribe to: those given, or everything for a SUB or XSUB
/// without `--subscribe`.
fn subscriptions(cfg: &Config) -> Vec<Bytes> {
    match cfg.kind {
        SocketType::Sub | SocketType::XSub if cfg.subscriptions.is_empty() => vec![Bytes::new()],
        _ => cfg.subscriptions.clone(),
    }
}

/// Whether binding `endpoint` lets the system choose the port (`:0` or libzmq's
/// `:*`), so that the one chosen must be shown.
fn picks_port(endpoint: &str) -> bool {
    matches!(
        endpoint.parse(),
        Ok(monocoque::Endpoint::Tcp { port: 0, .. })
    )
}

/// Moves messages as `cfg.mode` says until input ends, `--count` is reached or
/// something fails.
async fn exchange(socket: &AnySocket, cfg: &Config, input: &mut Input) -> Result<(), Failure> {
    let counter = Counter::new(cfg.count);
    match cfg.mode {
        Mode::Send => send_lines(socket, input, &counter).await,
        Mode::Receive => print_received(socket, &counter).await,
        Mode::Request => request(socket, input, &counter, cfg.timeout).await,
        Mode::Reply => reply(socket, input, &counter).await,
        Mode::Echo => echo(socket, &counter).await,
        Mode::Duplex => duplex(socket, input, &counter, cfg).await,
    }
}

/// PUSH, PUB: sends every input line; `--count` limits the lines sent and
/// `--timeout` how long one send may wait for a peer.
async fn send_lines(
    socket: &AnySocket,
    input: &mut Input,
    counter: &Counter,
) -> Result<(), Failure> {
    while let Some(line) = next_line(input).await? {
        if deliver(socket, parse_line(&line)).await? && counter.record() {
            break;
        }
    }
    Ok(())
}

/// PULL, SUB: prints every received message.
async fn print_received(socket: &AnySocket, counter: &Counter) -> Result<(), Failure> {
    each_received(socket, counter, async |msg| print(&msg)).await
}

/// Hands every received message to `handle` until `--count` says stop (or
/// `--timeout` passes with nothing received).
async fn each_received(
    socket: &AnySocket,
    counter: &Counter,
    mut handle: impl AsyncFnMut(Message) -> Result<(), Failure>,
) -> Result<(), Failure> {
    loop {
        handle(receive(socket).await?).await?;
        if counter.record() {
            return Ok(());
        }
    }
}

/// REQ: sends each input line and prints its reply; `--timeout` bounds each
/// request-reply round trip.
async fn request(
    socket: &AnySocket,
    input: &mut Input,
    counter: &Counter,
    timeout: Option<Duration>,
) -> Result<(), Failure> {
    while let Some(line) = next_line(input).await? {
        let round_trip = async {
            if deliver(socket, parse_line(&line)).await? {
                socket.recv().await.map(Some).map_err(socket_error)
            } else {
                Ok(None)
            }
        };
        let reply = bounded(timeout, round_trip)
            .await
            .map_err(|limit| Failure::Timeout(format!("no reply within {limit:?}")))??;
        if let Some(reply) = reply {
            print(&reply)?;
            if counter.record() {
                break;
            }
        }
    }
    Ok(())
}

/// REP: prints each request and replies with the next input line; stops as soon as
/// input ends, even while waiting for a request.
async fn reply(socket: &AnySocket, input: &mut Input, counter: &Counter) -> Result<(), Failure> {
    // The reply to the next request, when it was typed before the request came.
    let mut ahead: Option<Vec<u8>> = None;
    loop {
        let request = if ahead.is_some() {
            receive(socket).await?
        } else {
            let request = async { receive(socket).await.map(Next::Request) };
            let line = async { next_line(input).await.map(Next::Line) };
            match future::or(request, line).await? {
                Next::Request(request) => request,
                Next::Line(None) => return Ok(()),
                Next::Line(line) => {
                    ahead = line;
                    continue;
                }
            }
        };
        print(&request)?;
        let line = match ahead.take() {
            Some(line) => line,
            None => match next_line(input).await? {
                Some(line) => line,
                None => return Ok(()),
            },
        };
        deliver(socket, parse_line(&line)).await?;
        if counter.record() {
            return Ok(());
        }
    }
}

/// Whichever came first while a REP waits: a request, or an input line (`None`: the
/// end of input).
enum Next {
    Request(Message),
    Line(Option<Vec<u8>>),
}

/// `--echo`: sends every received message back as it came (a ROUTER's starts with
/// the sender's routing id, so it returns to the sender).
async fn echo(socket: &AnySocket, counter: &Counter) -> Result<(), Failure> {
    each_received(socket, counter, async |msg| {
        deliver(socket, msg).await.map(drop)
    })
    .await
}

/// DEALER, ROUTER, PAIR, XPUB, XSUB: sends input lines while printing received
/// messages. When input ends, receiving goes on only if `--count` or `--timeout`
/// says when to stop.
async fn duplex(
    socket: &AnySocket,
    input: &mut Input,
    counter: &Counter,
    cfg: &Config,
) -> Result<(), Failure> {
    let sending = async {
        while let Some(line) = next_line(input).await? {
            deliver(socket, parse_line(&line)).await?;
        }
        Ok(true)
    };
    let receiving = async { print_received(socket, counter).await.map(|()| false) };
    let input_ended = future::or(sending, receiving).await?;
    if input_ended && (cfg.count.is_some() || cfg.timeout.is_some()) {
        print_received(socket, counter).await?;
    }
    Ok(())
}

/// Closes the socket once its queued messages are delivered (at most `timeout`).
async fn finish(socket: AnySocket, timeout: Option<Duration>) -> Result<(), Failure> {
    bounded(timeout, socket.close()).await.map_err(|limit| {
        Failure::Timeout(format!("queued messages not delivered within {limit:?}"))
    })
}

/// Counts messages against `--count`.
struct Counter {
    seen: Cell<u64>,
    limit: Option<u64>,
}

impl Counter {
    fn new(limit: Option<u64>) -> Counter {
        Counter {
            seen: Cell::new(0),
            limit,
        }
    }

    /// Counts one message; true when the limit is reached.
    fn record(&self) -> bool {
        self.seen.set(self.seen.get() + 1);
        self.limit.is_some_and(|limit| self.seen.get() >= limit)
    }
}

/// Runs `fut` for at most `limit` (as long as it takes without one); `Err(limit)`
/// if time ran out first.
async fn bounded<T>(limit: Option<Duration>, fut: impl Future<Output = T>) -> Result<T, Duration> {
    match limit {
        None => Ok(fut.await),
        Some(limit) => {
            future::or(async { Ok(fut.await) }, async {
                glommio::timer::sleep(limit).await;
                Err(limit)
            })
            .await
        }
    }
}

/// Waits for the next message, for at most `--timeout` (the socket's RCVTIMEO, see
/// `options`).
async fn receive(socket: &AnySocket) -> Result<Message, Failure> {
    socket.recv().await.map_err(|e| match e {
        Error::Timeout => Failure::Timeout(format!(
            "no message received for {:?}",
            socket.options().rcvtimeo.unwrap_or_default()
        )),
        e => socket_error(e),
    })
}

/// Sends `msg`; true if sent, false if it was skipped with a warning (a ROUTER's
/// unknown routing id, a message the socket type does not accept).
async fn deliver(socket: &AnySocket, msg: Message) -> Result<bool, Failure> {
    if socket.kind() == SocketType::Router && msg.len() < 2 {
        eprintln!("mq: message skipped: a ROUTER line needs a routing id, TAB, then the message");
        return Ok(false);
    }
    match socket.send(msg).await {
        Ok(()) => Ok(true),
        Err(Error::HostUnreachable(id)) => {
            let id = format_message(&Message::single(id));
            eprintln!("mq: no peer with routing id {id}; message skipped");
            Ok(false)
        }
        Err(Error::InvalidMessage(why)) => {
            eprintln!("mq: message skipped: {why}");
            Ok(false)
        }
        // SNDTIMEO: `--timeout` of a sender (see `options`).
        Err(Error::Timeout) => Err(Failure::Timeout(format!(
            "could not send within {:?}: no peer ready to take the message",
            socket.options().sndtimeo.unwrap_or_default()
        ))),
        Err(e) => Err(socket_error(e)),
    }
}

/// The next input line, or `None` at the end of input.
async fn next_line(input: &mut Input) -> Result<Option<Vec<u8>>, Failure> {
    input.next_line().await.map_err(Failure::Error)
}

/// Prints `msg` as one line and flushes it, so that `mq` works in pipelines.
fn print(msg: &Message) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", format_message(msg))
        .and_then(|()| out.flush())
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::BrokenPipe => Failure::OutputClosed,
            _ => Failure::Error(format!("cannot write standard output: {e}")),
        })
}

/// A socket error during the run.
fn socket_error(e: Error) -> Failure {
    Failure::Error(e.to_string())
}

/// A bind or connect error, with the endpoint when the message lacks it.
fn endpoint_error(endpoint: &str, e: Error) -> Failure {
    match e {
        Error::Endpoint(e) => Failure::Error(format!("bad endpoint {endpoint}: {e}")),
        e => Failure::Error(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::picks_port;

    #[test]
    fn a_wildcard_or_zero_tcp_port_is_picked_by_the_system() {
        assert!(picks_port("tcp://127.0.0.1:*"));
        assert!(picks_port("tcp://*:0"));
        assert!(!picks_port("tcp://127.0.0.1:5555"));
        assert!(!picks_port("ipc:///tmp/x:*"));
    }
}
