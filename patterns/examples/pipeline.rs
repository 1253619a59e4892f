//! A parallel pipeline: a ventilator PUSHes jobs to workers, each worker PULLs a job
//! and PUSHes its result to a sink, which PULLs them all.
//!
//! The ventilator, the sink and two workers are Monocoque sockets, each worker a task
//! of the same glommio executor; a third worker is libzmq, on a thread of its own. The
//! ventilator's PUSH hands the jobs round-robin to the workers connected to it and the
//! sink's PULL fair-queues their results, whichever library sent them.
//!
//! Run it with `cargo run -p monocoque --example pipeline`.

use std::collections::BTreeMap;
use std::error::Error;
use std::thread;
use std::time::Duration;

use monocoque::{Pull, Push};

const JOBS: u64 = 12;
const WORKERS: usize = 3;

fn main() -> Result<(), Box<dyn Error>> {
    glommio::LocalExecutor::default().run(async {
        let ventilator = Push::new();
        let jobs_at = ventilator.bind("tcp://127.0.0.1:0")?.to_string();
        let sink = Pull::new();
        let results_at = sink.bind("tcp://127.0.0.1:0")?.to_string();
        println!("jobs from {jobs_at}, results to {results_at}");

        for name in ["monocoque-1", "monocoque-2"] {
            let (jobs, results) = (Pull::new(), Push::new());
            jobs.connect(&jobs_at)?;
            results.connect(&results_at)?;
            glommio::spawn_local(async move {
                while let Ok(job) = jobs.recv().await {
                    let n: u64 = std::str::from_utf8(&job[0]).unwrap().parse().unwrap();
                    results
                        .send(vec![name.to_string(), (n * n).to_string()])
                        .await?;
                }
                Ok::<(), monocoque::Error>(())
            })
            .detach();
        }
        let libzmq_worker = thread::spawn({
            let (jobs_at, results_at) = (jobs_at.clone(), results_at.clone());
            move || libzmq_worker(&jobs_at, &results_at)
        });

        // A bound PUSH deals only to the workers connected so far: wait for all three,
        // or the first to arrive would get every job.
        while ventilator.peer_count() < WORKERS {
            glommio::timer::sleep(Duration::from_millis(5)).await;
        }
        ventilator
            .send_batch((1..=JOBS).map(|n| n.to_string()))
            .await?;

        let mut per_worker = BTreeMap::new();
        let mut sum = 0;
        for _ in 0..JOBS {
            let result = sink.recv().await?;
            let worker = String::from_utf8_lossy(&result[0]).into_owned();
            sum += std::str::from_utf8(&result[1])?.parse::<u64>()?;
            *per_worker.entry(worker).or_insert(0) += 1;
        }
        for (worker, jobs) in &per_worker {
            println!("worker {worker} did {jobs} jobs");
        }
        println!("sink: {JOBS} results, sum of squares {sum}");
        ventilator.close().await;
        libzmq_worker.join().expect("libzmq worker")?;
        Ok::<(), Box<dyn Error>>(())
    })
}

/// A libzmq worker: squares jobs until none has come for a while.
fn libzmq_worker(jobs_at: &str, results_at: &str) -> zmq::Result<()> {
    let ctx = zmq::Context::new();
    let jobs = ctx.socket(zmq::PULL)?;
    jobs.connect(jobs_at)?;
    let results = ctx.socket(zmq::PUSH)?;
    results.connect(results_at)?;
    jobs.set_rcvtimeo(5000)?; // the first job
    loop {
        let job = match jobs.recv_string(0) {
            Ok(job) => job.expect("UTF-8"),
            Err(zmq::Error::EAGAIN) => return Ok(()),
            Err(e) => return Err(e),
        };
        let n: u64 = job.parse().expect("a number");
        results.send_multipart(["libzmq", &(n * n).to_string()], 0)?;
        jobs.set_rcvtimeo(300)?; // then: done when the jobs stop
    }
}
