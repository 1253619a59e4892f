//! PLAIN (RFC 24) against libzmq in both roles, over TCP and IPC: valid credentials
//! let messages through and both sides report HANDSHAKE_SUCCEEDED; a refusal is
//! reported on both sides with its ZAP status; a PLAIN server without an authenticator
//! refuses everyone; a client of another mechanism never reaches the authenticator.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::{fresh_endpoint, handshake_outcome, join, run, within, zsock, TRANSPORTS, WAIT};
use monocoque::{
    AuthReply, AuthRequest, AuthStatus, Credentials, MonitorEvent, Options, Rep, Req, Security,
    SharedAuthenticator,
};

/// An authenticator that lets `admin`/`password` in as user `alice` and records every
/// request it is asked.
fn checker(asked: Arc<Mutex<Vec<AuthRequest>>>) -> SharedAuthenticator {
    SharedAuthenticator::new(move |req: &AuthRequest| {
        asked.lock().unwrap().push(req.clone());
        match &req.credentials {
            Credentials::Plain { username, password }
                if &username[..] == b"admin" && &password[..] == b"password" =>
            {
                AuthReply::accept("alice")
            }
            _ => AuthReply::refuse(AuthStatus::Failure, "bad credentials"),
        }
    })
}

fn plain_server(authenticator: Option<SharedAuthenticator>) -> Options {
    Options {
        security: Security::PlainServer,
        zap_domain: Bytes::from_static(b"test"),
        authenticator,
        ..Options::default()
    }
}

/// A libzmq PLAIN REQ client with `user`/`pass` (see [`common::libzmq_client`]).
fn libzmq_client(
    endpoint: String,
    user: &'static str,
    pass: &'static str,
    expect_reply: bool,
) -> std::thread::JoinHandle<(u16, u32, Option<Vec<u8>>)> {
    common::libzmq_client(
        endpoint,
        move |req| {
            req.set_plain_username(Some(user)).unwrap();
            req.set_plain_password(Some(pass)).unwrap();
        },
        expect_reply,
    )
}

#[test]
fn libzmq_plain_client_with_valid_credentials_reaches_a_monocoque_server() {
    for transport in TRANSPORTS {
        let asked = Arc::new(Mutex::new(Vec::new()));
        let checker = checker(Arc::clone(&asked));
        let (outcome, client) = run(move || async move {
            let rep = Rep::with_options(plain_server(Some(checker)));
            let monitor = rep.monitor();
            let endpoint = rep.bind(&fresh_endpoint(transport)).unwrap().to_string();
            let client = libzmq_client(endpoint, "admin", "password", true);
            let outcome = handshake_outcome(&monitor).await;
            let request = within("a request", rep.recv()).await.unwrap();
            assert_eq!(&request[0][..], b"ping");
            rep.send("pong").await.unwrap();
            (outcome, join(client).await)
        });
        assert!(
            matches!(outcome, MonitorEvent::HandshakeSucceeded { .. }),
            "{transport}: {outcome:?}"
        );
        assert_eq!(
            (client.0, client.2.as_deref()),
            (0x1000, Some(&b"pong"[..])),
            "{transport}"
        );
        let asked = asked.lock().unwrap();
        assert_eq!(asked.len(), 1, "{transport}: asked once");
        assert_eq!(asked[0].domain, "test");
        if transport == "tcp" {
            assert_eq!(asked[0].address, "127.0.0.1");
        }
    }
}

#[test]
fn a_wrong_password_is_refused_with_400_on_both_sides() {
    let asked = Arc::new(Mutex::new(Vec::new()));
    let checker = checker(Arc::clone(&asked));
    let (outcome, client) = run(move || async move {
        let rep = Rep::with_options(plain_server(Some(checker)));
        let monitor = rep.monitor();
        let endpoint = rep.bind(&fresh_endpoint("tcp")).unwrap().to_string();
        let client = libzmq_client(endpoint, "admin", "wrong", false);
        let outcome = handshake_outcome(&monitor).await;
        let client = join(client).await;
        // Nothing got through.
        let got = common::within_or_none(Duration::from_millis(200), rep.recv()).await;
        assert!(got.is_none(), "a refused client's request arrived: {got:?}");
        (outcome, client)
    });
    assert!(
        matches!(
            outcome,
            MonitorEvent::HandshakeFailedAuth { status: 400, .. }
        ),
        "{outcome:?}"
    );
    assert_eq!(
        (client.0, client.1),
        (0x4000, 400),
        "libzmq: HANDSHAKE_FAILED_AUTH 400"
    );
}

#[test]
fn a_plain_server_without_authenticator_refuses_everyone() {
    let outcome = run(|| async {
        let rep = Rep::with_options(plain_server(None));
        let monitor = rep.monitor();
        let endpoint = rep.bind(&fresh_endpoint("tcp")).unwrap().to_string();
        let client = libzmq_client(endpoint, "admin", "password", false);
        let outcome = handshake_outcome(&monitor).await;
        // libzmq's client sees the connection closed and retries; stop it.
        drop(client);
        outcome
    });
    assert!(
        matches!(outcome, MonitorEvent::HandshakeFailedNoDetail { .. }),
        "{outcome:?}"
    );
}

#[test]
fn a_null_client_never_reaches_the_authenticator() {
    let asked = Arc::new(Mutex::new(Vec::new()));
    let checker = checker(Arc::clone(&asked));
    let outcome = run(move || async move {
        let rep = Rep::with_options(plain_server(Some(checker)));
        let monitor = rep.monitor();
        let endpoint = rep.bind(&fresh_endpoint("tcp")).unwrap().to_string();
        std::thread::spawn(move || {
            let ctx = zmq::Context::new();
            let req = zsock(&ctx, zmq::REQ);
            req.connect(&endpoint).unwrap();
            std::thread::sleep(Duration::from_millis(300));
        });
        handshake_outcome(&monitor).await
    });
    // Our server sends its mechanism only once libzmq's is in (see
    // SessionConfig::accepted), so it always learns of the mismatch.
    assert!(
        matches!(
            outcome,
            MonitorEvent::HandshakeFailedProtocol {
                error: monocoque_zmtp::error::libzmq_code::ZMTP_MECHANISM_MISMATCH,
                ..
            }
        ),
        "{outcome:?}"
    );
    assert!(
        asked.lock().unwrap().is_empty(),
        "the authenticator was asked"
    );
}

/// A libzmq PLAIN REP server with a ZAP handler (a REP bound to
/// `inproc://zeromq.zap.01` in its context) that accepts `admin`/`password`; it
/// answers one request with "pong". Returns its endpoint, and the thread, which
/// reports the ZAP requests it saw.
fn libzmq_server(transport: &'static str) -> (String, std::thread::JoinHandle<Vec<Vec<Vec<u8>>>>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        let ctx = zmq::Context::new();
        let zap = zsock(&ctx, zmq::REP);
        zap.bind("inproc://zeromq.zap.01").unwrap();
        let rep = zsock(&ctx, zmq::REP);
        rep.set_plain_server(true).unwrap();
        rep.set_zap_domain("global").unwrap();
        let endpoint = common::zbind(&rep, transport);
        tx.send(endpoint).unwrap();
        let mut seen = Vec::new();
        let poll_until = std::time::Instant::now() + WAIT;
        while std::time::Instant::now() < poll_until {
            let mut items = [zap.as_poll_item(zmq::POLLIN), rep.as_poll_item(zmq::POLLIN)];
            zmq::poll(&mut items, 100).unwrap();
            if items[0].is_readable() {
                let request = zap.recv_multipart(0).unwrap();
                // REP took the delimiter: version, id, domain, address, identity,
                // mechanism, user name, password.
                let ok = request.get(6).map(|u| &u[..]) == Some(&b"admin"[..])
                    && request.get(7).map(|p| &p[..]) == Some(&b"password"[..]);
                let status: &[u8] = if ok { b"200" } else { b"400" };
                let reply: [&[u8]; 6] = [b"1.0", &request[1], status, b"", b"bob", b""];
                zap.send_multipart(reply, 0).unwrap();
                seen.push(request);
                if !ok {
                    break;
                }
            }
            if items[1].is_readable() {
                rep.recv_bytes(0).unwrap();
                rep.send("pong", 0).unwrap();
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
        seen
    });
    (rx.recv().unwrap(), handle)
}

fn plain_client(user: &'static str, pass: &'static str) -> Options {
    Options {
        security: Security::PlainClient {
            username: Bytes::from_static(user.as_bytes()),
            password: Bytes::from_static(pass.as_bytes()),
        },
        ..Options::default()
    }
}

#[test]
fn monocoque_plain_client_reaches_a_libzmq_server_with_zap() {
    for transport in TRANSPORTS {
        let (endpoint, server) = libzmq_server(transport);
        let (outcome, reply, seen) = run(move || async move {
            let req = Req::with_options(plain_client("admin", "password"));
            let monitor = req.monitor();
            req.connect(&endpoint).unwrap();
            let outcome = handshake_outcome(&monitor).await;
            req.send("ping").await.unwrap();
            let reply = within("the reply", req.recv()).await.unwrap();
            (outcome, reply[0].to_vec(), join(server).await)
        });
        assert!(
            matches!(outcome, MonitorEvent::HandshakeSucceeded { .. }),
            "{transport}: {outcome:?}"
        );
        assert_eq!(reply, b"pong");
        // The ZAP request libzmq built from our HELLO.
        assert_eq!(seen.len(), 1);
        let request = &seen[0];
        assert_eq!(request[0], b"1.0");
        assert_eq!(request[2], b"global");
        assert_eq!(request[5], b"PLAIN");
        assert_eq!(
            (&request[6][..], &request[7][..]),
            (&b"admin"[..], &b"password"[..])
        );
    }
}

#[test]
fn monocoque_plain_client_refused_by_libzmq_reports_400() {
    let (endpoint, server) = libzmq_server("tcp");
    let outcome = run(move || async move {
        let req = Req::with_options(plain_client("admin", "nope"));
        let monitor = req.monitor();
        req.connect(&endpoint).unwrap();
        let outcome = handshake_outcome(&monitor).await;
        join(server).await;
        outcome
    });
    assert!(
        matches!(
            outcome,
            MonitorEvent::HandshakeFailedAuth { status: 400, .. }
        ),
        "{outcome:?}"
    );
}

#[test]
fn a_sharded_plain_router_authenticates_clients_on_every_core() {
    let asked = Arc::new(Mutex::new(Vec::new()));
    let rt = common::two_cores();
    let router = monocoque::ShardedSocket::new(
        &rt,
        monocoque::SocketType::Router,
        plain_server(Some(checker(Arc::clone(&asked)))),
    );
    let endpoint = router.bind("tcp://127.0.0.1:0").unwrap().to_string();
    // Four clients: dealt to both cores; the last has a wrong password.
    let clients = common::hello_dealers(&endpoint, 4, |i, dealer| {
        let pass = if i == 3 { "wrong" } else { "password" };
        dealer.set_plain_username(Some("admin")).unwrap();
        dealer.set_plain_password(Some(pass)).unwrap();
        dealer
            .set_rcvtimeo(if i == 3 { 300 } else { 10_000 })
            .unwrap();
    });
    common::welcome(&router, 3);
    let replies: Vec<_> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    assert_eq!(
        replies,
        [
            Some(b"welcome".to_vec()),
            Some(b"welcome".to_vec()),
            Some(b"welcome".to_vec()),
            None
        ]
    );
    assert!(
        asked.lock().unwrap().len() >= 4,
        "every client was asked about"
    );
    rt.shutdown();
}

#[test]
fn the_ready_made_auth_checks_addresses_and_passwords() {
    for (auth, expect_in) in [
        (monocoque::Auth::new().plain_user("admin", "password"), true),
        (
            monocoque::Auth::new()
                .deny("127.0.0.1")
                .plain_user("admin", "password"),
            false,
        ),
        (
            monocoque::Auth::new()
                .allow("10.9.9.9")
                .plain_user("admin", "password"),
            false,
        ),
    ] {
        let shown = format!("{auth:?}");
        let (outcome, client) = run(move || async move {
            let rep = Rep::with_options(Options {
                security: Security::PlainServer,
                authenticator: Some(auth.into()),
                ..Options::default()
            });
            let monitor = rep.monitor();
            let endpoint = rep.bind("tcp://127.0.0.1:0").unwrap().to_string();
            let client = libzmq_client(endpoint, "admin", "password", expect_in);
            let outcome = handshake_outcome(&monitor).await;
            if expect_in {
                within("a request", rep.recv()).await.unwrap();
                rep.send("pong").await.unwrap();
            }
            (outcome, join(client).await)
        });
        if expect_in {
            assert!(
                matches!(outcome, MonitorEvent::HandshakeSucceeded { .. }),
                "{shown}: {outcome:?}"
            );
            assert_eq!(client.2.as_deref(), Some(&b"pong"[..]));
        } else {
            assert!(
                matches!(
                    outcome,
                    MonitorEvent::HandshakeFailedAuth { status: 400, .. }
                ),
                "{shown}: {outcome:?}"
            );
            assert_eq!((client.0, client.1), (0x4000, 400), "{shown}");
        }
    }
}

/// How a test's ZAP handler answers a request (None: not at all).
type ZapAnswer = fn(&[Vec<u8>]) -> Option<Vec<Vec<u8>>>;

/// A libzmq ZAP handler (a REP bound at an IPC endpoint) that answers each request
/// with `reply(request)`.
fn libzmq_zap_handler(reply: ZapAnswer) -> (String, Arc<std::sync::atomic::AtomicBool>) {
    let endpoint = fresh_endpoint("ipc");
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (ep, stop2) = (endpoint.clone(), Arc::clone(&stop));
    std::thread::spawn(move || {
        let ctx = zmq::Context::new();
        let zap = zsock(&ctx, zmq::REP);
        zap.set_rcvtimeo(50).unwrap();
        zap.bind(&ep).unwrap();
        ready_tx.send(()).unwrap();
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            let Ok(request) = zap.recv_multipart(0) else {
                continue;
            };
            match reply(&request) {
                Some(frames) => zap.send_multipart(frames, 0).unwrap(),
                // No reply: this REP is stuck; the test ends first.
                None => std::thread::sleep(Duration::from_secs(2)),
            }
        }
    });
    ready_rx.recv().unwrap();
    (endpoint, stop)
}

/// The handler's verdict, well-formed: 200 for admin/password, 400 otherwise (REP took
/// the delimiter: version, id, domain, address, identity, mechanism, user, password).
fn zap_verdict(request: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let ok = request.get(6).map(Vec::as_slice) == Some(b"admin")
        && request.get(7).map(Vec::as_slice) == Some(b"password");
    let status: &[u8] = if ok { b"200" } else { b"400" };
    [&b"1.0"[..], &request[1], status, b"text", b"alice", b""]
        .map(<[u8]>::to_vec)
        .to_vec()
}

#[test]
fn a_zap_handler_socket_decides_and_a_broken_one_fails_the_handshake() {
    let cases: [(&str, &str, ZapAnswer); 6] = [
        ("accepts", "password", |r| Some(zap_verdict(r))),
        ("refuses", "wrong", |r| Some(zap_verdict(r))),
        ("bad version", "password", |r| {
            let mut f = zap_verdict(r);
            f[0] = b"2.0".to_vec();
            Some(f)
        }),
        ("bad request id", "password", |r| {
            let mut f = zap_verdict(r);
            f[1] = b"999".to_vec();
            Some(f)
        }),
        ("bad status code", "password", |r| {
            let mut f = zap_verdict(r);
            f[2] = b"201".to_vec();
            Some(f)
        }),
        ("too many frames", "password", |r| {
            let mut f = zap_verdict(r);
            f.push(b"extra".to_vec());
            Some(f)
        }),
    ];
    for (name, pass, handler) in cases {
        let (endpoint, stop) = libzmq_zap_handler(handler);
        let outcome = run(move || async move {
            let rep = Rep::with_options(Options {
                security: Security::PlainServer,
                authenticator: Some(monocoque::ZapHandler::connect(endpoint)),
                ..Options::default()
            });
            let monitor = rep.monitor();
            let server = rep.bind("tcp://127.0.0.1:0").unwrap().to_string();
            let client = libzmq_client(server, "admin", pass, name == "accepts");
            let outcome = handshake_outcome(&monitor).await;
            if name == "accepts" {
                within("a request", rep.recv()).await.unwrap();
                rep.send("pong").await.unwrap();
                join(client).await;
            }
            outcome
        });
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        match name {
            "accepts" => assert!(
                matches!(outcome, MonitorEvent::HandshakeSucceeded { .. }),
                "{name}: {outcome:?}"
            ),
            "refuses" => assert!(
                matches!(
                    outcome,
                    MonitorEvent::HandshakeFailedAuth { status: 400, .. }
                ),
                "{name}: {outcome:?}"
            ),
            _ => {
                // libzmq's ZMQ_PROTOCOL_ERROR_ZAP_* numbers.
                use monocoque::libzmq_code::*;
                let code = match name {
                    "bad version" => ZAP_BAD_VERSION,
                    "bad request id" => ZAP_BAD_REQUEST_ID,
                    "bad status code" => ZAP_INVALID_STATUS_CODE,
                    _ => ZAP_MALFORMED_REPLY,
                };
                assert_eq!(ZAP_BAD_VERSION, 0x2000_0003);
                assert!(
                    matches!(&outcome, MonitorEvent::HandshakeFailedProtocol { reason, error, .. }
                        if reason.contains("bad ZAP reply") && *error == code),
                    "{name}: {outcome:?}"
                )
            }
        }
    }
}

#[test]
fn a_silent_zap_handler_leaves_the_handshake_to_handshake_ivl() {
    let (endpoint, stop) = libzmq_zap_handler(|_| None);
    let outcome = run(move || async move {
        let rep = Rep::with_options(Options {
            security: Security::PlainServer,
            authenticator: Some(monocoque::ZapHandler::connect(endpoint)),
            handshake_ivl: Some(Duration::from_millis(300)),
            ..Options::default()
        });
        let monitor = rep.monitor();
        let server = rep.bind("tcp://127.0.0.1:0").unwrap().to_string();
        let _client = libzmq_client(server, "admin", "password", false);
        handshake_outcome(&monitor).await
    });
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(
        matches!(&outcome, MonitorEvent::HandshakeFailedNoDetail { reason, .. } if reason.contains("timed out")),
        "{outcome:?}"
    );
}

#[test]
fn a_malformed_hello_is_reported_with_libzmqs_code() {
    use std::io::Write;
    let outcome = run(|| async {
        let rep = Rep::with_options(plain_server(Some(checker(Arc::default()))));
        let monitor = rep.monitor();
        let endpoint = rep.bind("tcp://127.0.0.1:0").unwrap().to_string();
        let addr = endpoint.trim_start_matches("tcp://").to_string();
        std::thread::spawn(move || {
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            let mut greeting = [0u8; 64];
            greeting[0] = 0xFF;
            greeting[9] = 0x7F;
            greeting[10] = 3;
            greeting[11] = 1;
            greeting[12..17].copy_from_slice(b"PLAIN");
            s.write_all(&greeting).unwrap();
            // HELLO with a user name and no password.
            s.write_all(b"\x04\x0c\x05HELLO\x05admin").unwrap();
            std::thread::sleep(Duration::from_millis(500));
        });
        handshake_outcome(&monitor).await
    });
    assert!(
        matches!(
            outcome,
            MonitorEvent::HandshakeFailedProtocol {
                error: 0x1000_0013,
                ..
            }
        ),
        "ZMQ_PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_HELLO expected: {outcome:?}"
    );
}

#[test]
fn a_refused_client_gives_up_and_closes_without_waiting() {
    // A libzmq PLAIN server whose ZAP handler refuses everyone and counts requests.
    let (tx, rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let server = std::thread::spawn(move || {
        let ctx = zmq::Context::new();
        let zap = zsock(&ctx, zmq::REP);
        zap.set_rcvtimeo(50).unwrap();
        zap.bind("inproc://zeromq.zap.01").unwrap();
        let rep = zsock(&ctx, zmq::REP);
        rep.set_plain_server(true).unwrap();
        tx.send(common::zbind(&rep, "tcp")).unwrap();
        let mut asked = 0;
        while stop_rx.try_recv().is_err() {
            if let Ok(request) = zap.recv_multipart(0) {
                asked += 1;
                let reply: [&[u8]; 6] = [b"1.0", &request[1], b"400", b"no", b"", b""];
                zap.send_multipart(reply, 0).unwrap();
            }
        }
        asked
    });
    let endpoint = rx.recv().unwrap();
    let outcome = run(move || async move {
        let req = Req::with_options(plain_client("admin", "nope"));
        let monitor = req.monitor();
        req.connect(&endpoint).unwrap();
        // A request queued for the connection that will never be.
        req.send("ping").await.unwrap();
        let outcome = handshake_outcome(&monitor).await;
        // Long enough for several reconnects at RECONNECT_IVL (100 ms).
        glommio::timer::sleep(Duration::from_millis(600)).await;
        // LINGER is infinite by default: closing must not wait for the dropped request.
        within("close", req.close()).await;
        outcome
    });
    stop_tx.send(()).unwrap();
    let asked = server.join().unwrap();
    assert!(
        matches!(
            outcome,
            MonitorEvent::HandshakeFailedAuth { status: 400, .. }
        ),
        "{outcome:?}"
    );
    assert_eq!(asked, 1, "the refused client came back");
}
