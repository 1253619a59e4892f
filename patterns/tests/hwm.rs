//! High-water marks: what each socket type does when a peer's queue is full, against
//! libzmq peers. Queue-full states are produced deterministically (a connect peer that
//! is not there yet, or sends that do not yield to the connection's task), so no test
//! depends on timing.

mod common;

use common::{free_tcp_endpoint, join, run, within, zbind, zsock};
use futures_lite::future::poll_once;
use monocoque::{Dealer, Options, Pub, Push, Router};

fn small_sndhwm(n: usize) -> Options {
    Options {
        sndhwm: n,
        ..Options::default()
    }
}

/// PUSH and DEALER wait at SNDHWM: with the peer not there yet, exactly SNDHWM
/// messages are accepted, the next send stays pending, and all of them arrive in order
/// once a libzmq PULL binds.
#[test]
fn push_waits_at_sndhwm_then_delivers_everything() {
    let endpoint = free_tcp_endpoint();
    run(move || async move {
        let push = Push::with_options(small_sndhwm(10));
        push.connect(&endpoint).unwrap();
        for i in 0..10u8 {
            assert!(
                poll_once(push.send(vec![i])).await.is_some(),
                "send {i} accepted"
            );
        }
        assert!(
            poll_once(push.send(vec![10u8])).await.is_none(),
            "the 11th send must wait at SNDHWM"
        );
        let ep = endpoint.clone();
        let puller = std::thread::spawn(move || {
            let ctx = zmq::Context::new();
            let pull = zsock(&ctx, zmq::PULL);
            pull.bind(&ep).unwrap();
            (0..11)
                .map(|_| pull.recv_bytes(0).expect("message arrives")[0])
                .collect::<Vec<u8>>()
        });
        within("the waiting send", push.send(vec![10u8]))
            .await
            .unwrap();
        let got = join(puller).await;
        assert_eq!(got, (0..11).collect::<Vec<u8>>());
    });
}

#[test]
fn dealer_waits_at_sndhwm() {
    let endpoint = free_tcp_endpoint();
    run(move || async move {
        let dealer = Dealer::with_options(small_sndhwm(3));
        dealer.connect(&endpoint).unwrap();
        for _ in 0..3 {
            assert!(poll_once(dealer.send("x")).await.is_some());
        }
        assert!(poll_once(dealer.send("x")).await.is_none());
    });
}

/// Sends `count` messages to the libzmq DEALER `id` without yielding to the
/// connection task in between, so the peer queue is never drained meanwhile.
async fn burst(router: &Router, id: &[u8], count: u32) -> usize {
    let mut accepted = 0;
    for i in 0..count {
        let msg = vec![id.to_vec(), i.to_be_bytes().to_vec()];
        if poll_once(router.send(msg)).await.is_some() {
            accepted += 1;
        }
    }
    accepted
}

/// A ROUTER drops messages for a peer at SNDHWM: of a burst of 50 into a queue of
/// 10, exactly the first 10 arrive.
#[test]
fn router_drops_at_sndhwm() {
    run(|| async {
        let router = Router::with_options(small_sndhwm(10));
        let endpoint = router.bind("tcp://127.0.0.1:0").unwrap().to_string();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let dealer = std::thread::spawn(move || {
            let ctx = zmq::Context::new();
            let d = zsock(&ctx, zmq::DEALER);
            d.set_identity(b"slow").unwrap();
            d.connect(&endpoint).unwrap();
            d.send("hello", 0).unwrap();
            rx.recv().unwrap();
            let mut got = Vec::new();
            loop {
                let m = d.recv_bytes(0).expect("message");
                if m == b"end" {
                    break got;
                }
                got.push(u32::from_be_bytes(m[..4].try_into().unwrap()));
            }
        });
        let hello = within("hello", router.recv()).await.unwrap();
        assert_eq!(&hello[0][..], b"slow");
        let accepted = burst(&router, b"slow", 50).await;
        assert_eq!(accepted, 50, "a plain ROUTER never waits: it drops");
        tx.send(()).unwrap();
        // The queue stays full until the connection task runs, so keep offering the
        // end marker until the DEALER has seen it.
        within("end marker", async {
            while !dealer.is_finished() {
                router.send(vec!["slow", "end"]).await.unwrap();
                glommio::timer::sleep(std::time::Duration::from_millis(5)).await;
            }
        })
        .await;
        let got = join(dealer).await;
        assert_eq!(got, (0..10).collect::<Vec<u32>>());
    });
}

/// A PUB publishing in a loop with no await of its own still lets its connection
/// write: `send` yields when the subscriber's queue reaches half of SNDHWM. Without
/// that, the queue would fill after SNDHWM messages and drop the rest until the loop
/// ends; with it, a libzmq SUB that keeps up receives far more than SNDHWM, in order.
#[test]
fn pub_flat_out_yields_to_its_connection() {
    const HWM: usize = 100;
    const COUNT: u32 = 5000;
    run(|| async {
        let publisher = Pub::with_options(small_sndhwm(HWM));
        let endpoint = publisher.bind("tcp://127.0.0.1:0").unwrap().to_string();
        let subscribed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = std::sync::Arc::clone(&subscribed);
        let sub = std::thread::spawn(move || {
            let ctx = zmq::Context::new();
            let s = zsock(&ctx, zmq::SUB);
            s.set_subscribe(b"").unwrap();
            s.connect(&endpoint).unwrap();
            let mut got = Vec::new();
            loop {
                let m = s.recv_bytes(0).expect("message");
                match &m[..] {
                    b"probe" => flag.store(true, std::sync::atomic::Ordering::SeqCst),
                    b"end" => break got,
                    n => got.push(u32::from_be_bytes(n.try_into().unwrap())),
                }
            }
        });
        // Slow joiner: probe until the subscription has reached the PUB.
        within("subscription", async {
            while !subscribed.load(std::sync::atomic::Ordering::SeqCst) {
                publisher.send("probe").await.unwrap();
                glommio::timer::sleep(std::time::Duration::from_millis(5)).await;
            }
        })
        .await;
        for i in 0..COUNT {
            publisher.send(i.to_be_bytes().to_vec()).await.unwrap();
        }
        within("end marker", async {
            while !sub.is_finished() {
                publisher.send("end").await.unwrap();
                glommio::timer::sleep(std::time::Duration::from_millis(5)).await;
            }
        })
        .await;
        let got = join(sub).await;
        assert!(
            got.len() > 10 * HWM,
            "only {} of {COUNT} messages arrived: the flat-out loop starved the connection",
            got.len()
        );
        assert!(got.windows(2).all(|w| w[0] < w[1]), "messages out of order");
    });
}

/// With ROUTER_MANDATORY the ROUTER waits at SNDHWM instead of dropping.
#[test]
fn router_mandatory_waits_at_sndhwm() {
    run(|| async {
        let router = Router::with_options(Options {
            sndhwm: 5,
            router_mandatory: true,
            ..Options::default()
        });
        let endpoint = router.bind("tcp://127.0.0.1:0").unwrap().to_string();
        let dealer = std::thread::spawn(move || {
            let ctx = zmq::Context::new();
            let d = zsock(&ctx, zmq::DEALER);
            d.set_identity(b"peer").unwrap();
            d.connect(&endpoint).unwrap();
            d.send("hello", 0).unwrap();
            (0..6)
                .map(|_| u32::from_be_bytes(d.recv_bytes(0).expect("msg")[..4].try_into().unwrap()))
                .collect::<Vec<u32>>()
        });
        within("hello", router.recv()).await.unwrap();
        assert_eq!(burst(&router, b"peer", 5).await, 5);
        assert!(
            poll_once(router.send(vec![b"peer".to_vec(), 5u32.to_be_bytes().to_vec()]))
                .await
                .is_none(),
            "ROUTER_MANDATORY waits at SNDHWM"
        );
        within(
            "the waiting send",
            router.send(vec![b"peer".to_vec(), 5u32.to_be_bytes().to_vec()]),
        )
        .await
        .unwrap();
        assert_eq!(join(dealer).await, (0..6).collect::<Vec<u32>>());
    });
}

/// RCVHWM: a PULL that does not read stops reading from the network, so the libzmq
/// PUSH eventually cannot send (its queue and the socket buffers fill); nothing is
/// lost, and everything arrives in order once the PULL reads.
#[test]
fn pull_rcvhwm_pushes_back_to_libzmq_sender() {
    const SIZE: usize = 64 * 1024;
    run(|| async {
        let pull = monocoque::Pull::with_options(Options {
            rcvhwm: 4,
            ..Options::default()
        });
        let endpoint = pull.bind("tcp://127.0.0.1:0").unwrap().to_string();
        let (report, result) = std::sync::mpsc::channel();
        let pusher = std::thread::spawn(move || {
            let ctx = zmq::Context::new();
            let push = zsock(&ctx, zmq::PUSH);
            push.set_sndhwm(4).unwrap();
            push.set_sndtimeo(1000).unwrap();
            push.set_linger(-1).unwrap();
            push.connect(&endpoint).unwrap();
            let mut sent = 0u32;
            let blocked = loop {
                let mut body = vec![0u8; SIZE];
                body[..4].copy_from_slice(&sent.to_be_bytes());
                match push.send(body, 0) {
                    Ok(()) => sent += 1,
                    Err(zmq::Error::EAGAIN) => break true,
                    Err(e) => panic!("send failed: {e}"),
                }
                if sent == 100_000 {
                    break false;
                }
            };
            report.send((sent, blocked)).unwrap();
            // Dropping the socket and context now waits (LINGER -1) until every
            // accepted message is delivered, which needs the PULL to read.
        });
        // Do not read until the sender reports it is blocked.
        let (sent, blocked) = within("the sender to block", async {
            loop {
                if let Ok(r) = result.try_recv() {
                    break r;
                }
                glommio::timer::sleep(std::time::Duration::from_millis(5)).await;
            }
        })
        .await;
        assert!(
            blocked,
            "libzmq PUSH never felt back-pressure ({sent} sent)"
        );
        for expected in 0..sent {
            let msg = within("queued message", pull.recv()).await.unwrap();
            assert_eq!(&msg[0][..4], &expected.to_be_bytes()[..]);
            assert_eq!(msg[0].len(), SIZE);
        }
        join(pusher).await;
    });
}

/// A PUSH with a tiny SNDHWM waits rather than drops: 1000 messages through a queue
/// of 2 all reach a libzmq PULL, in order.
#[test]
fn libzmq_pull_behind_monocoque_push_in_order() {
    run(|| async {
        let ctx = zmq::Context::new();
        let pull = zsock(&ctx, zmq::PULL);
        let endpoint = zbind(&pull, "tcp");
        let push = Push::with_options(small_sndhwm(2));
        push.connect(&endpoint).unwrap();
        let reader = std::thread::spawn(move || {
            (0..1000u32)
                .map(|_| u32::from_be_bytes(pull.recv_bytes(0).unwrap()[..4].try_into().unwrap()))
                .collect::<Vec<u32>>()
        });
        for i in 0..1000u32 {
            within("send", push.send(i.to_be_bytes().to_vec()))
                .await
                .unwrap();
        }
        assert_eq!(join(reader).await, (0..1000).collect::<Vec<u32>>());
    });
}
