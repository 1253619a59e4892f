//! Counters of what a socket did: messages sent and received, and every message it
//! dropped, by cause.

use std::cell::Cell;
use std::ops::Add;

/// What a socket has done since it was created. Read it with the sockets' `stats()`,
/// [`crate::ShardRef::stats`] (one core's shard) or [`crate::ShardedSocket::stats`]
/// (the whole sharded socket).
///
/// ```no_run
/// # glommio::LocalExecutor::default().run(async {
/// let publisher = monocoque::Pub::new();
/// publisher.bind("tcp://127.0.0.1:5556")?;
/// publisher.send("tick").await?;
/// let stats = publisher.stats();
/// assert_eq!(stats.sent, 1);
/// println!("{} deliveries missed at SNDHWM", stats.dropped_hwm);
/// # Ok::<(), monocoque::Error>(()) });
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Messages `send` accepted (a PUB's publish counts once, whatever the number of
    /// subscribers).
    pub sent: u64,
    /// Messages `recv` (or `recv_batch`, `try_recv`) returned.
    pub received: u64,
    /// Deliveries missed because a peer's queue was at SNDHWM: one per peer and
    /// message (PUB/XPUB subscribers, ROUTER peers without ROUTER_MANDATORY, XSUB).
    pub dropped_hwm: u64,
    /// Deliveries missed because the ring to another core was full (sharded PUB/XPUB
    /// and ROUTER): one per core and message.
    pub dropped_ring: u64,
    /// ROUTER messages whose routing id matched no peer (dropped without
    /// ROUTER_MANDATORY, as libzmq does).
    pub unroutable: u64,
    /// CONFLATE: messages replaced by a newer one before they were written (outbound)
    /// or received (inbound). Deliberate, so not counted as drops.
    pub conflated: u64,
}

impl Add for Stats {
    type Output = Stats;

    fn add(self, o: Stats) -> Stats {
        Stats {
            sent: self.sent + o.sent,
            received: self.received + o.received,
            dropped_hwm: self.dropped_hwm + o.dropped_hwm,
            dropped_ring: self.dropped_ring + o.dropped_ring,
            unroutable: self.unroutable + o.unroutable,
            conflated: self.conflated + o.conflated,
        }
    }
}

impl std::iter::Sum for Stats {
    fn sum<I: Iterator<Item = Stats>>(iter: I) -> Stats {
        iter.fold(Stats::default(), Add::add)
    }
}

/// One peer's share of a socket's counters (the sockets' `peer_stats()`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PeerStats {
    /// The peer's address.
    pub remote: String,
    /// Messages queued for it and not yet written.
    pub queued: usize,
    /// Messages it missed because its queue was at SNDHWM.
    pub dropped_hwm: u64,
}

/// A socket's live counters (one executor: plain cells).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub sent: Cell<u64>,
    pub received: Cell<u64>,
    pub dropped_hwm: Cell<u64>,
    pub dropped_ring: Cell<u64>,
    pub unroutable: Cell<u64>,
    /// Outbound replacements of peers that are gone (live peers count their own).
    pub conflated_gone: Cell<u64>,
}

impl Counters {
    #[inline]
    pub fn add(cell: &Cell<u64>, n: u64) {
        cell.set(cell.get() + n);
    }

    pub fn snapshot(&self) -> Stats {
        Stats {
            sent: self.sent.get(),
            received: self.received.get(),
            dropped_hwm: self.dropped_hwm.get(),
            dropped_ring: self.dropped_ring.get(),
            unroutable: self.unroutable.get(),
            conflated: self.conflated_gone.get(),
        }
    }
}
