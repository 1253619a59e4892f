//! Monocoque's subscriber side: N SUBs, one task each, on one glommio executor pinned
//! to the receiver core.

use std::rc::Rc;
use std::sync::Arc;

use super::super::schedule::{Rendezvous, SubsClosedOnDrop, WATCH_TICK};
use super::super::spec::Spec;
use super::side::{Deliveries, SubSide};
use crate::harness::{glommio_side, mono_util, EndpointRx, RunOptions, Side, RECEIVER_CORE};
use crate::Result;

/// N Monocoque SUBs, one task each, on one executor pinned to the receiver core.
pub(crate) fn mono_subscribers<D: Deliveries>(
    rx: EndpointRx,
    spec: Spec,
    rv: Arc<Rendezvous>,
    opts: RunOptions,
    deliveries: D,
) -> Result<Side<D::Output>> {
    glommio_side("subs", RECEIVER_CORE, opts, move || async move {
        let _closed = SubsClosedOnDrop(Arc::clone(&rv));
        let endpoint = rx.get()?;
        let side = SubSide::shared(spec, &rv, deliveries);
        // Closed when the publisher is done: a subscriber still waiting for its end
        // marker then stops and closes its socket (a task cancelled instead would drop
        // its SUB when the executor is torn down, which Monocoque does not allow).
        let stop = Rc::new(glommio::sync::Semaphore::new(0));
        let mut tasks = Vec::with_capacity(spec.subs);
        for j in 0..spec.subs {
            let sub = monocoque::Sub::with_options(mono_util::options(opts));
            sub.subscribe(&spec.subscription(j))?;
            sub.connect(&endpoint)?;
            let side = Rc::clone(&side);
            let stop = Rc::clone(&stop);
            tasks.push(glommio::spawn_local(async move {
                let receive = async {
                    loop {
                        let msg = sub.recv().await?;
                        if side.borrow_mut().on(j, &msg[0])? {
                            return Ok(());
                        }
                    }
                };
                let stopped = async {
                    let _ = stop.acquire(1).await;
                    Ok(())
                };
                let result: Result<()> = futures_lite::future::or(receive, stopped).await;
                sub.close().await;
                result
            }));
        }
        let watcher = glommio::spawn_local(async move {
            while !rv.is_over() {
                glommio::timer::sleep(WATCH_TICK).await;
            }
            stop.close();
        });
        // Every task is awaited, even after one failed (see `stop`).
        let mut failed = None;
        for t in tasks {
            if let Err(e) = t.await {
                failed.get_or_insert(e);
            }
        }
        watcher.await;
        if let Some(e) = failed {
            return Err(e);
        }
        let output = side.borrow_mut().finish();
        output
    })
}
