//! PLAIN (RFC 24) between two sessions and against hand-written peers: the exact
//! commands, the stop for the authenticator's verdict, and every way a handshake can
//! be refused.

mod common;

use bytes::{Bytes, BytesMut};
use common::{drain, greeting, transmitted, Pair};
use monocoque_zmtp::{
    AuthReply, AuthStatus, Credentials, Event, Metadata, ProtocolError, Security, SessionConfig,
    SocketType,
};

fn client(user: &'static str, pass: &'static str) -> SessionConfig {
    let mut c = SessionConfig::new(SocketType::Dealer);
    c.security = Security::PlainClient {
        username: Bytes::from_static(user.as_bytes()),
        password: Bytes::from_static(pass.as_bytes()),
    };
    c
}

fn server() -> SessionConfig {
    let mut s = SessionConfig::new(SocketType::Router);
    s.security = Security::PlainServer;
    s
}

/// Runs a client/server pair until the server asks for its verdict; returns the pair
/// and the credentials it asked about.
fn until_verdict() -> (Pair, Credentials) {
    let mut p = Pair::new(client("admin", "password"), server());
    let (ra, rb) = p.pump();
    ra.unwrap();
    rb.unwrap();
    let asked: Vec<_> = p
        .b_events
        .drain(..)
        .filter_map(|e| match e {
            Event::Authenticate(c) => Some(c),
            _ => None,
        })
        .collect();
    assert_eq!(asked.len(), 1, "the server asks once");
    assert!(!p.a.is_ready() && !p.b.is_ready());
    (p, asked.into_iter().next().unwrap())
}

#[test]
fn valid_credentials_complete_the_handshake_with_the_user_id() {
    let (mut p, credentials) = until_verdict();
    assert_eq!(
        credentials,
        Credentials::Plain {
            username: Bytes::from_static(b"admin"),
            password: Bytes::from_static(b"password"),
        }
    );
    let mut reply = AuthReply::accept("alice");
    reply.metadata.insert("Hello", "World");
    p.b.authenticated(reply).unwrap();
    let (ra, rb) = p.pump();
    ra.unwrap();
    rb.unwrap();
    assert!(p.a.is_ready() && p.b.is_ready());
    let server_saw = p.b.peer().unwrap();
    assert_eq!(server_saw.socket_type, SocketType::Dealer);
    assert_eq!(server_saw.user_id.as_deref(), Some(&b"alice"[..]));
    assert_eq!(server_saw.auth_metadata.get("Hello").unwrap(), "World");
    assert_eq!(p.a.peer().unwrap().socket_type, SocketType::Router);
    assert_eq!(p.a.peer().unwrap().user_id, None, "the client asked nobody");
}

#[test]
fn refusals_send_error_with_the_code_except_300() {
    for status in [
        AuthStatus::TemporaryError,
        AuthStatus::Failure,
        AuthStatus::InternalError,
    ] {
        let (mut p, _) = until_verdict();
        let err =
            p.b.authenticated(AuthReply::refuse(status, "no"))
                .unwrap_err();
        assert_eq!(
            err,
            ProtocolError::AuthFailed {
                status: status.code()
            }
        );
        let sent = transmitted(&mut p.b);
        if status == AuthStatus::TemporaryError {
            assert!(sent.is_empty(), "300 closes without ERROR");
        } else {
            let code = status.code().to_string();
            // libzmq 4.3's form of ERROR (see LIBZMQ_ERROR_PREFIX).
            let mut expected = b"\x04\x09\x5eRROR\x03".to_vec();
            expected.extend_from_slice(code.as_bytes());
            assert_eq!(&sent[..], &expected[..]);
            // The client learns why.
            let mut wire = sent;
            assert_eq!(
                drain(&mut p.a, &mut wire),
                Err(ProtocolError::PeerError(code))
            );
        }
        // The server is done with this peer.
        assert!(p.b.handle_input(&mut BytesMut::from(&b"x"[..])).is_err());
    }
}

#[test]
fn the_client_sends_exactly_what_libzmq_sends() {
    let mut c = monocoque_zmtp::Session::new(client("admin", "pw"), std::time::Instant::now());
    let mut input = BytesMut::from(&greeting(1, b"PLAIN", false)[..]);
    assert_eq!(drain(&mut c, &mut input), Ok(vec![]));
    let sent = transmitted(&mut c);
    // Our greeting names PLAIN, as-server 0, then HELLO.
    assert_eq!(&sent[12..17], b"PLAIN");
    assert_eq!(sent[32], 0);
    assert_eq!(&sent[64..], b"\x04\x0f\x05HELLO\x05admin\x02pw");
    // WELCOME (no body) → INITIATE with our properties.
    let mut welcome = BytesMut::from(&b"\x04\x08\x07WELCOME"[..]);
    assert_eq!(drain(&mut c, &mut welcome), Ok(vec![]));
    let initiate = transmitted(&mut c);
    assert_eq!(&initiate[2..11], b"\x08INITIATE");
    let props = Metadata::decode(Bytes::copy_from_slice(&initiate[11..])).unwrap();
    assert_eq!(props.get("Socket-Type").unwrap(), "DEALER");
}

/// Feeds a PLAIN server a greeting and then `command`; returns what it says.
fn server_gets(command: &[u8]) -> Result<Vec<Event>, ProtocolError> {
    let mut s = monocoque_zmtp::Session::new(server(), std::time::Instant::now());
    let mut input = BytesMut::from(&greeting(1, b"PLAIN", false)[..]);
    input.extend_from_slice(command);
    drain(&mut s, &mut input)
}

#[test]
fn malformed_and_unexpected_hellos_are_refused() {
    assert!(matches!(
        server_gets(b"\x04\x0c\x05HELLO\x05admin"),
        Err(ProtocolError::MalformedCommand {
            command: "HELLO",
            ..
        })
    ));
    assert!(matches!(
        server_gets(b"\x04\x0e\x05HELLO\x01a\x01b!!!!"),
        Err(ProtocolError::MalformedCommand { .. })
    ));
    // A READY (or any other command) instead of HELLO.
    assert!(matches!(
        server_gets(b"\x04\x06\x05READY"),
        Err(ProtocolError::UnexpectedCommand(_))
    ));
    // Data before the handshake.
    assert_eq!(
        server_gets(b"\x00\x01x"),
        Err(ProtocolError::MessageBeforeReady)
    );
    // A well-formed HELLO asks for the verdict.
    assert_eq!(
        server_gets(b"\x04\x0a\x05HELLO\x01a\x01b"),
        Ok(vec![Event::Authenticate(Credentials::Plain {
            username: Bytes::from_static(b"a"),
            password: Bytes::from_static(b"b"),
        })])
    );
}

#[test]
fn mechanism_mismatch_in_both_directions() {
    let mut p = Pair::new(SessionConfig::new(SocketType::Dealer), server());
    let (ra, rb) = p.pump();
    assert!(matches!(ra, Err(ProtocolError::MechanismMismatch { .. })));
    assert!(matches!(rb, Err(ProtocolError::MechanismMismatch { .. })));
    assert!(p.b_events.is_empty(), "the authenticator is never asked");
}

#[test]
fn a_verdict_nobody_asked_for_is_an_error() {
    let mut p = Pair::connect(SocketType::Dealer, SocketType::Router);
    assert_eq!(
        p.b.authenticated(AuthReply::accept("x")),
        Err(ProtocolError::UnexpectedVerdict)
    );
}
