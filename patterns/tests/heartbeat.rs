//! Heartbeats (HEARTBEAT_IVL / _TIMEOUT / _TTL) against libzmq peers and hand-driven
//! raw peers that go silent.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::BytesMut;
use common::{run, within, zsock};
use monocoque::{Monitor, MonitorEvent, Options, Router};
use monocoque_zmtp::SocketType;

/// A raw TCP peer that completes the NULL handshake as a DEALER and then does only
/// what the test says. Returns the stream and whatever bytes followed the handshake.
fn raw_dealer(addr: &str) -> (TcpStream, BytesMut) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(common::WAIT)).unwrap();
    let (_, input) = common::null_handshake(&mut stream, SocketType::Dealer);
    (stream, input)
}

/// Waits for a `Disconnected` event whose reason contains `needle`.
async fn disconnected_because(monitor: &Monitor, needle: &str) {
    within("the disconnect", async {
        loop {
            if let MonitorEvent::Disconnected { reason, .. } = monitor.recv().await {
                if reason.contains(needle) {
                    return;
                }
            }
        }
    })
    .await
}

fn router_with(options: Options) -> (Router, Monitor, String) {
    let router = Router::with_options(options);
    let monitor = router.monitor();
    let endpoint = router.bind("tcp://127.0.0.1:0").unwrap().to_string();
    (router, monitor, endpoint)
}

#[test]
fn a_silent_peer_is_dropped_after_heartbeat_timeout() {
    run(|| async {
        let (_router, monitor, endpoint) = router_with(Options {
            heartbeat_ivl: Some(Duration::from_millis(50)),
            heartbeat_timeout: Some(Duration::from_millis(150)),
            heartbeat_ttl: Some(Duration::from_secs(2)),
            ..Options::default()
        });
        let addr = endpoint.trim_start_matches("tcp://").to_string();
        let peer = std::thread::spawn(move || {
            let (mut stream, mut seen) = raw_dealer(&addr);
            // Read (never answer) until the server hangs up; collect what it sent.
            let mut buf = [0u8; 256];
            loop {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => return seen,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
            }
        });
        disconnected_because(&monitor, "heartbeat").await;
        let seen = common::join(peer).await;
        // A PING command: flags 0x04, size, "\x04PING", TTL 20 deciseconds, no context.
        assert!(
            seen.windows(9).any(|w| w == b"\x04\x07\x04PING\x00\x14"),
            "no PING with TTL 2 s among {seen:02x?}"
        );
    });
}

#[test]
fn a_peer_silent_beyond_its_own_ttl_is_dropped() {
    run(|| async {
        let (_router, monitor, endpoint) = router_with(Options::default());
        let addr = endpoint.trim_start_matches("tcp://").to_string();
        let peer = std::thread::spawn(move || {
            let (mut stream, _) = raw_dealer(&addr);
            // PING with a TTL of 3 deciseconds, then silence.
            stream.write_all(b"\x04\x07\x04PING\x00\x03").unwrap();
            let mut buf = [0u8; 256];
            let mut pong = false;
            loop {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => return pong,
                    Ok(n) => pong |= buf[..n].windows(7).any(|w| w == b"\x04\x05\x04PONG"),
                }
            }
        });
        disconnected_because(&monitor, "TTL").await;
        assert!(
            common::join(peer).await,
            "the PING was answered with a PONG"
        );
    });
}

/// A libzmq peer heartbeating us, and us heartbeating a libzmq peer: both connections
/// stay up through idle time far longer than the timeouts, and then carry traffic.
#[test]
fn heartbeats_with_libzmq_keep_idle_connections_up() {
    run(|| async {
        let (router, monitor, endpoint) = router_with(Options {
            heartbeat_ivl: Some(Duration::from_millis(30)),
            heartbeat_timeout: Some(Duration::from_millis(100)),
            ..Options::default()
        });
        let ctx = zmq::Context::new();
        let dealer = zsock(&ctx, zmq::DEALER);
        dealer.set_heartbeat_ivl(30).unwrap();
        dealer.set_heartbeat_timeout(100).unwrap();
        dealer.set_heartbeat_ttl(500).unwrap();
        dealer.set_identity(b"hb").unwrap();
        dealer.connect(&endpoint).unwrap();
        dealer.send("first", 0).unwrap();
        let first = within("first message", router.recv()).await.unwrap();
        assert_eq!(&first[1][..], b"first");
        glommio::timer::sleep(Duration::from_millis(800)).await;
        dealer.send("after idle", 0).unwrap();
        let msg = within("message after idle", router.recv()).await.unwrap();
        assert_eq!(&msg[1][..], b"after idle");
        while let Some(ev) = monitor.try_recv() {
            assert!(
                !matches!(ev, MonitorEvent::Disconnected { .. }),
                "connection dropped while idle: {ev:?}"
            );
        }
        router.send(vec!["hb", "reply"]).await.unwrap();
        let reply = within("reply", async {
            loop {
                match dealer.recv_bytes(zmq::DONTWAIT) {
                    Ok(r) => break r,
                    Err(_) => glommio::timer::sleep(Duration::from_millis(2)).await,
                }
            }
        })
        .await;
        assert_eq!(reply, b"reply");
    });
}
