//! `--plot DIR`: SVG charts of a comparison (plotters, SVG backend only).
//!
//! - `thr-msgs.svg`: PUSH → PULL messages/s against message size;
//! - `thr-mbps.svg`: the same in MB/s;
//! - `lat.svg`: REQ ↔ REP p50 and p99 round trip against message size.
//!
//! One line per implementation and transport; both axes logarithmic.

use std::path::{Path, PathBuf};

use plotters::prelude::*;

use crate::result::{fmt_size, Impl, Metric, Scenario, Summary, Transport};
use crate::Result;

/// One line of a chart.
struct Line {
    label: String,
    color: RGBColor,
    points: Vec<(f64, f64)>,
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
    }
}

/// Lines of `metric` against size for `scenario`, one per implementation and transport.
fn lines(results: &[Summary], scenario: Scenario, metric: Metric, suffix: &str) -> Vec<Line> {
    let mut out = Vec::new();
    for imp in Impl::ALL {
        for transport in [Transport::Tcp, Transport::Ipc] {
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
            });
        }
    }
    out
}

fn chart(path: &Path, title: &str, y_desc: &str, lines: &[Line]) -> Result<()> {
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
        .x_desc("message size")
        .y_desc(y_desc)
        .x_label_formatter(&|x| fmt_size(x.round() as usize))
        .y_label_formatter(&|y| crate::report::fmt_num(*y))
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
        c.draw_series(
            line.points
                .iter()
                .map(|&p| Circle::new(p, 4, color.filled())),
        )
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
    let mut emit = |name: &str, title: &str, y: &str, lines: Vec<Line>| -> Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        let path = dir.join(name);
        chart(&path, title, y, &lines)?;
        written.push(path);
        Ok(())
    };
    emit(
        "thr-msgs.svg",
        "PUSH → PULL throughput (thr, default API)",
        "messages/s",
        lines(results, Scenario::Thr, Metric::MsgsPerSec, ""),
    )?;
    emit(
        "thr-mbps.svg",
        "PUSH → PULL throughput (thr, default API)",
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
        "µs (full round trip)",
        lat,
    )?;
    Ok(written)
}
