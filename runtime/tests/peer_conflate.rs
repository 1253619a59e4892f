//! A conflating peer's outbound queue (CONFLATE): one message, the newest, whatever
//! SNDHWM says; subscriptions are not conflated.

use std::borrow::Cow;
use std::rc::Rc;

use bytes::Bytes;
use monocoque_runtime::{Message, Notify, Peer, Queued};
use monocoque_zmtp::encoder::{Outgoing, ZERO_COPY_MIN};

/// The bytes `out` would write.
fn wire(out: &Outgoing) -> Vec<u8> {
    let mut bytes = Vec::new();
    out.segments(|s| bytes.extend_from_slice(s));
    bytes
}

/// `msg` encoded alone.
fn encoded(msg: &Message) -> Vec<u8> {
    let peer = Peer::new(0, String::new(), 0, Rc::new(Notify::new()));
    peer.try_send(msg).unwrap();
    let mut out = Outgoing::new();
    peer.take_messages(&mut out);
    wire(&out)
}

#[test]
fn a_conflating_queue_keeps_only_the_newest_message() {
    let peer = Peer::new(1, String::new(), 2, Rc::new(Notify::new()));
    assert!(!peer.conflates());
    peer.set_conflate();
    assert!(peer.conflates());
    let big = Bytes::from(vec![7u8; ZERO_COPY_MIN * 2]);
    // More than SNDHWM (2), a large body among them: every send is taken.
    for i in 0..5u8 {
        let queued = peer
            .try_send(&Message::from(vec![Bytes::from(vec![i]), big.clone()]))
            .unwrap();
        // One message kept, no bound: a publisher's yield mark is never reached.
        assert_eq!(
            queued,
            Queued {
                messages: 1,
                hwm: 0
            }
        );
        peer.queue(Cow::Owned(Message::single(vec![i; 3])), false);
    }
    peer.send_subscription(Bytes::from_static(b"a"), true);
    peer.send_subscription(Bytes::from_static(b"b"), true);
    // Ten messages queued, one kept: nine replaced.
    assert_eq!(peer.conflated(), 9);
    let mut out = Outgoing::new();
    peer.take_messages(&mut out);
    assert_eq!(wire(&out), encoded(&Message::single(vec![4u8; 3])));
    assert_eq!(
        peer.pop_subscription(),
        Some((Bytes::from_static(b"a"), true))
    );
    assert_eq!(
        peer.pop_subscription(),
        Some((Bytes::from_static(b"b"), true))
    );
    assert!(!peer.has_output());
    // What the connection took is not touched: a new message queues behind it.
    peer.try_send(&Message::single(vec![9u8])).unwrap();
    peer.take_messages(&mut out);
    let mut both = encoded(&Message::single(vec![4u8; 3]));
    both.extend(encoded(&Message::single(vec![9u8])));
    assert_eq!(wire(&out), both);
}
