//! The readable table (Markdown, so it pastes into docs/performance.md) and the JSON
//! lines.

use std::fmt::Write as _;

use crate::numbers::{fmt_num, fmt_size};
use crate::result::{Impl, Scenario, Summary};

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "–".into(), fmt_num)
}

/// The comparison table, one row per case and implementation.
pub fn table(results: &[Summary]) -> String {
    let mut out = String::new();
    let head = "| scenario | transport | size | peers | shards | impl | msg/s | MB/s | p50 µs | p99 µs | p99.9 µs | dropped | spread | × libzmq |";
    let rule = "|---|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|";
    let mut allocs = Vec::new();
    let mut feeds = Vec::new();
    if results
        .iter()
        .any(|s| !s.case.scenario.counts_allocations() && s.case.scenario != Scenario::Feed)
    {
        let _ = writeln!(out, "{head}\n{rule}");
    }
    for s in results {
        if s.case.scenario.counts_allocations() {
            allocs.push(s);
            continue;
        }
        if s.case.scenario == Scenario::Feed {
            feeds.push(s);
            continue;
        }
        let c = &s.case;
        let failed = failed(s);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {}{} | {} | {} | {} | {} | {} | {} | {} | {} |",
            c.scenario,
            c.transport.name(),
            fmt_size(c.size),
            c.peers,
            shards(s),
            s.imp,
            failed,
            opt(s.median.msgs_per_sec),
            opt(s.median.mb_per_sec),
            opt(s.median.p50_us),
            opt(s.median.p99_us),
            opt(s.median.p999_us),
            s.median
                .dropped
                .map_or_else(|| "–".into(), |d| format!("{:.1}%", d * 100.0)),
            spread(s),
            ratio(s),
        );
    }
    if !feeds.is_empty() {
        let _ = writeln!(
            out,
            "\n| feed | transport | size | subs | shards | impl | rate msg/s | published msg/s | delivered | p50 µs | p99 µs | p99.9 µs | max µs | CPU ns/delivery | spread | × libzmq |\n|---|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for s in feeds {
            let c = &s.case;
            let _ = writeln!(
                out,
                "| feed | {} | {} | {} | {} | {}{} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                c.transport.name(),
                fmt_size(c.size),
                c.peers,
                shards(s),
                s.imp,
                failed(s),
                opt(c.rate),
                opt(s.median.msgs_per_sec),
                s.median
                    .delivered
                    .map_or_else(|| "–".into(), |d| format!("{:.1}%", d * 100.0)),
                opt(s.median.p50_us),
                opt(s.median.p99_us),
                opt(s.median.p999_us),
                opt(s.median.max_us),
                opt(s.median.cpu_ns_per_msg),
                spread(s),
                ratio(s),
            );
        }
    }
    if !allocs.is_empty() {
        let _ = writeln!(
            out,
            "\n| scenario | transport | size | impl | allocations/msg, send path | allocations/msg, receive path |\n|---|---|---|---|---:|---:|"
        );
        for s in allocs {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                s.case.scenario,
                s.case.transport.name(),
                fmt_size(s.case.size),
                s.imp,
                s.median
                    .allocs_send
                    .map_or_else(|| "–".into(), |v| format!("{v:.4}")),
                s.median
                    .allocs_recv
                    .map_or_else(|| "–".into(), |v| format!("{v:.4}")),
            );
        }
    }
    out
}

fn failed(s: &Summary) -> String {
    if s.reps == 0 {
        format!(" FAILED: {}", s.errors.first().map_or("", String::as_str))
    } else {
        String::new()
    }
}

fn spread(s: &Summary) -> String {
    s.spread_pct()
        .map_or_else(|| "–".into(), |p| format!("±{:.0}%", p / 2.0))
}

fn shards(s: &Summary) -> String {
    if s.imp.uses_monocoque() {
        s.case.shards.to_string()
    } else {
        "–".into()
    }
}

fn ratio(s: &Summary) -> String {
    match (s.imp, s.ratio_vs_libzmq) {
        (Impl::Libzmq, _) => "1".into(),
        (_, Some(r)) => format!("{r:.2}"),
        _ => "–".into(),
    }
}

/// Notes printed under the table: what the columns mean and the layouts.
pub fn notes(impls: &[Impl], opts: crate::harness::RunOptions) -> String {
    let mut out = String::from(
        "msg/s: messages per second (thr: first to last message received, as local_thr; lat: not \
         used; router: round trips/s over all clients; fanout: deliveries/s summed over \
         subscribers; fanout-capacity: highest publish rate with no drop for the whole hold). \
         MB/s: payload only, 10^6 B. p50/p99/p99.9: full round trip (lat). spread: ±half the \
         (max − min) of the primary figure over the repetitions, relative to the median. × libzmq: \
         median / libzmq's median of the primary figure (msg/s; for lat p50, lower is better).\n\
         curve-thr, curve-lat, curve-alloc: thr, lat and alloc over TCP with CURVE on both sides \
         (keys made per run, no authenticator); libzmq 4.3.4 built with libsodium \
         (bench/zmq-curve). inproc (thr and lat only): the same two pinned sides as over tcp, \
         sockets on two executors (Monocoque) or two threads sharing one context (libzmq). \
         zmq.rs (`zeromq` crate 0.7, on tokio): runs in thr (default API; tcp and ipc, it has \
         no inproc), lat (tcp and ipc) and feed only; not in thr-batch (no batching API), router, \
         fanout, fanout-capacity, fanout-topics, alloc or curve-* (it has no CURVE). The mixed pairs \
         monocoque-to-libzmq (Monocoque PUB, libzmq SUBs) and libzmq-to-monocoque run in feed \
         only. Flat-out publishers (fanout, fanout-topics) are a plain send loop for every \
         implementation, with no yields of their own.\n",
    );
    out.push_str(&crate::scenarios::feed::notes());
    out.push('\n');
    for imp in impls {
        let _ = writeln!(
            out,
            "layout, {}: {}",
            imp,
            imp.layout(opts.spin, opts.busy_poll)
        );
    }
    if impls.contains(&Impl::Monocoque) {
        let _ = writeln!(
            out,
            "layout, monocoque, {}",
            crate::scenarios::fanout::SHARDED_LAYOUT
        );
    }
    out
}

/// One JSON object for a result.
pub fn json_line(s: &Summary) -> String {
    let c = &s.case;
    let mut o = JsonObject::default();
    o.str("impl", s.imp.name());
    o.str("scenario", c.scenario.name());
    o.str("transport", c.transport.name());
    o.num("size", Some(c.size as f64));
    o.num("peers", Some(c.peers as f64));
    o.num("shards", s.imp.uses_monocoque().then_some(c.shards as f64));
    o.num("rate", c.rate);
    o.num("msgs_per_sec", s.median.msgs_per_sec);
    o.num("mb_per_sec", s.median.mb_per_sec);
    o.num("p50_us", s.median.p50_us);
    o.num("p99_us", s.median.p99_us);
    o.num("p999_us", s.median.p999_us);
    o.num("max_us", s.median.max_us);
    o.num("dropped", s.median.dropped);
    o.num("delivered", s.median.delivered);
    o.num("cpu_ns_per_msg", s.median.cpu_ns_per_msg);
    o.num("allocs_per_msg_send", s.median.allocs_send);
    o.num("allocs_per_msg_recv", s.median.allocs_recv);
    o.num("count", Some(c.count as f64));
    o.num("reps", Some(s.reps as f64));
    o.num("primary_min", s.spread.map(|x| x.0));
    o.num("primary_max", s.spread.map(|x| x.1));
    o.num("ratio_vs_libzmq", s.ratio_vs_libzmq);
    o.str("api", s.api);
    // µs of glommio spin_before_park (0 = off); null for implementations without it.
    o.num(
        "spin_before_park_us",
        s.spin.map(|d| d.map_or(0.0, |d| d.as_micros() as f64)),
    );
    // µs of busy polling on Monocoque's sockets (0 = off); null for the others.
    o.num(
        "busy_poll_us",
        s.busy_poll.map(|d| d.map_or(0.0, |d| d.as_micros() as f64)),
    );
    if !s.errors.is_empty() {
        o.str("errors", &s.errors.join("; "));
    }
    o.finish()
}

/// A minimal JSON object writer (flat objects of strings and numbers).
#[derive(Default)]
struct JsonObject {
    body: String,
}

impl JsonObject {
    fn key(&mut self, k: &str) {
        if !self.body.is_empty() {
            self.body.push(',');
        }
        let _ = write!(self.body, "\"{k}\":");
    }

    fn raw(&mut self, k: &str, v: &str) {
        self.key(k);
        self.body.push_str(v);
    }

    fn str(&mut self, k: &str, v: &str) {
        self.key(k);
        self.body.push('"');
        for ch in v.chars() {
            match ch {
                '"' => self.body.push_str("\\\""),
                '\\' => self.body.push_str("\\\\"),
                c if (c as u32) < 0x20 => {
                    let _ = write!(self.body, "\\u{:04x}", c as u32);
                }
                c => self.body.push(c),
            }
        }
        self.body.push('"');
    }

    fn num(&mut self, k: &str, v: Option<f64>) {
        match v {
            Some(x) if x.is_finite() => {
                if x.fract() == 0.0 && x.abs() < 1e15 {
                    self.raw(k, &format!("{}", x as i64));
                } else {
                    self.raw(k, &format!("{x}"));
                }
            }
            _ => self.raw(k, "null"),
        }
    }

    fn finish(self) -> String {
        format!("{{{}}}", self.body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escapes_and_nulls() {
        let mut o = JsonObject::default();
        o.str("a", "x\"y\\z\n");
        o.num("b", None);
        o.num("c", Some(3.0));
        o.num("d", Some(0.5));
        assert_eq!(
            o.finish(),
            r#"{"a":"x\"y\\z\u000a","b":null,"c":3,"d":0.5}"#
        );
    }
}
