//! A local socket used where no glommio executor runs (a plain thread, a tokio
//! runtime) reports `Error::NoExecutor` from every call that needs one, instead of
//! panicking inside glommio; construction, close and drop work there quietly. The
//! same sockets on a glommio executor work as usual.

mod common;

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use monocoque::{AnySocket, Error, Options, Runtime, ShardedSocket, SocketType};

const TYPES: [SocketType; 11] = [
    SocketType::Pair,
    SocketType::Pub,
    SocketType::Sub,
    SocketType::Req,
    SocketType::Rep,
    SocketType::Dealer,
    SocketType::Router,
    SocketType::Pull,
    SocketType::Push,
    SocketType::XPub,
    SocketType::XSub,
];

fn can_send(kind: SocketType) -> bool {
    !matches!(kind, SocketType::Sub | SocketType::Pull)
}

fn can_recv(kind: SocketType) -> bool {
    !matches!(kind, SocketType::Pub | SocketType::Push)
}

fn assert_no_executor<T: std::fmt::Debug>(what: &str, kind: SocketType, got: monocoque::Result<T>) {
    assert!(
        matches!(got, Err(Error::NoExecutor)),
        "{kind:?} {what}: {got:?}"
    );
}

/// Polls `fut` once: off an executor every call answers at once (nothing could ever
/// wake a call that waited).
fn poll_once<T>(fut: impl Future<Output = T>) -> Option<T> {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(fut).poll(&mut cx) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}

/// Every call of every socket type, from the current thread.
async fn every_call_reports_no_executor() {
    for kind in TYPES {
        let socket = AnySocket::new(kind);
        assert_no_executor("bind", kind, socket.bind("tcp://127.0.0.1:0"));
        assert_no_executor("connect", kind, socket.connect("tcp://127.0.0.1:5555"));
        if can_send(kind) {
            // (A ROUTER's message starts with a routing id; a REP, which must
            // receive first, reports the executor before that.)
            assert_no_executor("send", kind, socket.send(vec!["id", "hello"]).await);
        }
        if can_recv(kind) {
            assert_no_executor("recv", kind, socket.recv().await);
            if !matches!(kind, SocketType::Req | SocketType::Rep) {
                assert_no_executor("try_recv", kind, socket.try_recv());
            }
        }
        assert!(socket.monitor().try_recv().is_none());
        socket.close().await;
        // Dropped without close: no background shutdown, no panic.
        drop(AnySocket::new(kind));
    }
    // The typed sockets are the same sockets.
    let dealer = monocoque::Dealer::new();
    assert!(matches!(
        dealer.bind("tcp://127.0.0.1:0"),
        Err(Error::NoExecutor)
    ));
    assert!(matches!(
        dealer.connect("tcp://127.0.0.1:5555"),
        Err(Error::NoExecutor)
    ));
    assert!(matches!(dealer.send("x").await, Err(Error::NoExecutor)));
    assert!(matches!(dealer.recv().await, Err(Error::NoExecutor)));
    assert!(matches!(dealer.try_recv(), Err(Error::NoExecutor)));
    assert!(matches!(dealer.try_send("x"), Err(e) if matches!(e.error(), Error::NoExecutor)));
    drop(dealer);
    let sub = monocoque::Sub::new();
    assert!(matches!(sub.subscribe(b""), Err(Error::NoExecutor)));
}

#[test]
fn from_a_plain_thread_every_call_reports_no_executor() {
    let outcome = catch_unwind(|| poll_once(every_call_reports_no_executor()));
    let finished = outcome.expect("nothing panics");
    assert!(finished.is_some(), "every call answered at once");
}

#[test]
fn from_inside_tokio_every_call_reports_no_executor() {
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        tokio.block_on(async {
            tokio::time::timeout(common::WAIT, every_call_reports_no_executor()).await
        })
    }));
    let finished = outcome.expect("nothing panics");
    assert!(finished.is_ok(), "every call answered (none waited)");
}

#[test]
fn the_error_says_what_to_do_instead() {
    let message = Error::NoExecutor.to_string();
    for hint in ["glommio", "on_each_core", "ShardedSocket", "tokio"] {
        assert!(message.contains(hint), "{message:?} mentions {hint}");
    }
}

#[test]
fn on_a_glommio_executor_the_same_sockets_work() {
    common::run(|| async {
        let pull = AnySocket::new(SocketType::Pull);
        let endpoint = pull.bind("tcp://127.0.0.1:0").unwrap();
        let push = AnySocket::new(SocketType::Push);
        push.connect(&endpoint.to_string()).unwrap();
        push.send("hello").await.unwrap();
        let msg = common::within("the message", pull.recv()).await.unwrap();
        assert_eq!(&msg[0][..], b"hello");
        assert!(pull.try_recv().unwrap().is_none());
        push.close().await;
        pull.close().await;
    });
}

#[test]
fn a_sharded_socket_works_from_inside_tokio() {
    let rt = Runtime::builder().cores(vec![0]).build().expect("runtime");
    let pull = ShardedSocket::new(&rt, SocketType::Pull, Options::default());
    let endpoint = pull.bind("tcp://127.0.0.1:0").unwrap().to_string();
    let ctx = zmq::Context::new();
    let push = common::zsock(&ctx, zmq::PUSH);
    push.connect(&endpoint).unwrap();
    push.send("from libzmq", 0).unwrap();
    let tokio = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime");
    let msg = tokio.block_on(async { pull.recv_timeout(Some(common::WAIT)).unwrap() });
    assert_eq!(&msg.expect("a message")[0][..], b"from libzmq");
    rt.shutdown();
}
