//! The quick-start demo: Monocoque and libzmq talking over TCP on this machine.
//!
//! 1. A Monocoque ROUTER echo server serves three libzmq DEALER clients at once.
//! 2. A Monocoque PUB publishes two topics; a libzmq SUB subscribed to one of them
//!    receives only that topic, and a Monocoque SUB receives the other.
//! 3. A libzmq PUSH feeds a Monocoque PULL.
//!
//! Run with `cargo run --release -p monocoque --example demo`.

use std::time::{Duration, Instant};

use monocoque::{Message, Pub, Pull, Router, Sub};

fn main() {
    glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
        .io_memory(256 << 10)
        .name("demo")
        .spawn(|| async {
            if let Err(e) = demo().await {
                eprintln!("demo failed: {e}");
                std::process::exit(1);
            }
        })
        .expect("start glommio executor")
        .join()
        .expect("demo thread");
}

async fn demo() -> monocoque::Result<()> {
    router_with_libzmq_dealers().await?;
    pub_to_libzmq_and_monocoque_subs().await?;
    libzmq_push_to_pull().await?;
    println!("\nall demos passed");
    Ok(())
}

/// Waits for a libzmq thread without blocking the executor (our sockets must keep
/// running while the libzmq side finishes).
async fn join<T>(handle: std::thread::JoinHandle<T>) -> T {
    while !handle.is_finished() {
        glommio::timer::sleep(Duration::from_millis(5)).await;
    }
    handle.join().expect("libzmq thread")
}

fn libzmq_socket(ctx: &zmq::Context, kind: zmq::SocketType) -> zmq::Socket {
    let s = ctx.socket(kind).expect("libzmq socket");
    s.set_rcvtimeo(5000).unwrap();
    s.set_linger(0).unwrap();
    s
}

async fn router_with_libzmq_dealers() -> monocoque::Result<()> {
    println!("== Monocoque ROUTER echo server, three libzmq DEALER clients ==");
    let router = Router::new();
    let endpoint = router.bind("tcp://127.0.0.1:0")?.to_string();
    println!("ROUTER bound to {endpoint}");
    let clients = std::thread::spawn(move || {
        let ctx = zmq::Context::new();
        let dealers: Vec<zmq::Socket> = (0..3)
            .map(|i| {
                let d = libzmq_socket(&ctx, zmq::DEALER);
                d.set_identity(format!("client-{i}").as_bytes()).unwrap();
                d.connect(&endpoint).unwrap();
                d
            })
            .collect();
        for (i, d) in dealers.iter().enumerate() {
            for n in 0..3 {
                d.send(format!("request {n} from client-{i}").as_bytes(), 0)
                    .unwrap();
            }
        }
        for (i, d) in dealers.iter().enumerate() {
            for _ in 0..3 {
                let reply = d.recv_string(0).expect("echo reply").unwrap();
                println!("libzmq client-{i} got back: {reply}");
            }
        }
    });
    for _ in 0..9 {
        let msg = router.recv().await?;
        println!(
            "ROUTER received from {}: {}",
            String::from_utf8_lossy(&msg[0]),
            String::from_utf8_lossy(&msg[1])
        );
        router.send(msg).await?;
    }
    join(clients).await;
    router.close().await;
    Ok(())
}

async fn pub_to_libzmq_and_monocoque_subs() -> monocoque::Result<()> {
    println!("\n== Monocoque PUB, a libzmq SUB on 'prices.' and a Monocoque SUB on 'news.' ==");
    let publisher = Pub::new();
    let endpoint = publisher.bind("tcp://127.0.0.1:0")?.to_string();
    let sub = Sub::new();
    sub.connect(&endpoint)?;
    sub.subscribe(b"news.")?;
    let zendpoint = endpoint.clone();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let zsub = std::thread::spawn(move || {
        let ctx = zmq::Context::new();
        let s = libzmq_socket(&ctx, zmq::SUB);
        s.set_subscribe(b"prices.").unwrap();
        s.connect(&zendpoint).unwrap();
        ready_tx.send(()).unwrap();
        let mut got = Vec::new();
        while got.len() < 3 {
            let frames = s.recv_multipart(0).expect("libzmq SUB receives");
            let text: Vec<String> = frames
                .iter()
                .map(|f| String::from_utf8_lossy(f).into_owned())
                .collect();
            if text[1] != "warm-up" {
                got.push(text.join(" "));
            }
        }
        got
    });
    while ready_rx.try_recv().is_err() {
        glommio::timer::sleep(Duration::from_millis(5)).await;
    }
    // Subscriptions travel to the publisher asynchronously: publish a warm-up until
    // both subscribers are known, as any ZeroMQ publisher must.
    let start = Instant::now();
    while publisher.peer_count() < 2 && start.elapsed() < Duration::from_secs(5) {
        glommio::timer::sleep(Duration::from_millis(10)).await;
    }
    for _ in 0..20 {
        publisher.send(vec!["prices.warm", "warm-up"]).await?;
        publisher.send(vec!["news.warm", "warm-up"]).await?;
        glommio::timer::sleep(Duration::from_millis(10)).await;
    }
    for i in 0..3 {
        publisher
            .send(Message::from(vec![
                "prices.ACME".to_string(),
                format!("{}", 100 + i),
            ]))
            .await?;
        publisher
            .send(Message::from(vec![
                "news.ACME".to_string(),
                format!("headline {i}"),
            ]))
            .await?;
    }
    let mut news = 0;
    while news < 3 {
        let msg = sub.recv().await?;
        if &msg[1][..] != b"warm-up" {
            println!(
                "Monocoque SUB got: {} {}",
                String::from_utf8_lossy(&msg[0]),
                String::from_utf8_lossy(&msg[1])
            );
            news += 1;
        }
    }
    for line in join(zsub).await {
        println!("libzmq SUB got: {line}");
    }
    Ok(())
}

async fn libzmq_push_to_pull() -> monocoque::Result<()> {
    println!("\n== libzmq PUSH to Monocoque PULL, 10000 messages ==");
    let pull = Pull::new();
    let endpoint = pull.bind("tcp://127.0.0.1:0")?.to_string();
    let pusher = std::thread::spawn(move || {
        let ctx = zmq::Context::new();
        let push = ctx.socket(zmq::PUSH).unwrap();
        push.connect(&endpoint).unwrap();
        for i in 0..10_000u32 {
            push.send(&i.to_be_bytes()[..], 0).unwrap();
        }
        // Default LINGER: the context waits until every message is delivered.
    });
    let start = Instant::now();
    for expected in 0..10_000u32 {
        let msg = pull.recv().await?;
        assert_eq!(&msg[0][..], &expected.to_be_bytes()[..], "in order");
    }
    println!("received 10000 messages in order in {:?}", start.elapsed());
    join(pusher).await;
    Ok(())
}
