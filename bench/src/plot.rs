//! `--plot DIR`: SVG charts of a comparison (plotters, SVG backend only).
//!
//! - `thr-msgs.svg`: PUSH → PULL messages/s against message size;
//! - `thr-mbps.svg`: the same in MB/s;
//! - `lat.svg`: REQ ↔ REP p50 and p99 round trip against message size;
//! - `feed-p99-<N>subs-<size>.svg` and `feed-p50-…`: the feed's publish-to-receive
//!   latency against the publish rate, one chart per subscriber count and size, one line
//!   per implementation (and Monocoque shard count); a hollow marker is a run that lost
//!   deliveries.
//!
//! - the load generator's latency chart ([`latency_percentiles`]): latency against the
//!   percentile, one line per run.
//!
//! One line per implementation and transport; both axes logarithmic.

use std::path::{Path, PathBuf};

use plotters::prelude::*;

use crate::numbers::{fmt_num, fmt_size};
use crate::result::{Impl, Metric, Scenario, Summary, Transport};
use crate::Result;

/// One line of a chart.
struct Line {
    label: String,
    color: RGBColor,
    points: Vec<(f64, f64)>,
    /// Per point: drawn hollow (feed: the run lost deliveries). Empty: all filled.
    hollow: Vec<bool>,
}

/// The x axis of a chart.
struct XAxis {
    desc: &'static str,
    label: fn(f64) -> String,
}

const SIZE_AXIS: XAxis = XAxis {
    desc: "message size",
    label: |x| fmt_size(x.round() as usize),
};

const RATE_AXIS: XAxis = XAxis {
    desc: "publish rate, messages/s",
    label: fmt_num,
};

/// Percentiles, placed at 1 / (1 - q) so that 90 %, 99 %, 99.9 % are evenly spaced.
const PERCENTILE_AXIS: XAxis = XAxis {
    desc: "percentile",
    label: |x| {
        if x < 1.0 {
            String::new()
        } else {
            let q = 100.0 * (1.0 - 1.0 / x);
            let s = format!("{q:.4}");
            let s = s.trim_end_matches('0').trim_end_matches('.');
            format!("{s}%")
        }
    },
};

/// Colours of the load generator's lines, in turn.
const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(23, 190, 207),
    RGBColor(140, 86, 75),
    RGBColor(127, 127, 127),
];

/// Draws latency (µs) against percentile into `path`, one line per `(label, points)`,
/// each point a `(quantile, µs)` pair (quantile in 0..1).
pub fn latency_percentiles(
    path: &Path,
    title: &str,
    series: &[(String, Vec<(f64, f64)>)],
) -> Result<()> {
    let lines: Vec<Line> = series
        .iter()
        .enumerate()
        .map(|(i, (label, points))| Line {
            label: label.clone(),
            color: PALETTE[i % PALETTE.len()],
            points: points
                .iter()
                .filter(|&&(q, v)| q < 1.0 && v > 0.0)
                .map(|&(q, v)| (1.0 / (1.0 - q), v))
                .collect(),
            hollow: Vec::new(),
        })
        .collect();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    chart(
        path,
        title,
        &PERCENTILE_AXIS,
        "µs (full round trip)",
        &lines,
    )
}

fn color(imp: Impl, transport: Transport, second: bool) -> RGBColor {
    match (imp, transport, second) {
        (Impl::Monocoque, Transport::Tcp, false) => RGBColor(31, 119, 180),
        (Impl::Monocoque, Transport::Ipc, false) => RGBColor(23, 190, 207),
        (Impl::ZmqRs, Transport::Tcp, false) => RGBColor(127, 127, 127),
        (Impl::ZmqRs, Transport::Ipc, false) => RGBColor(227, 119, 194),
        (Impl::ZmqRs, Transport::Tcp, true) => RGBColor(82, 82, 82),
        (Impl::ZmqRs, Transport::Ipc, true) => RGBColor(247, 182, 210),
        (Impl::Libzmq, Transport::Tcp, false) => RGBColor(214, 39, 40),
        (Impl::Libzmq, Transport::Ipc, false) => RGBColor(255, 127, 14),
        (Impl::Monocoque, Transport::Tcp, true) => RGBColor(44, 160, 44),
        (Impl::Monocoque, Transport::Ipc, true) => RGBColor(188, 189, 34),
        (Impl::Libzmq, Transport::Tcp, true) => RGBColor(148, 103, 189),
        (Impl::Libzmq, Transport::Ipc, true) => RGBColor(140, 86, 75),
        (Impl::Monocoque, Transport::Inproc, _) => RGBColor(0, 0, 128),
        (Impl::Libzmq, Transport::Inproc, _) => RGBColor(128, 0, 0),
        (Impl::ZmqRs, Transport::Inproc, _) => RGBColor(0, 0, 0),
        (Impl::MonocoqueToLibzmq, _, _) => RGBColor(148, 103, 189),
        (Impl::LibzmqToMonocoque, _, _) => RGBColor(140, 86, 75),
    }
}

/// Lines of `metric` against size for `scenario`, one per implementation and transport.
fn lines(results: &[Summary], scenario: Scenario, metric: Metric, suffix: &str) -> Vec<Line> {
    let mut out = Vec::new();
    for imp in Impl::ALL {
        for transport in Transport::ALL {
            let mut points: Vec<(f64, f64)> = results
                .iter()
                .filter(|s| {
                    s.imp == imp && s.case.scenario == scenario && s.case.transport == transport
                })
                .filter_map(|s| Some((s.case.size as f64, metric.get(&s.median)?)))
                .filter(|&(_, y)| y > 0.0)
                .collect();
            if points.is_empty() {
                continue;
            }
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            out.push(Line {
                label: format!("{imp} {}{suffix}", transport.name()),
                color: color(imp, transport, !suffix.is_empty()),
                points,
                hollow: Vec::new(),
            });
        }
    }
    out
}

/// Lines of the feed's `metric` against the publish rate for `subs` subscribers and
/// `size`-byte messages, one per implementation and Monocoque shard count.
fn feed_lines(results: &[Summary], subs: usize, size: usize, metric: Metric) -> Vec<Line> {
    let mut out = Vec::new();
    for imp in Impl::ALL {
        // libzmq also runs in the shards = 2 cases (for the ratio); its line is the
        // shards = 1 one.
        let shard_counts: &[usize] = if imp == Impl::Monocoque {
            &[1, 2]
        } else {
            &[1]
        };
        for &shards in shard_counts {
            let mut points: Vec<(f64, f64, bool)> = results
                .iter()
                .filter(|s| {
                    s.imp == imp
                        && s.case.scenario == Scenario::Feed
                        && s.case.peers == subs
                        && s.case.size == size
                        && s.case.shards == shards
                })
                .filter_map(|s| {
                    let lost = s.median.delivered.is_some_and(|d| d < 0.999);
                    Some((s.case.rate?, metric.get(&s.median)?, lost))
                })
                .filter(|&(_, y, _)| y > 0.0)
                .collect();
            if points.is_empty() {
                continue;
            }
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            let label = if imp == Impl::Monocoque {
                format!("{imp} shards={shards}")
            } else {
                imp.to_string()
            };
            out.push(Line {
                label,
                color: color(imp, Transport::Tcp, shards > 1),
                points: points.iter().map(|&(x, y, _)| (x, y)).collect(),
                hollow: points.iter().map(|&(_, _, lost)| lost).collect(),
            });
        }
    }
    out
}

fn chart(path: &Path, title: &str, x: &XAxis, y_desc: &str, lines: &[Line]) -> Result<()> {
    let err = |e: &dyn std::fmt::Display| -> crate::Error { format!("plot {title}: {e}").into() };
    let all = lines.iter().flat_map(|l| l.points.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in all {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut c = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(80)
        .build_cartesian_2d(
            (x0 / 1.5..x1 * 1.5).log_scale(),
            (y0 / 2.0..y1 * 2.0).log_scale(),
        )
        .map_err(|e| err(&e))?;
    c.configure_mesh()
        .x_desc(x.desc)
        .y_desc(y_desc)
        .x_label_formatter(&|v| (x.label)(*v))
        .y_label_formatter(&|y| fmt_num(*y))
        .draw()
        .map_err(|e| err(&e))?;
    for line in lines {
        let color = line.color;
        c.draw_series(LineSeries::new(
            line.points.iter().copied(),
            color.stroke_width(2),
        ))
        .map_err(|e| err(&e))?
        .label(line.label.clone())
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        c.draw_series(line.points.iter().enumerate().map(|(i, &p)| {
            let hollow = line.hollow.get(i).copied().unwrap_or(false);
            let style = if hollow {
                color.stroke_width(2)
            } else {
                color.filled()
            };
            Circle::new(p, 4, style)
        }))
        .map_err(|e| err(&e))?;
    }
    c.configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

/// Draws every chart the results have data for into `dir`; returns the files.
pub fn draw(results: &[Summary], dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    let mut emit = |name: &str, title: &str, x: &XAxis, y: &str, lines: Vec<Line>| -> Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        let path = dir.join(name);
        chart(&path, title, x, y, &lines)?;
        written.push(path);
        Ok(())
    };
    emit(
        "thr-msgs.svg",
        "PUSH → PULL throughput (thr, default API)",
        &SIZE_AXIS,
        "messages/s",
        lines(results, Scenario::Thr, Metric::MsgsPerSec, ""),
    )?;
    emit(
        "thr-mbps.svg",
        "PUSH → PULL throughput (thr, default API)",
        &SIZE_AXIS,
        "MB/s",
        lines(results, Scenario::Thr, Metric::MbPerSec, ""),
    )?;
    let mut lat = lines(results, Scenario::Lat, Metric::P50Us, "");
    for l in &mut lat {
        l.label.push_str(" p50");
    }
    lat.extend(lines(results, Scenario::Lat, Metric::P99Us, " p99"));
    emit(
        "lat.svg",
        "REQ ↔ REP round trip (lat)",
        &SIZE_AXIS,
        "µs (full round trip)",
        lat,
    )?;
    let mut feeds: Vec<(usize, usize)> = results
        .iter()
        .filter(|s| s.case.scenario == Scenario::Feed)
        .map(|s| (s.case.peers, s.case.size))
        .collect();
    feeds.sort_unstable();
    feeds.dedup();
    for (subs, size) in feeds {
        for (metric, name) in [(Metric::P99Us, "p99"), (Metric::P50Us, "p50")] {
            let size_name = fmt_size(size).replace(' ', "");
            emit(
                &format!("feed-{name}-{subs}subs-{size_name}.svg"),
                &format!(
                    "feed: {name} publish-to-receive latency, {subs} subscribers, {} (hollow: deliveries lost)",
                    fmt_size(size)
                ),
                &RATE_AXIS,
                "µs",
                feed_lines(results, subs, size, metric),
            )?;
        }
    }
    Ok(written)
}
