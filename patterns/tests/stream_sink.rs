//! The sockets as `futures` streams and sinks, driven with `StreamExt` / `SinkExt`
//! combinators against libzmq peers.

mod common;

use std::time::Duration;

use common::{join, run, within, zsock};
use futures_util::{stream, SinkExt, StreamExt};
use monocoque::{Message, MonitorEvent, Options, Pub, Pull, Push, Rep, Req, Router};

const N: u32 = 2_000;

fn numbered(i: u32) -> Message {
    Message::from(i.to_be_bytes().to_vec())
}

fn number(msg: &Message) -> u32 {
    u32::from_be_bytes(msg[0][..4].try_into().unwrap())
}

#[test]
fn pull_is_a_stream_of_what_a_libzmq_push_sends() {
    run(|| async {
        let mut pull = Pull::new();
        let endpoint = pull.bind("tcp://127.0.0.1:0").unwrap().to_string();
        let pusher = common::libzmq_push_numbered(endpoint, N, 16);
        let got: Vec<u32> = within(
            "the stream",
            (&mut pull)
                .take(N as usize)
                .map(|m| number(&m.unwrap()))
                .collect(),
        )
        .await;
        assert_eq!(got, (0..N).collect::<Vec<_>>());
        join(pusher).await;
    });
}

/// `forward` into a PUSH with a small SNDHWM: the sink waits for room instead of
/// dropping, and closing the sink leaves the socket usable.
#[test]
fn push_is_a_sink_that_waits_for_room() {
    run(|| async {
        let ctx = zmq::Context::new();
        let pull = zsock(&ctx, zmq::PULL);
        pull.set_rcvhwm(10).unwrap();
        pull.bind("tcp://127.0.0.1:*").unwrap();
        let endpoint = pull.get_last_endpoint().unwrap().unwrap();
        let reader = std::thread::spawn(move || {
            (0..=N)
                .map(|_| {
                    let m = pull.recv_bytes(0).unwrap();
                    u32::from_be_bytes(m[..4].try_into().unwrap())
                })
                .collect::<Vec<_>>()
        });
        let mut push = Push::with_options(Options::default().sndhwm(10));
        push.connect(&endpoint).unwrap();
        within(
            "forward",
            stream::iter((0..N).map(|i| Ok(numbered(i)))).forward(&mut push),
        )
        .await
        .unwrap();
        // Still open after the sink was closed.
        push.send(numbered(N)).await.unwrap();
        assert_eq!(join(reader).await, (0..=N).collect::<Vec<_>>());
    });
}

/// A REP served as a stream of requests and a sink of replies, and a REQ driven the
/// same way, each with a libzmq peer.
#[test]
fn req_and_rep_as_stream_and_sink() {
    run(|| async {
        let mut rep = Rep::new();
        let endpoint = rep.bind("tcp://127.0.0.1:0").unwrap().to_string();
        let client = std::thread::spawn(move || {
            let ctx = zmq::Context::new();
            let req = zsock(&ctx, zmq::REQ);
            req.connect(&endpoint).unwrap();
            (0..10)
                .map(|i| {
                    req.send(format!("q{i}").as_bytes(), 0).unwrap();
                    String::from_utf8(req.recv_bytes(0).unwrap()).unwrap()
                })
                .collect::<Vec<_>>()
        });
        for _ in 0..10 {
            let request = within("a request", rep.next()).await.unwrap().unwrap();
            let answer = [b"a".as_slice(), &request[0][1..]].concat();
            // SinkExt::send (Rep has an inherent `send` of its own).
            within("the reply", SinkExt::send(&mut rep, answer))
                .await
                .unwrap();
        }
        let answers = join(client).await;
        assert_eq!(
            answers,
            (0..10).map(|i| format!("a{i}")).collect::<Vec<_>>()
        );

        let ctx = zmq::Context::new();
        let zrep = zsock(&ctx, zmq::REP);
        zrep.bind("tcp://127.0.0.1:*").unwrap();
        let endpoint = zrep.get_last_endpoint().unwrap().unwrap();
        let server = std::thread::spawn(move || {
            for _ in 0..5 {
                let q = zrep.recv_bytes(0).unwrap();
                zrep.send([b"re:".as_slice(), &q].concat(), 0).unwrap();
            }
        });
        let mut req = Req::new();
        req.connect(&endpoint).unwrap();
        for i in 0..5u8 {
            within("request", SinkExt::send(&mut req, vec![i]))
                .await
                .unwrap();
            let reply = within("reply", req.next()).await.unwrap().unwrap();
            assert_eq!(&reply[0][..], &[b'r', b'e', b':', i]);
        }
        // Out of turn: the stream says so instead of waiting.
        assert!(matches!(
            req.next().await,
            Some(Err(monocoque::Error::State(_)))
        ));
        join(server).await;
    });
}

/// A PUB as a sink feeding a libzmq SUB, and a ROUTER echoing with `forward` of its
/// own stream into its own sink (split by reference).
#[test]
fn pub_and_router_as_sinks() {
    run(|| async {
        let mut publisher = Pub::new();
        let endpoint = publisher.bind("tcp://127.0.0.1:0").unwrap().to_string();
        let ctx = zmq::Context::new();
        let sub = zsock(&ctx, zmq::SUB);
        sub.set_subscribe(b"").unwrap();
        sub.connect(&endpoint).unwrap();
        within("the subscriber", async {
            while publisher.peer_count() == 0 {
                glommio::timer::sleep(Duration::from_millis(1)).await;
            }
        })
        .await;
        // The subscription may trail the handshake: publish until one arrives.
        let first = std::thread::spawn(move || {
            let m = sub.recv_bytes(0).unwrap();
            (sub, m)
        });
        within("a first message to arrive", async {
            while !first.is_finished() {
                SinkExt::send(&mut publisher, "warm").await.unwrap();
                glommio::timer::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        let (sub, _) = first.join().unwrap();
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            while got.len() < 100 {
                let m = sub.recv_bytes(0).unwrap();
                if m != b"warm" {
                    got.push(u32::from_be_bytes(m[..4].try_into().unwrap()));
                }
            }
            got
        });
        let mut all = stream::iter((0..100).map(|i| Ok(numbered(i))));
        within("send_all", publisher.send_all(&mut all))
            .await
            .unwrap();
        assert_eq!(join(reader).await, (0..100).collect::<Vec<_>>());

        let router = Router::new();
        let endpoint = router.bind("tcp://127.0.0.1:0").unwrap().to_string();
        let client = std::thread::spawn(move || {
            let ctx = zmq::Context::new();
            let dealer = zsock(&ctx, zmq::DEALER);
            dealer.connect(&endpoint).unwrap();
            for i in 0..50u32 {
                dealer.send(i.to_be_bytes().as_slice(), 0).unwrap();
            }
            (0..50)
                .map(|_| u32::from_be_bytes(dealer.recv_bytes(0).unwrap()[..4].try_into().unwrap()))
                .collect::<Vec<_>>()
        });
        // One socket, two roles: the stream and the sink are both `&mut`, so move the
        // messages through a short-lived stream of the first 50.
        let mut router = router;
        let echoed: Vec<Message> = within(
            "50 requests",
            (&mut router).take(50).map(Result::unwrap).collect(),
        )
        .await;
        within(
            "the echoes",
            router.send_all(&mut stream::iter(echoed.into_iter().map(Ok))),
        )
        .await
        .unwrap();
        assert_eq!(join(client).await, (0..50).collect::<Vec<_>>());
    });
}

/// The monitor as a stream, filtered with a combinator.
#[test]
fn monitor_is_a_stream() {
    run(|| async {
        let pull = Pull::new();
        let mut events = pull
            .monitor()
            .filter(|e| std::future::ready(matches!(e, MonitorEvent::HandshakeSucceeded { .. })));
        let endpoint = pull.bind("tcp://127.0.0.1:0").unwrap().to_string();
        let pusher = common::libzmq_push_numbered(endpoint, 1, 4);
        let event = within("a handshake", events.next()).await;
        assert!(matches!(
            event,
            Some(MonitorEvent::HandshakeSucceeded { .. })
        ));
        within("the message", pull.recv()).await.unwrap();
        join(pusher).await;
    });
}

/// `StreamExt::next` on a monitor is the stream's (`Some(event)`): the monitor's own
/// method is `recv`, so nothing shadows the combinator.
#[test]
fn stream_ext_next_reads_a_monitor() {
    run(|| async {
        let pull = Pull::new();
        let mut monitor = pull.monitor();
        pull.bind("tcp://127.0.0.1:0").unwrap();
        let event: Option<MonitorEvent> = within("an event", monitor.next()).await;
        assert!(
            matches!(event, Some(MonitorEvent::Listening { .. })),
            "{event:?}"
        );
    });
}
