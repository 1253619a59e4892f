//! A connection's deadlines, as session state: HANDSHAKE_IVL and ZMTP heartbeats
//! (libzmq's HEARTBEAT_IVL, HEARTBEAT_TIMEOUT, HEARTBEAT_TTL).
//!
//! We PING an idle peer every interval and close the connection when nothing at all
//! arrives within the timeout after a PING; a peer's PING may carry a TTL, after which
//! we close if it has gone silent. Any received byte counts as a sign of life. A
//! handshake that has not completed within HANDSHAKE_IVL is closed too.
//!
//! Nothing here reads a clock: the caller passes `now` in, asks for the next deadline
//! ([`crate::Session::poll_timeout`]) and reports it when reached
//! ([`crate::Session::handle_timeout`]). Received bytes only record the time
//! ([`crate::Session::on_input`]); they never move a deadline. A deadline that is
//! reached after traffic arrived is moved then (for the remainder), so the I/O layer
//! re-arms its one timer only when a deadline fires or the handshake completes.

use std::time::{Duration, Instant};

/// Heartbeat settings of a connection (libzmq's names; all off by default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeartbeatOptions {
    /// HEARTBEAT_IVL: send a PING this often (`None`: never).
    pub ivl: Option<Duration>,
    /// HEARTBEAT_TIMEOUT: close if nothing arrives this long after a PING (`None`: the
    /// interval).
    pub timeout: Option<Duration>,
    /// HEARTBEAT_TTL: asks the peer to close if it hears nothing from us this long
    /// (sent in PING, in tenths of a second).
    pub ttl: Option<Duration>,
}

impl HeartbeatOptions {
    /// The TTL as carried in PING.
    pub fn ttl_deciseconds(&self) -> u16 {
        self.ttl
            .map_or(0, |t| (t.as_millis() / 100).min(u16::MAX as u128) as u16)
    }
}

/// A deadline that ended the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Timeout {
    /// The handshake did not complete within HANDSHAKE_IVL.
    #[error("handshake timed out")]
    Handshake,
    /// Nothing arrived within HEARTBEAT_TIMEOUT after our PING.
    #[error("heartbeat timed out: no traffic after PING")]
    Heartbeat,
    /// The peer was silent for longer than the TTL its PING asked for.
    #[error("peer's heartbeat TTL expired")]
    PeerTtl,
}

impl Timeout {
    /// The reason, as logged and reported in monitor events.
    pub fn reason(self) -> &'static str {
        match self {
            Timeout::Handshake => "handshake timed out",
            Timeout::Heartbeat => "heartbeat timed out: no traffic after PING",
            Timeout::PeerTtl => "peer's heartbeat TTL expired",
        }
    }
}

/// `at + d`, or `None` (never) when that is beyond what an `Instant` holds.
fn after(at: Instant, d: Duration) -> Option<Instant> {
    at.checked_add(d)
}

/// The deadlines of one session.
#[derive(Debug, Clone)]
pub(crate) struct Timers {
    options: HeartbeatOptions,
    /// The handshake must be complete by then (cleared once it is).
    handshake: Option<Instant>,
    /// The next PING is due then (set once the handshake is complete).
    ping: Option<Instant>,
    /// Our unanswered PING: when it went out, and when its timeout expires.
    awaiting: Option<(Instant, Option<Instant>)>,
    /// The TTL the peer asked for, and when to check it next.
    ttl: Option<(Duration, Option<Instant>)>,
    /// When bytes last arrived.
    last_rx: Instant,
}

impl Timers {
    /// The deadlines of a connection that starts at `now`.
    pub fn new(handshake_ivl: Option<Duration>, options: HeartbeatOptions, now: Instant) -> Timers {
        Timers {
            options,
            handshake: handshake_ivl.and_then(|ivl| after(now, ivl)),
            ping: None,
            awaiting: None,
            ttl: None,
            last_rx: now,
        }
    }

    /// Bytes arrived at `now`.
    #[inline]
    pub fn on_input(&mut self, now: Instant) {
        self.last_rx = now;
    }

    /// The handshake completed (with the last input): the heartbeat starts.
    pub fn on_ready(&mut self) {
        self.handshake = None;
        self.ping = self.options.ivl.and_then(|ivl| after(self.last_rx, ivl));
    }

    /// The peer sent a PING with `ttl_deciseconds` (0: no TTL) in the last input.
    pub fn on_peer_ping(&mut self, ttl_deciseconds: u16) {
        if ttl_deciseconds == 0 {
            return;
        }
        let ttl = Duration::from_millis(100 * u64::from(ttl_deciseconds));
        self.ttl = Some((ttl, after(self.last_rx, ttl)));
    }

    /// The earliest deadline.
    pub fn next(&self) -> Option<Instant> {
        [
            self.handshake,
            self.ping,
            self.awaiting.and_then(|(_, at)| at),
            self.ttl.and_then(|(_, at)| at),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Handles every deadline reached at `now`. Ok(true) when a PING is due.
    pub fn expire(&mut self, now: Instant) -> Result<bool, Timeout> {
        if self.handshake.is_some_and(|at| now >= at) {
            return Err(Timeout::Handshake);
        }
        if let Some((sent, at)) = self.awaiting {
            if self.last_rx >= sent {
                self.awaiting = None;
            } else if at.is_some_and(|at| now >= at) {
                return Err(Timeout::Heartbeat);
            }
        }
        if let Some((ttl, at)) = &mut self.ttl {
            if at.is_some_and(|at| now >= at) {
                let silent = now.saturating_duration_since(self.last_rx);
                if silent >= *ttl {
                    return Err(Timeout::PeerTtl);
                }
                *at = after(now, *ttl - silent);
            }
        }
        let (Some(due), Some(ivl)) = (self.ping, self.options.ivl) else {
            return Ok(false);
        };
        if now < due {
            return Ok(false);
        }
        self.ping = after(now, ivl);
        if self.awaiting.is_none() {
            let timeout = self.options.timeout.unwrap_or(ivl);
            self.awaiting = Some((now, after(now, timeout)));
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn heartbeat(ivl: u32, timeout: Option<u32>) -> HeartbeatOptions {
        HeartbeatOptions {
            ivl: Some(ivl * MS),
            timeout: timeout.map(|t| t * MS),
            ttl: None,
        }
    }

    /// Timers of a connection whose handshake completed at `t0`.
    fn ready(options: HeartbeatOptions, t0: Instant) -> Timers {
        let mut t = Timers::new(Some(1000 * MS), options, t0);
        t.on_ready();
        t
    }

    #[test]
    fn handshake_deadline_until_ready() {
        let t0 = Instant::now();
        let mut t = Timers::new(Some(200 * MS), heartbeat(50, None), t0);
        assert_eq!(t.next(), Some(t0 + 200 * MS));
        // Input during the handshake moves nothing.
        t.on_input(t0 + 150 * MS);
        assert_eq!(t.expire(t0 + 199 * MS), Ok(false));
        assert_eq!(t.expire(t0 + 200 * MS), Err(Timeout::Handshake));

        // Ready in time: the handshake deadline is gone, the heartbeat starts from the
        // input that completed it.
        let mut t = Timers::new(Some(200 * MS), heartbeat(50, None), t0);
        t.on_input(t0 + 10 * MS);
        t.on_ready();
        assert_eq!(t.next(), Some(t0 + 60 * MS));
        assert_eq!(t.expire(t0 + 59 * MS), Ok(false));

        // No limit, no heartbeat: no deadline at all.
        let mut t = Timers::new(None, HeartbeatOptions::default(), t0);
        assert_eq!(t.next(), None);
        t.on_ready();
        assert_eq!(t.next(), None);
        assert_eq!(t.expire(t0 + 3600 * 1000 * MS), Ok(false));
    }

    #[test]
    fn ping_due_every_interval() {
        let t0 = Instant::now();
        let mut t = ready(heartbeat(50, Some(500)), t0);
        assert_eq!(t.next(), Some(t0 + 50 * MS));
        assert_eq!(t.expire(t0 + 50 * MS), Ok(true));
        // The next PING is an interval after this one; the PING's timeout is later.
        assert_eq!(t.next(), Some(t0 + 100 * MS));
        t.on_input(t0 + 60 * MS);
        assert_eq!(t.expire(t0 + 100 * MS), Ok(true));
        // The answer cleared the first PING's timeout; the second one's is armed.
        assert_eq!(t.next(), Some(t0 + 150 * MS));
        assert_eq!(t.awaiting, Some((t0 + 100 * MS, Some(t0 + 600 * MS))));
        // A late timer: the next PING counts from when it went out.
        assert_eq!(t.expire(t0 + 170 * MS), Ok(true));
        assert_eq!(t.next(), Some(t0 + 220 * MS));
    }

    #[test]
    fn dead_when_nothing_arrives_within_the_timeout_after_a_ping() {
        let t0 = Instant::now();
        // Timeout defaults to the interval.
        let mut t = ready(heartbeat(50, None), t0);
        assert_eq!(t.expire(t0 + 50 * MS), Ok(true));
        assert_eq!(t.next(), Some(t0 + 100 * MS));
        assert_eq!(t.expire(t0 + 100 * MS), Err(Timeout::Heartbeat));

        // Any byte after the PING (not before) is a sign of life.
        let mut t = ready(heartbeat(50, Some(150)), t0);
        t.on_input(t0 + 40 * MS);
        assert_eq!(t.expire(t0 + 50 * MS), Ok(true));
        assert_eq!(t.expire(t0 + 100 * MS), Ok(true)); // still waiting, PING again
        assert_eq!(t.next(), Some(t0 + 150 * MS));
        assert_eq!(t.expire(t0 + 150 * MS), Ok(true));
        assert_eq!(t.expire(t0 + 200 * MS), Err(Timeout::Heartbeat));

        let mut t = ready(heartbeat(50, Some(150)), t0);
        assert_eq!(t.expire(t0 + 50 * MS), Ok(true));
        t.on_input(t0 + 199 * MS);
        assert_eq!(t.expire(t0 + 200 * MS), Ok(true));
        assert_eq!(t.awaiting, Some((t0 + 200 * MS, Some(t0 + 350 * MS))));
    }

    #[test]
    fn peer_ttl_closes_a_silent_peer() {
        let t0 = Instant::now();
        let mut t = ready(HeartbeatOptions::default(), t0);
        assert_eq!(t.next(), None);
        t.on_input(t0 + 10 * MS);
        t.on_peer_ping(0); // no TTL
        assert_eq!(t.next(), None);
        t.on_peer_ping(3); // 300 ms, from the input that carried it
        assert_eq!(t.next(), Some(t0 + 310 * MS));
        // Traffic meanwhile: the check moves to the rest of the TTL.
        t.on_input(t0 + 200 * MS);
        assert_eq!(t.expire(t0 + 310 * MS), Ok(false));
        assert_eq!(t.next(), Some(t0 + 500 * MS));
        assert_eq!(t.expire(t0 + 499 * MS), Ok(false));
        assert_eq!(t.expire(t0 + 500 * MS), Err(Timeout::PeerTtl));

        // A new PING with another TTL replaces it.
        let mut t = ready(HeartbeatOptions::default(), t0);
        t.on_peer_ping(10);
        t.on_input(t0 + 50 * MS);
        t.on_peer_ping(1);
        assert_eq!(t.next(), Some(t0 + 150 * MS));
    }

    #[test]
    fn ttl_is_sent_in_deciseconds() {
        let mut o = HeartbeatOptions::default();
        assert_eq!(o.ttl_deciseconds(), 0);
        o.ttl = Some(2500 * MS);
        assert_eq!(o.ttl_deciseconds(), 25);
        o.ttl = Some(Duration::from_secs(1 << 20));
        assert_eq!(o.ttl_deciseconds(), u16::MAX);
    }
}
