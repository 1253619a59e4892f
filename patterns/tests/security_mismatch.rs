//! A peer of another mechanism (libzmq's test_security_curve / _plain cases: a NULL
//! or PLAIN client against a CURVE server, NULL or CURVE against a PLAIN server):
//! both sides report HANDSHAKE_FAILED_PROTOCOL with
//! ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH, nothing is delivered, and the
//! authenticator is never asked. And our NULL client against a libzmq CURVE server:
//! the server reports the mismatch. libzmq here is the `zmq`
//! crate's, built with CURVE for the workspace (bench/zmq-curve).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{fresh_endpoint, run, within, zsock, TRANSPORTS};
use monocoque::{
    AuthReply, AuthRequest, CurveKeyPair, MonitorEvent, Options, Pull, Push, Security,
    SharedAuthenticator,
};
use monocoque_zmtp::error::libzmq_code::ZMTP_MECHANISM_MISMATCH;

const SERVER_SECRET: &str = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6";
const SERVER_PUBLIC: &str = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
const CLIENT_PUBLIC: &str = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID";
const CLIENT_SECRET: &str = "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs";

/// libzmq's HANDSHAKE_FAILED_PROTOCOL event number.
const ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL: u16 = 0x2000;

/// How a libzmq client is set up.
#[derive(Clone, Copy, Debug)]
enum Client {
    Null,
    Plain,
    Curve,
}

impl Client {
    fn configure(self, s: &zmq::Socket) {
        match self {
            Client::Null => {}
            Client::Plain => {
                s.set_plain_username(Some("admin")).unwrap();
                s.set_plain_password(Some("password")).unwrap();
            }
            Client::Curve => {
                s.set_curve_serverkey(SERVER_PUBLIC.as_bytes()).unwrap();
                s.set_curve_publickey(CLIENT_PUBLIC.as_bytes()).unwrap();
                s.set_curve_secretkey(CLIENT_SECRET.as_bytes()).unwrap();
            }
        }
    }
}

/// An authenticator that counts the requests it is asked and accepts them.
fn counting() -> (SharedAuthenticator, Arc<AtomicUsize>) {
    let asked = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&asked);
    let auth = SharedAuthenticator::new(move |_: &AuthRequest| {
        seen.fetch_add(1, Ordering::SeqCst);
        AuthReply::accept("anyone")
    });
    (auth, asked)
}

fn server_options(security: Security, authenticator: SharedAuthenticator) -> Options {
    Options {
        security,
        authenticator: Some(authenticator),
        ..Options::default()
    }
}

fn curve_server() -> Security {
    Security::CurveServer {
        keys: CurveKeyPair::from_secret(SERVER_SECRET).unwrap(),
    }
}

/// A libzmq PUSH of kind `client` connects to a Monocoque PULL serving `server`;
/// both must report the mismatch.
fn libzmq_client_against(client: Client, server: fn() -> Security, transport: &str) {
    let (authenticator, asked) = counting();
    let endpoint = fresh_endpoint(transport);
    let (ours, theirs) = run(move || async move {
        let pull = Pull::with_options(server_options(server(), authenticator));
        let monitor = pull.monitor();
        let endpoint = pull.bind(&endpoint).unwrap().to_string();
        let peer = std::thread::spawn(move || {
            let ctx = zmq::Context::new();
            let push = zsock(&ctx, zmq::PUSH);
            client.configure(&push);
            let events = common::zmonitor(&ctx, &push, &format!("{client:?}"));
            push.connect(&endpoint).unwrap();
            push.send("never delivered", zmq::DONTWAIT).unwrap();
            common::zhandshake_outcome(&events)
        });
        let ours = common::handshake_outcome(&monitor).await;
        let theirs = common::join(peer).await;
        let nothing = common::within_or_none(Duration::from_millis(200), pull.recv()).await;
        assert!(nothing.is_none(), "a message came through: {nothing:?}");
        (ours, theirs)
    });
    assert!(
        matches!(
            ours,
            MonitorEvent::HandshakeFailedProtocol {
                error: ZMTP_MECHANISM_MISMATCH,
                ..
            }
        ),
        "{client:?} client, {transport}: we saw {ours:?}"
    );
    assert_eq!(
        theirs,
        (ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL, ZMTP_MECHANISM_MISMATCH),
        "{client:?} client, {transport}: libzmq's event"
    );
    assert_eq!(
        asked.load(Ordering::SeqCst),
        0,
        "the authenticator was asked"
    );
}

#[test]
fn null_and_plain_clients_against_a_curve_server() {
    for transport in TRANSPORTS {
        libzmq_client_against(Client::Null, curve_server, transport);
        libzmq_client_against(Client::Plain, curve_server, transport);
    }
}

#[test]
fn null_and_curve_clients_against_a_plain_server() {
    for transport in TRANSPORTS {
        libzmq_client_against(Client::Null, || Security::PlainServer, transport);
        libzmq_client_against(Client::Curve, || Security::PlainServer, transport);
    }
}

#[test]
fn our_null_client_against_a_libzmq_curve_server() {
    for transport in TRANSPORTS {
        let (tx, rx) = std::sync::mpsc::channel();
        let transport_name = transport.to_string();
        let server = std::thread::spawn(move || {
            let ctx = zmq::Context::new();
            let pull = zsock(&ctx, zmq::PULL);
            pull.set_curve_server(true).unwrap();
            pull.set_curve_secretkey(SERVER_SECRET.as_bytes()).unwrap();
            let events = common::zmonitor(&ctx, &pull, &transport_name);
            tx.send(common::zbind(&pull, &transport_name)).unwrap();
            let code = common::zhandshake_outcome(&events);
            let mut msg = zmq::Message::new();
            pull.set_rcvtimeo(200).unwrap();
            let delivered = pull.recv(&mut msg, 0).is_ok();
            (code, delivered)
        });
        let endpoint = rx.recv().unwrap();
        let ours = run(move || async move {
            let push = Push::new();
            let monitor = push.monitor();
            push.connect(&endpoint).unwrap();
            push.send("never delivered").await.unwrap();
            let ours = common::handshake_outcome(&monitor).await;
            push.set_options(Options {
                linger: Some(Duration::ZERO),
                ..push.options()
            });
            push.close().await;
            ours
        });
        let (theirs, delivered) = server.join().unwrap();
        // The server (libzmq) reads our mechanism and reports the mismatch, as in
        // libzmq's own tests, which check the server's side. It closes at once, often
        // before its own mechanism is out (it sends it after our major version, and
        // our rest can reach it in the same read), so our client may only see the
        // connection end.
        assert_eq!(
            theirs,
            (ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL, ZMTP_MECHANISM_MISMATCH),
            "{transport}"
        );
        assert!(
            matches!(
                ours,
                MonitorEvent::HandshakeFailedProtocol {
                    error: ZMTP_MECHANISM_MISMATCH,
                    ..
                } | MonitorEvent::HandshakeFailedNoDetail { .. }
            ),
            "{transport}: we saw {ours:?}"
        );
        assert!(!delivered, "{transport}: libzmq received our message");
    }
}

/// A CURVE client whose server key is right talks to the same server: the mismatch
/// tests above are about the mechanism, not the setup.
#[test]
fn a_curve_client_of_the_same_server_gets_through() {
    let endpoint = fresh_endpoint("tcp");
    run(move || async move {
        let (authenticator, asked) = counting();
        let pull = Pull::with_options(server_options(curve_server(), authenticator));
        let endpoint = pull.bind(&endpoint).unwrap().to_string();
        let peer = std::thread::spawn(move || {
            let ctx = zmq::Context::new();
            let push = zsock(&ctx, zmq::PUSH);
            Client::Curve.configure(&push);
            push.connect(&endpoint).unwrap();
            push.send("through", 0).unwrap();
            std::thread::sleep(Duration::from_millis(100));
        });
        let got = within("the CURVE message", pull.recv()).await.unwrap();
        assert_eq!(&got[0][..], b"through");
        assert_eq!(
            asked.load(Ordering::SeqCst),
            1,
            "the authenticator was asked once"
        );
        common::join(peer).await;
    });
}

/// As libzmq, whose session ends for good on a protocol error: once our client has
/// seen the mismatch it stops reconnecting, drops what it queued, and closes at once.
#[test]
fn our_client_gives_up_after_a_mismatch() {
    let ctx = zmq::Context::new();
    let pull = zsock(&ctx, zmq::PULL);
    let endpoint = common::zbind(&pull, "tcp");
    run(move || async move {
        let push = Push::with_options(Options {
            security: Security::CurveClient {
                keys: CurveKeyPair::generate(),
                server_key: CurveKeyPair::from_secret(SERVER_SECRET).unwrap().public(),
            },
            ..Options::default()
        });
        let monitor = push.monitor();
        push.connect(&endpoint).unwrap();
        push.send("never delivered").await.unwrap();
        // Until our side sees the mismatch (libzmq may close first, a few times).
        within("our client to see the mismatch", async {
            loop {
                if let MonitorEvent::HandshakeFailedProtocol { error, .. } = monitor.recv().await {
                    assert_eq!(error, ZMTP_MECHANISM_MISMATCH);
                    return;
                }
            }
        })
        .await;
        // Three reconnect intervals (100 ms each) without a new connection.
        glommio::timer::sleep(Duration::from_millis(300)).await;
        let again = std::iter::from_fn(|| monitor.try_recv())
            .filter(|e| matches!(e, MonitorEvent::Connected { .. }))
            .count();
        assert_eq!(again, 0, "reconnected after the mismatch");
        // The default LINGER waits for queued messages: there are none left.
        within("close", push.close()).await;
    });
    drop(pull);
}
