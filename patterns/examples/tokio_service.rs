//! A tokio service with its ZeroMQ I/O on pinned glommio cores.
//!
//! The service publishes prices through a sharded PUB and answers quote requests
//! through a sharded ROUTER. Its own logic runs as ordinary tokio tasks, which talk to
//! the sockets through their `Send + Sync` handles (`send_async`, `recv_async`); the
//! connections, the ZMTP sessions and the fan-out live on the runtime's cores, each
//! serving its share of the peers. Two libzmq clients (a SUB and a DEALER) stand in
//! for the service's users.
//!
//! Run it with `cargo run -p monocoque --example tokio_service`.

use std::error::Error;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use monocoque::{Options, Runtime, ShardedSocket, SocketType};

fn main() -> Result<(), Box<dyn Error>> {
    // One executor per core of the machine, pinned.
    let rt = Runtime::builder().build()?;
    let prices = ShardedSocket::new(&rt, SocketType::Pub, Options::default());
    let feed = prices.bind("tcp://127.0.0.1:0")?;
    let quotes = ShardedSocket::new(&rt, SocketType::Router, Options::default());
    let service = quotes.bind("tcp://127.0.0.1:0")?;
    println!("prices on {feed}, quotes on {service}");

    let subscriber = std::thread::spawn({
        let feed = feed.to_string();
        move || libzmq_subscriber(&feed)
    });
    let client = std::thread::spawn({
        let service = service.to_string();
        move || libzmq_client(&service)
    });

    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let done = Arc::new(AtomicBool::new(false));
    tokio.block_on(async {
        // The price task: a new ACME price every millisecond until the clients are
        // done (a PUB never waits for its subscribers).
        let publisher = tokio::spawn({
            let (prices, done) = (prices.clone(), Arc::clone(&done));
            async move {
                let mut ticker = tokio::time::interval(Duration::from_millis(1));
                let mut price = 100.0_f64;
                while !done.load(Ordering::Relaxed) {
                    ticker.tick().await;
                    price += 0.25;
                    prices
                        .send_async(vec!["ACME".to_string(), format!("{price:.2}")])
                        .await?;
                }
                Ok::<(), monocoque::Error>(())
            }
        });
        // The quote task: answers each request, whichever core its client is on.
        let answerer = tokio::spawn({
            let quotes = quotes.clone();
            async move {
                for _ in 0..5 {
                    let request = quotes.recv_async().await?;
                    let (client, symbol) = (request[0].clone(), request[1].clone());
                    let answer = format!("{} 101.25", String::from_utf8_lossy(&symbol));
                    quotes
                        .send_async(vec![client, answer.into_bytes().into()])
                        .await?;
                }
                Ok::<(), monocoque::Error>(())
            }
        });
        answerer.await??;
        let client = tokio::task::spawn_blocking(move || client.join()).await?;
        let subscriber = tokio::task::spawn_blocking(move || subscriber.join()).await?;
        done.store(true, Ordering::Relaxed);
        publisher.await??;
        println!("client got: {:?}", client.expect("client thread"));
        println!(
            "subscriber got: {:?}",
            subscriber.expect("subscriber thread")
        );
        Ok::<(), Box<dyn Error>>(())
    })?;

    prices.close();
    quotes.close();
    rt.shutdown();
    Ok(())
}

/// A libzmq SUB: the first five ACME prices it hears.
fn libzmq_subscriber(feed: &str) -> Vec<String> {
    let ctx = zmq::Context::new();
    let sub = ctx.socket(zmq::SUB).unwrap();
    sub.set_subscribe(b"ACME").unwrap();
    sub.connect(feed).unwrap();
    (0..5)
        .map(|_| {
            let msg = sub.recv_multipart(0).unwrap();
            String::from_utf8_lossy(&msg[1]).into_owned()
        })
        .collect()
}

/// A libzmq DEALER: five quote requests, one at a time.
fn libzmq_client(service: &str) -> Vec<String> {
    let ctx = zmq::Context::new();
    let dealer = ctx.socket(zmq::DEALER).unwrap();
    dealer.connect(service).unwrap();
    (0..5)
        .map(|_| {
            dealer.send("ACME", 0).unwrap();
            String::from_utf8(dealer.recv_bytes(0).unwrap()).unwrap()
        })
        .collect()
}
