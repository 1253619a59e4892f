//! The per-core receive arena under a real connection: a PULL that consumes what a
//! libzmq PUSH sends reads through a handful of recycled chunks.

mod common;

use common::{join, libzmq_push_numbered, run, within};
use monocoque::Pull;
use monocoque_runtime::{arena_stats, ARENA_CHUNK};

#[test]
fn a_busy_connection_recycles_its_chunks() {
    const N: u32 = 50_000;
    const SIZE: usize = 512;
    let (stats, bytes) = run(|| async {
        let pull = Pull::new();
        let endpoint = pull.bind("tcp://127.0.0.1:0").unwrap().to_string();
        let pusher = libzmq_push_numbered(endpoint, N, SIZE);
        let mut bytes = 0usize;
        for i in 0..N {
            let msg = within("message", pull.recv()).await.unwrap();
            assert_eq!(&msg[0][..4], &i.to_be_bytes()[..]);
            bytes += msg[0].len();
        }
        join(pusher).await;
        (arena_stats(), bytes)
    });
    // 25 MB went through 64 KiB chunks: without recycling (a chunk reclaimed in place
    // once its frames are dropped, or taken back from the arena) that is ~400 chunks.
    assert!(bytes as u64 > 300 * ARENA_CHUNK as u64);
    assert!(stats.allocated < 20, "chunks were not recycled: {stats:?}");
}
