//! `router`: N DEALER clients ↔ one ROUTER echo. The ROUTER binds on the receiver
//! core and sends every message back to its sender; the N DEALERs share the sender
//! core, each with one request in flight (a closed loop). After one warm-up round trip
//! per client, the clock runs from the first measured request to the last reply, and
//! the figure is round trips per second summed over the clients.

use std::rc::Rc;

use bytes::Bytes;

use crate::harness::{
    check_size, endpoint_channel, glommio_side, join2, mono_util, thread_side, zmq_util, BindAddr,
    RunOptions, Stopwatch, RECEIVER_CORE, SENDER_CORE,
};
use crate::result::{Case, Impl, Sample};
use crate::Result;

/// Runs one ROUTER echo measurement; `case.count` is the total of round trips.
pub fn run(imp: Impl, case: &Case, opts: RunOptions) -> Result<Sample> {
    let addr = BindAddr::new(imp, case.transport);
    let clients = case.peers.max(1);
    let per_client = (case.count / clients as u64).max(1);
    let secs = match imp {
        Impl::Monocoque => monocoque(&addr.endpoint, case.size, clients, per_client, opts)?,
        Impl::Libzmq => libzmq(&addr.endpoint, case.size, clients, per_client)?,
        _ => return Err(format!("{imp} is not run in router").into()),
    };
    Ok(Sample::throughput(
        clients as u64 * per_client,
        case.size,
        secs,
    ))
}

/// Messages the ROUTER echoes: one warm-up plus `per_client` per client.
fn echoes(clients: usize, per_client: u64) -> u64 {
    clients as u64 * (1 + per_client)
}

fn monocoque(
    endpoint: &str,
    size: usize,
    clients: usize,
    per_client: u64,
    opts: RunOptions,
) -> Result<f64> {
    let (tx, rx) = endpoint_channel();
    let bind = endpoint.to_string();
    let server = glommio_side("router-echo", RECEIVER_CORE, opts, move || async move {
        let router = monocoque::Router::with_options(mono_util::options(opts));
        tx.send(router.bind(&bind)?.to_string())?;
        for _ in 0..echoes(clients, per_client) {
            let msg = router.recv().await?;
            router.send(msg).await?;
        }
        router.close().await;
        Ok(())
    })?;
    let client = glommio_side("router-dealers", SENDER_CORE, opts, move || async move {
        let endpoint = rx.get()?;
        let payload = Bytes::from(vec![0u8; size]);
        let mut dealers = Vec::with_capacity(clients);
        for _ in 0..clients {
            let d = monocoque::Dealer::with_options(mono_util::options(opts));
            d.connect(&endpoint)?;
            dealers.push(Rc::new(d));
        }
        // Round trips of every client at once, one task per client.
        let round = |n: u64| {
            let tasks: Vec<_> = dealers
                .iter()
                .map(|d| {
                    let (d, payload) = (Rc::clone(d), payload.clone());
                    glommio::spawn_local(async move {
                        for _ in 0..n {
                            d.send(payload.clone()).await?;
                            check_size(d.recv().await?.byte_len(), size)?;
                        }
                        Ok::<(), crate::Error>(())
                    })
                })
                .collect();
            async move {
                for t in tasks {
                    t.await?;
                }
                Ok::<(), crate::Error>(())
            }
        };
        round(1).await?;
        let watch = Stopwatch::start();
        round(per_client).await?;
        let secs = watch.stop();
        // Closed together: one close takes tens of milliseconds (see docs/performance.md).
        let closing: Vec<_> = dealers
            .into_iter()
            .filter_map(|d| Rc::try_unwrap(d).ok())
            .map(|d| glommio::spawn_local(d.close()))
            .collect();
        for c in closing {
            c.await;
        }
        Ok(secs)
    })?;
    let ((), secs) = join2(server, client)?;
    Ok(secs)
}

fn libzmq(endpoint: &str, size: usize, clients: usize, per_client: u64) -> Result<f64> {
    let (tx, rx) = endpoint_channel();
    let bind = endpoint.to_string();
    let server = thread_side("router-echo", RECEIVER_CORE, move || {
        let ctx = zmq::Context::new();
        let router = zmq_util::socket(&ctx, zmq::ROUTER)?;
        tx.send(zmq_util::bind(&router, &bind)?)?;
        for _ in 0..echoes(clients, per_client) {
            let mut id = zmq::Message::new();
            let mut body = zmq::Message::new();
            router.recv(&mut id, 0).map_err(zmq_util::timed_out)?;
            router.recv(&mut body, 0).map_err(zmq_util::timed_out)?;
            router.send(id, zmq::SNDMORE)?;
            router.send(body, 0)?;
        }
        Ok(())
    })?;
    let client = thread_side("router-dealers", SENDER_CORE, move || {
        let ctx = zmq::Context::new();
        let endpoint = rx.get()?;
        let mut dealers = Vec::with_capacity(clients);
        for _ in 0..clients {
            let d = zmq_util::socket(&ctx, zmq::DEALER)?;
            d.connect(&endpoint)?;
            dealers.push(d);
        }
        let mut reply = zmq::Message::new();
        for d in &dealers {
            d.send(zmq::Message::with_size(size), 0)?;
            d.recv(&mut reply, 0).map_err(zmq_util::timed_out)?;
        }
        // A closed loop over all clients: poll, take each reply, send the next request.
        let watch = Stopwatch::start();
        let mut left = vec![per_client; clients];
        let mut busy = clients;
        for d in &dealers {
            d.send(zmq::Message::with_size(size), 0)?;
        }
        let mut items: Vec<_> = dealers
            .iter()
            .map(|d| d.as_poll_item(zmq::POLLIN))
            .collect();
        while busy > 0 {
            if zmq::poll(&mut items, i64::from(crate::harness::RECV_TIMEOUT_MS))? == 0 {
                return Err("libzmq DEALER poll timed out".into());
            }
            for (i, d) in dealers.iter().enumerate() {
                if !items[i].is_readable() {
                    continue;
                }
                while d.recv(&mut reply, zmq::DONTWAIT).is_ok() {
                    check_size(reply.len(), size)?;
                    left[i] -= 1;
                    if left[i] > 0 {
                        d.send(zmq::Message::with_size(size), 0)?;
                    } else {
                        busy -= 1;
                    }
                }
            }
        }
        Ok(watch.stop())
    })?;
    let ((), secs) = join2(server, client)?;
    Ok(secs)
}
