//! A request broker: libzmq REQ clients on one side, libzmq REP workers on the other,
//! and a Monocoque proxy between a ROUTER (clients connect to it) and a DEALER
//! (workers connect to it), steered over a REP control socket.
//!
//! Each client sends a few requests; the DEALER spreads them over the workers and
//! the replies find their way back through the ROUTER's envelopes. When the clients
//! are done, a libzmq REQ asks the proxy for its STATISTICS, then TERMINATEs it.
//!
//! Run it with `cargo run -p monocoque --example broker`.

use std::error::Error;
use std::thread;

use monocoque::proxy::Proxy;
use monocoque::{Dealer, Rep, Router};

const CLIENTS: usize = 3;
const WORKERS: usize = 2;
const REQUESTS: usize = 4;

fn main() -> Result<(), Box<dyn Error>> {
    glommio::LocalExecutor::default().run(async {
        let clients_side = Router::new();
        let clients_at = clients_side.bind("tcp://127.0.0.1:0")?.to_string();
        let workers_side = Dealer::new();
        let workers_at = workers_side.bind("tcp://127.0.0.1:0")?.to_string();
        let control = Rep::new();
        let control_at = control.bind("tcp://127.0.0.1:0")?.to_string();
        println!("clients connect to {clients_at}, workers to {workers_at}");

        let workers: Vec<_> = (0..WORKERS)
            .map(|w| {
                let at = workers_at.clone();
                thread::spawn(move || worker(w, &at))
            })
            .collect();
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let at = clients_at.clone();
                thread::spawn(move || client(c, &at))
            })
            .collect();
        // The steering client waits for the others, then stops the proxy.
        let steering = thread::spawn(move || {
            let answers: Vec<String> = clients
                .into_iter()
                .flat_map(|c| c.join().unwrap())
                .collect();
            let ctx = zmq::Context::new();
            let req = ctx.socket(zmq::REQ).unwrap();
            req.connect(&control_at).unwrap();
            req.send("STATISTICS", 0).unwrap();
            let stats: Vec<u64> = req
                .recv_multipart(0)
                .unwrap()
                .iter()
                .map(|f| u64::from_ne_bytes(f[..].try_into().unwrap()))
                .collect();
            req.send("TERMINATE", 0).unwrap();
            req.recv_bytes(0).unwrap();
            (answers, stats)
        });

        let stats = Proxy::new(&clients_side, &workers_side)
            .control(&control)
            .run()
            .await?;
        // The answer to TERMINATE is queued: closing sends it (LINGER) before the
        // steering thread, which waits for it, is joined from this executor's thread.
        control.close().await;
        let (answers, polled) = steering.join().unwrap();
        for answer in &answers {
            println!("{answer}");
        }
        println!("STATISTICS: {polled:?}");
        println!(
            "proxy done: {} requests in, {} replies out",
            stats.frontend.received, stats.frontend.sent
        );
        drop((clients_side, workers_side));
        for w in workers {
            w.join().unwrap();
        }
        Ok(())
    })
}

/// A libzmq REQ client: REQUESTS requests, the answers collected.
fn client(c: usize, at: &str) -> Vec<String> {
    let ctx = zmq::Context::new();
    let req = ctx.socket(zmq::REQ).unwrap();
    req.connect(at).unwrap();
    (0..REQUESTS)
        .map(|i| {
            req.send(format!("client {c} request {i}").as_bytes(), 0)
                .unwrap();
            String::from_utf8(req.recv_bytes(0).unwrap()).unwrap()
        })
        .collect()
}

/// A libzmq REP worker: answers until nobody has asked anything for a second.
fn worker(w: usize, at: &str) {
    let ctx = zmq::Context::new();
    let rep = ctx.socket(zmq::REP).unwrap();
    rep.set_rcvtimeo(1000).unwrap();
    rep.connect(at).unwrap();
    while let Ok(request) = rep.recv_bytes(0) {
        let request = String::from_utf8_lossy(&request);
        rep.send(format!("worker {w} answered '{request}'").as_bytes(), 0)
            .unwrap();
    }
}
