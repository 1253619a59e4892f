//! The connection driver: one task per connection pumping bytes between a stream and a
//! [`Session`], and messages between the session and the socket.
//!
//! It is a single future that polls both directions itself, so one connection costs
//! one task and no locks. Writes batch automatically: messages are encoded when they
//! are queued (see [`monocoque_zmtp::encoder`]), and whenever the writer runs it takes
//! everything queued and hands it to one `write` (vectored when large bodies are
//! referenced); an idle connection therefore sends a lone message at once, and a busy
//! one coalesces many.
//!
//! The session keeps the connection's deadlines (HANDSHAKE_IVL, heartbeats); the
//! driver keeps one timer armed at [`Session::poll_timeout`] and reports it to
//! [`Session::handle_timeout`] when it fires.
//!
//! An inproc connection whose peer [holds messages](Peer::hold_messages) leaves the
//! byte stream once its handshake is done: from then on the driver moves `Message`s
//! from the peer's queue into the connection's lane and from the other lane to the
//! socket, with no session, no encoding and no timers ([`crate::inproc`]).

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use glommio::timer::Timer;
use monocoque_zmtp::{Encoder, Event, Outgoing, ProtocolError, Session};

use tracing::{debug, info, warn};

use crate::handler::{Admission, Handler, Verdict};
use crate::inproc::{InprocStream, Item, Popped, Pushed};
use crate::lifecycle::{Lifecycle, StopWatch};
use crate::link_end::LinkEnd;
use crate::log_limit::{limited, LogLimit};
use crate::message::Message;
use crate::monitor::MonitorEvent;
use crate::options::LinkOptions;
use crate::peer::Peer;
use crate::properties::Properties;
use crate::transport::{Stream, SMALL_READ};

const READ_MIN: usize = 8 * 1024;
const READ_MAX: usize = 64 * 1024;
/// Largest single read, used when a big frame's header says how much is coming.
const READ_LARGE: usize = 4 * 1024 * 1024;
/// Frames of this size and more switch reads to header-then-body (see `poll_read`).
const LARGE_FRAME: usize = 32 * 1024;
/// The read for the next header while large frames arrive: room for the longest
/// header (9 bytes) and an envelope's small frames before it (a REQ/REP delimiter, a
/// routing id). Body bytes it takes with it are copied when the body gets a buffer of
/// its own, which at this size costs nothing.
const HEADER_READ: usize = 64;
/// Rounds of read+write work before the driver yields to other tasks.
const BUDGET: usize = 32;
/// Messages handed to the socket before the driver yields, so that the socket's reader
/// takes them while they are still in cache (a full RCVHWM of queued messages is
/// larger than the L1 cache, and costs a cache miss per message on both ends).
const DELIVER_BATCH: usize = 128;
/// Items an inproc connection hands to its lane per round.
const LANE_BATCH: usize = 128;

thread_local! {
    /// Budgets of the lines that peers (or anything that connects) can cause.
    static REFUSED: LogLimit = const { LogLimit::new() };
    static AUTH_FAILED: LogLimit = const { LogLimit::new() };
    static LOST: LogLimit = const { LogLimit::new() };
}

/// Runs one connection until it ends. Calls [`Handler::on_attach`] after the
/// handshake and [`Handler::on_detach`] at the end if it attached.
///
/// HANDSHAKE_IVL and the heartbeat are the session's (its [`SessionConfig`]); of
/// `options`, only what concerns I/O (busy polling) is used here.
///
/// [`SessionConfig`]: monocoque_zmtp::SessionConfig
pub async fn drive(
    stream: Stream,
    session: Session,
    peer: Rc<Peer>,
    handler: Rc<dyn Handler>,
    lifecycle: Rc<Lifecycle>,
    options: LinkOptions,
) -> LinkEnd {
    let busy_poll = options.busy_poll;
    // The peer's queue holds messages encoded before this connection existed.
    debug_assert_eq!(session.encoder(), Encoder::NULL);
    let address = stream.peer_address();
    let mut conn = Conn {
        stream,
        address,
        session,
        peer: Rc::clone(&peer),
        handler: Rc::clone(&handler),
        stop_watch: StopWatch::new(&lifecycle),
        lifecycle,
        rbuf: BytesMut::new(),
        read_size: READ_MIN,
        out: Outgoing::new(),
        partial: Message::new(),
        pending: None,
        delivered: 0,
        batch: Vec::with_capacity(DELIVER_BATCH),
        batch_room: 0,
        large_frames: false,
        last_read_full: false,
        attached: false,
        timer: None,
        busy_poll,
        last_traffic: Instant::now(),
        slice: crate::coop::Slice::new(),
        verdict: None,
        sealing: Outgoing::new(),
        started: false,
        lanes: false,
        outbox: VecDeque::new(),
        stalled: None,
    };
    let end = std::future::poll_fn(|cx| conn.poll(cx)).await;
    log_end(&end, conn.attached, &conn.session, &conn.lifecycle);
    conn.report_drops(true);
    report_handshake_failure(&end, conn.attached, &peer, handler.as_ref());
    if conn.attached {
        peer.detach();
        handler.on_detach(&peer);
    }
    end
}

/// Logs why a connection ended (inside its span, which names the socket, endpoint
/// and peer): a failed handshake or, once attached, a disconnection. What peers can
/// cause is rate-limited; the levels are listed in docs/reliability.md.
#[cold]
fn log_end(end: &LinkEnd, attached: bool, session: &Session, lifecycle: &Lifecycle) {
    let reason = match end {
        LinkEnd::Shutdown if lifecycle.stopped_alone() => "disconnected",
        LinkEnd::Shutdown if lifecycle.is_aborted() => "aborted",
        _ => end.kind(),
    };
    if attached {
        match end {
            LinkEnd::Shutdown | LinkEnd::PeerClosed => debug!(reason, "disconnected"),
            LinkEnd::Protocol(_) | LinkEnd::Refused(_) => limited(
                &REFUSED,
                |suppressed| warn!(reason, error = %end, suppressed, "closing connection"),
            ),
            _ => limited(
                &LOST,
                |suppressed| info!(reason, error = %end, suppressed, "connection lost"),
            ),
        }
        return;
    }
    let mechanism = session.mechanism().as_str();
    let peer_mechanism = match end {
        // A mismatch is found before the peer's greeting is kept.
        LinkEnd::Protocol(ProtocolError::MechanismMismatch { theirs, .. }) => Some(theirs.clone()),
        _ => session.peer_greeting().map(|g| g.mechanism_name()),
    };
    // Absent when the peer's greeting never came.
    let peer_mechanism = peer_mechanism.as_deref();
    match end {
        // Closed by us, or by a peer that never spoke (health checks, port scans).
        LinkEnd::Shutdown | LinkEnd::PeerClosed => {
            debug!(
                reason,
                mechanism, peer_mechanism, "disconnected during the handshake"
            )
        }
        // Authentication doing its job is not a fault (the monitor reports it as
        // HANDSHAKE_FAILED_AUTH for whoever wants it), nor is a socket configured to
        // refuse everyone (no authenticator where the handshake needs one: libzmq's
        // HANDSHAKE_FAILED_NO_DETAIL, which `mq` reports itself).
        _ if end.auth_status().is_some() || matches!(end, LinkEnd::NoAuthenticator(_)) => {
            limited(&AUTH_FAILED, |suppressed| {
                info!(
                    reason,
                    mechanism,
                    zap_status = end.auth_status(),
                    error = %end,
                    suppressed,
                    "handshake failed: authentication refused"
                )
            })
        }
        LinkEnd::Protocol(_) | LinkEnd::Refused(_) => limited(&REFUSED, |suppressed| {
            warn!(
                reason,
                mechanism,
                peer_mechanism,
                error = %end,
                suppressed,
                "handshake failed; closing connection"
            )
        }),
        _ => limited(&LOST, |suppressed| {
            info!(
                reason,
                mechanism,
                peer_mechanism,
                error = %end,
                suppressed,
                "handshake failed"
            )
        }),
    }
}

/// As libzmq: a handshake that fails on the peer's protocol (or type) is
/// HANDSHAKE_FAILED_PROTOCOL; one that ends otherwise (timeout, peer gone, I/O error)
/// is HANDSHAKE_FAILED_NO_DETAIL. After the handshake (`attached`) only a CURVE MESSAGE
/// that does not open is still HANDSHAKE_FAILED_PROTOCOL, with its code (libzmq's
/// mechanism reports it where it fails); any other end is DISCONNECTED alone.
fn report_handshake_failure(end: &LinkEnd, attached: bool, peer: &Peer, handler: &dyn Handler) {
    let remote = peer.remote();
    let reason = end.to_string();
    let protocol = |error| MonitorEvent::HandshakeFailedProtocol {
        remote: remote.clone(),
        reason: reason.clone(),
        error,
    };
    let event = match end {
        LinkEnd::Protocol(e) if attached && e.reported_after_handshake() => {
            protocol(e.libzmq_code())
        }
        _ if attached => return,
        LinkEnd::Shutdown => return,
        _ if end.auth_status().is_some() => MonitorEvent::HandshakeFailedAuth {
            remote,
            status: end.auth_status().unwrap_or_default(),
        },
        LinkEnd::Protocol(e) => protocol(e.libzmq_code()),
        // The socket refused the peer's type or identity (PAIR taken, a duplicate
        // routing id): libzmq reports no detail for these.
        LinkEnd::Refused(_) => protocol(monocoque_zmtp::error::libzmq_code::ZMTP_UNSPECIFIED),
        _ => MonitorEvent::HandshakeFailedNoDetail { remote, reason },
    };
    handler.on_monitor(event);
}

struct Conn {
    stream: Stream,
    /// The peer's address, for the authenticator and the connection's properties.
    address: String,
    session: Session,
    peer: Rc<Peer>,
    handler: Rc<dyn Handler>,
    lifecycle: Rc<Lifecycle>,
    stop_watch: StopWatch,
    rbuf: BytesMut,
    read_size: usize,
    /// What is being written: handshake and commands, then the peer's messages.
    out: Outgoing,
    /// Frames of a message still being received.
    partial: Message,
    /// A complete message waiting for room in the socket (RCVHWM).
    pending: Option<Message>,
    /// Messages delivered in the current poll.
    delivered: usize,
    /// Bodies of complete single-frame messages decoded but not yet handed to the
    /// socket.
    batch: Vec<Bytes>,
    /// How many messages `batch` may hold before it is handed over (the socket's room
    /// for this peer, and the delivery budget), computed when it starts filling.
    batch_room: usize,
    /// The last frame of the last message was large (see `Conn::note_last_frame`).
    large_frames: bool,
    /// The last read filled all the room it was given (more is probably waiting).
    last_read_full: bool,
    attached: bool,
    /// The session's next deadline and the timer armed for it.
    timer: Option<(Instant, Timer)>,
    /// How long to keep polling after the last traffic (see `LinkOptions::busy_poll`).
    busy_poll: Option<Duration>,
    /// When this connection last read or wrote anything (kept only when busy-polling).
    last_traffic: Instant,
    /// How the driver yields when it runs out of budget with work left.
    slice: crate::coop::Slice,
    /// The authenticator's answer, while the handshake waits for it.
    verdict: Option<Verdict>,
    /// CURVE: messages taken from the peer's queue on their way to be boxed.
    sealing: Outgoing,
    /// The first poll has written the start of our greeting.
    started: bool,
    /// Inproc, handshake done: messages pass through the stream's lanes.
    lanes: bool,
    /// Inproc: messages taken from the peer's queue on their way into the lane.
    outbox: VecDeque<Message>,
    /// Inproc: the item the full lane handed back, first to go when there is room.
    stalled: Option<Item>,
}

impl Conn {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<LinkEnd> {
        if self.lifecycle.is_aborted() {
            return Poll::Ready(LinkEnd::Shutdown);
        }
        self.stop_watch.watch(cx.waker());
        // A wake-up after a deferred yield (or an earlier one, by I/O): either way
        // there is work to look at.
        let _ = self.slice.poll_resumed(cx);
        self.delivered = 0;
        if !self.started {
            // Our signature goes out alone, before anything of the peer's is read:
            // the greeting travels in libzmq's steps (see Session::new), whatever
            // the peer has already sent.
            self.started = true;
            if let Err(end) = self.poll_outbound(cx) {
                return Poll::Ready(end);
            }
        }
        for round in 0..BUDGET {
            // The timer is (re)armed here, so it is polled, and so can wake this
            // task, from the moment the session's deadline changes (the handshake
            // completed, a PING asked for a TTL).
            if let Err(end) = self.poll_timer(cx) {
                return Poll::Ready(end);
            }
            if let Err(end) = self.poll_verdict(cx) {
                return Poll::Ready(self.finish(cx, end));
            }
            let read = match self.poll_inbound(cx) {
                Ok(progress) => progress,
                Err(end) => return Poll::Ready(self.finish(cx, end)),
            };
            let wrote = match self.poll_outbound(cx) {
                Ok(progress) => progress,
                Err(end) => return Poll::Ready(end),
            };
            if self.closing() && self.all_sent() {
                return Poll::Ready(LinkEnd::Shutdown);
            }
            if self.delivered >= DELIVER_BATCH {
                break;
            }
            if !read && !wrote {
                crate::coop::spend(self.delivered as u32 + round as u32);
                return self.idle(cx, round > 0);
            }
        }
        // Out of budget with work left: come back after the other runnable tasks, or
        // after the reactor once the thread's time slice is over.
        crate::coop::spend(self.delivered as u32 + BUDGET as u32);
        self.slice.defer(cx);
        Poll::Pending
    }

    /// Nothing to do: sleep until woken, or, while busy-polling, ask to be polled
    /// again at once.
    /// `progressed`: this poll read or wrote something before running out of work.
    fn idle(&mut self, cx: &mut Context<'_>, progressed: bool) -> Poll<LinkEnd> {
        if let Some(window) = self.busy_poll {
            let now = Instant::now();
            if progressed {
                self.last_traffic = now;
            }
            if now.duration_since(self.last_traffic) < window {
                self.slice.defer(cx);
            }
        }
        Poll::Pending
    }

    /// Keeps the timer at the session's deadline; when it fires, lets the session
    /// handle it (queueing a PING, or ending the connection).
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> Result<(), LinkEnd> {
        if self.lanes {
            // No heartbeats within the process (libzmq has none over inproc either).
            self.timer = None;
            return Ok(());
        }
        // Twice at most: a deadline handled, then the next one armed and polled so
        // that it can wake this task. A second expiry right away (a zero interval) is
        // left to the next round rather than looped on.
        for _ in 0..2 {
            let Some(deadline) = self.session.poll_timeout() else {
                self.timer = None;
                return Ok(());
            };
            match &mut self.timer {
                Some((armed, _)) if *armed == deadline => {}
                slot => {
                    let wait = deadline.saturating_duration_since(Instant::now());
                    match slot {
                        Some((armed, timer)) => {
                            *armed = deadline;
                            timer.reset(wait);
                        }
                        None => *slot = Some((deadline, Timer::new(wait))),
                    }
                }
            }
            let (_, timer) = self.timer.as_mut().expect("armed above");
            if Pin::new(timer).poll(cx).is_pending() {
                return Ok(());
            }
            self.session.handle_timeout(Instant::now())?;
            self.session.poll_transmit(&mut self.out);
            // Re-armed for the next deadline even if it is the same instant.
            self.timer = None;
        }
        cx.waker().wake_by_ref();
        Ok(())
    }

    fn closing(&self) -> bool {
        self.peer.is_closing() || self.lifecycle.is_closing()
    }

    /// Nothing is left to hand over: everything queued is written (or in the lane).
    fn all_sent(&self) -> bool {
        self.out.is_empty()
            && self.outbox.is_empty()
            && self.stalled.is_none()
            && !self.peer.has_output()
    }

    /// On a protocol error, give an ERROR command queued by the session a brief
    /// chance to reach the peer before closing.
    fn finish(&mut self, cx: &mut Context<'_>, end: LinkEnd) -> LinkEnd {
        self.session.poll_transmit(&mut self.out);
        if !self.out.is_empty() {
            let _ = self.stream.poll_write_out(cx, &mut self.out);
        }
        end
    }

    /// Reads, decodes and delivers. Returns whether anything happened.
    fn poll_inbound(&mut self, cx: &mut Context<'_>) -> Result<bool, LinkEnd> {
        let mut progress = false;
        let result = if self.lanes {
            self.receive_from_lane(cx, &mut progress)
        } else {
            self.decode_and_deliver(cx, &mut progress)
        };
        // Whatever ended the loop (no input, no room, an error), complete messages
        // already decoded go to the socket.
        self.flush_batch();
        result.map(|()| progress)
    }

    /// The body of [`Conn::poll_inbound`]: single-frame messages are collected in
    /// `batch` (up to the room the socket has for this peer) and handed over together;
    /// anything else flushes the batch first, so order is kept.
    fn decode_and_deliver(
        &mut self,
        cx: &mut Context<'_>,
        progress: &mut bool,
    ) -> Result<(), LinkEnd> {
        loop {
            if !self.deliver_pending(cx, progress) || self.delivered >= DELIVER_BATCH {
                return Ok(());
            }
            match self.session.handle_input(&mut self.rbuf)? {
                // The common case, a single-frame message.
                Some(Event::Frame { more: false, body }) if self.partial.is_empty() => {
                    *progress = true;
                    self.note_last_frame(&body);
                    if self.batch.is_empty() {
                        self.batch_room = self
                            .handler
                            .inbound_room(&self.peer)
                            .min(DELIVER_BATCH.saturating_sub(self.delivered));
                    }
                    if self.batch_room == 0 {
                        // No room (or the yield is due): the one-message path at the
                        // top of the loop waits for room or delivers it and returns.
                        self.pending = Some(Message::single(body));
                        continue;
                    }
                    self.batch.push(body);
                    if self.batch.len() == self.batch_room {
                        self.flush_batch();
                        if self.delivered >= DELIVER_BATCH {
                            return Ok(());
                        }
                    }
                }
                Some(event) => {
                    self.flush_batch();
                    *progress = true;
                    self.on_event(event)?;
                    if self.lanes {
                        // The handshake is done and the peer sends nothing more here.
                        return Ok(());
                    }
                }
                None => {
                    self.flush_batch();
                    if self.verdict.is_some() {
                        // The session takes nothing until the verdict: read nothing
                        // either, so a peer cannot fill our memory meanwhile.
                        return Ok(());
                    }
                    match self.poll_read(cx)? {
                        Poll::Ready(()) => *progress = true,
                        Poll::Pending => return Ok(()),
                    }
                }
            }
        }
    }

    /// A message's last frame decides how the next header is read (see `poll_read`):
    /// an envelope's small frames before a large body do not switch large-frame reads
    /// off.
    #[inline]
    fn note_last_frame(&mut self, body: &Bytes) {
        self.large_frames = body.len() >= LARGE_FRAME;
    }

    /// Hands the collected single-frame messages to the socket.
    fn flush_batch(&mut self) {
        flush(
            &*self.handler,
            &self.peer,
            &mut self.batch,
            &mut self.delivered,
        );
    }

    /// Hands the message waiting in `pending`, if any, to the socket; false while the
    /// socket still has no room for it.
    fn deliver_pending(&mut self, cx: &mut Context<'_>, progress: &mut bool) -> bool {
        let Some(msg) = self.pending.take() else {
            return true;
        };
        let delivered = self.deliver(cx, msg);
        *progress |= delivered;
        delivered
    }

    /// Hands a complete message to the socket, or keeps it in `pending` (false) until
    /// the socket has room for another one from this peer (RCVHWM).
    fn deliver(&mut self, cx: &mut Context<'_>, msg: Message) -> bool {
        if self.handler.poll_inbound_room(&self.peer, cx).is_pending() {
            self.pending = Some(msg);
            return false;
        }
        self.handler.on_message(&self.peer, msg);
        self.delivered += 1;
        true
    }

    fn on_event(&mut self, event: Event) -> Result<(), LinkEnd> {
        match event {
            Event::Ready(info) => {
                let address = std::mem::take(&mut self.address);
                let peer_socket = info.socket_type;
                self.peer.attach(Properties::new(info, address));
                if let Err(reason) = self.handler.on_attach(&self.peer) {
                    self.peer.detach();
                    return Err(LinkEnd::Refused(reason));
                }
                self.attached = true;
                if matches!(self.stream, Stream::Inproc(_)) && self.peer.holds_messages() {
                    if !self.rbuf.is_empty() {
                        return Err(LinkEnd::Io(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "bytes after the handshake on an inproc connection",
                        )));
                    }
                    self.lanes = true;
                }
                debug!(
                    peer_socket = peer_socket.as_str(),
                    mechanism = self.session.mechanism().as_str(),
                    "handshake succeeded"
                );
            }
            Event::Frame { more, body } => {
                if more {
                    self.partial.push(body);
                } else {
                    self.note_last_frame(&body);
                    self.partial.push(body);
                    self.pending = Some(std::mem::take(&mut self.partial));
                }
            }
            Event::Authenticate(credentials) => {
                let mechanism = credentials.mechanism().as_str();
                match self
                    .handler
                    .authenticate(&self.peer, &self.address, credentials)
                {
                    Admission::Ask(verdict) => self.verdict = Some(verdict),
                    Admission::Admit => self.session.proceed_unauthenticated()?,
                    Admission::Refuse => return Err(LinkEnd::NoAuthenticator(mechanism)),
                }
            }
            Event::Subscribe(topic) => self.handler.on_subscription(&self.peer, topic, true),
            Event::Cancel(topic) => self.handler.on_subscription(&self.peer, topic, false),
            // The session answered it and keeps the TTL it asked for.
            Event::Ping { .. } | Event::Pong => {}
        }
        Ok(())
    }

    /// Waits for the authenticator's verdict, then hands it to the session (which
    /// goes on with the handshake, or fails it).
    fn poll_verdict(&mut self, cx: &mut Context<'_>) -> Result<(), LinkEnd> {
        let Some(verdict) = self.verdict.as_mut() else {
            return Ok(());
        };
        let Poll::Ready(reply) = verdict.as_mut().poll(cx) else {
            return Ok(());
        };
        self.verdict = None;
        let reply = reply.map_err(ProtocolError::ZapReply)?;
        self.session.authenticated(reply)?;
        Ok(())
    }

    /// One read into the receive buffer. Ready(()) when bytes arrived.
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Result<Poll<()>, LinkEnd> {
        let start = self.rbuf.len();
        let needed = self.session.needed().min(READ_LARGE);
        let want = if needed >= LARGE_FRAME {
            // A large body has been announced: read exactly the rest of it, so it lands
            // in a buffer of its own size (reading more would split it across buffers
            // and cost a copy of everything read so far).
            needed
        } else if self.large_frames {
            // While large frames arrive, read a header (small) and then exactly its
            // body, so each body lands in a buffer of its own size and is never
            // copied from a chunk that a read had filled past the frame's start.
            if start == 0 {
                HEADER_READ
            } else {
                needed
            }
        } else {
            // A large frame announces its size in its header: read the rest of it in
            // one go instead of growing the buffer 64 KiB at a time.
            self.read_size.max(needed)
        };
        let want = crate::arena::reserve(&mut self.rbuf, needed, want);
        // Direct reads pay off while reads come back full (streaming) or when busy
        // polling; glommio's read is cheaper for one message at a time.
        let direct = self.last_read_full || self.busy_poll.is_some();
        // glommio's read needs its room zero-filled first: for one message at a time
        // keep that room small (a full read switches to direct reads).
        let want = if direct || needed >= LARGE_FRAME {
            want
        } else {
            want.min(SMALL_READ.max(needed))
        };
        match self.stream.poll_read_buf(cx, &mut self.rbuf, want, direct) {
            Poll::Ready(Ok(0)) => {
                if start > 0 || !self.partial.is_empty() || self.pending.is_some() {
                    Err(LinkEnd::Truncated)
                } else {
                    Err(LinkEnd::PeerClosed)
                }
            }
            Poll::Ready(Ok(n)) => {
                // An exact read of a large body says nothing about what follows it.
                self.last_read_full = n == want && needed < LARGE_FRAME;
                // Any byte is a sign of life, and the read that completes the
                // handshake starts the heartbeat: one clock read per read.
                self.session.on_input(Instant::now());
                if n >= self.read_size {
                    self.read_size = (self.read_size * 2).min(READ_MAX);
                }
                Ok(Poll::Ready(()))
            }
            Poll::Ready(Err(e)) => Err(LinkEnd::Io(e)),
            Poll::Pending => {
                self.last_read_full = false;
                Ok(Poll::Pending)
            }
        }
    }

    /// Encodes what is queued and writes it. Returns whether anything happened.
    fn poll_outbound(&mut self, cx: &mut Context<'_>) -> Result<bool, LinkEnd> {
        let wrote = self.write_out(cx)?;
        if self.lanes {
            return Ok(self.send_to_lane(cx)? | wrote);
        }
        Ok(wrote)
    }

    /// Writes what the session and (on a byte stream) the peer's queue have for the
    /// wire.
    fn write_out(&mut self, cx: &mut Context<'_>) -> Result<bool, LinkEnd> {
        let mut progress = false;
        loop {
            if self.out.is_empty() {
                self.fill_write_buffer();
                if self.out.is_empty() {
                    self.peer.register_writer(cx.waker());
                    return Ok(progress);
                }
            }
            match self.stream.poll_write_out(cx, &mut self.out) {
                Poll::Ready(Ok(0)) => {
                    return Err(LinkEnd::Io(io::ErrorKind::WriteZero.into()));
                }
                Poll::Ready(Ok(_)) => progress = true,
                Poll::Ready(Err(e)) => return Err(LinkEnd::Io(e)),
                Poll::Pending => return Ok(progress),
            }
        }
    }

    fn fill_write_buffer(&mut self) {
        self.session.poll_transmit(&mut self.out);
        if !self.attached || self.lanes {
            return;
        }
        while let Some((topic, subscribe)) = self.peer.pop_subscription() {
            self.session
                .encode_subscription(&mut self.out, &topic, subscribe);
        }
        if self.session.encrypts() {
            // The queue holds NULL-encoded messages: the session boxes each frame.
            self.peer.take_messages(&mut self.sealing);
            self.session
                .transmit_queued(&mut self.sealing, &mut self.out);
        } else {
            self.peer.take_messages(&mut self.out);
        }
        self.report_drops(false);
    }

    /// The inproc stream, once `lanes` is set.
    fn lane(&mut self) -> &mut InprocStream {
        match &mut self.stream {
            Stream::Inproc(stream) => stream,
            _ => unreachable!("lanes are inproc's"),
        }
    }

    /// Inproc: hands subscriptions and queued messages to the lane until it is full
    /// (the reader wakes us when it has made room) or nothing is left.
    fn send_to_lane(&mut self, cx: &mut Context<'_>) -> Result<bool, LinkEnd> {
        let mut progress = false;
        for _ in 0..LANE_BATCH {
            let item = match self.stalled.take() {
                Some(item) => item,
                None => match self.outbox.pop_front() {
                    Some(msg) => Item::Message(msg),
                    None => {
                        // Subscriptions first, then no more messages than the lane
                        // takes now, so that what is in flight stays SNDHWM + the lane
                        // + RCVHWM (one at least: a full lane hands it back and wakes
                        // us for room).
                        if let Some((topic, subscribe)) = self.peer.pop_subscription() {
                            Item::Subscription(topic, subscribe)
                        } else {
                            let room = self.lane().room().max(1);
                            self.peer.take_held(&mut self.outbox, room);
                            if self.outbox.is_empty() {
                                self.peer.register_writer(cx.waker());
                                break;
                            }
                            self.report_drops(false);
                            continue;
                        }
                    }
                },
            };
            match self.lane().push(cx, item) {
                Pushed::Done => progress = true,
                Pushed::Full(item) => {
                    self.stalled = Some(item);
                    break;
                }
                Pushed::Closed(_) => return Err(LinkEnd::PeerClosed),
            }
        }
        Ok(progress)
    }

    /// Inproc: takes what the peer handed to the lane and gives it to the socket,
    /// within the socket's room for this peer (RCVHWM) and the delivery budget.
    fn receive_from_lane(
        &mut self,
        cx: &mut Context<'_>,
        progress: &mut bool,
    ) -> Result<(), LinkEnd> {
        loop {
            if !self.deliver_pending(cx, progress) {
                return Ok(());
            }
            let budget = DELIVER_BATCH.saturating_sub(self.delivered);
            if budget == 0 {
                return Ok(());
            }
            // With no room, one item is taken and waits in `pending` for room.
            let room = self.handler.inbound_room(&self.peer).min(budget);
            let Conn {
                stream: Stream::Inproc(stream),
                handler,
                peer,
                batch,
                delivered,
                pending,
                ..
            } = self
            else {
                unreachable!("lanes are inproc's");
            };
            let popped = stream.pop(cx, room, |item| match item {
                Item::Message(msg) if room == 0 => *pending = Some(msg),
                Item::Message(msg) if msg.len() == 1 => {
                    batch.push(msg.into_iter().next().expect("one frame"));
                }
                Item::Message(msg) => {
                    flush(&**handler, peer, batch, delivered);
                    handler.on_message(peer, msg);
                    *delivered += 1;
                }
                Item::Subscription(topic, subscribe) => {
                    flush(&**handler, peer, batch, delivered);
                    handler.on_subscription(peer, topic, subscribe);
                }
            });
            self.flush_batch();
            match popped {
                Popped::Items(_) => *progress = true,
                Popped::Empty => return Ok(()),
                Popped::Drained => return Err(LinkEnd::PeerClosed),
            }
        }
    }

    /// Reports the peer's SNDHWM drops that its socket has not reported yet (see
    /// [`Peer::settle_drops`]).
    fn report_drops(&self, final_report: bool) {
        if let Some(count) = self.peer.settle_drops(final_report) {
            self.handler.on_monitor(MonitorEvent::MessagesDropped {
                remote: self.peer.remote(),
                count,
            });
        }
    }
}

/// Hands the collected single-frame messages to the socket.
fn flush(handler: &dyn Handler, peer: &Rc<Peer>, batch: &mut Vec<Bytes>, delivered: &mut usize) {
    if !batch.is_empty() {
        *delivered += batch.len();
        handler.on_single_frames(peer, batch);
    }
}
