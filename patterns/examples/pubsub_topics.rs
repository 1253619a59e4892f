//! Topics: one Monocoque PUB, three subscribers (two Monocoque SUBs, one libzmq SUB),
//! each subscribed to its own prefixes and receiving only the messages whose first
//! frame starts with one of them.
//!
//! A PUB cannot tell when a subscription has reached it (the "slow joiner"), so the
//! publisher sends its round of topics every few milliseconds until each subscriber
//! has seen every topic it asked for, then says what each one got.
//!
//! Run it with `cargo run -p monocoque --example pubsub_topics`.

use std::collections::BTreeSet;
use std::error::Error;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use monocoque::{Pub, Sub};

const TOPICS: [&str; 5] = [
    "weather.paris",
    "weather.tokyo",
    "traffic.a1",
    "sports.football",
    "sports.tennis",
];

/// The topics of `TOPICS` that `prefixes` select.
fn wanted(prefixes: &[&str]) -> BTreeSet<String> {
    let matches = |t: &&str| prefixes.iter().any(|p| t.starts_with(p));
    TOPICS
        .into_iter()
        .filter(matches)
        .map(String::from)
        .collect()
}

fn main() -> Result<(), Box<dyn Error>> {
    glommio::LocalExecutor::default().run(async {
        let publisher = Pub::new();
        let endpoint = publisher.bind("tcp://127.0.0.1:0")?.to_string();
        println!("publishing on {endpoint}");

        let mut subs = Vec::new();
        for prefixes in [vec!["weather."], vec!["traffic.", "sports.football"]] {
            let sub = Sub::new();
            sub.connect(&endpoint)?;
            for p in &prefixes {
                sub.subscribe(p.as_bytes())?;
            }
            subs.push((sub, prefixes, BTreeSet::new()));
        }
        let libzmq_prefixes = ["sports.", "weather.tokyo"];
        let (done, stop) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let libzmq = thread::spawn({
            let (done, stop) = (done.clone(), stop.clone());
            move || -> zmq::Result<BTreeSet<String>> {
                let ctx = zmq::Context::new();
                let sub = ctx.socket(zmq::SUB)?;
                for p in libzmq_prefixes {
                    sub.set_subscribe(p.as_bytes())?;
                }
                sub.set_rcvtimeo(20)?;
                sub.connect(&endpoint)?;
                let mut got = BTreeSet::new();
                while !stop.load(Ordering::Acquire) {
                    if let Ok(frames) = sub.recv_multipart(0) {
                        got.insert(String::from_utf8_lossy(&frames[0]).into_owned());
                        done.store(got == wanted(&libzmq_prefixes), Ordering::Release);
                    }
                }
                Ok(got)
            }
        });

        let mut rounds = 0;
        while rounds < 500 {
            for topic in TOPICS {
                publisher.send((topic, format!("round {rounds}"))).await?;
            }
            rounds += 1;
            glommio::timer::sleep(Duration::from_millis(10)).await;
            for (sub, _, got) in &mut subs {
                while let Some(msg) = sub.try_recv()? {
                    got.insert(String::from_utf8_lossy(&msg[0]).into_owned());
                }
            }
            let all = subs.iter().all(|(_, p, got)| *got == wanted(p));
            if all && done.load(Ordering::Acquire) {
                break;
            }
        }
        stop.store(true, Ordering::Release);
        let libzmq_got = libzmq.join().expect("libzmq subscriber")?;
        println!("{rounds} rounds published");
        for (_, prefixes, got) in &subs {
            println!("monocoque SUB {prefixes:?} got {got:?}");
        }
        println!("libzmq SUB {libzmq_prefixes:?} got {libzmq_got:?}");
        Ok::<(), Box<dyn Error>>(())
    })
}
