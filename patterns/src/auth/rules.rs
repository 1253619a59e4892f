//! [`Auth`]: the rules of pyzmq's `zmq.auth`, ready-made.

use std::path::Path;

use bytes::Bytes;
use monocoque_runtime::Verdict;

use super::{AuthReply, AuthRequest, AuthStatus, Authenticator, Credentials, SharedAuthenticator};
use crate::certificate;

/// A ready-made authenticator with the rules of pyzmq's `zmq.auth`: addresses
/// allowed or denied, and PLAIN user names with their passwords.
///
/// - With an allow list, only clients from those addresses come in (the deny list is
///   then ignored); without one, clients from a denied address are refused. Refused:
///   400 "address not allowed".
/// - A NULL client that passes the address rules comes in.
/// - A PLAIN client comes in when its user name is known and its password matches
///   (compared in constant time); its user id is its user name. Otherwise: 400.
/// - A CURVE client comes in when no key was given ([`Auth::curve_key`],
///   [`Auth::curve_keys_from_dir`]), or when its long-term public key is one of those
///   given; its user id is that key in Z85 (as `zmq.auth` gives it). Otherwise: 400.
///
/// ```
/// use monocoque::{Auth, Options, Security};
///
/// let auth = Auth::new()
///     .allow("127.0.0.1")
///     .plain_user("admin", "secret");
/// let options = Options {
///     security: Security::PlainServer,
///     authenticator: Some(auth.into()),
///     ..Options::default()
/// };
/// # let _ = options;
/// ```
#[derive(Clone, Default)]
pub struct Auth {
    allowed: Vec<String>,
    denied: Vec<String>,
    passwords: Vec<(Bytes, Bytes)>,
    /// CURVE client keys let in (None: any key, as zmq.auth's CURVE_ALLOW_ANY).
    curve_keys: Option<Vec<[u8; 32]>>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("allowed", &self.allowed)
            .field("denied", &self.denied)
            .field("users", &self.passwords.len())
            .field("curve_keys", &self.curve_keys.as_ref().map(Vec::len))
            .finish()
    }
}

impl Auth {
    /// No rules: every address, no PLAIN user.
    pub fn new() -> Auth {
        Auth::default()
    }

    /// Lets in clients from `address` (an IP address as the client connects from it,
    /// e.g. `"127.0.0.1"`); once one address is allowed, only allowed ones come in.
    pub fn allow(mut self, address: impl Into<String>) -> Auth {
        self.allowed.push(address.into());
        self
    }

    /// Refuses clients from `address` (ignored once an address is allowed).
    pub fn deny(mut self, address: impl Into<String>) -> Auth {
        self.denied.push(address.into());
        self
    }

    /// Accepts the PLAIN user `username` with `password`.
    pub fn plain_user(mut self, username: impl Into<Bytes>, password: impl Into<Bytes>) -> Auth {
        self.passwords.push((username.into(), password.into()));
        self
    }

    /// Lets in CURVE clients whose long-term public key is `key`; once one key is
    /// given, other keys are refused.
    pub fn curve_key(mut self, key: crate::CurvePublicKey) -> Auth {
        self.curve_keys
            .get_or_insert_with(Vec::new)
            .push(*key.as_bytes());
        self
    }

    /// Lets in CURVE clients whose long-term public key is in a certificate of `dir`:
    /// every `*.key` file there, as pyzmq's `zmq.auth` `configure_curve` takes a
    /// location (see [`certificate::load_public_keys`]). As with [`Auth::curve_key`],
    /// other keys are then refused, so an empty directory lets no CURVE client in.
    /// The directory is read now, once: a certificate added later counts only in a
    /// new `Auth`. A `.key` file that cannot be read or is not a certificate fails
    /// the whole call, naming the file.
    ///
    /// ```no_run
    /// use monocoque::{certificate, Auth, Options, Security};
    ///
    /// let server = certificate::load("certs/server.key_secret")?;
    /// let options = Options {
    ///     security: Security::CurveServer {
    ///         keys: server.key_pair().expect("a secret certificate").clone(),
    ///     },
    ///     authenticator: Some(Auth::new().curve_keys_from_dir("certs/clients")?.into()),
    ///     ..Options::default()
    /// };
    /// # let _ = options;
    /// # Ok::<(), certificate::CertificateError>(())
    /// ```
    pub fn curve_keys_from_dir(
        mut self,
        dir: impl AsRef<Path>,
    ) -> Result<Auth, certificate::CertificateError> {
        let keys = certificate::load_public_keys(dir)?;
        let allowed = self.curve_keys.get_or_insert_with(Vec::new);
        allowed.extend(keys.iter().map(|key| *key.as_bytes()));
        Ok(self)
    }

    /// The verdict on `request` under these rules.
    pub fn decide(&self, request: &AuthRequest) -> AuthReply {
        let address = String::from_utf8_lossy(&request.address);
        let listed = |list: &[String]| list.iter().any(|a| *a == address);
        let address_ok = if self.allowed.is_empty() {
            !listed(&self.denied)
        } else {
            listed(&self.allowed)
        };
        if !address_ok {
            return AuthReply::refuse(AuthStatus::Failure, "address not allowed");
        }
        match &request.credentials {
            Credentials::Null => AuthReply::accept(Bytes::new()),
            Credentials::Plain { username, password } => {
                let known = self
                    .passwords
                    .iter()
                    .any(|(user, pass)| user == username && same_secret(pass, password));
                if known {
                    AuthReply::accept(username.clone())
                } else {
                    AuthReply::refuse(AuthStatus::Failure, "invalid user name or password")
                }
            }
            Credentials::Curve { public_key } => {
                // As zmq.auth: the user id of a CURVE client is its key in Z85.
                let user_id = || crate::CurvePublicKey::from(*public_key).to_z85();
                match &self.curve_keys {
                    None => AuthReply::accept(user_id()),
                    Some(keys) if keys.iter().any(|k| same_secret(k, public_key)) => {
                        AuthReply::accept(user_id())
                    }
                    Some(_) => AuthReply::refuse(AuthStatus::Failure, "unknown CURVE key"),
                }
            }
        }
    }
}

impl Authenticator for Auth {
    fn authenticate(&self, request: AuthRequest) -> Verdict {
        Box::pin(std::future::ready(Ok(self.decide(&request))))
    }
}

impl From<Auth> for SharedAuthenticator {
    fn from(auth: Auth) -> SharedAuthenticator {
        SharedAuthenticator::new(auth)
    }
}

/// Equal contents, compared in constant time (`subtle`).
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(address: &str, credentials: Credentials) -> AuthRequest {
        AuthRequest {
            domain: Bytes::new(),
            address: Bytes::copy_from_slice(address.as_bytes()),
            routing_id: Bytes::new(),
            credentials,
        }
    }

    fn plain(user: &'static str, pass: &'static str) -> Credentials {
        Credentials::Plain {
            username: Bytes::from_static(user.as_bytes()),
            password: Bytes::from_static(pass.as_bytes()),
        }
    }

    #[test]
    fn auth_follows_zmq_auth_rules() {
        let auth = Auth::new().plain_user("admin", "secret");
        let status = |a: &Auth, addr: &str, c: Credentials| a.decide(&request(addr, c)).status;
        assert_eq!(
            status(&auth, "10.0.0.1", plain("admin", "secret")),
            AuthStatus::Success
        );
        assert_eq!(
            auth.decide(&request("10.0.0.1", plain("admin", "secret")))
                .user_id,
            "admin"
        );
        assert_eq!(
            status(&auth, "10.0.0.1", plain("admin", "secreT")),
            AuthStatus::Failure
        );
        assert_eq!(
            status(&auth, "10.0.0.1", plain("root", "secret")),
            AuthStatus::Failure
        );
        assert_eq!(
            status(&auth, "10.0.0.1", Credentials::Null),
            AuthStatus::Success
        );
        let denying = auth.clone().deny("10.0.0.1");
        assert_eq!(
            status(&denying, "10.0.0.1", plain("admin", "secret")),
            AuthStatus::Failure
        );
        assert_eq!(
            status(&denying, "10.0.0.2", plain("admin", "secret")),
            AuthStatus::Success
        );
        // Once an address is allowed, only allowed ones pass, whatever is denied.
        let allowing = denying.allow("10.0.0.1");
        assert_eq!(
            status(&allowing, "10.0.0.1", plain("admin", "secret")),
            AuthStatus::Success
        );
        assert_eq!(
            status(&allowing, "10.0.0.2", plain("admin", "secret")),
            AuthStatus::Failure
        );
    }

    #[test]
    fn a_curve_clients_user_id_is_its_key_in_z85() {
        let pair = crate::CurveKeyPair::generate();
        let credentials = Credentials::Curve {
            public_key: *pair.public().as_bytes(),
        };
        for auth in [Auth::new(), Auth::new().curve_key(pair.public())] {
            let reply = auth.decide(&request("10.0.0.1", credentials.clone()));
            assert_eq!(reply.status, AuthStatus::Success);
            assert_eq!(reply.user_id, pair.public().to_z85().as_bytes());
        }
    }

    #[test]
    fn curve_keys_from_a_directory_decide_who_comes_in() {
        use crate::{certificate, test_support::Scratch, CurveKeyPair};
        let curve = |pair: &CurveKeyPair| Credentials::Curve {
            public_key: *pair.public().as_bytes(),
        };
        let status = |a: &Auth, c: Credentials| a.decide(&request("10.0.0.1", c)).status;
        let dir = Scratch::new("auth-curve-dir");
        let (alice, bob, carol) = (
            CurveKeyPair::generate(),
            CurveKeyPair::generate(),
            CurveKeyPair::generate(),
        );
        // An empty directory lets no CURVE client in (not: any client).
        let empty = Auth::new().curve_keys_from_dir(&dir.0).unwrap();
        assert_eq!(status(&empty, curve(&alice)), AuthStatus::Failure);

        certificate::save(dir.0.join("alice"), &alice).unwrap();
        certificate::save(dir.0.join("bob"), &bob).unwrap();
        let auth = Auth::new().curve_keys_from_dir(&dir.0).unwrap();
        assert_eq!(status(&auth, curve(&alice)), AuthStatus::Success);
        assert_eq!(status(&auth, curve(&bob)), AuthStatus::Success);
        assert_eq!(status(&auth, curve(&carol)), AuthStatus::Failure);
        // Keys given one by one add to those of the directory.
        let more = auth.curve_key(carol.public());
        assert_eq!(status(&more, curve(&carol)), AuthStatus::Success);

        dir.write("broken.key", "curve\n");
        let err = Auth::new().curve_keys_from_dir(&dir.0).unwrap_err();
        assert!(err.to_string().contains("broken.key"), "{err}");
    }

    #[test]
    fn secrets_compare_by_content() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abc", b"abd"));
        assert!(!same_secret(b"abc", b"abcd"));
        assert!(same_secret(b"", b""));
    }
}
