//! `inproc://name`: connections within the process, with no system calls and no
//! copies.
//!
//! A bound name is a listener in a process-wide table; a connect finds it (or waits
//! for it: connect-before-bind, as in libzmq 4.x) and gets one end of a connection,
//! the listener the other. The ends are `Send`, so the two sockets may live on one
//! executor or on two cores of a runtime (an accepted end moves to the core that
//! serves it, as a TCP connection does).
//!
//! A connection has two parts:
//!
//! - a pair of byte pipes, which carry the ZMTP greeting and handshake exactly as a
//!   TCP connection does, so socket types are checked, metadata and routing ids
//!   exchanged and mechanisms run as over TCP;
//! - a pair of [lanes](lane), bounded SPSC rings of [`Item`]s, which carry everything
//!   after the handshake: the [`Message`]s themselves (their frames are reference
//!   counted, so nothing is copied or encoded) and subscriptions. A lane holds at most
//!   [`LANE_CAPACITY`] items, the part a kernel socket buffer plays for TCP: past it
//!   the sending connection waits, so SNDHWM and RCVHWM work as they do over TCP.
//!
//! A peer's queue holds messages as they are (not encoded) when its connections are
//! inproc ([`crate::Peer::hold_messages`]); the connection driver moves them from it
//! into the lane and from the lane to the receiving socket. The messages are not
//! encrypted after a CURVE handshake over inproc: they never leave the process (libzmq
//! runs no mechanism at all over inproc).

use std::collections::{HashMap, VecDeque};
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;

use crate::message::Message;

pub mod lane;

use lane::{LaneRx, LaneTx};
pub use lane::{Popped, Pushed};

/// Bytes a handshake pipe holds before its writer waits.
pub const PIPE_CAPACITY: usize = 64 << 10;

/// Items a lane holds before the sending connection waits for the receiving one.
/// Large enough that two cores exchanging small messages wake each other once per
/// few hundred (a lane of 128 cost a cross-core wake-up per 80 messages, and capped
/// a pipeline at about 2 M messages/s); its slots (about 110 bytes each) are
/// allocated with the connection.
pub const LANE_CAPACITY: usize = 512;

/// What passes through a lane.
#[derive(Debug)]
pub enum Item {
    /// A message, frames and all.
    Message(Message),
    /// A SUBSCRIBE (`true`) or CANCEL (`false`) of a topic.
    Subscription(Bytes, bool),
}

/// One direction of a connection.
#[derive(Default)]
struct Pipe {
    state: Mutex<PipeState>,
}

#[derive(Default)]
struct PipeState {
    data: VecDeque<u8>,
    /// The writing end has gone: the reader sees the end of the stream once drained.
    writer_gone: bool,
    /// The reading end has gone: writes fail.
    reader_gone: bool,
    reader: Option<Waker>,
    writer: Option<Waker>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One end of an inproc connection.
pub struct InprocStream {
    name: String,
    rx: Arc<Pipe>,
    tx: Arc<Pipe>,
    lane_tx: LaneTx<Item>,
    lane_rx: LaneRx<Item>,
}

impl InprocStream {
    fn pair(name: &str) -> (InprocStream, InprocStream) {
        let a = Arc::new(Pipe::default());
        let b = Arc::new(Pipe::default());
        let (to_server, from_client) = lane::lane(LANE_CAPACITY);
        let (to_client, from_server) = lane::lane(LANE_CAPACITY);
        let client = InprocStream {
            name: name.to_string(),
            rx: Arc::clone(&a),
            tx: Arc::clone(&b),
            lane_tx: to_server,
            lane_rx: from_server,
        };
        let server = InprocStream {
            name: name.to_string(),
            rx: b,
            tx: a,
            lane_tx: to_client,
            lane_rx: from_client,
        };
        (client, server)
    }

    /// After the handshake: hands `item` to the peer (see [`lane::LaneTx::push`]).
    #[inline]
    pub fn push(&mut self, cx: &Context<'_>, item: Item) -> Pushed<Item> {
        self.lane_tx.push(cx.waker(), item)
    }

    /// After the handshake: how many items [`InprocStream::push`] can hand over now
    /// (a lower bound).
    #[inline]
    pub fn room(&self) -> usize {
        self.lane_tx.room()
    }

    /// After the handshake: takes up to `max` items from the peer (see
    /// [`lane::LaneRx::pop`]).
    #[inline]
    pub fn pop(&mut self, cx: &Context<'_>, max: usize, f: impl FnMut(Item)) -> Popped {
        self.lane_rx.pop(cx.waker(), max, f)
    }

    /// The name connected to.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Reads what the peer wrote into `buf`; 0 at the end of the stream.
    pub fn poll_read(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let mut state = lock(&self.rx.state);
        if state.data.is_empty() {
            if state.writer_gone {
                return Poll::Ready(Ok(0));
            }
            state.reader = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = buf.len().min(state.data.len());
        let (front, back) = state.data.as_slices();
        let first = n.min(front.len());
        buf[..first].copy_from_slice(&front[..first]);
        buf[first..n].copy_from_slice(&back[..n - first]);
        state.data.drain(..n);
        if let Some(w) = state.writer.take() {
            w.wake();
        }
        Poll::Ready(Ok(n))
    }

    /// Writes as much of `data` as the pipe has room for.
    pub fn poll_write(&self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let mut state = lock(&self.tx.state);
        if state.reader_gone {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let room = PIPE_CAPACITY - state.data.len();
        if room == 0 {
            state.writer = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = room.min(data.len());
        state.data.extend(&data[..n]);
        if let Some(w) = state.reader.take() {
            w.wake();
        }
        Poll::Ready(Ok(n))
    }
}

impl Drop for InprocStream {
    fn drop(&mut self) {
        let reader = {
            let mut tx = lock(&self.tx.state);
            tx.writer_gone = true;
            tx.reader.take()
        };
        let writer = {
            let mut rx = lock(&self.rx.state);
            rx.reader_gone = true;
            rx.data.clear();
            rx.writer.take()
        };
        reader.into_iter().chain(writer).for_each(Waker::wake);
    }
}

/// A bound name's queue of connections not yet accepted.
#[derive(Default)]
struct Binding {
    pending: VecDeque<InprocStream>,
    acceptor: Option<Waker>,
}

/// The process's inproc names.
#[derive(Default)]
struct Registry {
    bound: HashMap<String, Arc<Mutex<Binding>>>,
    /// Connects waiting for a name to be bound.
    waiting: HashMap<String, Vec<Waker>>,
}

fn registry() -> MutexGuard<'static, Registry> {
    static REGISTRY: OnceLock<Mutex<Registry>> = OnceLock::new();
    lock(REGISTRY.get_or_init(Mutex::default))
}

/// A bound inproc name; unbound when dropped (connections not yet accepted are
/// closed then).
pub struct InprocListener {
    name: String,
    binding: Arc<Mutex<Binding>>,
}

impl InprocListener {
    /// Binds `name`; `AddrInUse` if it is bound already.
    pub fn bind(name: &str) -> io::Result<InprocListener> {
        let mut reg = registry();
        if reg.bound.contains_key(name) {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("inproc://{name} is bound already"),
            ));
        }
        let binding = Arc::new(Mutex::new(Binding::default()));
        reg.bound.insert(name.to_string(), Arc::clone(&binding));
        let waiting = reg.waiting.remove(name).unwrap_or_default();
        drop(reg);
        waiting.into_iter().for_each(Waker::wake);
        Ok(InprocListener {
            name: name.to_string(),
            binding,
        })
    }

    /// The name bound.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The next connection made to this name.
    pub async fn accept(&self) -> InprocStream {
        std::future::poll_fn(|cx| {
            let mut binding = lock(&self.binding);
            match binding.pending.pop_front() {
                Some(stream) => Poll::Ready(stream),
                None => {
                    binding.acceptor = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await
    }
}

impl Drop for InprocListener {
    fn drop(&mut self) {
        let mut reg = registry();
        if reg
            .bound
            .get(&self.name)
            .is_some_and(|b| Arc::ptr_eq(b, &self.binding))
        {
            reg.bound.remove(&self.name);
        }
        drop(reg);
        // Connections nobody accepted end: their connectors see the stream close.
        let pending = std::mem::take(&mut lock(&self.binding).pending);
        drop(pending);
    }
}

/// Connects to `name`, waiting until it is bound (connect-before-bind).
pub async fn connect(name: &str) -> InprocStream {
    std::future::poll_fn(|cx| {
        let mut reg = registry();
        match reg.bound.get(name) {
            Some(binding) => {
                let (client, server) = InprocStream::pair(name);
                let acceptor = {
                    let mut binding = lock(binding);
                    binding.pending.push_back(server);
                    binding.acceptor.take()
                };
                drop(reg);
                if let Some(w) = acceptor {
                    w.wake();
                }
                Poll::Ready(client)
            }
            None => {
                let waiting = reg.waiting.entry(name.to_string()).or_default();
                if !waiting.iter().any(|w| w.will_wake(cx.waker())) {
                    waiting.push(cx.waker().clone());
                }
                Poll::Pending
            }
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poll<T>(f: impl FnOnce(&mut Context<'_>) -> Poll<T>) -> Poll<T> {
        f(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn bytes_flow_both_ways_and_the_pipe_bounds_the_writer() {
        let (a, b) = InprocStream::pair("t");
        assert!(matches!(
            poll(|cx| a.poll_write(cx, b"hello")),
            Poll::Ready(Ok(5))
        ));
        let mut buf = [0u8; 16];
        assert!(matches!(
            poll(|cx| b.poll_read(cx, &mut buf)),
            Poll::Ready(Ok(5))
        ));
        assert_eq!(&buf[..5], b"hello");
        assert!(poll(|cx| b.poll_read(cx, &mut buf)).is_pending());
        let big = vec![7u8; PIPE_CAPACITY + 10];
        assert!(matches!(
            poll(|cx| b.poll_write(cx, &big)),
            Poll::Ready(Ok(n)) if n == PIPE_CAPACITY
        ));
        assert!(poll(|cx| b.poll_write(cx, &big)).is_pending());
        drop(b);
        // What was written before the end is still read, then the end.
        let mut sink = vec![0u8; PIPE_CAPACITY];
        assert!(matches!(
            poll(|cx| a.poll_read(cx, &mut sink)),
            Poll::Ready(Ok(n)) if n == PIPE_CAPACITY
        ));
        assert!(matches!(
            poll(|cx| a.poll_read(cx, &mut sink)),
            Poll::Ready(Ok(0))
        ));
        assert!(poll(|cx| a.poll_write(cx, b"x")).is_ready_and_err());
    }

    trait ReadyErr {
        fn is_ready_and_err(&self) -> bool;
    }

    impl ReadyErr for Poll<io::Result<usize>> {
        fn is_ready_and_err(&self) -> bool {
            matches!(self, Poll::Ready(Err(_)))
        }
    }

    #[test]
    fn a_name_binds_once_and_is_free_again_when_its_listener_goes() {
        let l = InprocListener::bind("unit-once").unwrap();
        assert_eq!(
            InprocListener::bind("unit-once").err().unwrap().kind(),
            io::ErrorKind::AddrInUse
        );
        drop(l);
        InprocListener::bind("unit-once").unwrap();
    }
}
