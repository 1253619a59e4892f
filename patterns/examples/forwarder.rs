//! A pub/sub forwarder: a libzmq PUB on one side, libzmq SUBs on the other, and a
//! Monocoque proxy between an XSUB (connected to the publisher) and an XPUB (the
//! subscribers connect to it). Subscriptions travel up through the proxy, so the
//! publisher sends only what someone wants; a capture socket (PUSH to a libzmq PULL)
//! sees every message, both ways.
//!
//! Run it with `cargo run -p monocoque --example forwarder`.

use std::error::Error;
use std::thread;
use std::time::Duration;

use monocoque::proxy::Proxy;
use monocoque::{Pair, Push, XPub, XSub};

fn main() -> Result<(), Box<dyn Error>> {
    // The libzmq side: a publisher of weather and traffic, a capture reader.
    let ctx = zmq::Context::new();
    let publisher = ctx.socket(zmq::PUB)?;
    publisher.bind("tcp://127.0.0.1:*")?;
    let publisher_at = publisher.get_last_endpoint()?.unwrap();
    let tap = ctx.socket(zmq::PULL)?;
    tap.bind("tcp://127.0.0.1:*")?;
    let tap_at = tap.get_last_endpoint()?.unwrap();

    glommio::LocalExecutor::default().run(async move {
        let upstream = XSub::new();
        upstream.connect(&publisher_at)?;
        let downstream = XPub::new();
        let subscribers_at = downstream.bind("tcp://127.0.0.1:0")?.to_string();
        let capture = Push::new();
        capture.connect(&tap_at)?;
        let control = Pair::new();
        let control_at = control.bind("tcp://127.0.0.1:0")?.to_string();
        println!("publisher at {publisher_at}, subscribers connect to {subscribers_at}");

        let ctx = ctx.clone();
        let driver = thread::spawn(move || {
            let weather = ctx.socket(zmq::SUB).unwrap();
            weather.set_subscribe(b"weather.").unwrap();
            weather.set_rcvtimeo(5000).unwrap();
            weather.connect(&subscribers_at).unwrap();
            // Publish until the subscription has come up through the forwarder.
            let mut got = Vec::new();
            let mut n = 0;
            while got.len() < 3 {
                publisher
                    .send(format!("traffic.a{n} jam").as_bytes(), 0)
                    .unwrap();
                publisher
                    .send(format!("weather.paris {n}C").as_bytes(), 0)
                    .unwrap();
                n += 1;
                thread::sleep(Duration::from_millis(20));
                weather.set_rcvtimeo(0).unwrap();
                while let Ok(m) = weather.recv_bytes(0) {
                    got.push(String::from_utf8(m).unwrap());
                }
            }
            let stop = ctx.socket(zmq::PAIR).unwrap();
            stop.connect(&control_at).unwrap();
            stop.send("TERMINATE", 0).unwrap();
            got
        });
        let stats = Proxy::new(&upstream, &downstream)
            .capture(&capture)
            .control(&control)
            .run()
            .await?;
        let got = driver.join().unwrap();
        for m in &got {
            println!("weather subscriber got: {m}");
        }
        println!(
            "forwarded {} messages down and {} subscriptions up",
            stats.frontend.received, stats.backend.received
        );
        capture.close().await;
        Ok::<(), monocoque::Error>(())
    })?;
    tap.set_rcvtimeo(200)?;
    let mut captured = 0;
    let mut subscriptions = 0;
    while let Ok(m) = tap.recv_bytes(0) {
        captured += 1;
        subscriptions += usize::from(m.first() == Some(&1));
    }
    println!("the capture saw {captured} messages, {subscriptions} of them subscriptions");
    Ok(())
}
