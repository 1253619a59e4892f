//! A glommio application that runs its own tasks next to a Monocoque ROUTER on the
//! same executor (one thread): a timer that ticks every 5 ms, a long computation, and
//! the ROUTER answering a libzmq DEALER's requests. None of them blocks the others:
//! the socket's I/O waits in io_uring, the computation runs on glommio's blocking
//! thread pool (`spawn_blocking`) and is awaited like any future, and the timer keeps
//! its time while both run. A computation run as an ordinary task instead would hold
//! the executor, and every socket on it, until it awaits something.
//!
//! Run it with `cargo run -p monocoque --example glommio_app`.

use std::cell::Cell;
use std::error::Error;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use monocoque::Router;

const REQUESTS: usize = 200;
const TICK: Duration = Duration::from_millis(5);

fn main() -> Result<(), Box<dyn Error>> {
    glommio::LocalExecutor::default().run(async {
        let router = Router::new();
        let endpoint = router.bind("tcp://127.0.0.1:0")?.to_string();
        println!("ROUTER on {endpoint}");
        let client_done = Arc::new(AtomicBool::new(false));
        let computing = Rc::new(Cell::new(true));

        // The server: an echo, as a task of its own.
        let server = glommio::spawn_local(async move {
            let mut answered = 0;
            while answered < REQUESTS {
                let request = router.recv().await?; // [client id, body]
                router.send(request).await?;
                answered += 1;
            }
            router.close().await; // the last reply is written before this returns
            Ok::<usize, monocoque::Error>(answered)
        });
        // The timer: ticks until the client and the computation are done.
        let timer = glommio::spawn_local({
            let (client_done, computing) = (client_done.clone(), computing.clone());
            async move {
                let (mut ticks, mut worst) = (0, Duration::ZERO);
                while computing.get() || !client_done.load(Ordering::Acquire) {
                    let start = Instant::now();
                    glommio::timer::sleep(TICK).await;
                    worst = worst.max(start.elapsed().saturating_sub(TICK));
                    ticks += 1;
                }
                (ticks, worst)
            }
        });
        // The computation: primes below a million, by trial division, off the
        // executor's thread.
        let compute = glommio::spawn_local(async move {
            let primes = glommio::executor()
                .spawn_blocking(|| {
                    (2u64..1_000_000)
                        .filter(|&n| (2..).take_while(|d| d * d <= n).all(|d| n % d != 0))
                        .count()
                })
                .await;
            computing.set(false);
            primes
        });

        let client = thread::spawn({
            let client_done = client_done.clone();
            move || -> zmq::Result<Duration> {
                let dealer = zmq::Context::new().socket(zmq::DEALER)?;
                dealer.set_rcvtimeo(5000)?;
                dealer.connect(&endpoint)?;
                let mut worst = Duration::ZERO;
                for i in 0..REQUESTS {
                    let start = Instant::now();
                    dealer.send(format!("request {i}").as_str(), 0)?;
                    assert_eq!(dealer.recv_string(0)?.unwrap(), format!("request {i}"));
                    worst = worst.max(start.elapsed());
                }
                client_done.store(true, Ordering::Release);
                Ok(worst)
            }
        });

        let primes = compute.await;
        let answered = server.await?;
        let (ticks, late) = timer.await;
        let worst_round_trip = client.join().expect("client thread")?;
        println!("computation: {primes} primes below 1000000");
        println!("router: answered {answered} requests, slowest round trip {worst_round_trip:?}");
        println!("timer: {ticks} ticks, at most {late:?} late");
        Ok::<(), Box<dyn Error>>(())
    })
}
