//! Doorbells: how a producer wakes a consumer that parked because its rings were empty.
//!
//! A core's doorbell is one end of a Unix socket pair: ringing writes a byte (from any
//! thread, without blocking), and the core's executor waits for it with an ordinary
//! asynchronous read, so a parked glommio executor sleeps in io_uring like for any other
//! I/O. Anything else (a future on any executor, a blocked thread) waits on a
//! [`WakerSet`]: ringing wakes every waker registered there. The ring's park handshake
//! (see [`crate::ring`]) decides when a producer must ring.

use std::io::{self, Read, Write};
use std::os::fd::{FromRawFd, IntoRawFd};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::sync::{Arc, Mutex};
use std::task::{Wake, Waker};

use futures_lite::AsyncReadExt;

/// The ringing side, shared by every producer of one consumer.
#[derive(Debug)]
pub enum Doorbell {
    /// A core: write one byte into its socket pair.
    Core(StdUnixStream),
    /// Futures or threads, whichever registered: wake them all.
    Wakers(Arc<WakerSet>),
}

impl Doorbell {
    /// Wakes the consumer. Never blocks: a full socket buffer means it is already rung.
    pub fn ring(&self) {
        match self {
            Doorbell::Core(tx) => {
                let _ = (&*tx).write(&[1]);
            }
            Doorbell::Wakers(set) => set.wake_all(),
        }
    }
}

/// Creates a core doorbell: the ringing side and the socket the core listens on (to be
/// turned into a [`CoreBell`] on the core itself).
pub fn core_doorbell() -> io::Result<(Doorbell, StdUnixStream)> {
    let (tx, rx) = StdUnixStream::pair()?;
    tx.set_nonblocking(true)?;
    rx.set_nonblocking(true)?;
    Ok((Doorbell::Core(tx), rx))
}

/// The listening side of a core's doorbell, on that core's executor.
pub struct CoreBell {
    rx: glommio::net::UnixStream,
    spare: StdUnixStream,
}

impl CoreBell {
    /// Wraps the socket from [`core_doorbell`]; call on the core's executor.
    pub fn new(rx: StdUnixStream) -> io::Result<CoreBell> {
        let spare = rx.try_clone()?;
        // SAFETY: `into_raw_fd` gives up ownership of a valid, open socket descriptor;
        // glommio's UnixStream becomes its only owner and closes it on drop. `spare` is a
        // separate descriptor (dup) used only for non-blocking drains.
        let rx = unsafe { glommio::net::UnixStream::from_raw_fd(rx.into_raw_fd()) };
        Ok(CoreBell { rx, spare })
    }

    /// Waits until the doorbell rings, then swallows every pending ring.
    pub async fn wait(&mut self) {
        let mut buf = [0u8; 64];
        let _ = self.rx.read(&mut buf).await;
        while matches!((&self.spare).read(&mut buf), Ok(n) if n > 0) {}
    }
}

/// The wakers of whoever waits for one doorbell (or one [`Signal`](crate::Signal)):
/// futures on any executor (tokio, async-std, a `block_on`) and blocked threads
/// ([`thread_waker`]). Ringing wakes and forgets them all; a waiter registers again
/// before each wait, and must then re-check what it waits for.
///
/// ```
/// use std::sync::Arc;
/// use monocoque_runtime::{thread_waker, Doorbell, WakerSet};
///
/// let set = Arc::new(WakerSet::default());
/// set.register(&thread_waker());
/// Doorbell::Wakers(Arc::clone(&set)).ring();
/// std::thread::park(); // returns at once: the ring unparked this thread
/// ```
#[derive(Debug, Default)]
pub struct WakerSet {
    wakers: Mutex<Vec<Waker>>,
}

/// Registrations beyond which the set wakes everyone: waiters that gave up (a dropped
/// future, a timed-out thread) leave their waker behind until the next ring, and a
/// spurious wake-up costs less than a list that grows while nothing rings.
const CROWD: usize = 64;

impl WakerSet {
    /// Adds `waker`, unless one that wakes the same task is there already.
    pub fn register(&self, waker: &Waker) {
        let crowd = {
            let mut wakers = self.wakers.lock().unwrap_or_else(|e| e.into_inner());
            if wakers.iter().any(|w| w.will_wake(waker)) {
                return;
            }
            wakers.push(waker.clone());
            wakers.len() > CROWD
        };
        if crowd {
            self.wake_all();
        }
    }

    /// Wakes and forgets every registered waker.
    pub fn wake_all(&self) {
        let wakers = std::mem::take(&mut *self.wakers.lock().unwrap_or_else(|e| e.into_inner()));
        for w in wakers {
            w.wake();
        }
    }
}

/// Unparks the thread it was made on.
struct ThreadWaker(std::thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

thread_local! {
    static THREAD_WAKER: Waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
}

/// A waker that unparks the calling thread: how a plain thread waits on a
/// [`WakerSet`] (register it, re-check, then `std::thread::park`). The same waker
/// every time on one thread, so registering it again adds nothing.
pub fn thread_waker() -> Waker {
    THREAD_WAKER.with(Waker::clone)
}
