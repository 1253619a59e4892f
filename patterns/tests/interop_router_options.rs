//! PROBE_ROUTER and CONNECT_ROUTING_ID against libzmq ROUTERs and DEALERs, both ways.
//! libzmq sockets run in their own threads with bounded waits (common::zsock), or are
//! polled without blocking the executor.

mod common;

use common::{frames, free_tcp_endpoint, join, run, within, zbind, zpoll_recv, zsock};
use monocoque::{AnySocket, Bytes, Error, Options, Router, ShardedSocket, SocketType};
use zmq::SocketExt;

type Frames = Vec<Vec<u8>>;

/// A Monocoque DEALER or REQ with PROBE_ROUTER, connected before the libzmq ROUTER
/// binds and with a message already queued: the ROUTER receives the probe,
/// `[id, ""]`, first, then the message.
fn probe_reaches_a_libzmq_router(kind: SocketType, probe: bool) -> Vec<Frames> {
    run(move || async move {
        let endpoint = free_tcp_endpoint();
        let socket = AnySocket::with_options(
            kind,
            Options::default()
                .probe_router(probe)
                .routing_id(Bytes::from_static(b"client")),
        );
        socket.connect(&endpoint).unwrap();
        socket.send("hello").await.unwrap();
        let router = std::thread::spawn(move || {
            let ctx = zmq::Context::new();
            let router = zsock(&ctx, zmq::ROUTER);
            router.bind(&endpoint).unwrap();
            // The probe and the message, or the message alone.
            let count = if probe { 2 } else { 1 };
            (0..count)
                .map(|_| router.recv_multipart(0).expect("a message"))
                .collect::<Vec<_>>()
        });
        let got = join(router).await;
        socket.close().await;
        got
    })
}

#[test]
fn dealer_probe_router_reaches_a_libzmq_router_first() {
    let got = probe_reaches_a_libzmq_router(SocketType::Dealer, true);
    assert_eq!(got[0], [b"client".to_vec(), b"".to_vec()], "the probe");
    assert_eq!(got[1], [b"client".to_vec(), b"hello".to_vec()]);
}

#[test]
fn req_probe_router_reaches_a_libzmq_router_first() {
    let got = probe_reaches_a_libzmq_router(SocketType::Req, true);
    assert_eq!(got[0], [b"client".to_vec(), b"".to_vec()], "the probe");
    assert_eq!(
        got[1],
        [b"client".to_vec(), b"".to_vec(), b"hello".to_vec()],
        "the request, with its delimiter"
    );
}

#[test]
fn without_probe_router_the_message_comes_first() {
    let got = probe_reaches_a_libzmq_router(SocketType::Dealer, false);
    assert_eq!(got[0], [b"client".to_vec(), b"hello".to_vec()]);
}

/// A libzmq DEALER with PROBE_ROUTER: a Monocoque ROUTER receives `[id, ""]` before
/// the DEALER says anything, and can answer it at once.
#[test]
fn router_learns_a_libzmq_dealer_from_its_probe() {
    run(|| async {
        let router = Router::new();
        let endpoint = router.bind("tcp://127.0.0.1:0").unwrap().to_string();
        let dealer = std::thread::spawn(move || {
            let ctx = zmq::Context::new();
            let dealer = zsock(&ctx, zmq::DEALER);
            dealer.set_identity(b"dealer-1").unwrap();
            dealer.set_probe_router(true).unwrap();
            dealer.connect(&endpoint).unwrap();
            dealer.recv_bytes(0).expect("the ROUTER's greeting")
        });
        let probe = within("the probe", router.recv()).await.unwrap();
        assert_eq!(frames(&probe), [b"dealer-1".to_vec(), b"".to_vec()]);
        router.send(vec!["dealer-1", "welcome"]).await.unwrap();
        assert_eq!(join(dealer).await, b"welcome");
        router.close().await;
    });
}

/// A Monocoque ROUTER with PROBE_ROUTER, connecting to a libzmq ROUTER (ROUTER to
/// ROUTER): the libzmq side learns our id from the probe and can talk first.
#[test]
fn router_probe_router_lets_a_libzmq_router_talk_first() {
    run(|| async {
        let ctx = zmq::Context::new();
        let server = zsock(&ctx, zmq::ROUTER);
        server.set_identity(b"server").unwrap();
        let endpoint = zbind(&server, "tcp");
        let router = Router::with_options(
            Options::default()
                .probe_router(true)
                .routing_id(Bytes::from_static(b"client")),
        );
        router.connect(&endpoint).unwrap();
        let probe = within("the probe", zpoll_recv(&server)).await;
        assert_eq!(probe, [b"client".to_vec(), b"".to_vec()]);
        server
            .send_multipart([&b"client"[..], b"first"], zmq::DONTWAIT)
            .unwrap();
        let msg = within("the libzmq ROUTER's message", router.recv())
            .await
            .unwrap();
        assert_eq!(frames(&msg), [b"server".to_vec(), b"first".to_vec()]);
        router.close().await;
    });
}

/// CONNECT_ROUTING_ID: a Monocoque ROUTER names the libzmq ROUTER it connects to and
/// sends to it by that name at once, before the connection exists; the reply comes
/// back under the same name, whatever identity the peer announced.
#[test]
fn router_connect_with_id_sends_to_a_libzmq_router_at_once() {
    run(|| async {
        let endpoint = free_tcp_endpoint();
        let router = Router::with_options(
            Options::default()
                .router_mandatory(true)
                .routing_id(Bytes::from_static(b"client")),
        );
        router.connect_with_id(&endpoint, &b"backend"[..]).unwrap();
        // Nothing is connected (nothing even listens): routable all the same.
        router.send(vec!["backend", "hello"]).await.unwrap();
        let unknown = router.send(vec!["nobody", "hello"]).await.unwrap_err();
        assert!(matches!(unknown, Error::HostUnreachable(_)), "{unknown}");
        let server = std::thread::spawn(move || {
            let ctx = zmq::Context::new();
            let server = zsock(&ctx, zmq::ROUTER);
            server.set_identity(b"announced").unwrap();
            server.bind(&endpoint).unwrap();
            let request = server.recv_multipart(0).expect("the request");
            server
                .send_multipart([request[0].as_slice(), b"world"], 0)
                .unwrap();
            request
        });
        let reply = within("the reply", router.recv()).await.unwrap();
        assert_eq!(frames(&reply), [b"backend".to_vec(), b"world".to_vec()]);
        assert_eq!(join(server).await, [b"client".to_vec(), b"hello".to_vec()]);
        router.close().await;
    });
}

/// The option form: CONNECT_ROUTING_ID applies to the next `connect` only.
#[test]
fn connect_routing_id_option_names_the_next_connect_only() {
    run(|| async {
        let ctx = zmq::Context::new();
        let server = zsock(&ctx, zmq::ROUTER);
        let endpoint = zbind(&server, "tcp");
        let router = Router::with_options(
            Options::default()
                .connect_routing_id(Bytes::from_static(b"first"))
                .routing_id(Bytes::from_static(b"client")),
        );
        router.connect(&endpoint).unwrap();
        assert_eq!(
            router.options().connect_routing_id,
            None,
            "taken by connect"
        );
        router.send(vec!["first", "via option"]).await.unwrap();
        let got = within("the message", zpoll_recv(&server)).await;
        assert_eq!(got, [b"client".to_vec(), b"via option".to_vec()]);
        router.close().await;
    });
}

/// A peer named at connect time goes with `disconnect`: its id is unroutable
/// afterwards (HostUnreachable under ROUTER_MANDATORY) and free for another connect.
#[test]
fn disconnect_forgets_a_connect_routing_id() {
    run(|| async {
        let ctx = zmq::Context::new();
        let server = zsock(&ctx, zmq::ROUTER);
        let endpoint = zbind(&server, "tcp");
        let router = Router::with_options(
            Options::default()
                .router_mandatory(true)
                .routing_id(Bytes::from_static(b"client")),
        );
        router.connect_with_id(&endpoint, &b"backend"[..]).unwrap();
        router.send(vec!["backend", "before"]).await.unwrap();
        let got = within("the message", zpoll_recv(&server)).await;
        assert_eq!(got, [b"client".to_vec(), b"before".to_vec()]);
        router.disconnect(&endpoint).unwrap();
        let err = router.send(vec!["backend", "after"]).await.unwrap_err();
        assert!(matches!(err, Error::HostUnreachable(_)), "{err}");
        router.connect_with_id(&endpoint, &b"backend"[..]).unwrap();
        router.close().await;
    });
}

#[test]
fn connect_with_id_refuses_bad_and_taken_ids() {
    run(|| async {
        let router = Router::new();
        let endpoint = free_tcp_endpoint();
        for bad in [&b""[..], b"\0reserved", &[7u8; 256][..]] {
            let err = router.connect_with_id(&endpoint, bad.to_vec()).unwrap_err();
            assert!(matches!(err, Error::InvalidArgument(_)), "{bad:?}: {err}");
        }
        router.connect_with_id(&endpoint, &b"peer"[..]).unwrap();
        let err = router.connect_with_id(&endpoint, &b"peer"[..]).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
        // A refused connect leaves the option set for the next one.
        router.set_options(
            router
                .options()
                .connect_routing_id(Bytes::from_static(b"peer")),
        );
        assert!(router.connect(&endpoint).is_err());
        assert!(router.options().connect_routing_id.is_some());
        router.close().await;
    });
}

/// The other way: a libzmq ROUTER with CONNECT_ROUTING_ID talks first to a
/// Monocoque ROUTER, which receives the message under the identity libzmq announced.
#[test]
fn libzmq_router_with_connect_routing_id_talks_first_to_a_router() {
    run(|| async {
        let router =
            Router::with_options(Options::default().routing_id(Bytes::from_static(b"mono")));
        let endpoint = router.bind("tcp://127.0.0.1:0").unwrap().to_string();
        let ctx = zmq::Context::new();
        let mut client = zsock(&ctx, zmq::ROUTER);
        client.set_identity(b"lib").unwrap();
        client.set_connect_routing_id(b"server").unwrap();
        client.connect(&endpoint).unwrap();
        client
            .send_multipart([&b"server"[..], b"hi"], zmq::DONTWAIT)
            .unwrap();
        let msg = within("libzmq's message", router.recv()).await.unwrap();
        assert_eq!(frames(&msg), [b"lib".to_vec(), b"hi".to_vec()]);
        router.send(vec!["lib", "hello back"]).await.unwrap();
        let reply = within("the reply", zpoll_recv(&client)).await;
        assert_eq!(reply, [b"server".to_vec(), b"hello back".to_vec()]);
        router.close().await;
    });
}

/// A sharded ROUTER names a connect peer too: the handle sends to it by that name
/// as soon as `connect_with_id` returns, before the connection exists.
#[test]
fn sharded_router_connect_with_id_sends_at_once() {
    let rt = common::two_cores();
    let options = Options::default()
        .router_mandatory(true)
        .routing_id(Bytes::from_static(b"client"));
    let router = ShardedSocket::new(&rt, SocketType::Router, options);
    let endpoint = free_tcp_endpoint();
    router.connect_with_id(&endpoint, &b"backend"[..]).unwrap();
    router.send(vec!["backend", "hello"]).unwrap();
    let ctx = zmq::Context::new();
    let server = zsock(&ctx, zmq::ROUTER);
    server.bind(&endpoint).unwrap();
    let request = server.recv_multipart(0).expect("the request");
    assert_eq!(request, [b"client".to_vec(), b"hello".to_vec()]);
    server
        .send_multipart([&b"client"[..], b"world"], 0)
        .unwrap();
    let reply = router
        .recv_timeout(Some(common::WAIT))
        .unwrap()
        .expect("the reply");
    assert_eq!(frames(&reply), [b"backend".to_vec(), b"world".to_vec()]);
    let dealer = ShardedSocket::new(&rt, SocketType::Dealer, Options::default());
    let err = dealer.connect_with_id(&endpoint, &b"x"[..]).unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err}");
    router.close();
    dealer.close();
}
