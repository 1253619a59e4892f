//! Shutting a thread-per-core runtime down with connections open. Alone in its test
//! binary so that the descriptor count is this test's own.

mod common;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{zsock, WAIT};
use monocoque::{Options, Runtime, ShardedSocket, SocketType};

fn wait_for_peers(sock: &ShardedSocket, per_core: usize) {
    let start = Instant::now();
    while !sock
        .peers_per_core()
        .unwrap()
        .iter()
        .all(|&n| n >= per_core)
    {
        assert!(start.elapsed() < WAIT, "peers did not arrive on every core");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn shutdown_with_open_connections_ends_cleanly() {
    // Process-wide descriptors that libzmq and glommio open once: let them be opened
    // before the baseline.
    Runtime::builder()
        .cores(vec![0])
        .build()
        .unwrap()
        .shutdown();
    drop(zsock(&zmq::Context::new(), zmq::DEALER));
    let before = fd_list();
    let rt = Runtime::builder().cores(vec![0, 1]).build().unwrap();
    let router = ShardedSocket::new(&rt, SocketType::Router, Options::default());
    let endpoint = router.bind("tcp://127.0.0.1:0").unwrap().to_string();
    let ctx = zmq::Context::new();
    let dealers: Vec<_> = (0..4)
        .map(|_| {
            let d = zsock(&ctx, zmq::DEALER);
            d.connect(&endpoint).unwrap();
            d.send("hi", 0).unwrap();
            d
        })
        .collect();
    wait_for_peers(&router, 2);
    let (done_tx, done) = mpsc::channel();
    std::thread::spawn(move || {
        rt.shutdown();
        done_tx.send(()).unwrap();
    });
    done.recv_timeout(WAIT).expect("shutdown finished");
    drop(dealers);
    drop(ctx);
    drop(router);
    // The kernel tears an io_uring instance down asynchronously after its thread
    // exits, so the last descriptors may take a moment to go: wait, bounded.
    let addr = endpoint.trim_start_matches("tcp://").to_string();
    eventually("the listener to close", || {
        std::net::TcpStream::connect(&addr).is_err()
    });
    // glommio 0.9 never closes the eventfd of an executor's sleep notifier (a plain
    // LocalExecutor spawned and joined leaks one too), so each of the two executors
    // leaves exactly one eventfd behind. Everything of ours must be gone.
    eventually("every descriptor of ours to close", || {
        let mut left = fd_list();
        for fd in &before {
            if let Some(i) = left.iter().position(|f| f == fd) {
                left.swap_remove(i);
            }
        }
        left.retain(|f| !f.starts_with("/proc/"));
        left.len() <= 2 && left.iter().all(|f| f == "anon_inode:[eventfd]")
    });
}

fn fd_list() -> Vec<String> {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .map(|p| p.display().to_string())
        .collect()
}

fn eventually(what: &str, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < WAIT,
            "timed out waiting for {what}; open: {:?}",
            fd_list()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// With too little lockable memory for glommio, building the runtime says so (run in
/// a child process whose RLIMIT_MEMLOCK `prlimit` lowers).
#[test]
fn too_little_locked_memory_is_a_clear_error() {
    if std::env::var_os("MONOCOQUE_MEMLOCK_CHILD").is_some() {
        let err = Runtime::builder()
            .cores(vec![0])
            .build()
            .err()
            .expect("a runtime cannot start with 64 KiB of locked memory");
        assert!(
            matches!(err, monocoque::RuntimeError::MemlockTooLow { .. }),
            "{err}"
        );
        println!("CHILD-OK: {err}");
        return;
    }
    let out = std::process::Command::new("prlimit")
        .arg("--memlock=65536:65536")
        .arg("--")
        .arg(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "too_little_locked_memory_is_a_clear_error",
            "--nocapture",
        ])
        .env("MONOCOQUE_MEMLOCK_CHILD", "1")
        .output()
        .expect("run prlimit (util-linux)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("CHILD-OK"),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("locked-memory limit is 65536 bytes"),
        "{stdout}"
    );
}
