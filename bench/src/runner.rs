//! Runs cases: every implementation in turn (A B A B …), repeated, then the median of
//! each figure and the spread of the primary one.

use std::time::Instant;

use crate::harness::RunOptions;
use crate::result::{median, Case, Impl, Metric, Sample, Summary};
use crate::scenarios;

/// Runs cases and reports progress on stderr.
pub struct Runner {
    /// Repetitions per implementation and case.
    pub reps: usize,
    /// Implementations to compare.
    pub impls: Vec<Impl>,
    /// Options for every run.
    pub opts: RunOptions,
    /// Print progress lines on stderr.
    pub progress: bool,
    started: Instant,
    planned: usize,
    done: usize,
}

impl Runner {
    /// A runner that will do `planned_cases` cases.
    pub fn new(reps: usize, impls: Vec<Impl>, opts: RunOptions, planned_cases: usize) -> Runner {
        Runner {
            reps: reps.max(1),
            impls,
            opts,
            progress: true,
            started: Instant::now(),
            planned: planned_cases,
            done: 0,
        }
    }

    /// Runs `case` with every implementation that supports it, alternating, and
    /// returns one summary per implementation with ratios to libzmq filled in.
    pub fn run_case(&mut self, case: &Case) -> Vec<Summary> {
        let impls: Vec<Impl> = self
            .impls
            .iter()
            .copied()
            .filter(|&i| scenarios::supports(i, case))
            .collect();
        let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); impls.len()];
        let mut errors: Vec<Vec<String>> = vec![Vec::new(); impls.len()];
        for rep in 0..self.reps {
            for (k, &imp) in impls.iter().enumerate() {
                let t = Instant::now();
                let result = scenarios::run(imp, case, self.opts);
                if self.progress {
                    let what = match &result {
                        Ok(s) => describe(case, s),
                        Err(e) => format!("FAILED: {e}"),
                    };
                    eprintln!(
                        "[{:>3}/{} {:>5.0}s] {} | {} rep {}/{} ({:.1}s): {}",
                        self.done + 1,
                        self.planned,
                        self.started.elapsed().as_secs_f64(),
                        case.label(),
                        imp,
                        rep + 1,
                        self.reps,
                        t.elapsed().as_secs_f64(),
                        what
                    );
                }
                match result {
                    Ok(s) => samples[k].push(s),
                    Err(e) => errors[k].push(e.to_string()),
                }
            }
        }
        self.done += 1;
        let mut out: Vec<Summary> = impls
            .iter()
            .zip(samples)
            .zip(errors)
            .map(|((&imp, s), e)| summarize(case, imp, &s, e, self.opts))
            .collect();
        fill_ratios(&mut out);
        out
    }
}

fn describe(case: &Case, s: &Sample) -> String {
    let m = case.scenario.primary();
    match m.get(s) {
        Some(v) => format!("{:?} = {}", m, crate::numbers::fmt_num(v)),
        None => "no figure".into(),
    }
}

/// Medians of each figure over `samples`, and the min/max of the primary one.
pub fn summarize(
    case: &Case,
    imp: Impl,
    samples: &[Sample],
    errors: Vec<String>,
    opts: RunOptions,
) -> Summary {
    let mut med = Sample::default();
    for m in Metric::ALL {
        let mut v: Vec<f64> = samples.iter().filter_map(|s| m.get(s)).collect();
        if !v.is_empty() {
            m.set(&mut med, Some(median(&mut v)));
        }
    }
    let primary = case.scenario.primary();
    let vals: Vec<f64> = samples.iter().filter_map(|s| primary.get(s)).collect();
    let spread = (!vals.is_empty()).then(|| {
        let lo = vals.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lo, hi)
    });
    Summary {
        case: case.clone(),
        imp,
        median: med,
        spread,
        reps: samples.len(),
        errors,
        spin: imp.uses_monocoque().then_some(opts.spin),
        busy_poll: imp.uses_monocoque().then_some(opts.busy_poll),
        api: scenarios::api(imp, case),
        ratio_vs_libzmq: None,
    }
}

/// Sets each summary's ratio of its primary figure to libzmq's.
pub fn fill_ratios(summaries: &mut [Summary]) {
    let reference = summaries
        .iter()
        .find(|s| s.imp == Impl::Libzmq)
        .and_then(Summary::primary);
    for s in summaries.iter_mut() {
        s.ratio_vs_libzmq = match (s.primary(), reference) {
            (Some(v), Some(r)) if r != 0.0 => Some(v / r),
            _ => None,
        };
    }
}
