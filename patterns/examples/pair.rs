//! PAIR: an exclusive link between two sockets, here a Monocoque PAIR and a libzmq
//! PAIR that play ping-pong. A PAIR has one peer at a time: when a second socket
//! connects, its connection is refused, which the Monocoque side's monitor reports.
//!
//! Run it with `cargo run -p monocoque --example pair`.

use std::error::Error;
use std::thread;

use monocoque::{MonitorEvent, Pair};

const ROUNDS: usize = 3;

fn main() -> Result<(), Box<dyn Error>> {
    glommio::LocalExecutor::default().run(async {
        let pair = Pair::new();
        let monitor = pair.monitor();
        let endpoint = pair.bind("tcp://127.0.0.1:0")?.to_string();
        println!("PAIR bound on {endpoint}");

        let peer = thread::spawn({
            let endpoint = endpoint.clone();
            move || -> zmq::Result<()> {
                let ctx = zmq::Context::new();
                let pair = ctx.socket(zmq::PAIR)?;
                pair.set_rcvtimeo(5000)?;
                pair.connect(&endpoint)?;
                for _ in 0..ROUNDS {
                    let ping = pair.recv_string(0)?.expect("UTF-8");
                    pair.send(ping.replace("ping", "pong").as_str(), 0)?;
                }
                pair.recv_bytes(0)?; // "bye": stay connected until then
                Ok(())
            }
        });

        // `send` waits until a peer is connected: no need to wait for the libzmq side.
        for round in 1..=ROUNDS {
            pair.send(format!("ping {round}")).await?;
            let reply = pair.recv().await?;
            println!("got {}", String::from_utf8_lossy(&reply[0]));
        }

        // A second PAIR is turned away while the first is connected.
        let intruder = Pair::new();
        intruder.connect(&endpoint)?;
        let refusal = loop {
            match monitor.recv().await {
                MonitorEvent::Disconnected { reason, .. } => break reason,
                _ => continue,
            }
        };
        println!("second PAIR refused: {refusal}");
        intruder.close().await;

        pair.send("bye").await?;
        println!(
            "stats: sent {}, received {}",
            pair.stats().sent,
            pair.stats().received
        );
        pair.close().await; // LINGER: "bye" is written before this returns
        peer.join().expect("libzmq peer")?;
        Ok::<(), Box<dyn Error>>(())
    })
}
