//! Over inproc a message sent to one peer (`send` or `try_send`) moves into the
//! peer's queue and on through the lane: nothing is cloned on the way, so a frame
//! made from a `Vec` is not promoted to a shared buffer (an allocation per frame) and
//! the receiver gets the very buffer the sender made. Counted on the executor's
//! thread by the bench's per-thread counting allocator, after a warm-up, with the
//! messages built before counting starts.

mod common;

// The bench's per-thread counting allocator (bench/src/alloc_count.rs), included by path.
#[path = "../../bench/src/alloc_count.rs"]
mod alloc_count;

use alloc_count::{installed, thread_allocations, CountingAlloc};
use common::{run, within};
use monocoque::{Dealer, Message, Options, Pull, Push, Router};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

const MESSAGES: usize = 20_000;
const BATCH: usize = 500;

fn vec_messages(n: usize, route: Option<&[u8]>) -> Vec<Message> {
    (0..n)
        .map(|i| {
            let body = vec![i as u8; 64];
            match route {
                Some(id) => Message::from(vec![id.to_vec(), body]),
                None => Message::from(body),
            }
        })
        .collect()
}

/// Sends `msgs` in batches of [`BATCH`] with `send`, receiving each batch with `recv`
/// (a 64-byte last frame each).
async fn pass<S, R>(msgs: Vec<Message>, send: impl Fn(Message) -> S, recv: impl Fn() -> R)
where
    S: std::future::Future<Output = monocoque::Result<()>>,
    R: std::future::Future<Output = monocoque::Result<Message>>,
{
    let mut msgs = msgs.into_iter().peekable();
    while msgs.peek().is_some() {
        let mut n = 0;
        for msg in msgs.by_ref().take(BATCH) {
            send(msg).await.unwrap();
            n += 1;
        }
        for _ in 0..n {
            // No timeout per message (a glommio timer allocates): the whole pass has one.
            let got = recv().await.unwrap();
            assert_eq!(got[got.len() - 1].len(), 64);
        }
    }
}

/// Allocations on this thread while [`MESSAGES`] messages (with `route` in front,
/// for a ROUTER) pass, after a warm-up of two batches; messages are built before
/// counting starts.
async fn counted<S, R>(
    route: Option<&[u8]>,
    send: impl Fn(Message) -> S,
    recv: impl Fn() -> R,
) -> u64
where
    S: std::future::Future<Output = monocoque::Result<()>>,
    R: std::future::Future<Output = monocoque::Result<Message>>,
{
    let warm = vec_messages(2 * BATCH, route);
    let msgs = vec_messages(MESSAGES, route);
    within("the warm-up", pass(warm, &send, &recv)).await;
    let before = thread_allocations();
    within("the messages", pass(msgs, &send, &recv)).await;
    thread_allocations() - before
}

/// A few allocations per batch remain (about five: the executor's side of a receiver
/// parking and being woken), far from one per message.
fn assert_few(what: &str, allocations: u64) {
    assert!(
        allocations <= (MESSAGES / 20) as u64,
        "{what}: {allocations} allocations for {MESSAGES} messages"
    );
}

#[test]
fn a_message_for_one_peer_moves_without_an_allocation() {
    run(|| async {
        assert!(installed(), "the counting allocator counts this thread");
        // A load-balanced send.
        let pull = Pull::new();
        pull.bind("inproc://moves").unwrap();
        let push = Push::new();
        push.connect("inproc://moves").unwrap();
        let allocations = counted(None, |m| push.send(m), || pull.recv()).await;
        assert_few("PUSH → PULL", allocations);

        // A send to one peer.
        let router = Router::new();
        router.bind("inproc://routes").unwrap();
        let dealer = Dealer::with_options(Options::default().routing_id(&b"d"[..]));
        dealer.connect("inproc://routes").unwrap();
        dealer.send("hello").await.unwrap();
        within("the dealer's hello", router.recv()).await.unwrap();
        let allocations = counted(Some(b"d"), |m| router.send(m), || dealer.recv()).await;
        assert_few("ROUTER → DEALER", allocations);

        // The same with try_send, which hands a refused message back whole.
        let try_send = |m| std::future::ready(router.try_send(m).map_err(monocoque::Error::from));
        let allocations = counted(Some(b"d"), try_send, || dealer.recv()).await;
        assert_few("ROUTER try_send → DEALER", allocations);
    });
}
