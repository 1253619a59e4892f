//! A socket's endpoints: what each `bind` and `connect` started, so that `unbind` and
//! `disconnect` stop exactly that, as libzmq's do.
//!
//! Each endpoint's tasks run under a child of the socket's lifecycle: a bind's
//! listener and the connections it accepted, or a connect's connector (with its
//! connection). Stopping the child aborts them: queued messages for a disconnected
//! peer are dropped, reconnection stops, and an unbound listener's port is free again
//! once `unbind` returns.

use std::cell::RefCell;
use std::rc::Rc;

use bytes::Bytes;

use monocoque_runtime::{
    spawn_connector, spawn_listener, Endpoint, Handler, Lifecycle, LinkOptions, Listener, Peer,
    SharedStream,
};

use monocoque_zmtp::SocketType;

use super::SocketBase;
use crate::error::{Error, Result};

/// One `bind` or `connect`.
struct Attachment {
    /// The endpoint as the caller wrote it, and as it was resolved (a bound
    /// ephemeral port, a normalised address): either names it for `unbind` or
    /// `disconnect`.
    names: [String; 2],
    lifecycle: Rc<Lifecycle>,
    /// The connect peer, for a `connect`.
    peer: Option<Rc<Peer>>,
}

/// The socket's live endpoints.
#[derive(Default)]
pub(crate) struct Endpoints {
    list: RefCell<Vec<Attachment>>,
}

impl Endpoints {
    /// Gives the bind named `name` the name `alias` too (the endpoint as asked).
    fn name(&self, name: &str, alias: &str) {
        if let Some(a) = self
            .list
            .borrow_mut()
            .iter_mut()
            .find(|a| a.peer.is_none() && a.names[1] == name)
        {
            a.names[0] = alias.to_string();
        }
    }

    fn add(&self, names: [String; 2], lifecycle: Rc<Lifecycle>, peer: Option<Rc<Peer>>) {
        self.list.borrow_mut().push(Attachment {
            names,
            lifecycle,
            peer,
        });
    }

    /// The lifecycle of the bind named `name`, made (as a child of `socket`) if this
    /// socket has none: a sharded socket's core serving connections that another
    /// core's listener accepted.
    pub(crate) fn bound(&self, name: &str, socket: &Rc<Lifecycle>) -> Rc<Lifecycle> {
        let mut list = self.list.borrow_mut();
        if let Some(a) = list
            .iter()
            .find(|a| a.peer.is_none() && a.names.iter().any(|n| n == name))
        {
            return Rc::clone(&a.lifecycle);
        }
        let lifecycle = socket.child();
        list.push(Attachment {
            names: [name.to_string(), name.to_string()],
            lifecycle: Rc::clone(&lifecycle),
            peer: None,
        });
        lifecycle
    }

    /// Removes and returns the binds (`bound`) or connects named `name`.
    fn take(&self, name: &str, bound: bool) -> Vec<Attachment> {
        let mut list = self.list.borrow_mut();
        let mut taken = Vec::new();
        let mut i = 0;
        while i < list.len() {
            let a = &list[i];
            if a.peer.is_none() == bound && a.names.iter().any(|n| n == name) {
                taken.push(list.swap_remove(i));
            } else {
                i += 1;
            }
        }
        taken
    }
}

/// What a connect to `ep` with `link`'s options can be refused for before it is
/// tried: a TCP host that does not resolve (for the IPV6 option's families), or
/// transport options the system refuses.
pub(crate) fn check_connect(ep: &Endpoint, link: &LinkOptions) -> Result<()> {
    if let Endpoint::Tcp { .. } = ep {
        ep.resolve(link.transport.ipv6, false)?;
        link.transport.check()?;
    }
    Ok(())
}

impl SocketBase {
    /// Listens on `endpoint`; its listener and the connections it accepts run under
    /// their own lifecycle (see [`SocketBase::unbind`]).
    pub fn bind(&self, endpoint: &str) -> Result<Endpoint> {
        let (listener, bound) = self.open_listener(endpoint)?;
        let me = self.handler_rc();
        let name = bound.to_string();
        self.listen(endpoint, &bound, listener, move |stream| {
            me.adopt(&name, stream.into_stream())
        });
        Ok(bound)
    }

    /// Runs `listener` (bound as `bound` for `endpoint`) under a lifecycle of its
    /// own, registered for `unbind`; `place` serves each accepted connection (see
    /// [`SocketBase::adopt`]).
    pub fn listen(
        &self,
        endpoint: &str,
        bound: &Endpoint,
        listener: Listener,
        place: impl FnMut(SharedStream) + 'static,
    ) {
        let lifecycle = self.endpoints.bound(&bound.to_string(), &self.lifecycle);
        spawn_listener(&lifecycle, listener, self.handler(), place);
        // An ephemeral port is named only by what it resolved to (as in libzmq: two
        // binds to port 0 must not share a name).
        if !(endpoint.ends_with(":0") || endpoint.ends_with(":*")) {
            self.endpoints.name(&bound.to_string(), endpoint);
        }
    }

    /// Connects to `endpoint` in the background (see [`SocketBase::disconnect`]); a
    /// ROUTER with CONNECT_ROUTING_ID set names the peer by it (and the option is
    /// cleared once the connect succeeds).
    pub fn connect(&self, endpoint: &str) -> Result<()> {
        let preset = match self.kind {
            SocketType::Router => self.options.borrow().connect_routing_id.clone(),
            _ => None,
        };
        let Some(id) = preset else {
            return self.connect_with(endpoint, |_| Ok(())).map(drop);
        };
        self.connect_named(endpoint, id)?;
        self.options.borrow_mut().connect_routing_id = None;
        Ok(())
    }

    /// Connects to `endpoint`, the new peer known by routing id `id` from now on
    /// (ROUTER).
    pub fn connect_named(&self, endpoint: &str, id: Bytes) -> Result<()> {
        let rules = Rc::clone(&self.rules);
        self.connect_with(endpoint, |peer| rules.name_peer(self, peer, id))
            .map(drop)
    }

    /// [`SocketBase::connect`], with `prepare` given the new peer before its
    /// connection starts (a ROUTER names it); an error from `prepare` stops the
    /// connect, before any task is spawned.
    pub fn connect_with(
        &self,
        endpoint: &str,
        prepare: impl FnOnce(&Rc<Peer>) -> Result<()>,
    ) -> Result<Rc<Peer>> {
        self.check_open()?;
        let ep: Endpoint = endpoint.parse()?;
        let link = self.options.borrow().link();
        check_connect(&ep, &link)?;
        let peer = self.make_peer(ep.to_string());
        if let Endpoint::Inproc(_) = ep {
            peer.hold_messages();
        }
        if let Err(e) = prepare(&peer) {
            self.peers.borrow_mut().remove(&peer.id());
            return Err(e);
        }
        if self.queues_before_connect() {
            self.out.borrow_mut().push(Rc::clone(&peer));
            self.targets_changed();
        }
        let lifecycle = self.lifecycle.child();
        spawn_connector(
            &lifecycle,
            ep.clone(),
            Rc::clone(&peer),
            self.handler(),
            link,
        );
        self.endpoints.add(
            [endpoint.to_string(), ep.to_string()],
            lifecycle,
            Some(Rc::clone(&peer)),
        );
        *self.last_endpoint.borrow_mut() = Some(ep);
        Ok(peer)
    }

    /// Stops listening on `endpoint` (as bound, or as `bind` returned it) and closes
    /// the connections accepted there; returns once the port can be bound again.
    /// Messages already received from those connections can still be read.
    pub async fn unbind(&self, endpoint: &str) -> Result<()> {
        self.unbind_resolved(endpoint).await.map(drop)
    }

    /// [`SocketBase::unbind`], returning the endpoint as it was bound (the name the
    /// other cores of a sharded socket know it by).
    pub async fn unbind_resolved(&self, endpoint: &str) -> Result<String> {
        self.check_open()?;
        let taken = self.endpoints.take(endpoint, true);
        let Some(first) = taken.first() else {
            return Err(Error::NoSuchEndpoint(endpoint.to_string()));
        };
        let resolved = first.names[1].clone();
        for a in &taken {
            a.lifecycle.abort();
        }
        for a in taken {
            a.lifecycle.idle().await;
        }
        Ok(resolved)
    }

    /// Stops connecting to `endpoint` (as given to `connect`): closes the connection,
    /// stops reconnecting and drops what was queued for that peer. Messages already
    /// received from it can still be read.
    pub fn disconnect(&self, endpoint: &str) -> Result<()> {
        self.check_open()?;
        let taken = self.endpoints.take(endpoint, false);
        if taken.is_empty() {
            return Err(Error::NoSuchEndpoint(endpoint.to_string()));
        }
        for a in taken {
            a.lifecycle.abort();
            if let Some(peer) = a.peer {
                peer.clear_messages();
                self.on_peer_gone(&peer);
            }
        }
        Ok(())
    }
}
