//! The per-core receive arena: the chunks connections read into.
//!
//! A connection reads into a chunk (a [`BytesMut`] of [`CHUNK`] bytes) and the decoder
//! splits frames out of it as zero-copy [`bytes::Bytes`] views. When the chunk has no
//! room left, the connection takes another one from its core's arena (copying over the
//! unfinished frame at its end, if any) and *retires* the old one. A retired chunk
//! returns to the arena's free list once every view of it has been dropped: the arena
//! checks this lazily, oldest first, with [`BytesMut::try_reclaim`], which succeeds only
//! when the buffer has no other owner. So in steady state, with the application
//! consuming messages, connections cycle through the same few chunks and reading
//! allocates nothing.
//!
//! A view dropped on another core (a message handed to another core's handler, say)
//! only decrements the chunk's atomic reference count there; the chunk is reclaimed by
//! its home core at its next check. Nothing crosses cores, nothing takes a lock, and a
//! chunk is never freed on a core that did not allocate it through the arena. (If the
//! home core has gone, the last view frees the memory through the global allocator.)
//!
//! Frames larger than a chunk get a buffer of their own, rounded up to a power of two;
//! the arena keeps the last few such buffers and hands one out again once its frame
//! has been dropped, so a stream of large messages does not allocate (and fault in
//! fresh pages) for every one.

use std::cell::RefCell;
use std::collections::VecDeque;

use bytes::BytesMut;

/// Size of an arena chunk.
pub const CHUNK: usize = 64 * 1024;
/// Retired chunks an arena keeps track of; beyond this the oldest is let go (its
/// memory returns to the allocator when its last view drops).
const MAX_RETIRED: usize = 512;
/// Retired chunks looked at per refill.
const SCAN: usize = 4;
/// Large (bigger than a chunk) buffers an arena keeps for reuse.
const MAX_BIG: usize = 8;

/// Counters of one core's arena.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ArenaStats {
    /// Chunks allocated from the global allocator.
    pub allocated: u64,
    /// Refills served by a reclaimed chunk.
    pub reused: u64,
    /// Chunks currently retired (waiting for their views to drop).
    pub retired: usize,
    /// Chunks currently free.
    pub free: usize,
}

#[derive(Default)]
struct Arena {
    free: Vec<BytesMut>,
    retired: VecDeque<BytesMut>,
    /// Buffers larger than a chunk, oldest first, maybe still referenced.
    big: VecDeque<BytesMut>,
    allocated: u64,
    reused: u64,
}

thread_local! {
    static ARENA: RefCell<Arena> = RefCell::new(Arena::default());
}

impl Arena {
    fn take(&mut self) -> BytesMut {
        if let Some(chunk) = self.free.pop() {
            self.reused += 1;
            return chunk;
        }
        for _ in 0..SCAN.min(self.retired.len()) {
            let mut oldest = self.retired.pop_front().expect("counted");
            if oldest.try_reclaim(CHUNK) {
                self.reused += 1;
                return oldest;
            }
            self.retired.push_back(oldest);
        }
        self.allocated += 1;
        BytesMut::with_capacity(CHUNK)
    }

    /// A buffer for `need` bytes, larger than a chunk.
    fn take_big(&mut self, need: usize) -> BytesMut {
        for i in 0..self.big.len() {
            if self.big[i].try_reclaim(need) {
                self.reused += 1;
                return self.big.remove(i).expect("index in range");
            }
        }
        self.allocated += 1;
        BytesMut::with_capacity(need.next_power_of_two())
    }

    fn retire(&mut self, mut chunk: BytesMut) {
        chunk.clear();
        if chunk.capacity() > CHUNK {
            if self.big.len() == MAX_BIG {
                self.big.pop_front();
            }
            self.big.push_back(chunk);
            return;
        }
        if chunk.try_reclaim(CHUNK) {
            self.free.push(chunk);
            return;
        }
        if self.retired.len() == MAX_RETIRED {
            self.retired.pop_front();
        }
        self.retired.push_back(chunk);
    }
}

/// Makes room at the end of `buf`, a connection's receive buffer, for the next read:
/// at least `min` bytes (what the frame being received still lacks) and up to `want`.
/// In place if nothing else references the buffer; else its contents (the start of
/// an unfinished frame) move to a chunk from this core's arena, or, when the frame
/// does not fit in a chunk, to a large buffer, and the old one is retired. Returns
/// how many bytes to read (between `min` and `want`).
pub fn reserve(buf: &mut BytesMut, min: usize, want: usize) -> usize {
    let want = want.max(min);
    if buf.capacity() - buf.len() >= want || buf.try_reclaim(want) {
        return want;
    }
    let fresh = if buf.len() + min <= CHUNK {
        let mut chunk = ARENA.with(|a| a.borrow_mut().take());
        chunk.extend_from_slice(buf);
        chunk
    } else {
        let mut big = ARENA.with(|a| a.borrow_mut().take_big(buf.len() + want));
        big.extend_from_slice(buf);
        big
    };
    let old = std::mem::replace(buf, fresh);
    // A chunk read to its end has little or no capacity left, but its allocation
    // comes back once its frames drop; only a buffer that never held anything (a
    // connection's first) is not worth keeping.
    if old.capacity() + old.len() > 0 {
        ARENA.with(|a| a.borrow_mut().retire(old));
    }
    (buf.capacity() - buf.len()).min(want)
}

/// Receives into the spare capacity of `buf` (up to `want` bytes, which [`reserve`]
/// made room for) without zero-filling it first, and extends `buf` by what arrived.
/// Never blocks: `WouldBlock` when nothing is there.
pub(crate) fn recv_into(
    buf: &mut BytesMut,
    want: usize,
    socket: socket2::SockRef<'_>,
) -> std::io::Result<usize> {
    let spare = buf.spare_capacity_mut();
    let want = want.min(spare.len());
    let n = socket.recv_with_flags(&mut spare[..want], libc::MSG_DONTWAIT)?;
    assert!(
        n <= want,
        "recv reported more bytes than it was given room for"
    );
    // SAFETY: `recv` initialized the first `n` bytes of the spare capacity (checked
    // to be within it just above), so the first `len + n` bytes are initialized.
    unsafe { buf.set_len(buf.len() + n) };
    Ok(n)
}

/// This core's arena counters.
pub fn stats() -> ArenaStats {
    ARENA.with(|a| {
        let a = a.borrow();
        ArenaStats {
            allocated: a.allocated,
            reused: a.reused,
            retired: a.retired.len(),
            free: a.free.len(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `n` small frames through one receive buffer the way the driver does,
    /// dropping each frame (the application consumed it).
    fn read_frames(buf: &mut BytesMut, n: usize, size: usize) {
        for _ in 0..n {
            reserve(buf, size, size);
            buf.extend_from_slice(&vec![1u8; size]);
            let frame = buf.split_to(size).freeze();
            drop(frame);
        }
    }

    #[test]
    fn steady_state_reuses_chunks() {
        std::thread::spawn(|| {
            let mut buf = BytesMut::new();
            read_frames(&mut buf, 100_000, 1000);
            let s = stats();
            assert!(s.allocated <= 2, "{s:?}");
        })
        .join()
        .unwrap();
    }

    #[test]
    fn held_views_keep_their_chunk_until_dropped() {
        std::thread::spawn(|| {
            let mut buf = BytesMut::new();
            let mut held = Vec::new();
            for _ in 0..200 {
                reserve(&mut buf, 1000, 1000);
                buf.extend_from_slice(&[2u8; 1000]);
                held.push(buf.split_to(1000).freeze());
            }
            let pinned = stats();
            assert!(
                pinned.allocated >= 3,
                "200 KB held needs several chunks: {pinned:?}"
            );
            assert!(
                held.iter().all(|f| f.iter().all(|&b| b == 2)),
                "views intact"
            );
            drop(held);
            let before = stats().allocated;
            read_frames(&mut buf, 10_000, 1000);
            assert_eq!(stats().allocated, before, "released chunks are reused");
        })
        .join()
        .unwrap();
    }

    #[test]
    fn unfinished_frame_moves_to_the_new_chunk() {
        std::thread::spawn(|| {
            let mut buf = BytesMut::new();
            reserve(&mut buf, CHUNK, CHUNK);
            buf.extend_from_slice(&vec![3u8; CHUNK - 10]);
            let held = buf.split_to(CHUNK - 20).freeze();
            // 10 bytes of an unfinished frame remain; 100 more are coming.
            reserve(&mut buf, 100, 100);
            assert_eq!(&buf[..], &[3u8; 10]);
            assert!(buf.capacity() - buf.len() >= 100);
            assert_eq!(held.len(), CHUNK - 20);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn frames_larger_than_a_chunk_get_their_own_buffer() {
        std::thread::spawn(|| {
            let mut buf = BytesMut::new();
            reserve(&mut buf, 3 * CHUNK, 3 * CHUNK);
            assert!(buf.capacity() >= 3 * CHUNK);
            assert_eq!(stats().allocated, 1);
        })
        .join()
        .unwrap();
    }

    /// Reads one frame of `size` bytes the way the driver does for a large frame:
    /// a reserve for the whole of it, then a split.
    fn read_big(buf: &mut BytesMut, size: usize) -> bytes::Bytes {
        reserve(buf, size, size);
        buf.extend_from_slice(&vec![4u8; size]);
        buf.split_to(size).freeze()
    }

    #[test]
    fn large_buffers_are_reused_once_their_frames_are_dropped() {
        std::thread::spawn(|| {
            let mut buf = BytesMut::new();
            for _ in 0..1000 {
                drop(read_big(&mut buf, CHUNK + 9));
            }
            assert!(stats().allocated <= 3, "{:?}", stats());

            // Frames still held keep their buffers: each needs a new one.
            let before = stats().allocated;
            let held: Vec<_> = (0..20).map(|_| read_big(&mut buf, 3 * CHUNK)).collect();
            assert!(stats().allocated >= before + 19, "{:?}", stats());
            assert!(held.iter().all(|f| f.len() == 3 * CHUNK && f[0] == 4));
        })
        .join()
        .unwrap();
    }
}
