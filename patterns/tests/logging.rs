//! What the library logs, captured in-process: a `tracing` layer records every event
//! with the fields of the spans it was written in, and each test reads the events of
//! its own executor thread. Checked: a bind, an accept, a connect to a libzmq peer,
//! handshakes that succeed and fail (garbage, a wrong mechanism, refused credentials),
//! disconnections with their reason, all naming the socket type, the endpoint and the
//! peer; and that reconnect and SNDHWM drop lines stay within their budgets.

mod common;

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::sync::{Mutex, OnceLock};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{free_tcp_endpoint, fresh_endpoint, run, zbind, zsock, TRANSPORTS, WAIT};
use monocoque::{
    AuthReply, AuthRequest, AuthStatus, MonitorEvent, Options, Pub, Pull, Push, Security,
    SharedAuthenticator, Sub,
};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;

// ----- the capturing layer -------------------------------------------------------------

/// One event: its level, message and fields, with those of its spans (outermost
/// first, the event's own last, so an event's field wins over a span's of the same
/// name), and the names of its spans.
#[derive(Debug, Clone)]
struct Record {
    thread: ThreadId,
    level: Level,
    message: String,
    fields: BTreeMap<String, String>,
    spans: Vec<&'static str>,
}

impl Record {
    fn field(&self, name: &str) -> &str {
        self.fields.get(name).map_or("", String::as_str)
    }

    fn number(&self, name: &str) -> u64 {
        self.field(name)
            .parse()
            .unwrap_or_else(|_| panic!("no number {name} in {self:?}"))
    }
}

static RECORDS: Mutex<Vec<Record>> = Mutex::new(Vec::new());

#[derive(Default)]
struct Fields(BTreeMap<String, String>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }
}

struct Capture;

impl<S> Layer<S> for Capture
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        let mut spans = Vec::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                spans.push(span.name());
                if let Some(f) = span.extensions().get::<Fields>() {
                    fields.extend(f.0.clone());
                }
            }
        }
        let mut own = Fields::default();
        event.record(&mut own);
        fields.extend(own.0);
        let message = fields.remove("message").unwrap_or_default();
        RECORDS.lock().unwrap().push(Record {
            thread: thread::current().id(),
            level: *event.metadata().level(),
            message,
            fields,
            spans,
        });
    }
}

/// Installs the capturing layer for the whole test binary (every level).
fn install() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        tracing_subscriber::registry()
            .with(Capture)
            .try_init()
            .expect("the only subscriber of this test binary");
    });
}

/// The events written so far on thread `tid` (a test's executor).
fn records(tid: ThreadId) -> Vec<Record> {
    RECORDS
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.thread == tid)
        .cloned()
        .collect()
}

/// Waits (at most [`WAIT`]) for an event of this thread with `message` and every
/// field of `want`, and returns it; panics with the thread's events if none comes.
async fn expect(message: &str, want: &[(&str, &str)]) -> Record {
    let tid = thread::current().id();
    let deadline = Instant::now() + WAIT;
    loop {
        let found = records(tid)
            .into_iter()
            .find(|r| r.message == message && want.iter().all(|(k, v)| r.field(k) == *v));
        if let Some(r) = found {
            return r;
        }
        if Instant::now() > deadline {
            panic!(
                "no {message:?} line with {want:?}; this test's lines:\n{:#?}",
                records(tid)
            );
        }
        glommio::timer::sleep(Duration::from_millis(5)).await;
    }
}

/// libzmq's receive without blocking the executor (which runs our side).
async fn zrecv(s: &zmq::Socket) -> Vec<u8> {
    let deadline = Instant::now() + WAIT;
    loop {
        match s.recv_bytes(zmq::DONTWAIT) {
            Ok(m) => return m,
            Err(zmq::Error::EAGAIN) if Instant::now() < deadline => {
                glommio::timer::sleep(Duration::from_millis(2)).await
            }
            Err(e) => panic!("libzmq recv: {e}"),
        }
    }
}

// ----- bind, accept, handshake, disconnect ---------------------------------------------

#[test]
fn a_bind_an_accept_a_handshake_and_a_disconnect_name_socket_endpoint_and_peer() {
    install();
    for transport in TRANSPORTS {
        run(move || async move {
            let pull = Pull::new();
            let bound = pull.bind(&fresh_endpoint(transport)).unwrap().to_string();
            let listening = expect("listening", &[("socket", "PULL"), ("endpoint", &bound)]).await;
            assert_eq!(listening.level, Level::DEBUG);
            assert_eq!(listening.spans, ["listener"]);

            let ctx = zmq::Context::new();
            let push = zsock(&ctx, zmq::PUSH);
            push.connect(&bound).unwrap();
            push.send("hello", 0).unwrap();
            assert_eq!(&pull.recv().await.unwrap()[0][..], b"hello");

            let at = [("socket", "PULL"), ("endpoint", &bound)];
            let accepted = expect("accepted", &at).await;
            assert_eq!(accepted.level, Level::DEBUG);
            assert_eq!(accepted.spans, ["conn"]);
            let peer = accepted.field("peer").to_string();
            if transport == "tcp" {
                assert!(peer.starts_with("tcp://127.0.0.1:"), "{accepted:?}");
            } else {
                // The libzmq PUSH is in this process: named by our pid.
                let ours = format!("ipc peer pid {} uid ", std::process::id());
                assert!(peer.starts_with(&ours), "{accepted:?}");
            }
            let with_peer = [("socket", "PULL"), ("endpoint", &bound), ("peer", &peer)];
            let ok = expect("handshake succeeded", &with_peer).await;
            assert_eq!(ok.level, Level::DEBUG);
            assert_eq!(ok.field("peer_socket"), "PUSH");
            assert_eq!(ok.field("mechanism"), "NULL");

            // libzmq closes its end: the peer closed it.
            drop(push);
            let gone = expect("disconnected", &with_peer).await;
            assert_eq!(gone.level, Level::DEBUG);
            assert_eq!(gone.field("reason"), "peer_closed", "{gone:?}");

            pull.unbind(&bound).await.unwrap();
            expect(
                "stopped listening",
                &[
                    ("socket", "PULL"),
                    ("endpoint", &bound),
                    ("reason", "unbound"),
                ],
            )
            .await;
        });
    }
}

#[test]
fn a_connect_to_libzmq_and_a_disconnect_name_socket_endpoint_and_peer() {
    install();
    for transport in TRANSPORTS {
        let ctx = zmq::Context::new();
        let zpull = zsock(&ctx, zmq::PULL);
        let endpoint = zbind(&zpull, transport);
        run(move || async move {
            let push = Push::new();
            push.connect(&endpoint).unwrap();
            let at = [("socket", "PUSH"), ("endpoint", endpoint.as_str())];
            let connecting = expect("connecting", &at).await;
            assert_eq!(connecting.level, Level::DEBUG);
            assert_eq!(connecting.spans, ["connector"]);
            push.send("hello").await.unwrap();
            assert_eq!(zrecv(&zpull).await, b"hello");

            let connected = expect("connected", &at).await;
            assert_eq!(connected.spans, ["conn"]);
            let peer = connected.field("peer").to_string();
            assert!(!peer.is_empty(), "{connected:?}");
            let ok = expect("handshake succeeded", &at).await;
            assert_eq!(ok.field("peer_socket"), "PULL");
            assert_eq!(ok.field("peer"), peer);

            push.disconnect(&endpoint).unwrap();
            let gone = expect("disconnected", &at).await;
            assert_eq!(gone.field("reason"), "disconnected", "{gone:?}");
            assert_eq!(gone.field("peer"), peer);
            let stopped = expect("stopped connecting", &at).await;
            assert_eq!(stopped.field("reason"), "disconnected");
            assert_eq!(stopped.spans, ["connector"]);
        });
    }
}

// ----- failed handshakes ---------------------------------------------------------------

#[test]
fn a_garbage_client_is_a_failed_handshake_with_its_reason_and_peer() {
    install();
    run(|| async {
        let pull = Pull::new();
        let bound = pull.bind("tcp://127.0.0.1:0").unwrap().to_string();
        let mut raw = std::net::TcpStream::connect(bound.strip_prefix("tcp://").unwrap()).unwrap();
        let peer = format!("tcp://{}", raw.local_addr().unwrap());
        raw.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
        let failed = expect(
            "handshake failed; closing connection",
            &[("socket", "PULL"), ("endpoint", &bound), ("peer", &peer)],
        )
        .await;
        assert_eq!(failed.level, Level::WARN);
        assert_eq!(failed.field("reason"), "protocol", "{failed:?}");
        assert_eq!(failed.field("mechanism"), "NULL");
        // Its bytes were no greeting: no mechanism of its own to name.
        assert!(!failed.fields.contains_key("peer_mechanism"), "{failed:?}");
        assert!(!failed.field("error").is_empty(), "{failed:?}");
        assert_eq!(failed.spans, ["conn"]);
    });
}

#[test]
fn a_libzmq_peer_of_another_mechanism_is_a_failed_handshake_naming_both() {
    install();
    run(|| async {
        let pull = Pull::with_options(Options {
            security: Security::PlainServer,
            zap_domain: Bytes::from_static(b"test"),
            ..Options::default()
        });
        let bound = pull.bind("tcp://127.0.0.1:0").unwrap().to_string();
        let ctx = zmq::Context::new();
        let push = zsock(&ctx, zmq::PUSH);
        push.connect(&bound).unwrap();
        let failed = expect(
            "handshake failed; closing connection",
            &[("socket", "PULL"), ("endpoint", &bound)],
        )
        .await;
        assert_eq!(failed.level, Level::WARN);
        assert_eq!(failed.field("reason"), "protocol", "{failed:?}");
        assert_eq!(failed.field("mechanism"), "PLAIN");
        assert_eq!(failed.field("peer_mechanism"), "NULL");
        assert!(failed.field("peer").starts_with("tcp://127.0.0.1:"));
    });
}

/// A libzmq PLAIN client connects to `pull` (a PLAIN server, bound here) and is
/// refused: the line that says so, inside the listener's socket and endpoint.
async fn refused_plain_client(pull: &Pull) -> Record {
    let bound = pull.bind("tcp://127.0.0.1:0").unwrap().to_string();
    let ctx = zmq::Context::new();
    let push = zsock(&ctx, zmq::PUSH);
    push.set_plain_username(Some("who")).unwrap();
    push.set_plain_password(Some("guess")).unwrap();
    push.connect(&bound).unwrap();
    expect(
        "handshake failed: authentication refused",
        &[("socket", "PULL"), ("endpoint", &bound)],
    )
    .await
}

#[test]
fn refused_credentials_are_a_failed_handshake_with_the_zap_status() {
    install();
    run(|| async {
        let pull = Pull::with_options(Options {
            security: Security::PlainServer,
            zap_domain: Bytes::from_static(b"test"),
            authenticator: Some(SharedAuthenticator::new(|_: &AuthRequest| {
                AuthReply::refuse(AuthStatus::Failure, "no")
            })),
            ..Options::default()
        });
        let failed = refused_plain_client(&pull).await;
        assert_eq!(failed.level, Level::INFO);
        assert_eq!(failed.field("reason"), "auth_failed");
        assert_eq!(failed.field("zap_status"), "400");
        assert_eq!(failed.field("mechanism"), "PLAIN");
    });
}

#[test]
fn a_plain_server_without_an_authenticator_refuses_at_info_without_a_zap_status() {
    install();
    run(|| async {
        let pull = Pull::with_options(Options {
            security: Security::PlainServer,
            ..Options::default()
        });
        let failed = refused_plain_client(&pull).await;
        assert_eq!(failed.level, Level::INFO);
        assert_eq!(failed.field("reason"), "no_authenticator");
        assert!(!failed.fields.contains_key("zap_status"), "{failed:?}");
    });
}

// ----- budgets -------------------------------------------------------------------------

#[test]
fn reconnect_lines_against_a_dead_port_are_bounded_and_summed_up() {
    install();
    let endpoint = free_tcp_endpoint();
    run(move || async move {
        let tid = thread::current().id();
        let push = Push::new();
        push.connect(&endpoint).unwrap();
        // 3 s of attempts every 100 ms (RECONNECT_IVL's default).
        glommio::timer::sleep(Duration::from_secs(3)).await;
        push.disconnect(&endpoint).unwrap();
        let at = [("socket", "PUSH"), ("endpoint", endpoint.as_str())];
        let summary = expect("stopped connecting", &at).await;
        assert_eq!(summary.level, Level::INFO);
        assert_eq!(summary.field("reason"), "disconnected");
        let ours: Vec<Record> = records(tid)
            .into_iter()
            .filter(|r| r.field("endpoint") == endpoint)
            .collect();
        assert!(ours.len() <= 10, "{} lines: {ours:#?}", ours.len());
        let failures: Vec<&Record> = ours
            .iter()
            .filter(|r| r.message == "connect failed; will retry")
            .collect();
        assert!(!failures.is_empty(), "{ours:#?}");
        for f in &failures {
            assert_eq!(f.level, Level::INFO);
            assert_eq!(f.field("retry_ms"), "100");
            assert_eq!(f.field("socket"), "PUSH");
            assert!(!f.field("error").is_empty());
        }
        // Every attempt is either a line or counted in the summary.
        let attempts = summary.number("failed_attempts");
        let suppressed = summary.number("suppressed");
        assert!(attempts >= 10, "{summary:?}");
        assert!(suppressed > 0, "{summary:?}");
        let counted: u64 = failures.iter().map(|f| f.number("suppressed")).sum();
        assert_eq!(
            failures.len() as u64 + counted + suppressed,
            attempts,
            "{ours:#?}"
        );
    });
}

#[test]
fn sndhwm_drop_lines_are_bounded_and_name_the_peer() {
    install();
    const SUBSCRIBERS: usize = 15;
    run(|| async {
        let tid = thread::current().id();
        let publisher = Pub::with_options(Options {
            sndhwm: 1,
            ..Options::default()
        });
        let bound = publisher.bind("tcp://127.0.0.1:0").unwrap().to_string();
        let monitor = publisher.monitor();
        // Subscribers that never read: once RCVHWM (1) is reached their connections
        // stop reading, the kernel's buffers fill, then the PUB's queue for each.
        let subs: Vec<Sub> = (0..SUBSCRIBERS)
            .map(|_| {
                let sub = Sub::with_options(Options {
                    rcvhwm: 1,
                    ..Options::default()
                });
                sub.connect(&bound).unwrap();
                sub.subscribe(b"").unwrap();
                sub
            })
            .collect();
        // Sends in bursts until every subscriber has reported drops on the monitor.
        let body = Bytes::from(vec![7u8; 64 << 10]);
        let deadline = Instant::now() + WAIT;
        let mut reported = std::collections::BTreeSet::new();
        while reported.len() < SUBSCRIBERS {
            assert!(
                Instant::now() < deadline,
                "drops reported by {reported:?}; {} peers: {:?}",
                publisher.peer_count(),
                publisher.peer_stats()
            );
            for _ in 0..50 {
                publisher.send(body.clone()).await.unwrap();
            }
            glommio::timer::sleep(Duration::from_millis(1)).await;
            while let Some(event) = monitor.try_recv() {
                if let MonitorEvent::MessagesDropped { remote, .. } = event {
                    reported.insert(remote);
                }
            }
        }
        let lines: Vec<Record> = records(tid)
            .into_iter()
            .filter(|r| r.message == "peer at SNDHWM: messages dropped")
            .collect();
        assert!(
            !lines.is_empty() && lines.len() <= monocoque_runtime::LOG_BURST as usize,
            "{} drop lines for {} peers: {lines:#?}",
            lines.len(),
            reported.len()
        );
        for line in &lines {
            assert_eq!(line.level, Level::WARN);
            assert_eq!(line.spans, ["conn"], "{line:?}");
            assert_eq!(line.field("socket"), "PUB");
            assert_eq!(line.field("endpoint"), bound);
            assert!(
                line.field("peer").starts_with("tcp://127.0.0.1:"),
                "{line:?}"
            );
            assert!(line.number("count") >= 1);
        }
        drop(subs);
    });
}

/// Many connectors to dead ports share one budget per thread: 30 of them retrying
/// for 1.5 s write at most its burst of retry lines, and every attempt is still
/// accounted for (a line, or a count in a line or a summary).
#[test]
fn retry_lines_of_many_connectors_share_the_threads_budget() {
    install();
    run(move || async move {
        let tid = thread::current().id();
        let endpoints: Vec<String> = (0..30).map(|_| free_tcp_endpoint()).collect();
        let pushes: Vec<Push> = endpoints
            .iter()
            .map(|e| {
                let push = Push::new();
                push.connect(e).unwrap();
                push
            })
            .collect();
        glommio::timer::sleep(Duration::from_millis(1500)).await;
        for (push, e) in pushes.iter().zip(&endpoints) {
            push.disconnect(e).unwrap();
        }
        for e in &endpoints {
            expect("stopped connecting", &[("endpoint", e.as_str())]).await;
        }
        let ours: Vec<Record> = records(tid)
            .into_iter()
            .filter(|r| endpoints.iter().any(|e| r.field("endpoint") == *e))
            .collect();
        let retries: Vec<&Record> = ours
            .iter()
            .filter(|r| r.message == "connect failed; will retry")
            .collect();
        assert!(
            !retries.is_empty() && retries.len() <= 10,
            "{} retry lines",
            retries.len()
        );
        let summaries: Vec<&Record> = ours
            .iter()
            .filter(|r| r.message == "stopped connecting")
            .collect();
        assert_eq!(summaries.len(), 30);
        let attempts: u64 = summaries.iter().map(|s| s.number("failed_attempts")).sum();
        let counted: u64 = retries.iter().map(|r| r.number("suppressed")).sum::<u64>()
            + summaries
                .iter()
                .map(|s| s.number("suppressed"))
                .sum::<u64>();
        assert!(attempts >= 30 * 5, "{attempts} attempts");
        assert_eq!(retries.len() as u64 + counted, attempts);
    });
}
