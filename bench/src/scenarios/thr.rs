//! `thr` and `thr-batch`: PUSH → PULL throughput. The receiver binds (like libzmq's
//! `local_thr`), the sender connects (like `remote_thr`). The clock starts when the
//! first message has been received and stops after the last, and throughput is
//! `count / elapsed`, exactly as `local_thr` computes it. `curve-thr` is the same with
//! CURVE on both sides ([`curve`]). Over inproc the two sides are the same executors
//! and threads as over TCP; libzmq's share one context ([`zmq_util::contexts`]).

use bytes::Bytes;

use crate::harness::{
    check_size, curve, endpoint_channel, glommio_side, join2, mono_util, thread_side, tokio_side,
    zmq_util, zmqrs_util, BindAddr, RunOptions, Stopwatch, RECEIVER_CORE, SENDER_CORE,
};
use crate::result::{Case, Impl, Sample};
use crate::Result;

/// Messages per `send_batch` call in `thr-batch`.
pub const SEND_BATCH: usize = 256;
/// Most messages taken per `recv_batch` call in `thr-batch`.
pub const RECV_BATCH: usize = 1024;

/// How the sender and receiver use their sockets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// One `send`/`recv` per message.
    Default,
    /// `send_batch`/`recv_batch` (Monocoque only; libzmq has no such API and runs
    /// its default one; zmq.rs is not run).
    Batch,
}

/// Runs one PUSH → PULL throughput measurement.
pub fn run(imp: Impl, case: &Case, api: Api, opts: RunOptions) -> Result<Sample> {
    let addr = BindAddr::new(imp, case.transport);
    let keys = curve::Keys::for_case(case);
    let secs = match imp {
        Impl::Monocoque => monocoque(&addr.endpoint, case.size, case.count, api, opts, keys)?,
        Impl::ZmqRs => match api {
            Api::Default => zmqrs(&addr.endpoint, case.size, case.count)?,
            Api::Batch => return Err("zmq.rs is not run in thr-batch".into()),
        },
        Impl::Libzmq => libzmq(&addr.endpoint, case, keys)?,
        _ => return Err(format!("{imp} is not run in thr").into()),
    };
    Ok(Sample::throughput(case.count, case.size, secs))
}

fn monocoque(
    endpoint: &str,
    size: usize,
    count: u64,
    api: Api,
    opts: RunOptions,
    keys: Option<curve::Keys>,
) -> Result<f64> {
    let (tx, rx) = endpoint_channel();
    let bind = endpoint.to_string();
    let (server, client) = (curve::server(keys.as_ref()), curve::client(keys.as_ref()));
    let receiver = glommio_side("thr-pull", RECEIVER_CORE, opts, move || async move {
        let pull = monocoque::Pull::with_options(mono_util::secured(opts, server));
        tx.send(pull.bind(&bind)?.to_string())?;
        let watch;
        match api {
            Api::Default => {
                check_size(pull.recv().await?.byte_len(), size)?;
                watch = Stopwatch::start();
                for _ in 1..count {
                    check_size(pull.recv().await?.byte_len(), size)?;
                }
            }
            Api::Batch => {
                let mut batch = Vec::with_capacity(RECV_BATCH);
                let mut got = pull.recv_batch(&mut batch, RECV_BATCH).await? as u64;
                watch = Stopwatch::start();
                loop {
                    for msg in batch.drain(..) {
                        check_size(msg.byte_len(), size)?;
                    }
                    if got >= count {
                        break;
                    }
                    got += pull.recv_batch(&mut batch, RECV_BATCH).await? as u64;
                }
            }
        }
        let secs = watch.stop();
        pull.close().await;
        Ok(secs)
    })?;
    let sender = glommio_side("thr-push", SENDER_CORE, opts, move || async move {
        let push = monocoque::Push::with_options(mono_util::secured(opts, client));
        push.connect(&rx.get()?)?;
        let payload = Bytes::from(vec![0u8; size]);
        match api {
            Api::Default => {
                for _ in 0..count {
                    push.send(payload.clone()).await?;
                }
            }
            Api::Batch => {
                let mut left = count;
                while left > 0 {
                    let n = left.min(SEND_BATCH as u64);
                    push.send_batch((0..n).map(|_| payload.clone())).await?;
                    left -= n;
                }
            }
        }
        push.close().await;
        Ok(())
    })?;
    let (secs, ()) = join2(receiver, sender)?;
    Ok(secs)
}

fn libzmq(endpoint: &str, case: &Case, keys: Option<curve::Keys>) -> Result<f64> {
    let (size, count) = (case.size, case.count);
    let (tx, rx) = endpoint_channel();
    let bind = endpoint.to_string();
    let server_keys = keys.clone();
    let (receiver_ctx, sender_ctx) = zmq_util::contexts(case.transport);
    let receiver = thread_side("thr-pull", RECEIVER_CORE, move || {
        let ctx = receiver_ctx;
        let pull = zmq_util::socket(&ctx, zmq::PULL)?;
        curve::zmq_server(&pull, server_keys.as_ref())?;
        tx.send(zmq_util::bind(&pull, &bind)?)?;
        let mut msg = zmq::Message::new();
        pull.recv(&mut msg, 0).map_err(zmq_util::timed_out)?;
        check_size(msg.len(), size)?;
        let watch = Stopwatch::start();
        for _ in 1..count {
            pull.recv(&mut msg, 0).map_err(zmq_util::timed_out)?;
            check_size(msg.len(), size)?;
        }
        Ok(watch.stop())
    })?;
    let sender = thread_side("thr-push", SENDER_CORE, move || {
        let ctx = sender_ctx;
        let endpoint = rx.get()?;
        let push = zmq_util::socket(&ctx, zmq::PUSH)?;
        curve::zmq_client(&push, keys.as_ref())?;
        push.connect(&endpoint)?;
        for _ in 0..count {
            // A fresh message of the size, as remote_thr sends; unlike remote_thr's, the
            // zmq crate's `Message::with_size` zero-fills it (a memset per message,
            // which shows at 64 KiB and 1 MiB, most of all over inproc).
            push.send(zmq::Message::with_size(size), 0)?;
        }
        Ok(())
    })?;
    let (secs, ()) = join2(receiver, sender)?;
    Ok(secs)
}

fn zmqrs(endpoint: &str, size: usize, count: u64) -> Result<f64> {
    use zeromq::{Socket as _, SocketRecv as _, SocketSend as _};
    use zmqrs_util::{byte_len, err};

    let (tx, rx) = endpoint_channel();
    // zmq.rs has no linger: a PUSH dropped with messages still queued for its
    // connection's writer task loses them. The sender keeps its socket (and its
    // runtime running) until the receiver has the last message.
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let bind = endpoint.to_string();
    let receiver = tokio_side("thr-pull", RECEIVER_CORE, move || async move {
        let mut pull = zeromq::PullSocket::new();
        tx.send(pull.bind(&bind).await.map_err(err("bind"))?.to_string())?;
        check_size(byte_len(&pull.recv().await.map_err(err("recv"))?), size)?;
        let watch = Stopwatch::start();
        for _ in 1..count {
            check_size(byte_len(&pull.recv().await.map_err(err("recv"))?), size)?;
        }
        let secs = watch.stop();
        let _ = done_tx.send(());
        pull.close().await;
        Ok(secs)
    })?;
    let sender = tokio_side("thr-push", SENDER_CORE, move || async move {
        let mut push = zeromq::PushSocket::new();
        push.connect(&rx.get()?).await.map_err(err("connect"))?;
        let payload = Bytes::from(vec![0u8; size]);
        for _ in 0..count {
            push.send(zeromq::ZmqMessage::from(payload.clone()))
                .await
                .map_err(err("send"))?;
        }
        done_rx
            .await
            .map_err(|_| "the receiving side stopped before the last message")?;
        push.close().await;
        Ok(())
    })?;
    let (secs, ()) = join2(receiver, sender)?;
    Ok(secs)
}
