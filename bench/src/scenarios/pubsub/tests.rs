//! Unit tests of the pacing and of the message writing.

use std::sync::Arc;
use std::time::Duration;

use super::publish::PublishJob;
use super::schedule::{Pacer, Rendezvous, Step, CLOCK_EVERY};
use super::spec::{Spec, END};

fn spec(rate: Option<f64>, limit: Option<Duration>) -> Spec {
    Spec {
        subs: 1,
        size: 64,
        count: 1_000,
        topics: false,
        rate,
        limit,
    }
}

#[test]
fn flat_out_sends_everything_in_clock_sized_steps() {
    let pacer = Pacer::new(spec(None, None));
    assert!(matches!(pacer.next(0), Step::Send(n) if n == CLOCK_EVERY));
    assert!(matches!(pacer.next(900), Step::Send(1_000)));
    assert!(matches!(pacer.next(1_000), Step::Done));
}

#[test]
fn paced_waits_when_caught_up_and_stops_at_the_limit() {
    let pacer = Pacer::new(spec(Some(1.0), None));
    // One message is due at once, the next a second later.
    assert!(matches!(pacer.next(0), Step::Send(1)));
    assert!(matches!(pacer.next(1), Step::Wait));
    let pacer = Pacer::new(spec(Some(1.0), Some(Duration::ZERO)));
    assert!(matches!(pacer.next(0), Step::Done));
}

#[test]
fn stamps_leave_markers_alone() {
    let job = PublishJob {
        spec: spec(None, None),
        rv: Arc::new(Rendezvous::default()),
        fill: |body: &mut [u8], seq: u64| body[8] = seq as u8 + 1,
    };
    let mut body = vec![0u8; 64];
    job.write(&mut body, None, 4);
    assert_eq!((job.spec.seq(&body).unwrap(), body[8]), (4, 5));
    let mut body = vec![0u8; 64];
    job.write(&mut body, None, END);
    assert_eq!((job.spec.seq(&body).unwrap(), body[8]), (END, 0));
}
