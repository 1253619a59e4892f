//! `lat`: REQ ↔ REP round trips. REP binds on the receiver core and echoes; REQ
//! connects from the sender core and records every full round trip (send → reply
//! received) in an HDR histogram after a warm-up. `curve-lat` is the same with CURVE
//! on both sides ([`curve`]). Over inproc libzmq's two sides share one context
//! ([`zmq_util::contexts`]).

use std::future::Future;
use std::time::Instant;

use bytes::Bytes;
use hdrhistogram::Histogram;

use crate::harness::{
    check_size, curve, endpoint_channel, glommio_side, join2, mono_util, thread_side, tokio_side,
    zmq_util, zmqrs_util, BindAddr, RunOptions, RECEIVER_CORE, SENDER_CORE,
};
use crate::result::{Case, Impl, Sample};
use crate::Result;

/// Round trips before recording starts.
pub fn warmup(count: u64) -> u64 {
    (count / 10).clamp(10, 1_000)
}

/// Runs one REQ ↔ REP latency measurement.
pub fn run(imp: Impl, case: &Case, opts: RunOptions) -> Result<Sample> {
    let addr = BindAddr::new(imp, case.transport);
    let keys = curve::Keys::for_case(case);
    let hist = match imp {
        Impl::Monocoque => monocoque(&addr.endpoint, case.size, case.count, opts, keys)?,
        Impl::ZmqRs => zmqrs(&addr.endpoint, case.size, case.count)?,
        Impl::Libzmq => libzmq(&addr.endpoint, case, keys)?,
        _ => return Err(format!("{imp} is not run in lat").into()),
    };
    Ok(latency_sample(&hist))
}

/// A new histogram of nanoseconds, 1 ns to 60 s, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("valid histogram bounds")
}

/// Records the time since `start` in nanoseconds.
pub fn record(hist: &mut Histogram<u64>, start: Instant) {
    let ns = start.elapsed().as_nanos().clamp(1, 60_000_000_000) as u64;
    hist.saturating_record(ns);
}

/// Times `total` round trips, recording the last `count` (the rest warm up).
/// `round_trip` takes the client and hands it back, so a client whose calls need
/// `&mut` (zmq.rs) fits as well as one used through a shared reference.
async fn time_round_trips<C, F, Fut>(
    mut client: C,
    total: u64,
    count: u64,
    mut round_trip: F,
) -> Result<(C, Histogram<u64>)>
where
    F: FnMut(C) -> Fut,
    Fut: Future<Output = Result<C>>,
{
    let mut hist = histogram();
    for i in 0..total {
        let start = Instant::now();
        client = round_trip(client).await?;
        if i >= total - count {
            record(&mut hist, start);
        }
    }
    Ok((client, hist))
}

/// p50/p99/p99.9 in µs.
pub fn latency_sample(hist: &Histogram<u64>) -> Sample {
    let us = |q: f64| Some(hist.value_at_quantile(q) as f64 / 1e3);
    Sample {
        p50_us: us(0.5),
        p99_us: us(0.99),
        p999_us: us(0.999),
        ..Sample::default()
    }
}

fn monocoque(
    endpoint: &str,
    size: usize,
    count: u64,
    opts: RunOptions,
    keys: Option<curve::Keys>,
) -> Result<Histogram<u64>> {
    let total = warmup(count) + count;
    let (tx, rx) = endpoint_channel();
    let bind = endpoint.to_string();
    let (server_security, client) = (curve::server(keys.as_ref()), curve::client(keys.as_ref()));
    let server = glommio_side("lat-rep", RECEIVER_CORE, opts, move || async move {
        let rep = monocoque::Rep::with_options(mono_util::secured(opts, server_security));
        tx.send(rep.bind(&bind)?.to_string())?;
        for _ in 0..total {
            let msg = rep.recv().await?;
            rep.send(msg).await?;
        }
        rep.close().await;
        Ok(())
    })?;
    let client = glommio_side("lat-req", SENDER_CORE, opts, move || async move {
        let req = monocoque::Req::with_options(mono_util::secured(opts, client));
        req.connect(&rx.get()?)?;
        let payload = Bytes::from(vec![0u8; size]);
        let (_, hist) = time_round_trips(&req, total, count, |req| {
            let payload = payload.clone();
            async move {
                req.send(payload).await?;
                check_size(req.recv().await?.byte_len(), size)?;
                Ok(req)
            }
        })
        .await?;
        req.close().await;
        Ok(hist)
    })?;
    let ((), hist) = join2(server, client)?;
    Ok(hist)
}

fn libzmq(endpoint: &str, case: &Case, keys: Option<curve::Keys>) -> Result<Histogram<u64>> {
    let (size, count) = (case.size, case.count);
    let total = warmup(count) + count;
    let (tx, rx) = endpoint_channel();
    let bind = endpoint.to_string();
    let server_keys = keys.clone();
    let (server_ctx, client_ctx) = zmq_util::contexts(case.transport);
    let server = thread_side("lat-rep", RECEIVER_CORE, move || {
        let ctx = server_ctx;
        let rep = zmq_util::socket(&ctx, zmq::REP)?;
        curve::zmq_server(&rep, server_keys.as_ref())?;
        tx.send(zmq_util::bind(&rep, &bind)?)?;
        for _ in 0..total {
            let mut msg = zmq::Message::new();
            rep.recv(&mut msg, 0).map_err(zmq_util::timed_out)?;
            rep.send(msg, 0)?;
        }
        Ok(())
    })?;
    let client = thread_side("lat-req", SENDER_CORE, move || {
        let ctx = client_ctx;
        let endpoint = rx.get()?;
        let req = zmq_util::socket(&ctx, zmq::REQ)?;
        curve::zmq_client(&req, keys.as_ref())?;
        req.connect(&endpoint)?;
        let mut reply = zmq::Message::new();
        let mut hist = histogram();
        for i in 0..total {
            let start = Instant::now();
            req.send(zmq::Message::with_size(size), 0)?;
            req.recv(&mut reply, 0).map_err(zmq_util::timed_out)?;
            check_size(reply.len(), size)?;
            if i >= total - count {
                record(&mut hist, start);
            }
        }
        Ok(hist)
    })?;
    let ((), hist) = join2(server, client)?;
    Ok(hist)
}

fn zmqrs(endpoint: &str, size: usize, count: u64) -> Result<Histogram<u64>> {
    use zeromq::{Socket as _, SocketRecv as _, SocketSend as _};
    use zmqrs_util::{byte_len, err};

    let total = warmup(count) + count;
    let (tx, rx) = endpoint_channel();
    let bind = endpoint.to_string();
    let server = tokio_side("lat-rep", RECEIVER_CORE, move || async move {
        let mut rep = zeromq::RepSocket::new();
        tx.send(rep.bind(&bind).await.map_err(err("bind"))?.to_string())?;
        for _ in 0..total {
            let msg = rep.recv().await.map_err(err("recv"))?;
            // REP's send writes and flushes the reply itself (no writer task), so the
            // last reply is on the wire before the socket closes.
            rep.send(msg).await.map_err(err("send"))?;
        }
        rep.close().await;
        Ok(())
    })?;
    let client = tokio_side("lat-req", SENDER_CORE, move || async move {
        let mut req = zeromq::ReqSocket::new();
        req.connect(&rx.get()?).await.map_err(err("connect"))?;
        let payload = Bytes::from(vec![0u8; size]);
        let (req, hist) = time_round_trips(req, total, count, |mut req| {
            let payload = payload.clone();
            async move {
                req.send(zeromq::ZmqMessage::from(payload))
                    .await
                    .map_err(err("send"))?;
                check_size(byte_len(&req.recv().await.map_err(err("recv"))?), size)?;
                Ok(req)
            }
        })
        .await?;
        req.close().await;
        Ok(hist)
    })?;
    let ((), hist) = join2(server, client)?;
    Ok(hist)
}
