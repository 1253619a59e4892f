//! NULL with ZAP (`SessionConfig::authenticate_null`, libzmq's NULL socket with a
//! ZAP_DOMAIN): the verdict is asked for before our READY, a refusal sends ERROR with
//! the status code (none for 300), and a session without the setting never asks.

mod common;

use bytes::BytesMut;
use common::{drain, greeting, transmitted, Pair};
use monocoque_zmtp::{
    AuthReply, AuthStatus, Credentials, Event, ProtocolError, Session, SessionConfig, SocketType,
};

fn asking(kind: SocketType) -> SessionConfig {
    let mut config = SessionConfig::new(kind);
    config.authenticate_null = true;
    config
}

/// Moves bytes both ways until nothing moves; neither side may fail.
fn pump_ok(p: &mut Pair) {
    let (ra, rb) = p.pump();
    ra.unwrap();
    rb.unwrap();
}

/// A libzmq DEALER's greeting and READY, as one input.
fn dealer_greeting_and_ready() -> BytesMut {
    let mut input = BytesMut::from(&greeting(1, b"NULL", false)[..]);
    input.extend_from_slice(b"\x04\x1c\x05READY\x0bSocket-Type\x00\x00\x00\x06DEALER");
    input
}

#[test]
fn the_verdict_comes_before_our_ready_and_the_peer_gets_its_user_id() {
    let mut s = Session::new(asking(SocketType::Router), std::time::Instant::now());
    let mut input = dealer_greeting_and_ready();
    // Asked at once, with the peer's READY left unread.
    assert_eq!(
        drain(&mut s, &mut input),
        Ok(vec![Event::Authenticate(Credentials::Null)])
    );
    assert!(!input.is_empty(), "the READY waits for the verdict");
    assert_eq!(transmitted(&mut s).len(), 64, "only our greeting went out");
    let mut reply = AuthReply::accept("anonymous");
    reply.metadata.insert("Hello", "World");
    s.authenticated(reply).unwrap();
    let ready = transmitted(&mut s);
    assert_eq!((ready[0], &ready[2..8]), (0x04, &b"\x05READY"[..]));
    match drain(&mut s, &mut input).unwrap().as_slice() {
        [Event::Ready(peer)] => {
            assert_eq!(peer.socket_type, SocketType::Dealer);
            assert_eq!(peer.user_id.as_deref(), Some(&b"anonymous"[..]));
            assert_eq!(peer.auth_metadata.get("Hello").unwrap(), "World");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn refusals_send_a_well_formed_error_except_300() {
    for status in [
        AuthStatus::TemporaryError,
        AuthStatus::Failure,
        AuthStatus::InternalError,
    ] {
        let mut p = Pair::new(
            SessionConfig::new(SocketType::Dealer),
            asking(SocketType::Router),
        );
        pump_ok(&mut p);
        assert_eq!(p.b_events, [Event::Authenticate(Credentials::Null)]);
        assert!(!p.a.is_ready() && !p.b.is_ready());
        let _ = transmitted(&mut p.b);
        assert_eq!(
            p.b.authenticated(AuthReply::refuse(status, "no")),
            Err(ProtocolError::AuthFailed {
                status: status.code()
            })
        );
        let mut sent = transmitted(&mut p.b);
        if status == AuthStatus::TemporaryError {
            assert!(sent.is_empty(), "300 closes without ERROR");
        } else {
            // libzmq's NULL writes "\5ERROR", a well-formed command.
            let mut expected = b"\x04\x0a\x05ERROR\x03".to_vec();
            expected.extend_from_slice(status.code().to_string().as_bytes());
            assert_eq!(&sent[..], &expected[..]);
            assert_eq!(
                drain(&mut p.a, &mut sent),
                Err(ProtocolError::PeerError(status.code().to_string()))
            );
        }
    }
}

#[test]
fn going_on_without_a_verdict_gives_no_user_id() {
    let mut p = Pair::new(
        SessionConfig::new(SocketType::Dealer),
        asking(SocketType::Dealer),
    );
    pump_ok(&mut p);
    assert_eq!(p.b_events, [Event::Authenticate(Credentials::Null)]);
    p.b.proceed_unauthenticated().unwrap();
    pump_ok(&mut p);
    assert!(p.a.is_ready() && p.b.is_ready());
    assert_eq!(p.b.peer().unwrap().user_id, None);
}

#[test]
fn both_ends_may_ask_and_a_plain_null_session_never_does() {
    let mut p = Pair::new(asking(SocketType::Dealer), asking(SocketType::Router));
    pump_ok(&mut p);
    assert_eq!(p.a_events, [Event::Authenticate(Credentials::Null)]);
    assert_eq!(p.b_events, [Event::Authenticate(Credentials::Null)]);
    p.a.authenticated(AuthReply::accept("server")).unwrap();
    p.b.authenticated(AuthReply::accept("client")).unwrap();
    pump_ok(&mut p);
    assert_eq!(p.a.peer().unwrap().user_id.as_deref(), Some(&b"server"[..]));
    assert_eq!(p.b.peer().unwrap().user_id.as_deref(), Some(&b"client"[..]));

    let p = Pair::connect(SocketType::Dealer, SocketType::Router);
    assert_eq!(p.b.peer().unwrap().user_id, None);
}

#[test]
fn a_verdict_is_taken_once() {
    let mut p = Pair::new(
        SessionConfig::new(SocketType::Dealer),
        asking(SocketType::Router),
    );
    pump_ok(&mut p);
    p.b.authenticated(AuthReply::accept("x")).unwrap();
    assert_eq!(
        p.b.authenticated(AuthReply::accept("x")),
        Err(ProtocolError::UnexpectedVerdict)
    );
}
