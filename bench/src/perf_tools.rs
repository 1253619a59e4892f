//! libzmq's perf tools (`perf/local_thr.cpp` and friends, libzmq 4.3.4) on Monocoque:
//! same arguments, same output lines, same formulas, so either side of a measurement
//! can be a libzmq process.
//!
//! - `local_thr <bind-to> <message-size> <message-count>`: PULL; prints the throughput,
//!   timed from the first message received to the last.
//! - `remote_thr <connect-to> <message-size> <message-count>`: PUSH; sends and exits.
//! - `local_lat <bind-to> <message-size> <roundtrip-count>`: REP echo.
//! - `remote_lat <connect-to> <message-size> <roundtrip-count>`: REQ; prints the
//!   average latency, which libzmq defines as *half* the round trip (elapsed /
//!   (2 · count)). `monocoque-bench compare` reports full round trips instead.
//!
//! Each runs one unpinned glommio executor, as the libzmq tools run unpinned.

use std::time::Instant;

use bytes::Bytes;

use crate::Result;

/// The arguments every tool takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    /// Endpoint to bind (local_*) or connect to (remote_*).
    pub endpoint: String,
    /// Message size in bytes.
    pub size: usize,
    /// Messages or round trips.
    pub count: u64,
}

/// Parses `<endpoint> <message-size> <count>` (after the program name). On a wrong
/// argument count returns the usage line libzmq prints.
pub fn parse_args(usage: &str, argv: &[String]) -> std::result::Result<Args, String> {
    if argv.len() != 4 {
        return Err(format!("usage: {usage}"));
    }
    // libzmq uses atoi: a malformed number is 0. Be stricter and say so.
    let num = |s: &str, what: &str| {
        s.parse::<u64>()
            .map_err(|_| format!("invalid {what}: {s:?}\nusage: {usage}"))
    };
    Ok(Args {
        endpoint: argv[1].clone(),
        size: num(&argv[2], "message size")? as usize,
        count: num(&argv[3], "count")?,
    })
}

/// local_thr's report. `elapsed_us` is clamped to at least 1, as libzmq does.
pub fn thr_report(size: usize, count: u64, elapsed_us: u64) -> String {
    let elapsed = elapsed_us.max(1) as f64;
    let throughput = count as f64 / elapsed * 1_000_000.0;
    let megabits = throughput * size as f64 * 8.0 / 1_000_000.0;
    format!(
        "message size: {size} [B]\nmessage count: {count}\nmean throughput: {} [msg/s]\nmean throughput: {megabits:.3} [Mb/s]\n",
        throughput as i64
    )
}

/// remote_lat's report: libzmq's "latency" is elapsed / (2 · round trips).
pub fn lat_report(size: usize, roundtrips: u64, elapsed_us: u64) -> String {
    let latency = elapsed_us as f64 / (roundtrips.max(1) as f64 * 2.0);
    format!(
        "message size: {size} [B]\nroundtrip count: {roundtrips}\naverage latency: {latency:.3} [us]\n"
    )
}

fn check_size(got: usize, want: usize) -> Result<()> {
    if got != want {
        return Err("message of incorrect size received".into());
    }
    Ok(())
}

/// Runs `f` on a fresh glommio executor (unpinned, 256 KiB of io_memory).
fn on_executor<T, G, F>(f: G) -> Result<T>
where
    T: Send + 'static,
    G: FnOnce() -> F + Send + 'static,
    F: std::future::Future<Output = Result<T>> + 'static,
{
    glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
        .io_memory(256 << 10)
        .spawn(f)
        .map_err(|e| format!("cannot start a glommio executor: {e}"))?
        .join()
        .map_err(|e| format!("glommio executor failed: {e}"))?
}

/// local_thr: binds a PULL, receives `count` messages; returns the report.
pub fn local_thr(args: &Args) -> Result<String> {
    let Args {
        endpoint,
        size,
        count,
    } = args.clone();
    on_executor(move || async move {
        let pull = monocoque::Pull::new();
        pull.bind(&endpoint)?;
        check_size(pull.recv().await?.byte_len(), size)?;
        let start = Instant::now();
        for _ in 1..count {
            check_size(pull.recv().await?.byte_len(), size)?;
        }
        let elapsed = start.elapsed().as_micros() as u64;
        pull.close().await;
        Ok(thr_report(size, count, elapsed))
    })
}

/// remote_thr: connects a PUSH and sends `count` messages of `size` zero bytes, then
/// closes (waiting, like libzmq's default LINGER, until they are sent).
pub fn remote_thr(args: &Args) -> Result<()> {
    let Args {
        endpoint,
        size,
        count,
    } = args.clone();
    on_executor(move || async move {
        let push = monocoque::Push::new();
        push.connect(&endpoint)?;
        let payload = Bytes::from(vec![0u8; size]);
        for _ in 0..count {
            push.send(payload.clone()).await?;
        }
        push.close().await;
        Ok(())
    })
}

/// local_lat: binds a REP and echoes `count` requests.
pub fn local_lat(args: &Args) -> Result<()> {
    let Args {
        endpoint,
        size,
        count,
    } = args.clone();
    on_executor(move || async move {
        let rep = monocoque::Rep::new();
        rep.bind(&endpoint)?;
        for _ in 0..count {
            let msg = rep.recv().await?;
            check_size(msg.byte_len(), size)?;
            rep.send(msg).await?;
        }
        rep.close().await;
        Ok(())
    })
}

/// remote_lat: connects a REQ, makes `count` round trips; returns the report.
pub fn remote_lat(args: &Args) -> Result<String> {
    let Args {
        endpoint,
        size,
        count,
    } = args.clone();
    on_executor(move || async move {
        let req = monocoque::Req::new();
        req.connect(&endpoint)?;
        let payload = Bytes::from(vec![0u8; size]);
        let start = Instant::now();
        for _ in 0..count {
            req.send(payload.clone()).await?;
            check_size(req.recv().await?.byte_len(), size)?;
        }
        let elapsed = start.elapsed().as_micros() as u64;
        req.close().await;
        Ok(lat_report(size, count, elapsed))
    })
}

/// The `main` of each tool: parses, runs, prints; returns the exit code (libzmq's:
/// 1 for usage, −1 (255) for errors).
pub fn main_of(tool: Tool) -> i32 {
    let argv: Vec<String> = std::env::args().collect();
    let args = match parse_args(tool.usage(), &argv) {
        Ok(a) => a,
        Err(usage) => {
            println!("{usage}");
            return 1;
        }
    };
    let result = match tool {
        Tool::LocalThr => local_thr(&args).map(Some),
        Tool::RemoteThr => remote_thr(&args).map(|()| None),
        Tool::LocalLat => local_lat(&args).map(|()| None),
        Tool::RemoteLat => remote_lat(&args).map(Some),
    };
    match result {
        Ok(report) => {
            print!("{}", report.unwrap_or_default());
            0
        }
        Err(e) => {
            println!("error: {e}");
            -1
        }
    }
}

/// The four tools.
#[derive(Debug, Clone, Copy)]
pub enum Tool {
    /// `local_thr`.
    LocalThr,
    /// `remote_thr`.
    RemoteThr,
    /// `local_lat`.
    LocalLat,
    /// `remote_lat`.
    RemoteLat,
}

impl Tool {
    fn usage(self) -> &'static str {
        match self {
            Tool::LocalThr => "local_thr <bind-to> <message-size> <message-count>",
            Tool::RemoteThr => "remote_thr <connect-to> <message-size> <message-count>",
            Tool::LocalLat => "local_lat <bind-to> <message-size> <roundtrip-count>",
            Tool::RemoteLat => "remote_lat <connect-to> <message-size> <roundtrip-count>",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_match_libzmq_formats() {
        assert_eq!(
            thr_report(64, 1_000_000, 500_000),
            "message size: 64 [B]\nmessage count: 1000000\nmean throughput: 2000000 [msg/s]\nmean throughput: 1024.000 [Mb/s]\n"
        );
        assert_eq!(
            lat_report(64, 1000, 100_000),
            "message size: 64 [B]\nroundtrip count: 1000\naverage latency: 50.000 [us]\n"
        );
    }

    #[test]
    fn parses_libzmq_arguments() {
        let argv: Vec<String> = ["local_thr", "tcp://*:5555", "64", "1000"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let a = parse_args("x", &argv).unwrap();
        assert_eq!(
            (a.endpoint.as_str(), a.size, a.count),
            ("tcp://*:5555", 64, 1000)
        );
        assert!(parse_args("x", &argv[..3])
            .unwrap_err()
            .starts_with("usage: x"));
    }
}
