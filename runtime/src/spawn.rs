//! Background tasks that make connections: the listener's accept loop and the
//! connector's connect-retry loop.

use std::rc::Rc;
use std::time::{Duration, Instant};

use futures_lite::future;
use monocoque_zmtp::Session;
use tracing::{debug, info, warn};

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
    /// Budgets of the lines that peers (or anything that connects) can cause.
    static REFUSED: LogLimit = const { LogLimit::new() };
    static LOST: LogLimit = const { LogLimit::new() };
    static ACCEPT_FAILED: LogLimit = const { LogLimit::new() };
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
    lifecycle.spawn(async move {
        loop {
            let accepted = lc.until_closing(listener.accept()).await;
            match accepted {
                None => break,
                Some(Ok(stream)) => place(stream),
                Some(Err(e)) => {
                    limited(
                        &ACCEPT_FAILED,
                        |suppressed| warn!(%endpoint, error = %e, suppressed, "accept failed"),
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
        handler.on_monitor(MonitorEvent::Closed { endpoint });
    });
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
    handler.on_monitor(MonitorEvent::Accepted {
        remote: remote.clone(),
    });
    let peer = handler.new_peer(remote);
    let lc = Rc::clone(lifecycle);
    // Counted from now, on a runtime core (the placement that brought it here ends
    // when this job does: the count must not lapse in between).
    let count = ConnectionCount::start();
    lifecycle.spawn(async move {
        let _count = count;
        let _ = run_link(stream, &peer, &handler, &lc, options, true).await;
        handler.on_peer_gone(&peer);
    });
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
    lifecycle.spawn(async move {
        let _count = count;
        let name = endpoint.to_string();
        let mut ivl = options.reconnect_ivl.unwrap_or(Duration::from_millis(100));
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
                    handler.on_monitor(MonitorEvent::Connected {
                        endpoint: name.clone(),
                    });
                    peer.set_remote(name.clone());
                    let end = run_link(stream, &peer, &handler, &lc, options, false).await;
                    if let LinkEnd::Protocol(e) = &end {
                        // As libzmq, whose session ends for good on a protocol error:
                        // a server that refused our credentials, speaks another
                        // mechanism or found our bytes malformed would do it again. The
                        // connection is given up, and what was queued for it dropped
                        // (so that closing does not wait for it).
                        warn!(endpoint = %name, error = %e, "protocol error; not reconnecting");
                        peer.clear_messages();
                        break;
                    }
                    ivl = options.reconnect_ivl.unwrap_or(ivl);
                }
                Some(Err(e)) => {
                    debug!(endpoint = %name, error = %e, "connect failed; will retry");
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
    });
}

/// Runs one connection to its end, logging and reporting why it ended. `accepted`:
/// the peer connected to us (see `SessionConfig::accepted`).
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
    match &end {
        LinkEnd::Shutdown | LinkEnd::PeerClosed => debug!(%remote, "connection closed: {end}"),
        // Authentication doing its job is not a fault (the monitor reports it as
        // HANDSHAKE_FAILED_AUTH for whoever wants it).
        _ if end.auth_status().is_some() => info!(%remote, "connection refused: {end}"),
        LinkEnd::Protocol(_) | LinkEnd::Refused(_) => limited(
            &REFUSED,
            |suppressed| warn!(%remote, suppressed, "closing connection: {end}"),
        ),
        _ => limited(
            &LOST,
            |suppressed| info!(%remote, suppressed, "connection lost: {end}"),
        ),
    }
    handler.on_monitor(MonitorEvent::Disconnected {
        remote,
        reason: end.to_string(),
    });
    end
}
