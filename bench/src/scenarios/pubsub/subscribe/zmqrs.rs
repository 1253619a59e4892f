//! zmq.rs's subscriber side: N SUBs, one task each, on a current-thread tokio runtime
//! pinned to the receiver core.

use std::rc::Rc;
use std::sync::Arc;

use super::super::schedule::{Rendezvous, SubsClosedOnDrop, WATCH_TICK};
use super::super::spec::Spec;
use super::side::{Deliveries, SubSide};
use crate::harness::{tokio_side, zmqrs_util, EndpointRx, Side, RECEIVER_CORE};
use crate::Result;

/// N zmq.rs SUBs, one task each, on a current-thread tokio runtime pinned to the
/// receiver core.
pub(crate) fn zmqrs_subscribers<D: Deliveries>(
    rx: EndpointRx,
    spec: Spec,
    rv: Arc<Rendezvous>,
    deliveries: D,
) -> Result<Side<D::Output>> {
    use zeromq::{Socket as _, SocketRecv as _};
    use zmqrs_util::err;
    tokio_side("subs", RECEIVER_CORE, move || async move {
        let _closed = SubsClosedOnDrop(Arc::clone(&rv));
        let endpoint = rx.get()?;
        let side = SubSide::shared(spec, &rv, deliveries);
        let mut subs = Vec::with_capacity(spec.subs);
        for j in 0..spec.subs {
            let mut sub = zeromq::SubSocket::new();
            sub.connect(&endpoint).await.map_err(err("connect"))?;
            let prefix = String::from_utf8(spec.subscription(j))?;
            sub.subscribe(&prefix).await.map_err(err("subscribe"))?;
            subs.push(sub);
        }
        let local = tokio::task::LocalSet::new();
        let run = local
            .run_until(async {
                let tasks: Vec<_> = subs
                    .into_iter()
                    .enumerate()
                    .map(|(j, mut sub)| {
                        let side = Rc::clone(&side);
                        tokio::task::spawn_local(async move {
                            loop {
                                let msg = sub.recv().await.map_err(err("recv"))?;
                                let body = msg.get(0).ok_or("empty zmq.rs message")?;
                                if side.borrow_mut().on(j, body)? {
                                    break;
                                }
                            }
                            sub.close().await;
                            Ok::<(), crate::Error>(())
                        })
                    })
                    .collect();
                let all = async {
                    for t in tasks {
                        t.await??;
                    }
                    Ok::<(), crate::Error>(())
                };
                let gave_up = async {
                    while !rv.is_over() {
                        tokio::time::sleep(WATCH_TICK).await;
                    }
                    Ok(())
                };
                futures_lite::future::or(all, gave_up).await
            })
            .await;
        // Tasks still waiting (the publisher gave up) are dropped with the set.
        drop(local);
        run?;
        let output = side.borrow_mut().finish();
        output
    })
}
