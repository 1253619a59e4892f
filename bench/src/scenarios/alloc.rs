//! `alloc`: allocations per message in steady state on PUSH → PULL, counted by the
//! bench binary's counting global allocator ([`crate::alloc_count`]) on each side's
//! thread: the send path (the PUSH task and its connection driver, core 0) and the
//! receive path (the PULL's connection driver and the receiving task, core 1).
//!
//! Both sides first pass a warm-up of messages (buffers and queues reach their
//! working size), then count the allocations of their thread over the measured
//! messages. Monocoque only: libzmq allocates through C `malloc`, which a Rust
//! global allocator does not see. `curve-alloc` counts the same with CURVE on both
//! sides ([`curve`]): sealing and opening MESSAGE boxes included.

use bytes::Bytes;

use crate::alloc_count::{installed, thread_allocations};
use crate::harness::{
    check_size, curve, endpoint_channel, glommio_side, join2, mono_util, BindAddr, RunOptions,
    RECEIVER_CORE, SENDER_CORE,
};
use crate::result::{Case, Impl, Sample};
use crate::Result;

/// Runs one allocation count; `case.count` messages are measured after as many
/// warm-up messages.
pub fn run(imp: Impl, case: &Case, opts: RunOptions) -> Result<Sample> {
    if imp != Impl::Monocoque {
        return Err("allocations are counted for Monocoque only".into());
    }
    if !installed() {
        return Err("the counting allocator is not this binary's global allocator".into());
    }
    let addr = BindAddr::new(imp, case.transport);
    let (size, count) = (case.size, case.count);
    let warmup = count;
    let (tx, rx) = endpoint_channel();
    let bind = addr.endpoint.clone();
    let keys = curve::Keys::for_case(case);
    let (server, client) = (curve::server(keys.as_ref()), curve::client(keys.as_ref()));
    let receiver = glommio_side("alloc-pull", RECEIVER_CORE, opts, move || async move {
        let pull = monocoque::Pull::with_options(mono_util::secured(opts, server));
        tx.send(pull.bind(&bind)?.to_string())?;
        for _ in 0..warmup {
            check_size(pull.recv().await?.byte_len(), size)?;
        }
        let before = thread_allocations();
        for _ in 0..count {
            check_size(pull.recv().await?.byte_len(), size)?;
        }
        let allocs = thread_allocations() - before;
        pull.close().await;
        Ok(allocs)
    })?;
    let sender = glommio_side("alloc-push", SENDER_CORE, opts, move || async move {
        let push = monocoque::Push::with_options(mono_util::secured(opts, client));
        push.connect(&rx.get()?)?;
        let payload = Bytes::from(vec![0u8; size]);
        for _ in 0..warmup {
            push.send(payload.clone()).await?;
        }
        let before = thread_allocations();
        for _ in 0..count {
            push.send(payload.clone()).await?;
        }
        let allocs = thread_allocations() - before;
        push.close().await;
        Ok(allocs)
    })?;
    let (recv_allocs, send_allocs) = join2(receiver, sender)?;
    Ok(Sample {
        allocs_send: Some(send_allocs as f64 / count as f64),
        allocs_recv: Some(recv_allocs as f64 / count as f64),
        ..Sample::default()
    })
}
