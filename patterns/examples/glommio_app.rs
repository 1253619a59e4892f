//! A glommio application that runs its own tasks next to a Monocoque ROUTER on the
//! same executor (one thread): a timer that ticks every 5 ms, a long computation, and
//! the ROUTER answering a libzmq DEALER's requests. None of them blocks the others:
//! the socket's I/O waits in io_uring, the computation yields when its time slice is
//! up (`glommio::yield_if_needed`), and the timer keeps its time while both run.
//!
//! The time slice is glommio's preempt timer, 100 ms by default: a computation that
//! yields only that often delays every socket on the executor as long (a handshake
//! takes several turns of the reactor). This executor sets it to 1 ms.
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
    let executor = glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
        .preempt_timer(Duration::from_millis(1))
        .make()?;
    executor.run(async {
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
        // The computation: primes below a million, by trial division.
        let compute = glommio::spawn_local(async move {
            let mut primes = 0;
            for n in 2u64..1_000_000 {
                if (2..).take_while(|d| d * d <= n).all(|d| n % d != 0) {
                    primes += 1;
                }
                glommio::yield_if_needed().await; // cheap unless the slice is over
            }
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
