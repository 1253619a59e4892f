//! Ten thousand concurrent connections on one bound socket, local and sharded: every
//! one completes its handshake, gets its own request echoed, and when they all go, the
//! socket forgets them all.
//!
//! The clients live in a child process (`fleet`, a raw ZMTP DEALER fleet) so that
//! neither process needs more than about ten thousand descriptors; each raises its
//! RLIMIT_NOFILE soft limit to the hard limit and fails clearly if that is too low.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use monocoque::{Options, Router, Runtime, ShardedSocket, SocketType};

const CONNECTIONS: usize = 10_000;
/// One test at a time: two would need twice the descriptors in this process.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
/// Generous: on a 2-core machine the whole fleet is served in a few seconds.
const WAIT: Duration = Duration::from_secs(120);

fn raise_nofile() {
    let (_, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).expect("getrlimit");
    let soft = rlimit::increase_nofile_limit(u64::MAX).expect("raise RLIMIT_NOFILE");
    eprintln!("server: RLIMIT_NOFILE soft raised to {soft} (hard {hard})");
    assert!(
        soft >= CONNECTIONS as u64 + 500,
        "the hard RLIMIT_NOFILE ({hard}) is too low for {CONNECTIONS} connections"
    );
}

/// The fleet and the lines it prints.
struct Fleet {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Fleet {
    fn start(endpoint: &str) -> Fleet {
        let mut child = Command::new(env!("CARGO_BIN_EXE_fleet"))
            .args([endpoint, &CONNECTIONS.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the fleet");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Fleet { child, lines }
    }

    /// Waits for the line starting with `word` (the fleet exits on any failure).
    fn expect(&self, word: &str) {
        let line = self
            .lines
            .recv_timeout(WAIT)
            .unwrap_or_else(|e| panic!("no '{word}' line from the fleet: {e}"));
        eprintln!("fleet: {line}");
        assert!(line.starts_with(word), "fleet said {line:?}");
    }

    /// Closes its input: it drops every connection and exits.
    fn finish(mut self) {
        drop(self.child.stdin.take());
        let status = self.child.wait().expect("fleet exits");
        assert!(status.success(), "fleet failed: {status}");
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `cond` every 10 ms for at most [`WAIT`].
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < WAIT, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn ten_thousand_connections_on_one_router() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    raise_nofile();
    let (ep_tx, ep_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let (count_tx, count_rx) = mpsc::channel::<usize>();
    let server = std::thread::spawn(move || {
        glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
            .spawn(move || async move {
                let router = Router::with_options(Options::default());
                let endpoint = router.bind("tcp://127.0.0.1:0").unwrap().to_string();
                ep_tx.send(endpoint).unwrap();
                loop {
                    let next = glommio::timer::timeout(Duration::from_millis(20), async {
                        Ok(router.recv().await)
                    })
                    .await;
                    match next {
                        Ok(msg) => router.send(msg.unwrap()).await.unwrap(),
                        // Idle: say how many peers are attached.
                        Err(_) => {
                            let _ = count_tx.send(router.peer_count());
                        }
                    }
                    if done_rx.try_recv().is_ok() {
                        break;
                    }
                }
                let start = Instant::now();
                while !router.peer_stats().is_empty() {
                    assert!(start.elapsed() < WAIT, "ended connections stay");
                    glommio::timer::sleep(Duration::from_millis(10)).await;
                }
            })
            .unwrap()
            .join()
            .unwrap()
    });
    let endpoint = ep_rx.recv().unwrap();
    let fleet = Fleet::start(&endpoint);
    fleet.expect("open");
    fleet.expect("served");
    // All of them attached at once (while the fleet holds them open).
    let start = Instant::now();
    let mut attached = 0;
    while attached != CONNECTIONS && start.elapsed() < WAIT {
        attached = count_rx.recv_timeout(WAIT).expect("the server reports");
    }
    assert_eq!(attached, CONNECTIONS, "peers attached at once");
    fleet.finish();
    done_tx.send(()).unwrap();
    server.join().expect("every ended connection forgotten");
}

#[test]
fn ten_thousand_connections_on_a_sharded_router() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    raise_nofile();
    let rt = Runtime::builder()
        .cores(vec![0, 1])
        .mesh_capacity(1 << 16)
        .build()
        .expect("two-core runtime");
    let router = ShardedSocket::new(&rt, SocketType::Router, Options::default());
    let endpoint = router.bind("tcp://127.0.0.1:0").unwrap().to_string();
    let fleet = Fleet::start(&endpoint);
    fleet.expect("open");
    wait_until("every connection to attach", || {
        router.peers_per_core().unwrap().iter().sum::<usize>() == CONNECTIONS
    });
    let per_core = router.peers_per_core().unwrap();
    assert!(
        per_core.iter().all(|&n| n > 0),
        "spread over the cores: {per_core:?}"
    );
    // Echo from the handle on this plain thread.
    for _ in 0..CONNECTIONS {
        let msg = router
            .recv_timeout(Some(WAIT))
            .unwrap()
            .expect("a request from every connection");
        router.send(msg).unwrap();
    }
    fleet.expect("served");
    fleet.finish();
    wait_until("every ended connection to be forgotten", || {
        router.peers_per_core().unwrap().iter().all(|&n| n == 0)
    });
    router.close();
}
