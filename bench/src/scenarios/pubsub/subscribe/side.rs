//! What every subscriber side shares: the scenario's [`Deliveries`] and the marker
//! bookkeeping of its N subscribers ([`SubSide`]).

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use super::super::schedule::Rendezvous;
use super::super::spec::{Spec, END, WARMUP};
use crate::Result;

/// What a subscriber side does with the stream's messages. One value serves all N
/// subscribers of a side: they all run on the receiver core's one thread.
pub trait Deliveries: Send + 'static {
    /// What the side reports at the end.
    type Output: Send + 'static;
    /// Message `seq` of the stream (not a marker), whose body is `body`, reached
    /// subscriber `sub`.
    fn deliver(&mut self, sub: usize, seq: u64, body: &[u8]) -> Result<()>;
    /// The report.
    fn finish(self) -> Self::Output;
}

/// A subscriber side's state: markers seen per subscriber and the scenario's
/// [`Deliveries`].
pub(crate) struct SubSide<D> {
    spec: Spec,
    rv: Arc<Rendezvous>,
    warmed: Vec<bool>,
    ended: Vec<bool>,
    left: usize,
    deliveries: Option<D>,
}

impl<D: Deliveries> SubSide<D> {
    pub(crate) fn new(spec: Spec, rv: Arc<Rendezvous>, deliveries: D) -> SubSide<D> {
        SubSide {
            spec,
            rv,
            warmed: vec![false; spec.subs],
            ended: vec![false; spec.subs],
            left: spec.subs,
            deliveries: Some(deliveries),
        }
    }

    /// A side shared by the tasks of a side that runs one task per subscriber.
    pub(crate) fn shared(spec: Spec, rv: &Arc<Rendezvous>, deliveries: D) -> Rc<RefCell<Self>> {
        Rc::new(RefCell::new(SubSide::new(spec, Arc::clone(rv), deliveries)))
    }

    /// Subscribers that have not seen an end marker yet.
    pub(crate) fn left(&self) -> usize {
        self.left
    }

    /// Accounts for a message to subscriber `sub`; true once `sub` saw an end marker.
    pub(crate) fn on(&mut self, sub: usize, body: &[u8]) -> Result<bool> {
        if self.ended[sub] {
            return Ok(true);
        }
        match self.spec.seq(body)? {
            WARMUP => {
                if !self.warmed[sub] {
                    self.warmed[sub] = true;
                    self.rv.saw_warmup();
                }
            }
            END => {
                self.ended[sub] = true;
                self.left -= 1;
                self.rv.saw_end();
                return Ok(true);
            }
            seq => {
                if let Some(d) = self.deliveries.as_mut() {
                    d.deliver(sub, seq, body)?;
                }
            }
        }
        Ok(false)
    }

    /// The scenario's report, once.
    pub(crate) fn finish(&mut self) -> Result<D::Output> {
        self.deliveries
            .take()
            .map(D::finish)
            .ok_or_else(|| "subscriber side finished twice".into())
    }
}
