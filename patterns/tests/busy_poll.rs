//! Busy polling (`Options::busy_poll`) against libzmq peers: round trips are answered
//! while the connection polls, after the window has run out and the executor has
//! slept, and with large messages, over TCP and IPC. (How much faster it is belongs to
//! the benchmarks, not here.)

mod common;

use std::time::Duration;

use common::{run, within, zbind, zsock};
use monocoque::{Options, Rep, Req};

fn busy(window: Duration) -> Options {
    Options {
        busy_poll: Some(window),
        ..Options::default()
    }
}

/// A libzmq REP echoing `count` requests, in its own thread.
fn zmq_echo(endpoint_tx: std::sync::mpsc::Sender<String>, transport: &'static str, count: usize) {
    let ctx = zmq::Context::new();
    let rep = zsock(&ctx, zmq::REP);
    // The last reply is large: without a linger, closing right after sending it can
    // drop what libzmq's I/O thread has not written yet.
    rep.set_linger(common::WAIT.as_millis() as i32).unwrap();
    endpoint_tx.send(zbind(&rep, transport)).unwrap();
    for _ in 0..count {
        let msg = rep.recv_multipart(0).expect("request");
        rep.send_multipart(msg, 0).expect("reply");
    }
}

#[test]
fn req_with_busy_poll_talks_to_libzmq_rep_before_and_after_the_window() {
    for transport in common::TRANSPORTS {
        let (tx, rx) = std::sync::mpsc::channel();
        let big = vec![5u8; 100_000];
        let rounds = 300;
        let zmq = std::thread::spawn(move || zmq_echo(tx, transport, rounds + 3));
        let endpoint = rx.recv().unwrap();
        run(move || async move {
            let req = Req::with_options(busy(Duration::from_millis(1)));
            req.connect(&endpoint).unwrap();
            for i in 0..rounds {
                let body = format!("ping {i}");
                within("a round trip", req.send(body.clone()))
                    .await
                    .unwrap();
                let reply = within("the reply", req.recv()).await.unwrap();
                assert_eq!(&reply[0][..], body.as_bytes());
            }
            // Idle for much longer than the window: the connection goes to sleep and
            // must still wake for the next reply.
            for pause in [5, 30] {
                glommio::timer::sleep(Duration::from_millis(pause)).await;
                within("a round trip", req.send("after a pause"))
                    .await
                    .unwrap();
                let reply = within("the reply", req.recv()).await.unwrap();
                assert_eq!(&reply[0][..], b"after a pause");
            }
            within("a large round trip", req.send(vec![big.clone()]))
                .await
                .unwrap();
            let reply = within("the large reply", req.recv()).await.unwrap();
            assert_eq!(reply[0].len(), big.len());
            assert!(reply[0].iter().all(|&b| b == 5));
            req.close().await;
        });
        zmq.join().unwrap();
    }
}

#[test]
fn rep_with_busy_poll_serves_libzmq_req() {
    for transport in common::TRANSPORTS {
        let (tx, rx) = std::sync::mpsc::channel();
        let server = std::thread::spawn(move || {
            run(move || async move {
                let rep = Rep::with_options(busy(Duration::from_micros(500)));
                let bound = rep.bind(&common::fresh_endpoint(transport)).unwrap();
                tx.send(bound.to_string()).unwrap();
                for _ in 0..200 {
                    let msg = within("a request", rep.recv()).await.unwrap();
                    within("the reply", rep.send(msg)).await.unwrap();
                }
                rep.close().await;
            })
        });
        let endpoint = rx.recv().unwrap();
        let ctx = zmq::Context::new();
        let req = zsock(&ctx, zmq::REQ);
        req.connect(&endpoint).unwrap();
        for i in 0..200u32 {
            if i % 50 == 49 {
                std::thread::sleep(Duration::from_millis(10));
            }
            req.send(&i.to_be_bytes()[..], 0).unwrap();
            assert_eq!(req.recv_bytes(0).unwrap(), i.to_be_bytes());
        }
        server.join().unwrap();
    }
}
