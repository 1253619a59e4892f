//! Doorbells: how a producer wakes a consumer that parked because its rings were empty.
//!
//! A core's doorbell is one end of a Unix socket pair: ringing writes a byte (from any
//! thread, without blocking), and the core's executor waits for it with an ordinary
//! asynchronous read, so a parked glommio executor sleeps in io_uring like for any other
//! I/O. A plain thread's doorbell is its `Thread` handle: ringing unparks it. The ring's
//! park handshake (see [`crate::ring`]) decides when a producer must ring.

use std::io::{self, Read, Write};
use std::os::fd::{FromRawFd, IntoRawFd};
use std::os::unix::net::UnixStream as StdUnixStream;

use futures_lite::AsyncReadExt;

/// The ringing side, shared by every producer of one consumer.
#[derive(Debug)]
pub enum Doorbell {
    /// A core: write one byte into its socket pair.
    Core(StdUnixStream),
    /// A plain thread: unpark it.
    Thread(std::thread::Thread),
}

impl Doorbell {
    /// Wakes the consumer. Never blocks: a full socket buffer means it is already rung.
    pub fn ring(&self) {
        match self {
            Doorbell::Core(tx) => {
                let _ = (&*tx).write(&[1]);
            }
            Doorbell::Thread(t) => t.unpark(),
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
