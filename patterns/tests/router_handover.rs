//! ROUTER_HANDOVER on a local ROUTER, against libzmq DEALERs that announce the same
//! routing id: without it the newer connection gets nothing and is heard from no more
//! (we close it and it is refused again on each reconnect; libzmq 4.3 keeps it open
//! but never reads it while the id is taken); with it the newer one takes the id and
//! the older connection is closed.

mod common;

use common::{join, run, twin, within, zsock};
use monocoque::{MonitorEvent, Options, Router};

/// Connects the two twins one after the other and sends "for twin" once the second
/// was refused (no handover) or took over; returns what each received.
fn twins(handover: bool) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    run(move || async move {
        let router = Router::with_options(Options {
            router_handover: handover,
            ..Options::default()
        });
        let monitor = router.monitor();
        let endpoint = router.bind("tcp://127.0.0.1:0").unwrap().to_string();
        let first = twin(&endpoint, "first");
        let hello = within("first's hello", router.recv()).await.unwrap();
        assert_eq!(&hello[1][..], b"first");
        let second = twin(&endpoint, "second");
        within("the second connection to settle", async {
            let mut accepted = 0;
            loop {
                match monitor.recv().await {
                    MonitorEvent::Accepted { .. } => accepted += 1,
                    MonitorEvent::HandshakeSucceeded { .. } if handover && accepted == 2 => return,
                    MonitorEvent::Disconnected { .. } if !handover && accepted == 2 => return,
                    _ => {}
                }
            }
        })
        .await;
        if handover {
            let hello = within("second's hello", router.recv()).await.unwrap();
            assert_eq!(&hello[1][..], b"second");
        }
        router.send(vec![&b"twin"[..], b"for twin"]).await.unwrap();
        let got = (join(first).await, join(second).await);
        router.close().await;
        got
    })
}

#[test]
fn without_handover_a_duplicate_routing_id_is_refused() {
    let (first, second) = twins(false);
    assert_eq!(first, [b"for twin".to_vec()]);
    assert!(second.is_empty(), "{second:?}");
}

#[test]
fn with_handover_the_newer_peer_takes_the_routing_id() {
    let (first, second) = twins(true);
    assert!(first.is_empty(), "{first:?}");
    assert_eq!(second, [b"for twin".to_vec()]);
}

#[test]
fn libzmq_agrees_on_both_counts() {
    // The reference: a libzmq ROUTER with and without ROUTER_HANDOVER, same twins.
    for handover in [false, true] {
        let ctx = zmq::Context::new();
        let router = zsock(&ctx, zmq::ROUTER);
        router.set_router_handover(handover).unwrap();
        router.bind("tcp://127.0.0.1:*").unwrap();
        let endpoint = router.get_last_endpoint().unwrap().unwrap();
        let first = twin(&endpoint, "first");
        assert_eq!(router.recv_multipart(0).unwrap()[1], b"first");
        let second = twin(&endpoint, "second");
        if handover {
            assert_eq!(router.recv_multipart(0).unwrap()[1], b"second");
        } else {
            // Nothing from the refused twin.
            router.set_rcvtimeo(500).unwrap();
            assert!(router.recv_multipart(0).is_err());
        }
        router
            .send_multipart([&b"twin"[..], b"for twin"], 0)
            .unwrap();
        let (first, second) = (first.join().unwrap(), second.join().unwrap());
        if handover {
            assert!(first.is_empty() && second == [b"for twin".to_vec()]);
        } else {
            assert!(second.is_empty() && first == [b"for twin".to_vec()]);
        }
    }
}
