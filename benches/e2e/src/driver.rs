//! The driver: starts each server in its own process, runs the load client on a
//! single-threaded runtime of its own, and prints the tables.
//!
//! Echo cases run round-robin over the servers, `repeat` times, each run against a
//! freshly started server, so slow drift of a shared machine spreads over all of
//! them; a table cell is the median of the runs, with the spread beside it.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::client::{self, SseCounters};
use crate::fanout;
use crate::http2;
use crate::procfs;
use crate::servers::{SseServer, WsServer};

/// What to run and how long.
#[derive(Debug)]
pub(crate) struct Options {
    /// Echo cases: (connections, message size).
    echo_cases: Vec<(usize, usize)>,
    /// Untimed time before each echo window.
    warmup: Duration,
    /// Each echo window.
    window: Duration,
    /// Runs of each echo case per server.
    repeat: usize,
    /// Idle connections per server.
    idle: usize,
    /// Subscriber counts for the SSE fan-out.
    subscribers: Vec<usize>,
    /// Each SSE window.
    sse_window: Duration,
    /// The h2 part: HTTP/2 against HTTP/1.1 on tidings-io's `http::serve` (its
    /// `repeat` is the option's).
    h2: http2::Plan,
    /// The fanout part: `broker::Node` processes, in memory and on Redis (its
    /// `repeat` is the option's).
    fanout: fanout::Plan,
    /// Which parts run: echo, idle, sse, h2, fanout.
    parts: Vec<&'static str>,
    /// The mode, for the header.
    quick: bool,
}

impl Options {
    /// Parses `[--quick] [--repeat N] [--idle N] [--only echo|idle|sse|h2|fanout]...`.
    pub(crate) fn parse(args: &[&str]) -> Result<Self, String> {
        let quick = args.contains(&"--quick");
        let mut options = if quick {
            Self {
                echo_cases: vec![(10, 20), (10, 16 * 1024), (1, 1 << 20)],
                warmup: Duration::from_millis(100),
                window: Duration::from_millis(400),
                repeat: 1,
                idle: 200,
                subscribers: vec![100],
                sse_window: Duration::from_millis(400),
                h2: http2::Plan {
                    sse_connections: 2,
                    sse_streams: 50,
                    events: 50,
                    echo_cases: vec![(4, 20), (4, 16 * 1024)],
                    warmup: Duration::from_millis(100),
                    window: Duration::from_millis(300),
                    repeat: 1,
                },
                fanout: fanout::Plan {
                    subscribers: 200,
                    messages: 10,
                    rate: 50,
                    burst: 10,
                    size: 64,
                    repeat: 1,
                },
                parts: vec!["echo", "idle", "sse", "h2", "fanout"],
                quick,
            }
        } else {
            Self {
                echo_cases: vec![(100, 20), (500, 16 * 1024), (1, 1 << 20)],
                warmup: Duration::from_millis(500),
                window: Duration::from_secs(3),
                repeat: 3,
                idle: 10_000,
                subscribers: vec![1_000, 10_000],
                sse_window: Duration::from_secs(3),
                h2: http2::Plan {
                    sse_connections: 10,
                    sse_streams: 100,
                    events: 1_000,
                    echo_cases: vec![(10, 20), (10, 16 * 1024)],
                    warmup: Duration::from_millis(300),
                    window: Duration::from_secs(2),
                    repeat: 3,
                },
                fanout: fanout::Plan {
                    subscribers: 10_000,
                    messages: 30,
                    rate: 5,
                    burst: 20,
                    size: 64,
                    repeat: 3,
                },
                parts: vec!["echo", "idle", "sse", "h2", "fanout"],
                quick,
            }
        };
        let mut only = Vec::new();
        let mut args = args.iter();
        while let Some(&arg) = args.next() {
            match arg {
                "--quick" => {}
                "--repeat" => {
                    options.repeat = args
                        .next()
                        .and_then(|n| n.parse().ok())
                        .filter(|&n| n > 0)
                        .ok_or("--repeat wants a positive number")?;
                }
                "--idle" => {
                    options.idle = args
                        .next()
                        .and_then(|n| n.parse().ok())
                        .filter(|&n| n > 0)
                        .ok_or("--idle wants a positive number")?;
                }
                "--only" => match args.next().copied() {
                    Some("echo") => only.push("echo"),
                    Some("idle") => only.push("idle"),
                    Some("sse") => only.push("sse"),
                    Some("h2") => only.push("h2"),
                    Some("fanout") => only.push("fanout"),
                    _ => return Err("--only wants echo, idle, sse, h2 or fanout".into()),
                },
                other => return Err(format!("unknown option {other:?}")),
            }
        }
        if !only.is_empty() {
            options.parts = only;
        }
        options.h2.repeat = options.repeat;
        options.fanout.repeat = options.repeat;
        Ok(options)
    }
}

/// Runs the parts asked for and prints their tables (Markdown).
pub(crate) fn run(options: Options) -> Result<(), String> {
    println!(
        "# tidings-e2e ({} mode), {} run(s) per echo case\n",
        if options.quick { "quick" } else { "full" },
        options.repeat
    );
    if options.parts.contains(&"echo") {
        echo_tables(&options)?;
    }
    if options.parts.contains(&"idle") {
        idle_table(&options)?;
    }
    if options.parts.contains(&"sse") {
        sse_table(&options)?;
    }
    if options.parts.contains(&"h2") {
        http2::tables(&options.h2)?;
    }
    if options.parts.contains(&"fanout") {
        fanout::table(&options.fanout)?;
    }
    Ok(())
}

/// A server process; killed when dropped.
#[derive(Debug)]
pub(crate) struct Server {
    child: Child,
    pub(crate) addr: SocketAddr,
}

impl Server {
    fn start(kind: &str, name: &str) -> Result<Self, String> {
        Self::spawn(&["serve", kind, name])
    }

    /// tidings-io's `http::serve` (`serve http`).
    pub(crate) fn start_http() -> Result<Self, String> {
        Self::spawn(&["serve", "http"])
    }

    /// tidings-io's `SseWriter` on raw HTTP/1.1 (`serve sse-writer`).
    pub(crate) fn start_sse_writer() -> Result<Self, String> {
        Self::spawn(&["serve", "sse-writer"])
    }

    /// A `broker::Node` SSE server (`serve node`), in memory or on Redis.
    pub(crate) fn start_node(target: &str) -> Result<Self, String> {
        Self::spawn(&["serve", "node", target])
    }

    fn spawn(args: &[&str]) -> Result<Self, String> {
        let name = args[1..].join(" ");
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut child = Command::new(exe)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("spawn {name}: {e}"))?;
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            let _ = BufReader::new(out).read_line(&mut line);
        }
        let server = |port: u16| Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        };
        match line.trim().strip_prefix("PORT ").map(str::parse) {
            Some(Ok(port)) => Ok(server(port)),
            _ => {
                drop(server(0));
                Err(format!("{name} did not start: {line:?}"))
            }
        }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh single-threaded runtime for the client side of one case; dropping it
/// ends every client task and closes every client socket.
pub(crate) fn client_runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))
}

/// One echo case on one server, several runs.
#[derive(Debug, Default)]
struct EchoRuns {
    per_second: Vec<f64>,
    p50_us: Vec<f64>,
    p99_us: Vec<f64>,
    cpu_us: Vec<f64>,
}

fn echo_tables(options: &Options) -> Result<(), String> {
    println!("## Echo: messages per second, round trip, server CPU per message\n");
    println!(
        "Ratios: each server / the best peer, tidings left out (msgs/s: higher is better; p99 and CPU: lower is better). \
         Median of {} run(s); spread = (max - min) / median of msgs/s.\n",
        options.repeat
    );
    println!(
        "| case | server | msgs/s ratio | p99 ratio | CPU/msg ratio | msgs/s | p50 µs | p99 µs | CPU µs/msg | spread |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for &(conns, size) in &options.echo_cases {
        let mut runs: Vec<EchoRuns> = WsServer::ALL.iter().map(|_| EchoRuns::default()).collect();
        for _ in 0..options.repeat {
            for (i, server) in WsServer::ALL.into_iter().enumerate() {
                let process = Server::start("ws", server.name())?;
                let mut result = client_runtime()?.block_on(client::echo(
                    process.addr,
                    process.pid(),
                    conns,
                    size,
                    options.warmup,
                    options.window,
                ))?;
                drop(process);
                let r = &mut runs[i];
                r.per_second.push(result.per_second);
                r.p50_us.push(micros(result.samples.quantile(0.5)));
                r.p99_us.push(micros(result.samples.quantile(0.99)));
                r.cpu_us.push(micros(result.cpu_per_message));
            }
        }
        let case = format!("{conns} × {}", size_name(size));
        let rate: Vec<f64> = runs.iter().map(|r| median(&r.per_second)).collect();
        let p99: Vec<f64> = runs.iter().map(|r| median(&r.p99_us)).collect();
        let cpu: Vec<f64> = runs.iter().map(|r| median(&r.cpu_us)).collect();
        let best_rate = best_peer(&rate, f64::max);
        let best_p99 = best_peer(&p99, f64::min);
        let best_cpu = best_peer(&cpu, f64::min);
        for (i, server) in WsServer::ALL.into_iter().enumerate() {
            let r = &runs[i];
            println!(
                "| {case} | {} | {:.2}x | {:.2}x | {:.2}x | {:.0} | {:.0} | {:.0} | {:.2} | {:.0}% |",
                server.name(),
                rate[i] / best_rate,
                p99[i] / best_p99,
                cpu[i] / best_cpu,
                rate[i],
                median(&r.p50_us),
                p99[i],
                cpu[i],
                spread(&r.per_second) * 100.0,
            );
        }
    }
    println!();
    Ok(())
}

fn idle_table(options: &Options) -> Result<(), String> {
    let n = options.idle;
    println!("## Idle memory: {n} open connections (handshake and one 20 B echo each)\n");
    println!(
        "| server | ratio to best peer | bytes / connection | RSS before (MiB) | RSS after (MiB) |"
    );
    println!("|---|---|---|---|---|");
    let mut rows = Vec::new();
    for server in WsServer::ALL {
        let process = Server::start("ws", server.name())?;
        let pid = process.pid();
        let runtime = client_runtime()?;
        let (before, after) = runtime.block_on(async {
            // One connection first, so lazily made state (runtime, allocator arenas)
            // is in the baseline.
            drop(client::open_idle(process.addr, 1).await?);
            tokio::time::sleep(Duration::from_millis(200)).await;
            let before = procfs::rss(pid)?;
            let conns = client::open_idle(process.addr, n).await?;
            tokio::time::sleep(Duration::from_millis(500)).await;
            let after = procfs::rss(pid)?;
            drop(process);
            drop(conns);
            Ok::<_, String>((before, after))
        })?;
        rows.push((server, before, after));
    }
    let per_conn: Vec<f64> = rows
        .iter()
        .map(|&(_, before, after)| after.saturating_sub(before) as f64 / n as f64)
        .collect();
    let best = best_peer(&per_conn, f64::min);
    for (i, &(server, before, after)) in rows.iter().enumerate() {
        println!(
            "| {} | {:.2}x | {:.0} | {:.1} | {:.1} |",
            server.name(),
            per_conn[i] / best,
            per_conn[i],
            mib(before),
            mib(after),
        );
    }
    println!();
    Ok(())
}

fn sse_table(options: &Options) -> Result<(), String> {
    println!("## SSE fan-out: one producer, every event to every subscriber\n");
    println!(
        "Ratios: tidings / axum (events/s: higher is better; CPU and memory: lower is better). \
         Median of {} run(s).\n",
        options.repeat
    );
    println!(
        "| subscribers | server | events/s ratio | CPU/event ratio | bytes/sub ratio | events/s | CPU ns/event | bytes / subscriber |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for &n in &options.subscribers {
        // Round-robin runs, as for echo; a cell is the median of the runs.
        let mut runs: Vec<Vec<(f64, f64, f64)>> =
            SseServer::ALL.iter().map(|_| Vec::new()).collect();
        for _ in 0..options.repeat {
            for (i, server) in SseServer::ALL.into_iter().enumerate() {
                runs[i].push(sse_case(server, n, options.sse_window)?);
            }
        }
        let rows: Vec<(f64, f64, f64)> = runs
            .iter()
            .map(|r| {
                let column =
                    |f: fn(&(f64, f64, f64)) -> f64| median(&r.iter().map(f).collect::<Vec<_>>());
                (column(|x| x.0), column(|x| x.1), column(|x| x.2))
            })
            .collect();
        // The peer is axum: the last row.
        let peer = rows.len() - 1;
        for (server, row) in SseServer::ALL.into_iter().zip(&rows) {
            println!(
                "| {n} | {} | {:.2}x | {:.2}x | {:.2}x | {:.0} | {:.0} | {:.0} |",
                server.name(),
                row.0 / rows[peer].0,
                row.1 / rows[peer].1,
                row.2 / rows[peer].2,
                row.0,
                row.1,
                row.2,
            );
        }
    }
    println!();
    Ok(())
}

/// (events per second, server CPU ns per event, bytes per subscriber).
fn sse_case(server: SseServer, n: usize, window: Duration) -> Result<(f64, f64, f64), String> {
    let process = Server::start("sse", server.name())?;
    let pid = process.pid();
    let runtime = client_runtime()?;
    runtime.block_on(async {
        let before = procfs::rss(pid)?;
        let counters = Arc::new(SseCounters::default());
        client::subscribe(process.addr, n, counters.clone()).await?;
        // Everyone has had an event, or 30 s have passed.
        let deadline = Instant::now() + Duration::from_secs(30);
        while counters.live.load(Ordering::Relaxed) < n && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let live = counters.live.load(Ordering::Relaxed);
        if live < n {
            return Err(format!(
                "{}: only {live} of {n} subscribers got an event",
                server.name()
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (t0, e0, c0) = (
            Instant::now(),
            counters.events.load(Ordering::Relaxed),
            procfs::cpu_time(pid)?,
        );
        tokio::time::sleep(window).await;
        let (t1, e1, c1) = (
            Instant::now(),
            counters.events.load(Ordering::Relaxed),
            procfs::cpu_time(pid)?,
        );
        let after = procfs::rss(pid)?;
        drop(process);
        let events = (e1 - e0).max(1) as f64;
        Ok((
            events / (t1 - t0).as_secs_f64(),
            (c1.saturating_sub(c0)).as_nanos() as f64 / events,
            after.saturating_sub(before) as f64 / n as f64,
        ))
    })
}

/// The best of the peers (every server but tidings, the first).
fn best_peer(values: &[f64], better: fn(f64, f64) -> f64) -> f64 {
    values[1..]
        .iter()
        .copied()
        .reduce(better)
        .unwrap_or(f64::NAN)
}

pub(crate) fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

fn spread(values: &[f64]) -> f64 {
    let max = values.iter().copied().fold(f64::MIN, f64::max);
    let min = values.iter().copied().fold(f64::MAX, f64::min);
    (max - min) / median(values)
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

pub(crate) fn size_name(size: usize) -> String {
    match size {
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{} KiB", n >> 10),
        n => format!("{n} B"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_names() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(best_peer(&[9.0, 1.0, 3.0], f64::max), 3.0);
        assert_eq!(size_name(20), "20 B");
        assert_eq!(size_name(16 * 1024), "16 KiB");
        assert_eq!(size_name(1 << 20), "1 MiB");
    }
}
