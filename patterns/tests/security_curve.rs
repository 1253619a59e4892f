//! CURVE (RFC 25/26) against libzmq 4.3.5 with CURVE (pyzmq's; the bundled libzmq has
//! none), both roles, TCP and IPC: requests and multipart replies with large frames,
//! subscriptions inside CURVE, the authenticator asked about client keys, a client
//! with the wrong server key getting nowhere, certificates written by either side
//! read by the other (`zmq.auth`).

mod common;
mod pyzmq;

use std::sync::{Arc, Mutex};

use common::{fresh_endpoint, join, run, within, TRANSPORTS};
use monocoque::{
    certificate, Auth, AuthReply, AuthRequest, AuthStatus, Credentials, CurveKeyPair,
    CurvePublicKey, MonitorEvent, Options, Pub, Rep, Req, Security, SharedAuthenticator,
};

/// libzmq's test keys (its `zmq_curve` documentation).
const CLIENT_PUBLIC: &str = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID";
const CLIENT_SECRET: &str = "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs";
const SERVER_PUBLIC: &str = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
const SERVER_SECRET: &str = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6";

fn curve_server() -> Options {
    Options {
        security: Security::CurveServer {
            keys: CurveKeyPair::from_secret(SERVER_SECRET).unwrap(),
        },
        ..Options::default()
    }
}

fn curve_client(server_public: &str) -> Options {
    Options {
        security: Security::CurveClient {
            keys: CurveKeyPair::from_secret(CLIENT_SECRET).unwrap(),
            server_key: CurvePublicKey::new(server_public).unwrap(),
        },
        ..Options::default()
    }
}

const PY_CURVE_REP: &str = r#"
s = zmq.Context().socket(zmq.REP)
s.curve_server = True
s.curve_secretkey = sys.argv[2].encode()
s.rcvtimeo = 10000
if sys.argv[1] == "tcp":
    s.bind_to_random_port("tcp://127.0.0.1")
else:
    s.bind(sys.argv[3])
print(s.last_endpoint.decode(), flush=True)
for _ in range(2):
    msg = s.recv_multipart()
    s.send_multipart([b"pong"] + msg)
"#;

#[test]
fn monocoque_curve_client_talks_to_a_libzmq_server() {
    for transport in TRANSPORTS {
        let ipc = fresh_endpoint("ipc");
        let (endpoint, py) = pyzmq::started(PY_CURVE_REP, &[transport, SERVER_SECRET, &ipc]);
        let replies = run(move || async move {
            let req = Req::with_options(curve_client(SERVER_PUBLIC));
            let monitor = req.monitor();
            req.connect(&endpoint).unwrap();
            let mut replies = Vec::new();
            for i in 0..2u8 {
                req.send(vec![vec![b'p', i], vec![i; 5000]]).await.unwrap();
                let reply = within("a reply", req.recv()).await.unwrap();
                replies.push(reply.iter().map(|f| f.to_vec()).collect::<Vec<_>>());
            }
            let succeeded = std::iter::from_fn(|| monitor.try_recv())
                .any(|e| matches!(e, MonitorEvent::HandshakeSucceeded { .. }));
            assert!(succeeded, "{transport}: no HandshakeSucceeded");
            replies
        });
        pyzmq::finished(py);
        for (i, reply) in replies.iter().enumerate() {
            let i = i as u8;
            assert_eq!(
                reply,
                &[b"pong".to_vec(), vec![b'p', i], vec![i; 5000]],
                "{transport}"
            );
        }
    }
}

const PY_CURVE_REQ: &str = r#"
s = curve_client(zmq.REQ)
s.rcvtimeo = 5000
s.connect(sys.argv[1])
s.send_multipart([b"ping", b"x" * 3000])
print(b"|".join(s.recv_multipart()).decode(), flush=True)
"#;

#[test]
fn a_libzmq_curve_client_talks_to_a_monocoque_server() {
    for transport in TRANSPORTS {
        let asked = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&asked);
        let authenticator = SharedAuthenticator::new(move |req: &AuthRequest| {
            seen.lock().unwrap().push(req.credentials.clone());
            AuthReply::accept("curve-client")
        });
        let got = run(move || async move {
            let rep = Rep::with_options(Options {
                authenticator: Some(authenticator),
                ..curve_server()
            });
            let endpoint = rep.bind(&fresh_endpoint(transport)).unwrap().to_string();
            let py = std::thread::spawn(move || {
                let child = pyzmq::spawn(
                    PY_CURVE_REQ,
                    &[&endpoint, SERVER_PUBLIC, CLIENT_PUBLIC, CLIENT_SECRET],
                );
                pyzmq::finished(child)
            });
            let request = within("the request", rep.recv()).await.unwrap();
            assert_eq!(&request[0][..], b"ping");
            assert_eq!(request[1].len(), 3000);
            rep.send("pong").await.unwrap();
            join(py).await
        });
        assert_eq!(got.trim(), "pong", "{transport}");
        let client = CurvePublicKey::new(CLIENT_PUBLIC).unwrap();
        assert_eq!(
            *asked.lock().unwrap(),
            [Credentials::Curve {
                public_key: *client.as_bytes()
            }],
            "{transport}: the authenticator is asked about the client's key"
        );
    }
}

/// A CURVE client that only connects, and prints the status its refusal carried.
const PY_CURVE_REFUSED: &str = r#"
print(refused_status(curve_client(zmq.REQ), sys.argv[1]), flush=True)
"#;

#[test]
fn an_unknown_client_key_is_refused_with_400_on_both_sides() {
    let refuse = SharedAuthenticator::new(|_: &AuthRequest| {
        AuthReply::refuse(AuthStatus::Failure, "unknown key")
    });
    let (outcome, got) = run(move || async move {
        let rep = Rep::with_options(Options {
            authenticator: Some(refuse),
            ..curve_server()
        });
        let monitor = rep.monitor();
        let endpoint = rep.bind("tcp://127.0.0.1:0").unwrap().to_string();
        let py = std::thread::spawn(move || {
            pyzmq::finished(pyzmq::spawn(
                PY_CURVE_REFUSED,
                &[&endpoint, SERVER_PUBLIC, CLIENT_PUBLIC, CLIENT_SECRET],
            ))
        });
        let outcome = within("the handshake outcome", async {
            loop {
                let e = monitor.recv().await;
                if matches!(
                    e,
                    MonitorEvent::HandshakeFailedAuth { .. }
                        | MonitorEvent::HandshakeSucceeded { .. }
                ) {
                    return e;
                }
            }
        })
        .await;
        (outcome, join(py).await)
    });
    assert!(
        matches!(
            outcome,
            MonitorEvent::HandshakeFailedAuth { status: 400, .. }
        ),
        "{outcome:?}"
    );
    // libzmq's client reports HANDSHAKE_FAILED_AUTH with the status of our ERROR.
    assert_eq!(got.trim(), "400");
}

#[test]
fn a_client_with_the_wrong_server_key_never_gets_through() {
    let (endpoint, py) = pyzmq::started(PY_CURVE_REP, &["tcp", SERVER_SECRET, ""]);
    let outcome = run(move || async move {
        // The client believes the server's key is its own public key.
        let req = Req::with_options(curve_client(CLIENT_PUBLIC));
        let monitor = req.monitor();
        req.connect(&endpoint).unwrap();
        req.send("ping").await.unwrap();
        let got = common::within_or_none(std::time::Duration::from_millis(500), req.recv()).await;
        assert!(got.is_none(), "a reply came through: {got:?}");
        std::iter::from_fn(|| monitor.try_recv())
            .any(|e| matches!(e, MonitorEvent::HandshakeSucceeded { .. }))
    });
    let _ = py.wait_with_output();
    assert!(
        !outcome,
        "the handshake succeeded with the wrong server key"
    );
}

const PY_CURVE_SUB: &str = r#"
s = curve_client(zmq.SUB)
s.rcvtimeo = 5000
s.setsockopt(zmq.SUBSCRIBE, b"weather.")
s.connect(sys.argv[1])
got = [s.recv_multipart() for _ in range(3)]
print(";".join(b"|".join(m).decode() for m in got), flush=True)
"#;

#[test]
fn subscriptions_travel_inside_curve() {
    let got = run(|| async {
        let publisher = Pub::with_options(curve_server());
        let endpoint = publisher.bind("tcp://127.0.0.1:0").unwrap().to_string();
        let py = std::thread::spawn(move || {
            pyzmq::finished(pyzmq::spawn(
                PY_CURVE_SUB,
                &[&endpoint, SERVER_PUBLIC, CLIENT_PUBLIC, CLIENT_SECRET],
            ))
        });
        // The SUB's subscription arrives boxed; until then nothing matches.
        let mut n = 0u32;
        while !py.is_finished() {
            publisher
                .send(vec!["weather.paris".to_string(), format!("{n}")])
                .await
                .unwrap();
            publisher.send(vec!["sport", "ignored"]).await.unwrap();
            n += 1;
            glommio::timer::sleep(std::time::Duration::from_millis(5)).await;
        }
        join(py).await
    });
    let messages: Vec<&str> = got.trim().split(';').collect();
    assert_eq!(messages.len(), 3, "{got}");
    assert!(
        messages.iter().all(|m| m.starts_with("weather.paris|")),
        "{got}"
    );
}

#[test]
fn heartbeats_inside_curve_keep_an_idle_connection() {
    let (endpoint, py) = pyzmq::started(PY_CURVE_REP, &["tcp", SERVER_SECRET, ""]);
    let dropped = run(move || async move {
        let req = Req::with_options(Options {
            heartbeat_ivl: Some(std::time::Duration::from_millis(100)),
            heartbeat_timeout: Some(std::time::Duration::from_millis(300)),
            ..curve_client(SERVER_PUBLIC)
        });
        let monitor = req.monitor();
        req.connect(&endpoint).unwrap();
        req.send("first").await.unwrap();
        within("the first reply", req.recv()).await.unwrap();
        // Idle for several heartbeat timeouts: only our boxed PINGs and libzmq's
        // boxed PONGs travel; a PONG libzmq could not read, or one we could not open,
        // would end the connection.
        glommio::timer::sleep(std::time::Duration::from_millis(1200)).await;
        req.send("second").await.unwrap();
        within("the second reply", req.recv()).await.unwrap();
        std::iter::from_fn(|| monitor.try_recv())
            .filter(|e| matches!(e, MonitorEvent::Disconnected { .. }))
            .count()
    });
    pyzmq::finished(py);
    assert_eq!(dropped, 0, "the connection dropped while idle");
}

const PY_CURVE_DEALER: &str = r#"
s = curve_client(zmq.DEALER)
s.rcvtimeo = 5000
s.connect(sys.argv[1])
for i in range(3):
    s.send_multipart([b"", b"part-%d" % i, b"y" * 300])
got = [s.recv_multipart() for _ in range(3)]
print(";".join(b"|".join(m).decode() for m in got), flush=True)
"#;

#[test]
fn a_libzmq_dealer_and_a_monocoque_router_exchange_multipart_messages() {
    let got = run(|| async {
        let router = monocoque::Router::with_options(curve_server());
        let endpoint = router.bind(&fresh_endpoint("ipc")).unwrap().to_string();
        let py = std::thread::spawn(move || {
            pyzmq::finished(pyzmq::spawn(
                PY_CURVE_DEALER,
                &[&endpoint, SERVER_PUBLIC, CLIENT_PUBLIC, CLIENT_SECRET],
            ))
        });
        for _ in 0..3 {
            let msg = within("a request", router.recv()).await.unwrap();
            assert_eq!(msg.len(), 4, "routing id, delimiter, two frames");
            assert_eq!(msg[3].len(), 300);
            router
                .send(vec![msg[0].clone(), msg[1].clone(), msg[2].clone()])
                .await
                .unwrap();
        }
        join(py).await
    });
    assert_eq!(got.trim(), "|part-0;|part-1;|part-2");
}

const PY_CURVE_PUSH: &str = r#"
s = curve_client(zmq.PUSH)
s.sndtimeo = 5000
s.connect(sys.argv[1])
for i in range(1000):
    s.send(b"%d" % i)
s.close(linger=10000)
zmq.Context.instance().term()
print("sent", flush=True)
"#;

#[test]
fn a_sharded_pull_takes_curve_pushes_on_every_core() {
    let rt = monocoque::Runtime::builder()
        .cores(vec![0, 1])
        .build()
        .expect("two-core runtime");
    let pull = monocoque::ShardedSocket::new(&rt, monocoque::SocketType::Pull, curve_server());
    let endpoint = pull.bind("tcp://127.0.0.1:0").unwrap().to_string();
    let pushers: Vec<_> = (0..2)
        .map(|_| {
            let endpoint = endpoint.clone();
            std::thread::spawn(move || {
                pyzmq::finished(pyzmq::spawn(
                    PY_CURVE_PUSH,
                    &[&endpoint, SERVER_PUBLIC, CLIENT_PUBLIC, CLIENT_SECRET],
                ))
            })
        })
        .collect();
    let mut seen = std::collections::BTreeMap::<Vec<u8>, u32>::new();
    for _ in 0..2000 {
        let msg = pull
            .recv_timeout(Some(common::WAIT))
            .unwrap()
            .expect("a pushed message");
        *seen.entry(msg[0].to_vec()).or_default() += 1;
    }
    for p in pushers {
        assert_eq!(p.join().unwrap().trim(), "sent");
    }
    assert_eq!(seen.len(), 1000, "each number from both pushers");
    assert!(seen.values().all(|&n| n == 2));
    rt.shutdown();
}

/// pyzmq's `zmq.auth.create_certificates` writes a server's pair and client pairs into
/// the directory `sys.argv[1]`: `server`, `clients/alice` (with metadata) and
/// `clients/bob`, and `others/mallory`.
const PY_CREATE_CERTIFICATES: &str = r#"
import os
d = sys.argv[1]
for sub in ("clients", "others"):
    os.makedirs(os.path.join(d, sub))
zmq.auth.create_certificates(d, "server")
zmq.auth.create_certificates(os.path.join(d, "clients"), "alice", metadata={"name": "Alice", "role": "reader"})
zmq.auth.create_certificates(os.path.join(d, "clients"), "bob")
zmq.auth.create_certificates(os.path.join(d, "others"), "mallory")
"#;

/// Alice (in `clients`) asks and prints the reply; Mallory (in `others`) is refused
/// and prints the status. Both read their pairs, and the server's public key, from
/// pyzmq's certificates in `sys.argv[2]`.
const PY_ALICE_THEN_MALLORY: &str = r#"
d = sys.argv[2]
server_key, _ = zmq.auth.load_certificate(d + "/server.key")
alice = certified_client(zmq.REQ, server_key, d + "/clients/alice.key_secret")
alice.rcvtimeo = 10000
alice.connect(sys.argv[1])
alice.send(b"from alice")
print(alice.recv().decode(), flush=True)
mallory = certified_client(zmq.REQ, server_key, d + "/others/mallory.key_secret")
print(refused_status(mallory, sys.argv[1]), flush=True)
"#;

#[test]
fn a_server_takes_its_pair_and_client_keys_from_pyzmq_certificates() {
    let dir = common::scratch_dir("curve-pyzmq-certificates");
    let dir_arg = dir.to_str().unwrap().to_string();
    pyzmq::finished(pyzmq::spawn(PY_CREATE_CERTIFICATES, &[&dir_arg]));

    let server = certificate::load(dir.join("server.key_secret")).unwrap();
    let alice = certificate::load(dir.join("clients/alice.key_secret")).unwrap();
    let entry = |name: &str, value: &str| (name.to_string(), value.to_string());
    assert_eq!(
        alice.metadata(),
        [entry("name", "Alice"), entry("role", "reader")],
        "the metadata pyzmq wrote"
    );
    let keys = server.key_pair().expect("the secret certificate").clone();
    let auth = Auth::new()
        .curve_keys_from_dir(dir.join("clients"))
        .unwrap();
    let (events, got) = run(move || async move {
        let rep = Rep::with_options(Options {
            security: Security::CurveServer { keys },
            authenticator: Some(auth.into()),
            ..Options::default()
        });
        let monitor = rep.monitor();
        let endpoint = rep.bind("tcp://127.0.0.1:0").unwrap().to_string();
        let py = std::thread::spawn(move || {
            pyzmq::finished(pyzmq::spawn(PY_ALICE_THEN_MALLORY, &[&endpoint, &dir_arg]))
        });
        let request = within("Alice's request", rep.recv()).await.unwrap();
        assert_eq!(&request[0][..], b"from alice");
        rep.send("welcome").await.unwrap();
        let mut events = Vec::new();
        within("Mallory's refusal", async {
            while !matches!(
                events.last(),
                Some(MonitorEvent::HandshakeFailedAuth { .. })
            ) {
                events.push(monitor.recv().await);
            }
        })
        .await;
        (events, join(py).await)
    });
    assert_eq!(got.lines().collect::<Vec<_>>(), ["welcome", "400"]);
    let handshakes: Vec<&MonitorEvent> = events
        .iter()
        .filter(|e| {
            matches!(
                e,
                MonitorEvent::HandshakeSucceeded { .. } | MonitorEvent::HandshakeFailedAuth { .. }
            )
        })
        .collect();
    assert!(
        matches!(
            handshakes[..],
            [
                MonitorEvent::HandshakeSucceeded { .. },
                MonitorEvent::HandshakeFailedAuth { status: 400, .. }
            ]
        ),
        "Alice in, Mallory refused: {events:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A pyzmq REP whose pair comes from the secret certificate
/// `sys.argv[1]/server.key_secret` and whose ZAP handler (zmq.auth's) lets in the keys
/// of `sys.argv[1]/clients`; it prints its endpoint, answers one request, then prints
/// what `zmq.auth.load_certificate` reads from Alice's public certificate.
const PY_CERTIFIED_REP: &str = r#"
from zmq.auth.thread import ThreadAuthenticator
d = sys.argv[1]
ctx = zmq.Context.instance()
auth = ThreadAuthenticator(ctx)
auth.start()
auth.configure_curve(domain="*", location=d + "/clients")
s = ctx.socket(zmq.REP)
s.curve_publickey, s.curve_secretkey = zmq.auth.load_certificate(d + "/server.key_secret")
s.curve_server = True
s.rcvtimeo = 10000
s.bind_to_random_port("tcp://127.0.0.1")
print(s.last_endpoint.decode(), flush=True)
s.send(b"pong " + s.recv())
s.close()
auth.stop()
public, secret = zmq.auth.load_certificate(d + "/clients/alice.key")
print(public.decode(), secret, flush=True)
"#;

#[test]
fn pyzmq_serves_with_certificates_written_by_monocoque() {
    let dir = common::scratch_dir("curve-monocoque-certificates");
    std::fs::create_dir(dir.join("clients")).unwrap();
    let (server, alice) = (CurveKeyPair::generate(), CurveKeyPair::generate());
    certificate::save(dir.join("server"), &server).unwrap();
    certificate::save(dir.join("clients/alice"), &alice).unwrap();
    // Another client's certificate beside Alice's, so the directory is read whole.
    certificate::save(dir.join("clients/bob"), &CurveKeyPair::generate()).unwrap();

    let (endpoint, py) = pyzmq::started(PY_CERTIFIED_REP, &[dir.to_str().unwrap()]);
    let client = Options {
        security: Security::CurveClient {
            keys: alice.clone(),
            server_key: server.public(),
        },
        ..Options::default()
    };
    let reply = run(move || async move {
        let req = Req::with_options(client);
        req.connect(&endpoint).unwrap();
        req.send("ping").await.unwrap();
        within("pyzmq's reply", req.recv()).await.unwrap()
    });
    assert_eq!(&reply[0][..], b"pong ping");
    assert_eq!(
        pyzmq::finished(py).trim(),
        format!("{} None", alice.public().to_z85()),
        "zmq.auth.load_certificate on a public certificate"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
