//! Background tasks that make connections: the listener's accept loop and the
//! connector's connect-retry loop.
//!
//! Each task runs inside a `tracing` span, entered whenever the task is polled (never
//! per message), so that every line written inside names where it comes from:
//! `listener{socket endpoint}`, `connector{socket endpoint}` and, for each connection,
//! `conn{socket endpoint peer}`. The spans are at `error` level so that they are
//! there whatever level lines are kept at: a filter of `warn` still shows which
//! socket a warning is about. See docs/reliability.md for the lines and their levels.

use std::rc::Rc;
use std::time::{Duration, Instant};

use futures_lite::future;
use monocoque_zmtp::Session;
use tracing::{debug, error_span, info, warn, Instrument, Span};

use crate::cores::ConnectionCount;
use crate::driver::drive;
use crate::endpoint::Endpoint;
use crate::handler::Handler;
use crate::lifecycle::Lifecycle;
use crate::link_end::LinkEnd;
use crate::log_limit::{limited, LogLimit};
use crate::monitor::MonitorEvent;
use crate::options::LinkOptions;
use crate::peer::Peer;
use crate::transport::{connect, Listener, SharedStream, Stream};

thread_local! {
    /// Budget of the lines that failed accepts can cause.
    static ACCEPT_FAILED: LogLimit = const { LogLimit::new() };
    /// Budget of the retry lines of all the connectors of this thread (a thousand
    /// connectors to a dead server must not write three thousand lines at once).
    static RETRIES: LogLimit = const { LogLimit::new() };
}

/// Whether a retry line of a connector may be written: within its own budget and the
/// thread's. `Some(n)`: write it, saying the connector left `n` out before it.
fn retry_line(own: &LogLimit) -> Option<u64> {
    let suppressed = own.allow()?;
    if RETRIES.with(LogLimit::allow).is_some() {
        Some(suppressed)
    } else {
        // Counted by the connector, to be said by its next line or its summary.
        own.take_back(suppressed);
        None
    }
}

/// Lines a connector writes about its retries (failed attempts, reconnections) per
/// [`INTERVAL`](crate::log_limit::INTERVAL) before it only counts them; the next line
/// written, or the line saying it connected or stopped, carries the count.
const RETRY_LINES: u32 = 3;

/// The span of one connection: the socket's type, the endpoint (the one bound or
/// connected to) and the peer's address.
fn connection_span(handler: &dyn Handler, endpoint: &str, peer: &str) -> Span {
    error_span!(
        parent: None,
        "conn",
        socket = %handler.socket_type().as_str(),
        %endpoint,
        %peer
    )
}

/// Accepts connections on `listener` until the socket closes, handing each one to
/// `place`: a local socket runs it here ([`spawn_accepted`]), a sharded one deals it
/// to a core (a [`SharedStream`] can move to another executor). A failed accept is
/// logged (rate-limited), reported as [`MonitorEvent::AcceptFailed`], and retried
/// after a short pause; [`MonitorEvent::Closed`] follows the last accept.
pub fn spawn_listener(
    lifecycle: &Rc<Lifecycle>,
    listener: Listener,
    handler: Rc<dyn Handler>,
    mut place: impl FnMut(SharedStream) + 'static,
) {
    let lc = Rc::clone(lifecycle);
    let endpoint = listener
        .local_endpoint()
        .map(|e| e.to_string())
        .unwrap_or_default();
    let span = error_span!(
        parent: None,
        "listener",
        socket = %handler.socket_type().as_str(),
        %endpoint
    );
    span.in_scope(|| debug!("listening"));
    let task = async move {
        loop {
            let accepted = lc.until_closing(listener.accept()).await;
            match accepted {
                None => break,
                Some(Ok(stream)) => place(stream),
                Some(Err(e)) => {
                    limited(
                        &ACCEPT_FAILED,
                        |suppressed| warn!(error = %e, suppressed, "accept failed"),
                    );
                    handler.on_monitor(MonitorEvent::AcceptFailed {
                        reason: e.to_string(),
                    });
                    glommio::timer::sleep(Duration::from_millis(10)).await;
                }
            }
        }
        drop(listener);
        // The accept that was pending when closing began is an io_uring request that
        // keeps the listening socket (and its port) alive until glommio's reactor
        // submits its cancellation. Wait for one reactor turn (a timer only fires after
        // one) so that once `close().await` returns, the endpoint can be bound again.
        glommio::timer::sleep(Duration::from_millis(1)).await;
        let why = if lc.stopped_alone() {
            "unbound"
        } else {
            "socket closed"
        };
        debug!(reason = why, "stopped listening");
        handler.on_monitor(MonitorEvent::Closed { endpoint });
    };
    lifecycle.spawn(task.instrument(span));
}

/// Runs an accepted connection as a new peer of `handler`'s socket (on a runtime
/// core, one of the core's connections until it ends).
pub fn spawn_accepted(
    lifecycle: &Rc<Lifecycle>,
    stream: Stream,
    handler: Rc<dyn Handler>,
    options: LinkOptions,
) {
    let remote = stream.peer_description();
    // As `connection_span`, inline so that the local address is only read (a
    // syscall) when a subscriber records the span.
    let span = error_span!(
        parent: None,
        "conn",
        socket = %handler.socket_type().as_str(),
        endpoint = %stream.local_description(),
        peer = %remote
    );
    span.in_scope(|| debug!("accepted"));
    handler.on_monitor(MonitorEvent::Accepted {
        remote: remote.clone(),
    });
    let peer = handler.new_peer(remote);
    if let Stream::Inproc(_) = stream {
        peer.hold_messages();
    }
    peer.set_span(span.clone());
    let lc = Rc::clone(lifecycle);
    // Counted from now, on a runtime core (the placement that brought it here ends
    // when this job does: the count must not lapse in between).
    let count = ConnectionCount::start();
    let task = async move {
        let _count = count;
        let _ = run_link(stream, &peer, &handler, &lc, options, true).await;
        handler.on_peer_gone(&peer);
    };
    lifecycle.spawn(task.instrument(span));
}

/// Connects `peer` to `endpoint` in the background, reconnecting after every loss
/// until the socket closes. On a runtime core the connector counts as one of the
/// core's connections for its whole life (connected or retrying; see
/// [`RuntimeHandle::connections_per_core`](crate::RuntimeHandle::connections_per_core)).
pub fn spawn_connector(
    lifecycle: &Rc<Lifecycle>,
    endpoint: Endpoint,
    peer: Rc<Peer>,
    handler: Rc<dyn Handler>,
    options: LinkOptions,
) {
    let lc = Rc::clone(lifecycle);
    let count = ConnectionCount::start();
    let name = endpoint.to_string();
    let span = error_span!(
        parent: None,
        "connector",
        socket = %handler.socket_type().as_str(),
        endpoint = %name
    );
    span.in_scope(|| debug!("connecting"));
    let task = async move {
        let _count = count;
        let mut ivl = options.reconnect_ivl.unwrap_or(Duration::from_millis(100));
        // The retry lines' budget, and the attempts that failed since the last
        // connection (or the start).
        let retries = LogLimit::with_burst(RETRY_LINES);
        let mut failed: u64 = 0;
        loop {
            if lc.is_aborted() || (lc.is_closing() && !peer.has_output()) {
                break;
            }
            // An attempt that hangs (a peer that drops SYNs, without CONNECT_TIMEOUT)
            // must not hold up closing: it is given up once the socket closes with
            // nothing queued for this peer, or closing ends (abort).
            let attempt = future::or(
                async { Some(connect(&endpoint, &options.transport).await) },
                async {
                    lc.closing().await;
                    if peer.has_output() {
                        lc.aborted().await;
                    }
                    None
                },
            )
            .await;
            match attempt {
                None => break,
                Some(Ok(stream)) => {
                    if failed > 0 {
                        info!(
                            failed_attempts = failed,
                            suppressed = retries.take_suppressed(),
                            "connected after failed attempts"
                        );
                        failed = 0;
                    }
                    let remote = match &stream {
                        Stream::Tcp(_) => stream.peer_description(),
                        Stream::Ipc(_) | Stream::Inproc(_) => name.clone(),
                    };
                    let span = connection_span(handler.as_ref(), &name, &remote);
                    span.in_scope(|| debug!("connected"));
                    peer.set_span(span.clone());
                    handler.on_monitor(MonitorEvent::Connected {
                        endpoint: name.clone(),
                    });
                    peer.set_remote(name.clone());
                    let end = run_link(stream, &peer, &handler, &lc, options, false)
                        .instrument(span)
                        .await;
                    if let LinkEnd::Protocol(e) = &end {
                        // As libzmq, whose session ends for good on a protocol error:
                        // a server that refused our credentials, speaks another
                        // mechanism or found our bytes malformed would do it again. The
                        // connection is given up, and what was queued for it dropped
                        // (so that closing does not wait for it).
                        warn!(error = %e, "protocol error; not reconnecting");
                        peer.clear_messages();
                        break;
                    }
                    ivl = options.reconnect_ivl.unwrap_or(ivl);
                    if options.reconnect_ivl.is_some() && !lc.is_closing() {
                        if let Some(suppressed) = retry_line(&retries) {
                            debug!(
                                retry_ms = ivl.as_millis() as u64,
                                suppressed, "reconnecting"
                            );
                        }
                    }
                }
                Some(Err(e)) => {
                    failed += 1;
                    if let Some(suppressed) = retry_line(&retries) {
                        match options.reconnect_ivl {
                            Some(_) => info!(
                                error = %e,
                                retry_ms = ivl.as_millis() as u64,
                                suppressed,
                                "connect failed; will retry"
                            ),
                            None => info!(
                                error = %e,
                                suppressed,
                                "connect failed; not retrying (RECONNECT_IVL is -1)"
                            ),
                        }
                    }
                    handler.on_monitor(MonitorEvent::ConnectRetried {
                        endpoint: name.clone(),
                        retry_ms: ivl.as_millis() as u64,
                    });
                }
            }
            if options.reconnect_ivl.is_none() || lc.is_closing() && !peer.has_output() {
                break;
            }
            let stop = future::or(
                async {
                    glommio::timer::sleep(ivl).await;
                    false
                },
                async {
                    lc.aborted().await;
                    true
                },
            )
            .await;
            if stop {
                break;
            }
            if !options.reconnect_ivl_max.is_zero() {
                ivl = (ivl * 2).min(options.reconnect_ivl_max);
            }
        }
        let why = if lc.stopped_alone() {
            "disconnected"
        } else {
            "socket closed"
        };
        if failed > 0 {
            // The summary of an outage the budget cut short.
            info!(
                reason = why,
                failed_attempts = failed,
                suppressed = retries.take_suppressed(),
                "stopped connecting"
            );
        } else {
            debug!(reason = why, "stopped connecting");
        }
    };
    lifecycle.spawn(task.instrument(span));
}

/// Runs one connection to its end (the driver logs why), and reports it.
/// `accepted`: the peer connected to us (see `SessionConfig::accepted`).
async fn run_link(
    stream: Stream,
    peer: &Rc<Peer>,
    handler: &Rc<dyn Handler>,
    lc: &Rc<Lifecycle>,
    options: LinkOptions,
    accepted: bool,
) -> LinkEnd {
    let remote = peer.remote();
    // The session keeps the connection's deadlines; the driver only arms its timer.
    let mut config = handler.session_config();
    config.handshake_ivl = options.handshake_ivl;
    config.heartbeat = options.heartbeat;
    config.accepted = accepted;
    let session = Session::new(config, Instant::now());
    let end = drive(
        stream,
        session,
        Rc::clone(peer),
        Rc::clone(handler),
        Rc::clone(lc),
        options,
    )
    .await;
    handler.on_monitor(MonitorEvent::Disconnected {
        remote,
        reason: end.to_string(),
    });
    end
}
