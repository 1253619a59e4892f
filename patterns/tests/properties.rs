//! Per-message properties (libzmq's `zmq_msg_gets`) against libzmq 4.3.4: what we
//! receive carries the sending connection's User-Id and ZAP metadata, the peer's
//! READY/INITIATE properties and its address, over TCP and IPC, with PLAIN, CURVE and
//! NULL; a message keeps the properties of its connection after that connection ends
//! or is replaced by a reconnection; and libzmq reads our READY properties with
//! `Message::gets` (libzmq's `tests/test_metadata.cpp`).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use common::{fresh_endpoint, handshake_outcome, join, run, within, zsock, TRANSPORTS};
use monocoque::{
    AnySocket, AuthReply, AuthRequest, CurveKeyPair, Dealer, MonitorEvent, Options, Properties,
    Pull, Push, Rep, Router, Security, SharedAuthenticator, SocketType,
};

/// Lets everyone in as user "alice", with the property Hello=World.
fn alice() -> SharedAuthenticator {
    SharedAuthenticator::new(|_: &AuthRequest| {
        let mut reply = AuthReply::accept("alice");
        reply.metadata.insert("Hello", "World");
        reply
    })
}

/// The peer's address, as libzmq gives it, under both names.
fn assert_local_address(properties: &Properties, transport: &str) {
    let address = properties.peer_address().expect("a Peer-Address");
    assert_eq!(properties.get_str("Peer-Address"), Some(address));
    common::assert_local_address(address, transport);
}

/// The properties ZAP gave: User-Id "alice" and Hello=World.
fn assert_alice(properties: &Properties) {
    assert_eq!(properties.user_id(), Some(&b"alice"[..]));
    assert_eq!(properties.get_str("User-Id"), Some("alice"));
    assert_eq!(properties.get_str("Hello"), Some("World"));
}

#[test]
fn messages_from_a_plain_client_carry_its_user_id_and_properties() {
    for transport in TRANSPORTS {
        let lengths = run(move || async move {
            let router = Router::with_options(Options {
                security: Security::PlainServer,
                authenticator: Some(alice()),
                ..Options::default()
            });
            let endpoint = router.bind(&fresh_endpoint(transport)).unwrap().to_string();
            let client = std::thread::spawn(move || {
                let ctx = zmq::Context::new();
                let dealer = zsock(&ctx, zmq::DEALER);
                dealer.set_plain_username(Some("admin")).unwrap();
                dealer.set_plain_password(Some("secret")).unwrap();
                dealer.set_identity(b"dealer-7").unwrap();
                dealer.connect(&endpoint).unwrap();
                dealer.send_multipart(["one", "two"], 0).unwrap();
                dealer.send("three", 0).unwrap();
                dealer.recv_bytes(0).unwrap()
            });
            let mut lengths = Vec::new();
            for _ in 0..2 {
                let (msg, properties) = within("a message", router.recv_with_properties())
                    .await
                    .unwrap();
                assert_eq!(&msg[0][..], b"dealer-7", "the routing id first");
                assert_alice(&properties);
                assert_eq!(properties.socket_type(), SocketType::Dealer);
                assert_eq!(properties.get_str("socket-type"), Some("DEALER"));
                assert_eq!(properties.get_str("Identity"), Some("dealer-7"));
                assert_eq!(properties.identity(), b"dealer-7");
                assert_local_address(&properties, transport);
                assert_eq!(properties.get("No Such"), None);
                lengths.push(msg.len());
            }
            router.send(vec!["dealer-7", "bye"]).await.unwrap();
            assert_eq!(join(client).await, b"bye");
            lengths
        });
        assert_eq!(lengths, [3, 2], "{transport}: [id, one, two], [id, three]");
    }
}

#[test]
fn requests_from_a_curve_client_carry_its_user_id_and_properties() {
    for transport in TRANSPORTS {
        let keys = CurveKeyPair::generate();
        let server_key = *keys.public().as_bytes();
        let reply = run(move || async move {
            let rep = Rep::with_options(Options {
                security: Security::CurveServer { keys },
                authenticator: Some(alice()),
                ..Options::default()
            });
            let endpoint = rep.bind(&fresh_endpoint(transport)).unwrap().to_string();
            let client = std::thread::spawn(move || {
                let ctx = zmq::Context::new();
                let req = zsock(&ctx, zmq::REQ);
                let pair = zmq::CurveKeyPair::new().unwrap();
                req.set_curve_serverkey(&server_key).unwrap();
                req.set_curve_publickey(&pair.public_key).unwrap();
                req.set_curve_secretkey(&pair.secret_key).unwrap();
                req.connect(&endpoint).unwrap();
                req.send("ping", 0).unwrap();
                req.recv_bytes(0).unwrap()
            });
            let (request, properties) = within("a request", rep.recv_with_properties())
                .await
                .unwrap();
            // The envelope is kept apart, as by `recv`.
            assert_eq!(common::frames(&request), [b"ping".to_vec()]);
            assert_alice(&properties);
            assert_eq!(properties.get_str("Socket-Type"), Some("REQ"));
            // A libzmq REQ always sends its Identity, empty unless set.
            assert_eq!(properties.get("Identity"), Some(&b""[..]));
            assert_local_address(&properties, transport);
            rep.send("pong").await.unwrap();
            join(client).await
        });
        assert_eq!(reply, b"pong", "{transport}");
    }
}

#[test]
fn null_messages_have_no_user_id_and_keep_their_properties_after_the_peer_left() {
    run(|| async {
        let pull = AnySocket::from(Pull::new());
        let monitor = pull.monitor();
        let endpoint = pull.bind("tcp://127.0.0.1:0").unwrap().to_string();
        // The PUSH sends everything, then closes (LINGER lets it all out first); its
        // connection ends after what it sent was queued.
        join(common::libzmq_push_numbered(endpoint, 3, 8)).await;
        within("the disconnection", async {
            while !matches!(monitor.recv().await, MonitorEvent::Disconnected { .. }) {}
        })
        .await;
        for i in 0..3u32 {
            let (msg, properties) = within("a message", pull.recv_with_properties())
                .await
                .unwrap();
            assert_eq!(&msg[0][..4], &i.to_be_bytes());
            assert_eq!(properties.user_id(), None, "nobody was asked");
            assert_eq!(properties.get("User-Id"), None);
            assert_eq!(properties.socket_type(), SocketType::Push);
            assert_local_address(&properties, "tcp");
        }
    });
}

#[test]
fn queued_messages_keep_the_properties_of_a_connection_replaced_by_a_reconnection() {
    let endpoint = fresh_endpoint("ipc");
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&connections);
    // Our DEALER connects with a ZAP domain: it asks about each server it reaches,
    // and names each connection.
    let options = Options {
        zap_domain: Bytes::from_static(b"servers"),
        authenticator: Some(SharedAuthenticator::new(move |_: &AuthRequest| {
            let n = counted.fetch_add(1, Ordering::Relaxed) + 1;
            AuthReply::accept(format!("connection-{n}"))
        })),
        ..Options::default()
    };
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let ep = endpoint.clone();
    // Two libzmq servers, one after the other, at the same endpoint: the first sends
    // two messages and goes away, the second sends one.
    let servers = std::thread::spawn(move || {
        for (n, texts) in [(1, &["a", "b"][..]), (2, &["c"][..])] {
            let ctx = zmq::Context::new();
            let dealer = zsock(&ctx, zmq::DEALER);
            dealer.set_linger(-1).unwrap();
            dealer.bind(&ep).unwrap();
            for text in texts {
                dealer.send(*text, 0).unwrap();
            }
            if n == 2 {
                done_rx.recv().unwrap();
            }
        }
    });
    let got = run(move || async move {
        let dealer = Dealer::with_options(options);
        let monitor = dealer.monitor();
        dealer.connect(&endpoint).unwrap();
        // Nothing is read until the second connection has completed its handshake,
        // by which time the first one's messages wait in the queue (an attempt that
        // meets the first server closing may fail on the way).
        let mut succeeded = 0;
        while succeeded < 2 {
            if let MonitorEvent::HandshakeSucceeded { .. } = handshake_outcome(&monitor).await {
                succeeded += 1;
            }
        }
        let mut got = Vec::new();
        for _ in 0..3 {
            let (msg, properties) = within("a message", dealer.recv_with_properties())
                .await
                .unwrap();
            got.push((
                msg[0].to_vec(),
                properties.get_str("User-Id").map(str::to_owned),
            ));
        }
        done_tx.send(()).unwrap();
        join(servers).await;
        got
    });
    let expected = [
        (b"a", "connection-1"),
        (b"b", "connection-1"),
        (b"c", "connection-2"),
    ]
    .map(|(text, user)| (text.to_vec(), Some(user.to_owned())));
    assert_eq!(got, expected);
}

#[test]
fn libzmq_reads_our_ready_properties_with_gets() {
    for transport in TRANSPORTS {
        let (tx, rx) = std::sync::mpsc::channel();
        let server = std::thread::spawn(move || {
            let ctx = zmq::Context::new();
            let pull = zsock(&ctx, zmq::PULL);
            let dealer = zsock(&ctx, zmq::DEALER);
            tx.send((
                common::zbind(&pull, transport),
                common::zbind(&dealer, transport),
            ))
            .unwrap();
            let mut seen = Vec::new();
            for socket in [&dealer, &pull] {
                let mut msg = zmq::Message::new();
                socket.recv(&mut msg, 0).unwrap();
                let props: Vec<Option<String>> = ["Socket-Type", "Identity", "User-Id"]
                    .iter()
                    .map(|p| msg.gets(p).map(str::to_owned))
                    .collect();
                let address = msg.gets("Peer-Address").map(str::to_owned);
                seen.push((props, address));
            }
            seen
        });
        let (pull_endpoint, dealer_endpoint) = rx.recv().unwrap();
        let seen = run(move || async move {
            let dealer = Dealer::with_options(Options {
                routing_id: Bytes::from_static(b"mono-1"),
                ..Options::default()
            });
            dealer.connect(&dealer_endpoint).unwrap();
            dealer.send("hi").await.unwrap();
            let push = Push::new();
            push.connect(&pull_endpoint).unwrap();
            push.send("work").await.unwrap();
            join(server).await
        });
        let strings = |v: [Option<&str>; 3]| v.map(|s| s.map(str::to_owned)).to_vec();
        // Our DEALER sends its Identity; a PUSH sends none. No ZAP: no User-Id.
        assert_eq!(seen[0].0, strings([Some("DEALER"), Some("mono-1"), None]));
        assert_eq!(seen[1].0, strings([Some("PUSH"), None, None]));
        for (_, address) in &seen {
            let address = address.as_deref().expect("libzmq's Peer-Address");
            if transport == "tcp" {
                assert_eq!(address, "127.0.0.1");
            } else {
                assert!(address.starts_with("localhost"), "{address}");
            }
        }
    }
}
