//! ZMTP heartbeats (libzmq's HEARTBEAT_IVL, HEARTBEAT_TIMEOUT, HEARTBEAT_TTL): we PING
//! an idle peer every interval and close the connection when nothing at all arrives
//! within the timeout after a PING; a peer's PING may carry a TTL, after which we close
//! if it has gone silent. Any received byte counts as a sign of life.
//!
//! Timers are only touched when they fire: reads just record the time, and an expired
//! timer re-arms itself for the remainder if traffic arrived meanwhile.

use std::future::Future;
use std::pin::Pin;
use std::task::Context;
use std::time::{Duration, Instant};

use glommio::timer::Timer;

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

/// What the heartbeat wants from the driver.
pub(crate) enum Beat {
    /// Nothing to do.
    Idle,
    /// Send a PING now.
    Ping,
    /// The peer is silent: close, with this reason.
    Dead(&'static str),
}

pub(crate) struct Heartbeat {
    options: HeartbeatOptions,
    ping: Option<Timer>,
    /// When our unanswered PING went out, and the timer for its timeout.
    awaiting: Option<(Instant, Timer)>,
    /// The peer's TTL and its timer.
    ttl: Option<(Duration, Timer)>,
}

fn fired(timer: &mut Timer, cx: &mut Context<'_>) -> bool {
    Pin::new(timer).poll(cx).is_ready()
}

impl Heartbeat {
    /// Starts the heartbeat of a connection whose handshake just completed.
    pub fn start(options: HeartbeatOptions) -> Heartbeat {
        Heartbeat {
            options,
            ping: options.ivl.map(Timer::new),
            awaiting: None,
            ttl: None,
        }
    }

    /// The peer sent a PING with `ttl_deciseconds` (0: no TTL).
    pub fn on_peer_ping(&mut self, ttl_deciseconds: u16) {
        if ttl_deciseconds == 0 {
            return;
        }
        let ttl = Duration::from_millis(100 * u64::from(ttl_deciseconds));
        match &mut self.ttl {
            Some((d, timer)) if *d == ttl => timer.reset(ttl),
            _ => self.ttl = Some((ttl, Timer::new(ttl))),
        }
    }

    /// Checks the timers; `last_rx` is when the peer last sent anything.
    pub fn poll(&mut self, cx: &mut Context<'_>, last_rx: Instant) -> Beat {
        let now = Instant::now();
        if let Some((sent, timer)) = &mut self.awaiting {
            if last_rx >= *sent {
                self.awaiting = None;
            } else if fired(timer, cx) {
                return Beat::Dead("heartbeat timed out: no traffic after PING");
            }
        }
        if let Some((ttl, timer)) = &mut self.ttl {
            if fired(timer, cx) {
                let silent = now.saturating_duration_since(last_rx);
                if silent >= *ttl {
                    return Beat::Dead("peer's heartbeat TTL expired");
                }
                timer.reset(*ttl - silent);
                let _ = fired(timer, cx);
            }
        }
        let Some(ping) = &mut self.ping else {
            return Beat::Idle;
        };
        if !fired(ping, cx) {
            return Beat::Idle;
        }
        let ivl = self.options.ivl.expect("ping timer implies an interval");
        ping.reset(ivl);
        let _ = fired(ping, cx);
        if self.awaiting.is_none() {
            let timeout = self.options.timeout.unwrap_or(ivl);
            let mut timer = Timer::new(timeout);
            let _ = fired(&mut timer, cx);
            self.awaiting = Some((now, timer));
        }
        Beat::Ping
    }
}
