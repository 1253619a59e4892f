//! `inproc://`: sockets of one executor, and of two cores of a runtime, connected
//! within the process; bind before or after connect; the same semantics and
//! high-water marks as over TCP.

mod common;

use std::time::Duration;

use common::{run, within, WAIT};
use monocoque::{
    Dealer, Error, Options, Pub, Pull, Push, Rep, Req, Router, ShardedSocket, SocketType, Sub,
};

#[test]
fn push_pull_req_rep_and_pub_sub_on_one_executor() {
    run(|| async {
        let pull = Pull::new();
        let bound = pull.bind("inproc://pipeline").unwrap();
        assert_eq!(bound.to_string(), "inproc://pipeline");
        let push = Push::new();
        push.connect("inproc://pipeline").unwrap();
        for i in 0..1000u32 {
            push.send(i.to_be_bytes().to_vec()).await.unwrap();
        }
        for i in 0..1000u32 {
            let m = within("a message", pull.recv()).await.unwrap();
            assert_eq!(&m[0][..], &i.to_be_bytes());
        }

        let rep = Rep::new();
        rep.bind("inproc://service").unwrap();
        let req = Req::new();
        req.connect("inproc://service").unwrap();
        let server = glommio::spawn_local(async move {
            for _ in 0..3 {
                let q = rep.recv().await.unwrap();
                rep.send([b"re:".as_slice(), &q[0]].concat()).await.unwrap();
            }
        });
        for i in 0..3u8 {
            req.send(vec![i]).await.unwrap();
            let a = within("a reply", req.recv()).await.unwrap();
            assert_eq!(&a[0][..], &[b'r', b'e', b':', i]);
        }
        server.await;

        let publisher = Pub::new();
        publisher.bind("inproc://feed").unwrap();
        let sub = Sub::new();
        sub.connect("inproc://feed").unwrap();
        sub.subscribe(b"a").unwrap();
        let got = within("a subscribed message", async {
            loop {
                publisher.send("b-never").await.unwrap();
                publisher.send("a-yes").await.unwrap();
                if let Some(m) = sub.try_recv().unwrap() {
                    break m;
                }
                glommio::timer::sleep(Duration::from_millis(1)).await;
            }
        })
        .await;
        assert_eq!(&got[0][..], b"a-yes");
    });
}

/// Connect before bind (libzmq 4.x): what a DEALER queued goes out once the ROUTER
/// binds; a name binds once, and is free again after unbind.
#[test]
fn connect_before_bind_and_names_bind_once() {
    run(|| async {
        let dealer = Dealer::with_options(Options::default().routing_id("early"));
        dealer.connect("inproc://later").unwrap();
        for i in 0..3u8 {
            dealer.send(vec![i]).await.unwrap();
        }
        glommio::timer::sleep(Duration::from_millis(20)).await;
        let router = Router::new();
        router.bind("inproc://later").unwrap();
        for i in 0..3u8 {
            let m = within("a queued message", router.recv()).await.unwrap();
            assert_eq!(&m[0][..], b"early");
            assert_eq!(&m[1][..], &[i]);
        }
        let other = Router::new();
        assert!(matches!(
            other.bind("inproc://later"),
            Err(Error::AddrInUse(_))
        ));
        router.unbind("inproc://later").await.unwrap();
        other.bind("inproc://later").unwrap();
        assert!(matches!(other.bind("inproc://"), Err(Error::Endpoint(_))));
    });
}

/// SNDHWM and RCVHWM hold over inproc: a PUSH whose PULL does not read refuses
/// after a bounded number of messages, and every accepted one arrives in order.
#[test]
fn high_water_marks_bound_an_inproc_connection() {
    run(|| async {
        let pull = Pull::with_options(Options::default().rcvhwm(10));
        pull.bind("inproc://hwm").unwrap();
        let push = Push::with_options(Options::default().sndhwm(10));
        push.connect("inproc://hwm").unwrap();
        let body = vec![1u8; 4096];
        let mut accepted = 0u32;
        let mut refusals = 0;
        while refusals < 3 {
            let mut m = body.clone();
            m[..4].copy_from_slice(&accepted.to_be_bytes());
            match push.try_send(m) {
                Ok(()) => accepted += 1,
                Err(e) => {
                    assert!(e.would_block(), "{e}");
                    refusals += 1;
                    glommio::timer::sleep(Duration::from_millis(10)).await;
                }
            }
            assert!(accepted < 10_000, "no high-water mark");
        }
        // The pipe (256 KiB), RCVHWM and SNDHWM: about 84 messages of 4 KiB.
        assert!(accepted < 200, "{accepted} accepted");
        for i in 0..accepted {
            let m = within("an accepted message", pull.recv()).await.unwrap();
            assert_eq!(&m[0][..4], &i.to_be_bytes());
        }
    });
}

/// Across cores: a sharded PULL bound on one core, a sharded PUSH connecting from
/// the other; and the closing of one end seen by the other.
#[test]
fn inproc_between_cores_of_a_runtime() {
    let rt = common::two_cores();
    let pull = ShardedSocket::new(&rt, SocketType::Pull, Options::default());
    pull.bind("inproc://cores").unwrap();
    let push = ShardedSocket::new(&rt, SocketType::Push, Options::default());
    push.connect_on(1, "inproc://cores").unwrap();
    for i in 0..500u32 {
        push.send(i.to_be_bytes().to_vec()).unwrap();
    }
    for i in 0..500u32 {
        let m = pull.recv_timeout(Some(WAIT)).unwrap().expect("a message");
        assert_eq!(&m[0][..], &i.to_be_bytes());
    }
    let monitor = push.monitor().unwrap();
    pull.close();
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let event = monitor.next_timeout(deadline - std::time::Instant::now());
        match event.map(|e| e.event) {
            Some(monocoque::MonitorEvent::Disconnected { .. }) => break,
            Some(_) => continue,
            None => panic!("the PUSH never saw its PULL go"),
        }
    }
}
