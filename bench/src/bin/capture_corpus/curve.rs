//! The CURVE targets' seeds (`fuzz/src/curve.rs` says how each reads its input).
//!
//! pyzmq peers (libzmq 4.3.5 with CURVE) on one end, a hand-driven session on the
//! other, both with libzmq's test keys, which the fuzz targets use too: a captured
//! client's HELLO then opens at the target's server. `curve_server/` gets what libzmq
//! clients sent to our server (greeting, HELLO, INITIATE, MESSAGEs with data,
//! subscriptions and PINGs; one client with the wrong server key), `curve_client/`
//! what libzmq servers sent to our client (greeting, WELCOME, READY, MESSAGEs; ERROR
//! 400 from a server whose authenticator refuses our key; each also without its
//! WELCOME), each with read sizes 1, 7 and 255. `curve_session/` gets scripts of that target's operations, written here.

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use monocoque_zmtp::{CurveKeyPair, CurvePublicKey, Security, Session, SessionConfig, SocketType};

use super::{converse, save};

/// libzmq's test keys (its `zmq_curve` documentation).
const CLIENT_PUBLIC: &str = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID";
const CLIENT_SECRET: &str = "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs";
const SERVER_PUBLIC: &str = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
const SERVER_SECRET: &str = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6";

/// A libzmq CURVE client: `ENDPOINT TYPE SERVERPUBLIC PUBLIC SECRET`. It sends what its
/// type sends (messages of several shapes, subscriptions), with heartbeats every 20 ms.
const PY_CLIENT: &str = r#"
import sys, time, zmq
kind = getattr(zmq, sys.argv[2])
s = zmq.Context().socket(kind)
s.curve_serverkey = sys.argv[3].encode()
s.curve_publickey = sys.argv[4].encode()
s.curve_secretkey = sys.argv[5].encode()
s.heartbeat_ivl = 20
s.linger = 0
if kind == zmq.SUB:
    s.subscribe(b"topic.")
    s.subscribe(b"")
    s.unsubscribe(b"topic.")
s.connect(sys.argv[1])
if kind == zmq.DEALER:
    for m in ([b"hello"], [b"a", b"", b"b"], [b"\xa5" * 300], [b""]):
        s.send_multipart(m)
elif kind == zmq.REQ:
    s.send_multipart([b"request", b"second part"])
time.sleep(1)
"#;

/// A libzmq CURVE server: `TYPE SECRET ACCEPT|REFUSE`, bound to a port it prints. A
/// PUB publishes, others answer each request with it and a `reply` frame; REFUSE
/// starts pyzmq's authenticator with no client certificates (every key: 400).
const PY_SERVER: &str = r#"
import sys, tempfile, time, zmq
ctx = zmq.Context()
if sys.argv[3] == "REFUSE":
    from zmq.auth.thread import ThreadAuthenticator
    auth = ThreadAuthenticator(ctx)
    auth.start()
    auth.configure_curve(domain="*", location=tempfile.mkdtemp())
kind = getattr(zmq, sys.argv[1])
s = ctx.socket(kind)
s.curve_server = True
s.curve_secretkey = sys.argv[2].encode()
s.heartbeat_ivl = 20
s.linger = 0
print(s.bind_to_random_port("tcp://127.0.0.1"), flush=True)
end = time.time() + 1
while time.time() < end:
    if kind == zmq.PUB:
        s.send_multipart([b"topic.a", b"payload"])
        s.send(b"\xa5" * 300)
        time.sleep(0.02)
    elif s.poll(20):
        s.send_multipart(s.recv_multipart() + [b"reply"])
"#;

/// A libzmq client of our server: its type, ours, and the server key it is told.
const CLIENT_CASES: &[(&str, &str, SocketType, &str)] = &[
    (
        "dealer-to-router",
        "DEALER",
        SocketType::Router,
        SERVER_PUBLIC,
    ),
    ("req-to-rep", "REQ", SocketType::Rep, SERVER_PUBLIC),
    ("sub-to-pub", "SUB", SocketType::Pub, SERVER_PUBLIC),
    // Its HELLO is boxed to another key: refused at HELLO.
    (
        "wrong-server-key",
        "DEALER",
        SocketType::Router,
        CLIENT_PUBLIC,
    ),
];

/// A libzmq server our client connects to: its type, ours, and its authenticator.
const SERVER_CASES: &[(&str, &str, SocketType, &str)] = &[
    (
        "bound-router-to-dealer",
        "ROUTER",
        SocketType::Dealer,
        "ACCEPT",
    ),
    ("bound-pub-to-sub", "PUB", SocketType::Sub, "ACCEPT"),
    ("bound-rep-refuses-req", "REP", SocketType::Req, "REFUSE"),
];

/// Writes every CURVE seed under `out`, with pyzmq run by `python`.
pub fn capture(out: &Path, python: &str) {
    for &(name, theirs, ours, server_key) in CLIENT_CASES {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("tcp://{}", listener.local_addr().unwrap());
        let child = spawn(
            python,
            PY_CLIENT,
            &[&endpoint, theirs, server_key, CLIENT_PUBLIC, CLIENT_SECRET],
        );
        let tcp = accept(&listener);
        let keys = CurveKeyPair::from_secret(SERVER_SECRET).unwrap();
        let session = session(ours, Security::CurveServer { keys });
        let stream = converse(tcp, session, ours, name, || {});
        stop(child);
        with_read_sizes(&out.join("curve_server"), name, &stream);
    }
    for &(name, theirs, ours, auth) in SERVER_CASES {
        let mut child = spawn(python, PY_SERVER, &[theirs, SERVER_SECRET, auth]);
        let mut port = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut port)
            .unwrap();
        let tcp = TcpStream::connect(("127.0.0.1", port.trim().parse::<u16>().unwrap()))
            .expect("connect to pyzmq");
        let security = Security::CurveClient {
            keys: CurveKeyPair::from_secret(CLIENT_SECRET).unwrap(),
            server_key: CurvePublicKey::new(SERVER_PUBLIC).unwrap(),
        };
        let stream = converse(tcp, session(ours, security), ours, name, || {});
        stop(child);
        with_read_sizes(&out.join("curve_client"), name, &stream);
        // WELCOME cannot open at the target's client (it is boxed to the capture's
        // short-term key): the same stream without it reaches the commands after it.
        if stream.get(64..66) == Some(&[0x04, 168]) {
            let rest = [&stream[..64], &stream[64 + 2 + 168..]].concat();
            with_read_sizes(
                &out.join("curve_client"),
                &format!("{name}-no-welcome"),
                &rest,
            );
        }
    }
    session_scripts(&out.join("curve_session"));
}

fn session(ours: SocketType, security: Security) -> Session {
    let mut config = SessionConfig::new(ours);
    config.security = security;
    Session::new(config, Instant::now())
}

fn spawn(python: &str, script: &str, args: &[&str]) -> Child {
    Command::new(python)
        .arg("-c")
        .arg(script)
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{python}: {e}"))
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// The connection of the python client (which takes a moment to start).
fn accept(listener: &TcpListener) -> TcpStream {
    listener.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match listener.accept() {
            Ok((tcp, _)) => {
                tcp.set_nonblocking(false).unwrap();
                return tcp;
            }
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => panic!("pyzmq never connected: {e}"),
        }
    }
}

/// `stream` as inputs of a target whose byte 0 is the read size.
fn with_read_sizes(dir: &Path, name: &str, stream: &[u8]) {
    println!("{name}: {} bytes from libzmq", stream.len());
    for step in [1u8, 7, 255] {
        let mut input = vec![step];
        input.extend_from_slice(stream);
        save(dir, &format!("libzmq-{name}-step{step}"), &input);
    }
}

/// `curve_session` operations: kind in the low 3 bits, the server's direction in bit
/// 3, the argument in the high 4 bits.
fn op(kind: u8, from_server: bool, arg: u8) -> u8 {
    kind | u8::from(from_server) << 3 | arg << 4
}

/// Scripts for `curve_session`: honest conversations (libzmq's message shapes both
/// ways, a subscription, a PING), each verdict, and a replayed, an altered and a
/// forged MESSAGE after the handshake.
fn session_scripts(dir: &Path) {
    let deliver = |from_server| [op(0, from_server, 0), 0];
    // Three round trips complete the handshake (greetings, HELLO/WELCOME,
    // INITIATE/READY).
    let handshake: Vec<u8> = (0..3)
        .flat_map(|_| [deliver(false), deliver(true)])
        .flatten()
        .collect();
    let mut talk = Vec::new();
    for from_server in [false, true] {
        talk.extend([op(1, from_server, 0), 5]);
        talk.extend(b"hello");
        talk.extend([op(1, from_server, 2), 1, b'a', 0, 1, b'b']);
        talk.extend([op(1, from_server, 0), 255]);
        talk.extend([0xA5; 255]);
        talk.extend(deliver(from_server));
    }
    talk.extend([op(2, false, 0), 6]);
    talk.extend(b"topic.");
    talk.extend([op(2, false, 2), 3]);
    talk.extend(b"ctx");
    talk.extend([0, 30]);
    talk.extend(deliver(false));
    talk.extend(deliver(true));
    for (pick, name) in [(0u8, "accepted"), (2, "refused-400"), (3, "refused-300")] {
        let script = [&[pick][..], &handshake, &talk].concat();
        save(dir, &format!("honest-{name}"), &script);
    }
    let message = [op(1, false, 0), 4, b'o', b'n', b'c', b'e'];
    let sent = [&message[..], &deliver(false)].concat();
    // The client's writes: greeting, HELLO, INITIATE, then that message (number 3).
    let replayed = [&sent[..], &[op(4, false, 0), 3], &deliver(false)].concat();
    let altered = [&message[..], &[op(3, false, 5), 0, 20], &deliver(false)].concat();
    let mut forged = vec![op(7, false, 0), 8 + 8 + 16 + 6];
    forged.extend(b"\x07MESSAGE");
    forged.extend([0, 0, 0, 0, 0, 0, 0, 9]);
    forged.extend([0x5A; 16 + 6]);
    forged.extend(deliver(false));
    for (name, tail) in [
        ("replayed-message", replayed),
        ("altered-message", altered),
        ("forged-message", [&sent[..], &forged].concat()),
    ] {
        save(dir, name, &[&[0][..], &handshake, &tail].concat());
    }
}
