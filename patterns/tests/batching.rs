//! The explicit batching API against libzmq peers.

mod common;

use common::{join, libzmq_push_numbered, run, within, zbind, zsock};
use monocoque::{Pull, Push};

fn numbered(n: u32) -> impl Iterator<Item = Vec<u8>> {
    (0..n).map(|i| i.to_be_bytes().to_vec())
}

fn receive_numbers(sock: zmq::Socket, n: u32) -> std::thread::JoinHandle<Vec<u32>> {
    std::thread::spawn(move || {
        (0..n)
            .map(|_| {
                u32::from_be_bytes(
                    sock.recv_bytes(0).expect("message")[..4]
                        .try_into()
                        .unwrap(),
                )
            })
            .collect()
    })
}

#[test]
fn send_batch_delivers_everything_in_order() {
    run(|| async {
        let ctx = zmq::Context::new();
        let pull = zsock(&ctx, zmq::PULL);
        let endpoint = zbind(&pull, "tcp");
        let reader = receive_numbers(pull, 5000);
        let push = Push::new();
        push.connect(&endpoint).unwrap();
        let sent = within("send_batch", push.send_batch(numbered(5000)))
            .await
            .unwrap();
        assert_eq!(sent, 5000);
        assert_eq!(join(reader).await, (0..5000).collect::<Vec<u32>>());
    });
}

#[test]
fn send_buffered_waits_for_flush_and_respects_sndhwm() {
    run(|| async {
        let ctx = zmq::Context::new();
        let pull = zsock(&ctx, zmq::PULL);
        let endpoint = zbind(&pull, "tcp");
        let reader = receive_numbers(pull, 3000);
        let push = Push::with_options(monocoque::Options {
            sndhwm: 100,
            ..Default::default()
        });
        push.connect(&endpoint).unwrap();
        // More than SNDHWM buffered messages: a full queue is flushed, not dropped.
        for msg in numbered(3000) {
            within("send_buffered", push.send_buffered(msg))
                .await
                .unwrap();
        }
        push.flush();
        assert_eq!(join(reader).await, (0..3000).collect::<Vec<u32>>());
    });
}

#[test]
fn recv_batch_drains_what_has_arrived() {
    run(|| async {
        let pull = Pull::new();
        let endpoint = pull.bind("tcp://127.0.0.1:0").unwrap().to_string();
        let pusher = libzmq_push_numbered(endpoint, 10_000, 4);
        let mut got = Vec::new();
        while got.len() < 10_000 {
            let n = within("recv_batch", pull.recv_batch(&mut got, 256))
                .await
                .unwrap();
            assert!((1..=256).contains(&n));
        }
        let numbers: Vec<u32> = got
            .iter()
            .map(|m| u32::from_be_bytes(m[0][..4].try_into().unwrap()))
            .collect();
        assert_eq!(numbers, (0..10_000).collect::<Vec<u32>>());
        join(pusher).await;
    });
}
