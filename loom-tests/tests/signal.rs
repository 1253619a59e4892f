//! loom models of `runtime/src/signal.rs`: a waiter that finds no credit and waits on a
//! [`Signal`] is always woken by the core that gives credit back (no lost wake-up), and a
//! waiter is woken at most once per announced wait.
//!
//! Teeth, checked by hand when this was written: without the fence in `Signal::notify`
//! both waiting models fail (loom finds the deadlock).
//!
//! The doorbell is loom's `Notify`, which latches like the real waker set does (a wake
//! that comes before the wait is not lost).

use loom::sync::{Arc, Notify};
use loom::thread;
use monocoque_loom_tests::signal::{Credit, Signal};

fn model<F: Fn() + Sync + Send + 'static>(f: F) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(3);
    }
    builder.check(f);
}

/// Takes one unit of credit, waiting on the signal the way the handle does: try, announce,
/// try again, sleep.
fn take(credit: &Credit, signal: &Signal, bell: &Notify) {
    loop {
        if credit.try_take() {
            return;
        }
        signal.prepare_wait();
        if credit.try_take() {
            return;
        }
        bell.wait();
    }
}

/// The core's side: hands one unit back and rings if someone waits.
fn give_back(credit: &Credit, signal: &Signal, bell: &Notify) {
    credit.give_back(1);
    if signal.notify() {
        bell.notify();
    }
}

#[test]
fn a_waiter_for_credit_is_always_woken() {
    model(|| {
        let credit = Arc::new(Credit::new(0));
        let signal = Arc::new(Signal::default());
        let bell = Arc::new(Notify::new());
        let core = {
            let (credit, signal, bell) = (credit.clone(), signal.clone(), bell.clone());
            thread::spawn(move || give_back(&credit, &signal, &bell))
        };
        // loom reports a deadlock if this waits for a wake-up that never comes.
        take(&credit, &signal, &bell);
        core.join().unwrap();
        assert_eq!(credit.available(), 0);
    });
}

#[test]
fn two_units_given_back_one_at_a_time_reach_a_waiter_that_needs_both() {
    model(|| {
        let credit = Arc::new(Credit::new(0));
        let signal = Arc::new(Signal::default());
        let bell = Arc::new(Notify::new());
        let core = {
            let (credit, signal, bell) = (credit.clone(), signal.clone(), bell.clone());
            thread::spawn(move || {
                for _ in 0..2 {
                    give_back(&credit, &signal, &bell);
                }
            })
        };
        take(&credit, &signal, &bell);
        take(&credit, &signal, &bell);
        core.join().unwrap();
        assert_eq!(credit.available(), 0);
    });
}

#[test]
fn credit_is_never_taken_twice() {
    model(|| {
        let credit = Arc::new(Credit::new(1));
        let other = {
            let credit = credit.clone();
            thread::spawn(move || credit.try_take())
        };
        let mine = credit.try_take();
        let theirs = other.join().unwrap();
        assert!(mine ^ theirs, "exactly one taker gets the only unit");
    });
}
