//! Authentication (ZAP, RFC 27) for server sockets: an [`Authenticator`] decides, for
//! each client's handshake, whether it may come in and under which user id.
//!
//! A PLAIN or CURVE server ([`Options::security`](crate::Options::security)), and a
//! NULL socket with a ZAP domain ([`Options::zap_domain`]), ask their
//! [`Options::authenticator`] about every peer. With no authenticator a PLAIN server
//! refuses everyone, as a libzmq PLAIN server without a ZAP handler does (the monitor
//! reports HANDSHAKE_FAILED_NO_DETAIL), while NULL and CURVE let everyone in, unless
//! [`Options::zap_enforce_domain`] says otherwise.
//!
//! [`Options::authenticator`]: crate::Options::authenticator
//! [`Options::zap_domain`]: crate::Options::zap_domain
//! [`Options::zap_enforce_domain`]: crate::Options::zap_enforce_domain

mod rules;
mod zap_socket;

pub use rules::Auth;
pub use zap_socket::ZapHandler;

use std::future::Future;
use std::sync::Arc;

use monocoque_runtime::Verdict;
pub use monocoque_zmtp::{AuthReply, AuthRequest, AuthStatus, Credentials};

/// Decides whether a client may come in. It is asked on the executor that serves the
/// connection, and may take its time: the handshake waits for its answer.
///
/// Any `Fn(&AuthRequest) -> AuthReply` is one:
///
/// ```
/// use monocoque::{AuthReply, AuthRequest, AuthStatus, Credentials, Options, Security, SharedAuthenticator};
///
/// let check = |req: &AuthRequest| match &req.credentials {
///     Credentials::Plain { username, password } if &username[..] == b"admin" && &password[..] == b"secret" => {
///         AuthReply::accept("admin")
///     }
///     _ => AuthReply::refuse(AuthStatus::Failure, "unknown user"),
/// };
/// let options = Options {
///     security: Security::PlainServer,
///     authenticator: Some(SharedAuthenticator::new(check)),
///     ..Options::default()
/// };
/// # let _ = options;
/// ```
///
/// Or any type of yours; its [`Verdict`] is a boxed future of the reply (an error
/// only when a ZAP handler's answer is not a ZAP reply):
///
/// ```
/// use monocoque::{AuthReply, AuthRequest, Authenticator, Verdict};
///
/// struct OnlyLocal;
///
/// impl Authenticator for OnlyLocal {
///     fn authenticate(&self, request: AuthRequest) -> Verdict {
///         let local = &request.address[..] == b"127.0.0.1";
///         Box::pin(async move {
///             Ok(if local {
///                 AuthReply::accept("local")
///             } else {
///                 AuthReply::refuse(monocoque::AuthStatus::Failure, "remote")
///             })
///         })
///     }
/// }
/// ```
pub trait Authenticator: Send + Sync + 'static {
    /// The verdict on `request`.
    fn authenticate(&self, request: AuthRequest) -> Verdict;
}

impl<F> Authenticator for F
where
    F: Fn(&AuthRequest) -> AuthReply + Send + Sync + 'static,
{
    fn authenticate(&self, request: AuthRequest) -> Verdict {
        let reply = self(&request);
        Box::pin(std::future::ready(Ok(reply)))
    }
}

/// An [`Authenticator`] shared by every socket (and every core) that uses it.
#[derive(Clone)]
pub struct SharedAuthenticator(Arc<dyn Authenticator>);

impl SharedAuthenticator {
    /// Shares `authenticator`.
    pub fn new(authenticator: impl Authenticator) -> SharedAuthenticator {
        SharedAuthenticator(Arc::new(authenticator))
    }

    /// An authenticator whose verdicts come from an async function.
    pub fn from_async<F, Fut>(decide: F) -> SharedAuthenticator
    where
        F: Fn(AuthRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = AuthReply> + 'static,
    {
        struct Async<F>(F);
        impl<F, Fut> Authenticator for Async<F>
        where
            F: Fn(AuthRequest) -> Fut + Send + Sync + 'static,
            Fut: Future<Output = AuthReply> + 'static,
        {
            fn authenticate(&self, request: AuthRequest) -> Verdict {
                let verdict = (self.0)(request);
                Box::pin(async move { Ok(verdict.await) })
            }
        }
        SharedAuthenticator::new(Async(decide))
    }

    pub(crate) fn authenticate(&self, request: AuthRequest) -> Verdict {
        self.0.authenticate(request)
    }
}

impl std::fmt::Debug for SharedAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedAuthenticator")
    }
}
