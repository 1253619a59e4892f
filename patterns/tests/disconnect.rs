//! `disconnect` and `unbind` with libzmq's semantics, against libzmq peers: queued
//! messages for a disconnected peer dropped, reconnection stopped, an unbound
//! listener's connections closed and its port free to bind again.

mod common;

use std::time::Duration;

use common::{free_tcp_endpoint, join, run, within, zmonitor, zsock};
use monocoque::{AnySocket, Error, Pull, Push, SocketType};

/// A libzmq PULL bound to a fresh endpoint, in its own thread: returns the endpoint
/// and a handle that yields what arrived within `listen`.
fn libzmq_pull(listen: Duration) -> (String, std::thread::JoinHandle<Vec<Vec<u8>>>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        let ctx = zmq::Context::new();
        let pull = zsock(&ctx, zmq::PULL);
        pull.set_rcvtimeo(listen.as_millis() as i32).unwrap();
        pull.bind("tcp://127.0.0.1:*").unwrap();
        tx.send(pull.get_last_endpoint().unwrap().unwrap()).unwrap();
        let mut got = Vec::new();
        while let Ok(m) = pull.recv_bytes(0) {
            got.push(m);
        }
        got
    });
    (rx.recv().unwrap(), handle)
}

#[test]
fn disconnect_stops_one_peer_and_drops_what_was_queued_for_it() {
    run(|| async {
        let (live, live_pull) = libzmq_pull(Duration::from_millis(1500));
        let (gone, gone_pull) = libzmq_pull(Duration::from_millis(1500));
        let push = Push::new();
        push.connect(&live).unwrap();
        push.connect(&gone).unwrap();
        within("both connections", async {
            while push.peer_count() < 2 {
                glommio::timer::sleep(Duration::from_millis(1)).await;
            }
        })
        .await;
        push.disconnect(&gone).unwrap();
        for i in 0..10u8 {
            push.send(vec![i]).await.unwrap();
        }
        assert_eq!(
            join(live_pull).await,
            (0..10u8).map(|i| vec![i]).collect::<Vec<_>>()
        );
        assert!(
            join(gone_pull).await.is_empty(),
            "a disconnected peer got messages"
        );
        assert!(matches!(
            push.disconnect(&gone),
            Err(Error::NoSuchEndpoint(_))
        ));

        // Queued for a peer that is not there yet, then disconnected: dropped, and no
        // reconnection brings them to a listener that appears later.
        let later = free_tcp_endpoint();
        let push = Push::with_options(monocoque::Options::default().linger(Duration::ZERO));
        push.connect(&later).unwrap();
        for i in 0..3u8 {
            push.send(vec![i]).await.unwrap();
        }
        assert_eq!(push.peer_stats()[0].queued, 3);
        push.disconnect(&later).unwrap();
        assert!(push.peer_stats().is_empty());
        let ctx = zmq::Context::new();
        let pull = zsock(&ctx, zmq::PULL);
        pull.set_rcvtimeo(500).unwrap();
        pull.bind(&later).unwrap();
        let reader = std::thread::spawn(move || pull.recv_bytes(0).is_err());
        assert!(
            join(reader).await,
            "a disconnected endpoint was reconnected"
        );
    });
}

#[test]
fn unbind_closes_the_listener_and_its_connections_and_frees_the_port() {
    run(|| async {
        let pull = Pull::new();
        let endpoint = pull.bind("tcp://127.0.0.1:0").unwrap().to_string();
        let ctx = zmq::Context::new();
        let push = zsock(&ctx, zmq::PUSH);
        let events = zmonitor(&ctx, &push, "unbind");
        push.connect(&endpoint).unwrap();
        push.send("before", 0).unwrap();
        assert_eq!(
            &within("before", pull.recv()).await.unwrap()[0][..],
            b"before"
        );

        // Only the resolved name names an ephemeral port.
        assert!(matches!(
            pull.unbind("tcp://127.0.0.1:0").await,
            Err(Error::NoSuchEndpoint(_))
        ));
        within("unbind", pull.unbind(&endpoint)).await.unwrap();
        // libzmq sees its connection closed by the peer. (The monitor socket comes
        // back: libzmq's I/O thread stalls on a monitor whose reader has gone.)
        let disconnected = std::thread::spawn(move || {
            let deadline = std::time::Instant::now() + common::WAIT;
            while std::time::Instant::now() < deadline {
                let Ok(frames) = events.recv_multipart(0) else {
                    break;
                };
                let event = u16::from_le_bytes([frames[0][0], frames[0][1]]);
                if event == zmq::SocketEvent::DISCONNECTED as u16 {
                    return (true, events);
                }
            }
            (false, events)
        });
        let (seen, _events) = join(disconnected).await;
        assert!(seen, "libzmq saw no DISCONNECTED");
        // Nothing listens: a fresh socket connects nowhere...
        assert!(std::net::TcpStream::connect(endpoint.trim_start_matches("tcp://")).is_err());
        // ...and the same port binds again, and libzmq's reconnection finds it.
        pull.bind(&endpoint).unwrap();
        push.send("after", 0).unwrap();
        assert_eq!(
            &within("after", pull.recv()).await.unwrap()[0][..],
            b"after"
        );
        assert!(matches!(
            pull.unbind("tcp://127.0.0.1:1").await,
            Err(Error::NoSuchEndpoint(_))
        ));
    });
}

#[test]
fn any_socket_and_router_disconnect() {
    run(|| async {
        let ctx = zmq::Context::new();
        let zrouter = zsock(&ctx, zmq::ROUTER);
        zrouter.bind("tcp://127.0.0.1:*").unwrap();
        let endpoint = zrouter.get_last_endpoint().unwrap().unwrap();
        let dealer = AnySocket::with_options(
            SocketType::Dealer,
            monocoque::Options::default().routing_id("d1"),
        );
        dealer.connect(&endpoint).unwrap();
        dealer.send("hi").await.unwrap();
        let server = std::thread::spawn(move || {
            let first = zrouter.recv_multipart(0).unwrap();
            (zrouter, first)
        });
        let (zrouter, first) = join(server).await;
        assert_eq!(first, [b"d1".to_vec(), b"hi".to_vec()]);
        dealer.disconnect(&endpoint).unwrap();
        // The connection closes in the background, at the executor's next turn.
        within("the connection to close", async {
            while dealer.peer_count() != 0 {
                glommio::timer::sleep(Duration::from_millis(1)).await;
            }
        })
        .await;
        // ROUTER_MANDATORY on the libzmq side: the peer is gone once it has seen the
        // disconnect.
        zrouter.set_router_mandatory(true).unwrap();
        let gone = std::thread::spawn(move || {
            let deadline = std::time::Instant::now() + common::WAIT;
            while std::time::Instant::now() < deadline {
                if zrouter.send_multipart(["d1", "x"], 0).is_err() {
                    return true;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            false
        });
        assert!(
            join(gone).await,
            "libzmq still routes to the disconnected DEALER"
        );
    });
}

/// A sharded socket's unbind closes the listener on its core and the connections it
/// handed to every core; its disconnect finds the core that connected.
#[test]
fn sharded_unbind_and_disconnect_reach_every_core() {
    use monocoque::{Options, ShardedSocket};
    let rt = common::two_cores();
    let pull = ShardedSocket::new(&rt, SocketType::Pull, Options::default());
    let endpoint = pull.bind("tcp://127.0.0.1:0").unwrap().to_string();
    let ctx = zmq::Context::new();
    let pushes: Vec<zmq::Socket> = (0..4)
        .map(|i| {
            let push = zsock(&ctx, zmq::PUSH);
            push.connect(&endpoint).unwrap();
            push.send(format!("p{i}").as_bytes(), 0).unwrap();
            push
        })
        .collect();
    for _ in 0..4 {
        pull.recv_timeout(Some(common::WAIT))
            .unwrap()
            .expect("a message");
    }
    let per_core = pull.peers_per_core().unwrap();
    assert!(
        per_core.iter().all(|&n| n > 0),
        "connections on one core only: {per_core:?}"
    );
    pull.unbind(&endpoint).unwrap();
    let deadline = std::time::Instant::now() + common::WAIT;
    while pull.peers_per_core().unwrap().iter().sum::<usize>() != 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "connections left after unbind"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(std::net::TcpStream::connect(endpoint.trim_start_matches("tcp://")).is_err());
    assert!(matches!(
        pull.unbind(&endpoint),
        Err(Error::NoSuchEndpoint(_))
    ));
    // The port binds again and libzmq's reconnections find it.
    pull.bind(&endpoint).unwrap();
    pushes[0].send("again", 0).unwrap();
    let again = pull
        .recv_timeout(Some(common::WAIT))
        .unwrap()
        .expect("after rebind");
    assert_eq!(&again[0][..], b"again");

    let (live, live_pull) = libzmq_pull(Duration::from_millis(1500));
    let (gone, gone_pull) = libzmq_pull(Duration::from_millis(1500));
    let push = ShardedSocket::new(&rt, SocketType::Push, Options::default());
    push.connect_on(0, &live).unwrap();
    push.connect_on(1, &gone).unwrap();
    let deadline = std::time::Instant::now() + common::WAIT;
    while push.peers_per_core().unwrap() != [1, 1] {
        assert!(std::time::Instant::now() < deadline, "both connections");
        std::thread::sleep(Duration::from_millis(5));
    }
    push.disconnect(&gone).unwrap();
    assert!(matches!(
        push.disconnect(&gone),
        Err(Error::NoSuchEndpoint(_))
    ));
    for i in 0..10u8 {
        push.send(vec![i]).unwrap();
    }
    assert_eq!(live_pull.join().unwrap().len(), 10);
    assert!(gone_pull.join().unwrap().is_empty());
}
