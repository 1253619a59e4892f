//! [`ZapHandler`]: authentication by a ZAP handler socket (RFC 27 frames), as libzmq
//! asks its handler at `inproc://zeromq.zap.01`, here at an endpoint of the user's
//! choice (a pyzmq or libzmq REP or ROUTER serving ZAP over IPC or TCP).

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::task::{Poll, Waker};

use ahash::AHashMap;
use bytes::Bytes;
use monocoque_runtime::{Message, Verdict};
use monocoque_zmtp::zap::ZapError;

use super::{AuthReply, AuthRequest, Authenticator, SharedAuthenticator};
use crate::{Dealer, Options};

/// Asks a ZAP handler socket about every client. Each executor that serves a server
/// socket using it connects one DEALER to the handler's endpoint, the first time it
/// needs one; requests carry ids, so many handshakes may wait at once. A reply that is
/// not a ZAP reply (wrong version, request id, status code, frame count) closes the
/// client's connection as a protocol error; a handler that never answers leaves the
/// handshake to HANDSHAKE_IVL.
///
/// ```no_run
/// use monocoque::{Options, Security, ZapHandler};
///
/// let options = Options {
///     security: Security::PlainServer,
///     authenticator: Some(ZapHandler::connect("ipc:///run/myapp/zap")),
///     ..Options::default()
/// };
/// # let _ = options;
/// ```
pub struct ZapHandler {
    endpoint: String,
}

impl ZapHandler {
    /// An authenticator that asks the ZAP handler bound at `endpoint`.
    pub fn connect(endpoint: impl Into<String>) -> SharedAuthenticator {
        SharedAuthenticator::new(ZapHandler {
            endpoint: endpoint.into(),
        })
    }
}

impl Authenticator for ZapHandler {
    fn authenticate(&self, request: AuthRequest) -> Verdict {
        let link = ZapLink::on_this_executor(&self.endpoint);
        Box::pin(async move { link.ask(request).await })
    }
}

thread_local! {
    /// This executor's connections to ZAP handlers, by endpoint.
    static LINKS: RefCell<AHashMap<String, Rc<ZapLink>>> = RefCell::default();
}

/// One executor's DEALER to a ZAP handler, and the replies its reader sorts by id.
struct ZapLink {
    dealer: Dealer,
    next_id: Cell<u64>,
    /// Replies that arrived, by request id, and the handshakes waiting for one.
    replies: RefCell<AHashMap<Bytes, Vec<Bytes>>>,
    waiting: RefCell<AHashMap<Bytes, Waker>>,
}

impl ZapLink {
    fn on_this_executor(endpoint: &str) -> Rc<ZapLink> {
        if let Some(link) = LINKS.with(|l| l.borrow().get(endpoint).cloned()) {
            return link;
        }
        let dealer = Dealer::with_options(Options {
            linger: Some(std::time::Duration::ZERO),
            ..Options::default()
        });
        // An endpoint that does not parse leaves the dealer unconnected: requests then
        // wait for HANDSHAKE_IVL, and the error is logged once here.
        if let Err(e) = dealer.connect(endpoint) {
            tracing::warn!(%endpoint, error = %e, "cannot connect to the ZAP handler");
        }
        let link = Rc::new(ZapLink {
            dealer,
            next_id: Cell::new(1),
            replies: RefCell::default(),
            waiting: RefCell::default(),
        });
        let reader = Rc::clone(&link);
        glommio::spawn_local(async move { reader.read_replies().await }).detach();
        LINKS.with(|l| {
            l.borrow_mut()
                .insert(endpoint.to_string(), Rc::clone(&link))
        });
        link
    }

    /// Files every reply under its request id and wakes whoever waits for it. A reply
    /// that names no waiting request (no id, or another one) goes to the oldest
    /// waiting request, which then fails on it: a handler that garbles ids is a broken
    /// handler, and its clients are told so at once rather than at HANDSHAKE_IVL.
    async fn read_replies(&self) {
        while let Ok(msg) = self.dealer.recv().await {
            let frames: Vec<Bytes> = msg.into_iter().collect();
            let named = frames
                .get(2)
                .filter(|id| self.waiting.borrow().contains_key(*id))
                .cloned();
            let Some(id) = named.or_else(|| self.oldest_waiting()) else {
                continue;
            };
            if let Some(waker) = self.waiting.borrow_mut().remove(&id) {
                self.replies.borrow_mut().insert(id, frames);
                waker.wake();
            }
        }
    }

    /// The waiting request sent first (ids count up).
    fn oldest_waiting(&self) -> Option<Bytes> {
        let waiting = self.waiting.borrow();
        let number = |id: &Bytes| std::str::from_utf8(id).ok()?.parse::<u64>().ok();
        waiting.keys().min_by_key(|id| number(id)).cloned()
    }

    async fn ask(&self, request: AuthRequest) -> Result<AuthReply, ZapError> {
        let n = self.next_id.get();
        self.next_id.set(n + 1);
        let id = Bytes::from(n.to_string());
        let frames = request.to_frames(&id);
        // Registered before sending: the reply may come back before we next poll.
        self.waiting
            .borrow_mut()
            .insert(id.clone(), Waker::noop().clone());
        let _forget = Forget {
            link: self,
            id: &id,
        };
        if self.dealer.send(Message::from(frames)).await.is_err() {
            return Err(ZapError::Unreachable);
        }
        let frames = std::future::poll_fn(|cx| {
            if let Some(frames) = self.replies.borrow_mut().remove(&id) {
                return Poll::Ready(frames);
            }
            self.waiting
                .borrow_mut()
                .insert(id.clone(), cx.waker().clone());
            Poll::Pending
        })
        .await;
        AuthReply::from_frames(&frames, &id)
    }
}

/// Forgets a request when its handshake stops waiting (answered, or the connection
/// went away first), so that abandoned requests leave nothing behind.
struct Forget<'a> {
    link: &'a ZapLink,
    id: &'a Bytes,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        self.link.waiting.borrow_mut().remove(self.id);
        self.link.replies.borrow_mut().remove(self.id);
    }
}
