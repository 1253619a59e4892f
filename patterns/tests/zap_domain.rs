//! ZAP domains against libzmq 4.3.4, in both roles: a NULL socket with a ZAP domain
//! asks its authenticator about every peer and honours 200/300/400/500 (libzmq's
//! `null_mechanism.cpp`), without a domain it never asks; ZAP_ENFORCE_DOMAIN turns a
//! missing authenticator into a refusal for every mechanism, and a missing domain
//! into no authentication (`null_mechanism.cpp`, `plain_server.cpp`,
//! `curve_server.cpp`; `tests/test_security_zap.cpp`,
//! `tests/test_security_no_zap_handler.cpp`). Local and sharded sockets alike.

mod common;

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use common::{handshake_outcome, join, run, within, zsock, TRANSPORTS};
use monocoque::{
    AuthReply, AuthRequest, AuthStatus, Credentials, CurveKeyPair, MonitorEvent, Options, Rep, Req,
    Security, SharedAuthenticator,
};

type Asked = Arc<Mutex<Vec<AuthRequest>>>;

/// An authenticator that records every request and answers `status` (200 as user
/// "anonymous" with the property Hello=World).
fn answering(status: AuthStatus, asked: &Asked) -> SharedAuthenticator {
    let asked = Arc::clone(asked);
    SharedAuthenticator::new(move |req: &AuthRequest| {
        asked.lock().unwrap().push(req.clone());
        if status == AuthStatus::Success {
            let mut reply = AuthReply::accept("anonymous");
            reply.metadata.insert("Hello", "World");
            reply
        } else {
            AuthReply::refuse(status, "not today")
        }
    })
}

/// Options with ZAP_DOMAIN `domain`, ZAP_ENFORCE_DOMAIN `enforce` and `authenticator`
/// over `base` (whose security is kept).
fn zap(
    base: Options,
    domain: &'static str,
    enforce: bool,
    authenticator: Option<SharedAuthenticator>,
) -> Options {
    Options {
        zap_domain: Bytes::from_static(domain.as_bytes()),
        zap_enforce_domain: enforce,
        authenticator,
        ..base
    }
}

/// What one libzmq client saw: its first handshake event, that event's value, and
/// the reply to its request when it was let in.
type ClientSaw = (u16, u32, Option<Vec<u8>>);

/// A Monocoque REP with `options`, bound on `transport`, and one libzmq REQ client
/// set up by `configure`. With `expect_in` the client sends "ping" and gets "pong".
/// Returns our first handshake outcome and what the client saw.
fn serve_one(
    transport: &'static str,
    options: Options,
    configure: impl FnOnce(&zmq::Socket) + Send + 'static,
    expect_in: bool,
) -> (MonitorEvent, ClientSaw) {
    run(move || async move {
        let rep = Rep::with_options(options);
        let monitor = rep.monitor();
        let endpoint = rep
            .bind(&common::fresh_endpoint(transport))
            .unwrap()
            .to_string();
        let client = common::libzmq_client(endpoint, configure, expect_in);
        let outcome = handshake_outcome(&monitor).await;
        if expect_in {
            let request = within("the request", rep.recv()).await.unwrap();
            assert_eq!(&request[0][..], b"ping");
            rep.send("pong").await.unwrap();
        }
        (outcome, join(client).await)
    })
}

/// A libzmq client of the NULL mechanism (nothing to set up).
fn null_client(_: &zmq::Socket) {}

/// What a libzmq client sees of a connection let in and answered:
/// HANDSHAKE_SUCCEEDED, and the reply.
fn let_in() -> ClientSaw {
    (0x1000, 0, Some(b"pong".to_vec()))
}

#[test]
fn a_null_socket_with_a_domain_asks_about_each_client_and_200_lets_it_in() {
    for transport in TRANSPORTS {
        let asked = Asked::default();
        let options = Options {
            routing_id: Bytes::from_static(b"server-id"),
            ..zap(
                Options::default(),
                "DOMAIN",
                false,
                Some(answering(AuthStatus::Success, &asked)),
            )
        };
        let (ours, client) = serve_one(transport, options, null_client, true);
        assert!(
            matches!(ours, MonitorEvent::HandshakeSucceeded { .. }),
            "{transport}: {ours:?}"
        );
        assert_eq!(client, let_in(), "{transport}");
        let asked = asked.lock().unwrap();
        assert_eq!(asked.len(), 1, "{transport}: asked once");
        let request = &asked[0];
        assert_eq!(request.credentials, Credentials::Null);
        assert_eq!(request.domain, "DOMAIN");
        assert_eq!(request.routing_id, "server-id");
        // The address as libzmq gives it: the IP, or for IPC "localhost" and the
        // peer process's credentials (the client is a thread of this process).
        common::assert_local_address(std::str::from_utf8(&request.address).unwrap(), transport);
    }
}

#[test]
fn a_null_socket_refusing_reports_the_status_on_both_sides() {
    for status in [
        AuthStatus::TemporaryError,
        AuthStatus::Failure,
        AuthStatus::InternalError,
    ] {
        let asked = Asked::default();
        let options = zap(
            Options::default(),
            "DOMAIN",
            false,
            Some(answering(status, &asked)),
        );
        let (ours, client) = serve_one("tcp", options, null_client, false);
        let code = status.code();
        assert!(
            matches!(ours, MonitorEvent::HandshakeFailedAuth { status, .. } if status == code),
            "{code}: {ours:?}"
        );
        let seen = (client.0, client.1);
        if status == AuthStatus::TemporaryError {
            // 300 closes without ERROR: libzmq's client only sees the connection go.
            assert_eq!(seen.0, 0x800, "300: {seen:?}");
        } else {
            assert_eq!(
                seen,
                (0x4000, u32::from(code)),
                "libzmq: HANDSHAKE_FAILED_AUTH"
            );
        }
        assert!(!asked.lock().unwrap().is_empty());
    }
}

#[test]
fn a_null_socket_without_a_domain_never_asks() {
    for enforce in [false, true] {
        let asked = Asked::default();
        let options = zap(
            Options::default(),
            "",
            enforce,
            Some(answering(AuthStatus::Failure, &asked)),
        );
        let (ours, client) = serve_one("tcp", options, null_client, true);
        assert!(
            matches!(ours, MonitorEvent::HandshakeSucceeded { .. }),
            "enforce {enforce}: {ours:?}"
        );
        assert_eq!(client, let_in());
        assert!(asked.lock().unwrap().is_empty(), "enforce {enforce}: asked");
    }
}

#[test]
fn a_domain_without_an_authenticator_lets_null_clients_in_unless_enforced() {
    // libzmq's test_security_no_zap_handler: the domain is ignored…
    let (ours, client) = serve_one(
        "tcp",
        zap(Options::default(), "TEST", false, None),
        null_client,
        true,
    );
    assert!(
        matches!(ours, MonitorEvent::HandshakeSucceeded { .. }),
        "{ours:?}"
    );
    assert_eq!(client, let_in());
    // …unless ZAP_ENFORCE_DOMAIN: HANDSHAKE_FAILED_NO_DETAIL (libzmq sends no READY;
    // we close at once), and the client sees the connection go.
    let (ours, client) = serve_one(
        "tcp",
        zap(Options::default(), "TEST", true, None),
        null_client,
        false,
    );
    assert!(
        matches!(ours, MonitorEvent::HandshakeFailedNoDetail { .. }),
        "{ours:?}"
    );
    assert_eq!(client.0, 0x800, "{client:?}");
}

/// A CURVE server's options (a fresh key pair), and a libzmq client set-up for it.
fn curve() -> (Options, impl FnOnce(&zmq::Socket) + Send + 'static) {
    let keys = CurveKeyPair::generate();
    let server_key = *keys.public().as_bytes();
    let options = Options {
        security: Security::CurveServer { keys },
        ..Options::default()
    };
    let configure = move |req: &zmq::Socket| {
        let client = zmq::CurveKeyPair::new().unwrap();
        req.set_curve_serverkey(&server_key).unwrap();
        req.set_curve_publickey(&client.public_key).unwrap();
        req.set_curve_secretkey(&client.secret_key).unwrap();
    };
    (options, configure)
}

fn plain() -> (Options, impl FnOnce(&zmq::Socket) + Send + 'static) {
    let options = Options {
        security: Security::PlainServer,
        ..Options::default()
    };
    let configure = |req: &zmq::Socket| {
        req.set_plain_username(Some("admin")).unwrap();
        req.set_plain_password(Some("secret")).unwrap();
    };
    (options, configure)
}

#[test]
fn an_enforced_domain_without_an_authenticator_refuses_every_mechanism() {
    // CURVE without ZAP_ENFORCE_DOMAIN lets any key in (libzmq's Stonehouse)…
    let (options, client) = curve();
    let (ours, saw) = serve_one("tcp", zap(options, "TEST", false, None), client, true);
    assert!(
        matches!(ours, MonitorEvent::HandshakeSucceeded { .. }),
        "{ours:?}"
    );
    assert_eq!(saw, let_in());
    // …and with it refuses, as PLAIN always does without an authenticator.
    let (options, client) = curve();
    let (ours, saw) = serve_one("tcp", zap(options, "TEST", true, None), client, false);
    assert!(
        matches!(ours, MonitorEvent::HandshakeFailedNoDetail { .. }),
        "CURVE: {ours:?}"
    );
    assert_eq!(saw.0, 0x800, "CURVE: {saw:?}");
    let (options, client) = plain();
    let (ours, saw) = serve_one("tcp", zap(options, "TEST", true, None), client, false);
    assert!(
        matches!(ours, MonitorEvent::HandshakeFailedNoDetail { .. }),
        "PLAIN: {ours:?}"
    );
    assert_eq!(saw.0, 0x800, "PLAIN: {saw:?}");
}

#[test]
fn an_enforced_empty_domain_means_no_zap_curve_lets_in_and_plain_refuses() {
    // curve_server.cpp asks ZAP only `if (zap_required () || !zap_enforce_domain)`:
    // with ZAP_ENFORCE_DOMAIN and no domain, every client key comes in, unasked.
    let asked = Asked::default();
    let (options, client) = curve();
    let refusing = answering(AuthStatus::Failure, &asked);
    let (ours, saw) = serve_one("tcp", zap(options, "", true, Some(refusing)), client, true);
    assert!(
        matches!(ours, MonitorEvent::HandshakeSucceeded { .. }),
        "CURVE: {ours:?}"
    );
    assert_eq!(saw, let_in());
    assert!(asked.lock().unwrap().is_empty(), "CURVE asked");
    // PLAIN cannot do without ZAP (libzmq asserts on this configuration): refused.
    let (options, client) = plain();
    let accepting = answering(AuthStatus::Success, &asked);
    let (ours, saw) = serve_one(
        "tcp",
        zap(options, "", true, Some(accepting)),
        client,
        false,
    );
    assert!(
        matches!(ours, MonitorEvent::HandshakeFailedNoDetail { .. }),
        "PLAIN: {ours:?}"
    );
    assert_eq!(saw.0, 0x800, "PLAIN: {saw:?}");
    assert!(asked.lock().unwrap().is_empty(), "PLAIN asked");
}

/// What a libzmq NULL REP server with ZAP_DOMAIN "global" and a ZAP handler answering
/// `status` (user id "bob") saw: the ZAP request (after its delimiter) and, when it
/// let the client in, the User-Id of the request it received.
type ServerSaw = (Vec<Vec<u8>>, Option<String>);

/// Starts that server; returns its endpoint and its thread.
fn libzmq_null_server(status: &'static str) -> (String, std::thread::JoinHandle<ServerSaw>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let server = std::thread::spawn(move || {
        let ctx = zmq::Context::new();
        let handler = zsock(&ctx, zmq::REP);
        handler.bind("inproc://zeromq.zap.01").unwrap();
        let rep = zsock(&ctx, zmq::REP);
        rep.set_zap_domain("global").unwrap();
        tx.send(common::zbind(&rep, "tcp")).unwrap();
        let request = handler.recv_multipart(0).expect("a ZAP request");
        let reply: [&[u8]; 6] = [b"1.0", &request[1], status.as_bytes(), b"", b"bob", b""];
        handler.send_multipart(reply, 0).unwrap();
        let user_id = (status == "200").then(|| {
            let mut msg = zmq::Message::new();
            rep.recv(&mut msg, 0).expect("the request");
            let user_id = msg.gets("User-Id").map(str::to_owned);
            rep.send("pong", 0).unwrap();
            user_id.unwrap_or_default()
        });
        (request, user_id)
    });
    (rx.recv().unwrap(), server)
}

#[test]
fn a_libzmq_null_server_with_zap_decides_about_our_client() {
    for status in ["200", "400"] {
        let (endpoint, server) = libzmq_null_server(status);
        let (outcome, server_saw) = run(move || async move {
            let req = Req::new();
            let monitor = req.monitor();
            req.connect(&endpoint).unwrap();
            let outcome = handshake_outcome(&monitor).await;
            if status == "200" {
                req.send("ping").await.unwrap();
                let reply = within("the reply", req.recv()).await.unwrap();
                assert_eq!(&reply[0][..], b"pong");
            }
            (outcome, join(server).await)
        });
        let (request, user_id) = server_saw;
        // REP took the delimiter: version, id, domain, address, identity, mechanism.
        assert_eq!(request.len(), 6, "{request:?}");
        assert_eq!(
            (&request[2][..], &request[5][..]),
            (&b"global"[..], &b"NULL"[..])
        );
        if status == "200" {
            assert!(
                matches!(outcome, MonitorEvent::HandshakeSucceeded { .. }),
                "{outcome:?}"
            );
            assert_eq!(user_id.as_deref(), Some("bob"));
        } else {
            // What libzmq's own client reports: HANDSHAKE_FAILED_AUTH 400.
            assert!(
                matches!(
                    outcome,
                    MonitorEvent::HandshakeFailedAuth { status: 400, .. }
                ),
                "{outcome:?}"
            );
        }
    }
}

#[test]
fn a_sharded_null_router_with_a_domain_asks_on_every_core_and_enforces() {
    let rt = common::two_cores();
    let asked = Asked::default();
    let router = monocoque::ShardedSocket::new(
        &rt,
        monocoque::SocketType::Router,
        zap(
            Options::default(),
            "DOMAIN",
            false,
            Some(answering(AuthStatus::Success, &asked)),
        ),
    );
    let endpoint = router.bind("tcp://127.0.0.1:0").unwrap().to_string();
    // Four clients, dealt to both cores.
    let clients = common::hello_dealers(&endpoint, 4, |_, _| {});
    common::welcome(&router, 4);
    for client in clients {
        assert_eq!(client.join().unwrap().as_deref(), Some(&b"welcome"[..]));
    }
    let asked = asked.lock().unwrap();
    assert_eq!(asked.len(), 4, "every client was asked about");
    assert!(asked.iter().all(|r| r.credentials == Credentials::Null));
    drop(asked);

    // The same with ZAP_ENFORCE_DOMAIN and no authenticator: nobody comes in.
    let enforcing = monocoque::ShardedSocket::new(
        &rt,
        monocoque::SocketType::Router,
        zap(Options::default(), "DOMAIN", true, None),
    );
    let endpoint = enforcing.bind("tcp://127.0.0.1:0").unwrap().to_string();
    let refused: Vec<_> = (0..2)
        .map(|_| common::libzmq_client(endpoint.clone(), null_client, false))
        .collect();
    for client in refused {
        assert_eq!(client.join().unwrap().0, 0x800, "refused without detail");
    }
    rt.shutdown();
}
