//! Fan-out through tidings-io's `broker::Node` over real sockets (issue 16): one
//! publisher, N SSE subscribers on one or two node processes, in memory or sharing
//! the topic through Redis Streams.
//!
//! ```text
//!   driver (this process, one client runtime)        node processes (`serve node`)
//!     publisher ── GET /publish?topic=T&p=PAYLOAD ──► node A ──► Redis (XADD) ─┐
//!     N subscribers ── GET /events?topic=T ──► A or B ◄── XREAD BLOCK ─────────┘
//!         (N / nodes each, `id: EPOCH:OFFSET`, `data: PAYLOAD`)
//!   redis-server: started by this part on a free loopback port, stopped after it
//! ```
//!
//! Three configurations, round-robin, `repeat` times each, every run against fresh
//! node processes (Redis is shared by the runs; each run has a topic of its own):
//! one node with the hub's history in memory (`Node::new`, the default); one node
//! on Redis (`Node::with_redis`); two nodes on Redis, the subscribers split evenly,
//! the publisher on node A.
//!
//! A run: every subscriber has its response head (so its subscription exists on
//! its node); the nodes' RSS is read; the publisher sends M messages of S bytes at
//! a fixed rate on one keep-alive connection to node A, each carrying its sequence
//! number and its send time (nanoseconds since this process's start: publisher and
//! subscribers share one clock); once every subscriber has all M, it sends B more
//! back to back (pipelined on the same connection), and the run ends when every
//! subscriber has all M + B. Every subscriber checks that it got 1, 2, ..., M + B,
//! once each, in order, with consecutive offsets in one epoch, and nothing after
//! the last (it reads on for 100 ms after every subscriber is done): a lost,
//! repeated or reordered message, one too many, or a discontinuity, fails the run. Figures: deliveries
//! (B × N) per second from the first message of the burst to its last delivery
//! (what the machine can carry), publish → receive latency of the M paced
//! messages (p50, p99: below saturation, so not a queue's length), the nodes' RSS
//! growth per subscriber (connected, before any message), and the nodes' CPU time
//! per delivery over the whole run (Redis's CPU per message beside it).

use std::io::{BufRead, BufReader as StdBufReader};
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use tidings_hub::{Config, Delivery, Since};
use tidings_io::broker::{Node, Redis, RedisConfig};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::driver::{Server, median};
use crate::http2::Tasks;
use crate::procfs;
use crate::stats::Samples;

/// What the fan-out part runs.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// Subscribers, over all nodes.
    pub(crate) subscribers: usize,
    /// Messages published at `rate` per run: the latency figures.
    pub(crate) messages: u64,
    /// Messages a second.
    pub(crate) rate: u64,
    /// Messages published back to back after those: the deliveries/s figure.
    pub(crate) burst: u64,
    /// Payload bytes of each message.
    pub(crate) size: usize,
    /// Runs of each configuration.
    pub(crate) repeat: usize,
}

/// The longest wait for one thing (every head, every message) before a run fails.
const PATIENCE: Duration = Duration::from_secs(30);

/// Subscriptions connecting at once (the listen backlog is deep, but a burst of
/// thousands of SYNs still overflows loopback's accept queue).
const CONNECT_CONCURRENCY: usize = 128;

/// Descriptors kept free besides the sockets (runtime, pipes, Redis links).
const SPARE_FDS: usize = 256;

/// A configuration of the part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Setup {
    /// One node, `Node::new`: the hub's history in memory.
    Memory,
    /// `nodes` nodes on Redis.
    Redis { nodes: usize },
}

impl Setup {
    fn name(self) -> String {
        match self {
            Self::Memory => "one node, in memory (default)".into(),
            Self::Redis { nodes: 1 } => "one node, Redis".into(),
            Self::Redis { nodes } => format!("{nodes} nodes, Redis, publisher on node A"),
        }
    }

    fn nodes(self) -> usize {
        match self {
            Self::Memory => 1,
            Self::Redis { nodes } => nodes,
        }
    }
}

/// One figure of a [`Run`].
type Field = fn(&Run) -> f64;

/// What one run measured.
#[derive(Debug, Clone, Copy)]
struct Run {
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    rss_bytes: f64,
    cpu_ns: f64,
    redis_cpu_us: f64,
}

/// Prints the part's table.
pub(crate) fn table(plan: &Plan) -> Result<(), String> {
    let mut plan = plan.clone();
    println!(
        "## Fan-out through `broker::Node`: one publisher, SSE subscribers on node processes\n"
    );
    // Every subscriber is a socket in this process, and up to all of them in one node.
    let limit = open_file_limit();
    if let Some(limit) = limit.filter(|&l| l < plan.subscribers + SPARE_FDS) {
        let fewer = limit.saturating_sub(SPARE_FDS).max(1);
        let warning = format!(
            "**WARNING: the open-file limit is {limit}: subscribers cut from {} to {fewer}. \
             Raise `ulimit -n` (run.sh raises it to the hard limit) for the full figure.**\n",
            plan.subscribers
        );
        println!("{warning}");
        eprintln!("{warning}");
        plan.subscribers = fewer;
    }
    let redis = match RedisServer::start() {
        Ok(redis) => Some(redis),
        Err(why) => {
            let warning = format!(
                "**SKIPPED: the Redis rows ({why}); install Debian's `redis-server` for them.**\n"
            );
            println!("{warning}");
            eprintln!("{warning}");
            None
        }
    };
    let mut setups = vec![Setup::Memory];
    if redis.is_some() {
        setups.extend([Setup::Redis { nodes: 1 }, Setup::Redis { nodes: 2 }]);
    }
    let mut runs: Vec<Vec<Run>> = vec![Vec::new(); setups.len()];
    for round in 0..plan.repeat {
        for (i, &setup) in setups.iter().enumerate() {
            let topic = format!("fanout-{}-{round}-{i}", std::process::id());
            let run = run(setup, &plan, redis.as_ref(), &topic)
                .map_err(|why| format!("fan-out, {}: {why}", setup.name()))?;
            runs[i].push(run);
        }
    }
    println!(
        "{} SSE subscribers (split evenly over the nodes); {} messages of {} B at {} a second, \
         then {} back to back, all published on node A; every delivery checked: each \
         subscriber gets every message once, in order. Median of {} run(s), (min-max) \
         beside it. Deliveries/s: the burst's, {} × subscribers, from its first publish to \
         its last delivery. Latency: the paced messages', the publisher's send → a \
         subscriber's read, one clock (one process). Node RSS: growth per subscriber, all \
         nodes together, subscribers connected. CPU: the nodes' threads' run time \
         (schedstat) per delivery, the whole run; Redis's per message published.\n",
        plan.subscribers, plan.messages, plan.size, plan.rate, plan.burst, plan.repeat, plan.burst,
    );
    println!(
        "| setup | deliveries/s | p50 ms (paced, {} deliveries/s offered) | p99 ms | node RSS bytes/subscriber | node CPU ns/delivery | Redis CPU µs/message |",
        thousands(plan.rate as f64 * plan.subscribers as f64)
    );
    println!("|---|---|---|---|---|---|---|");
    let fields: [(Field, usize); 6] = [
        (|r| r.per_second, 0),
        (|r| r.p50_ms, 2),
        (|r| r.p99_ms, 2),
        (|r| r.rss_bytes, 0),
        (|r| r.cpu_ns, 0),
        (|r| r.redis_cpu_us, 0),
    ];
    for (setup, runs) in setups.iter().zip(&runs) {
        let mut row = format!("| {} |", setup.name());
        for (k, (field, decimals)) in fields.iter().enumerate() {
            if k == 5 && *setup == Setup::Memory {
                row += " - |";
                continue;
            }
            let values: Vec<f64> = runs.iter().map(field).collect();
            row += &format!(" {} |", with_range(&values, *decimals));
        }
        println!("{row}");
    }
    println!();
    drop(redis);
    Ok(())
}

/// One run against fresh node processes.
fn run(setup: Setup, plan: &Plan, redis: Option<&RedisServer>, topic: &str) -> Result<Run, String> {
    let target = match (setup, redis) {
        (Setup::Memory, _) => "memory".to_owned(),
        (Setup::Redis { .. }, Some(redis)) => redis.url(),
        (Setup::Redis { .. }, None) => return Err("no Redis".into()),
    };
    let nodes: Vec<Server> = (0..setup.nodes())
        .map(|_| Server::start_node(&target))
        .collect::<Result<_, _>>()?;
    let addrs: Vec<SocketAddr> = nodes.iter().map(|n| n.addr).collect();
    let pids: Vec<u32> = nodes.iter().map(Server::pid).collect();
    let redis_pid = redis
        .filter(|_| setup != Setup::Memory)
        .map(RedisServer::pid);
    let n = plan.subscribers;
    let messages = plan.messages + plan.burst;
    let result = crate::driver::client_runtime()?.block_on(async {
        // One subscriber per node first (then gone), so lazily made state (the
        // runtime, the topic and its follower) is in the baseline.
        let warm = Arc::new(Progress::default());
        let warm_tasks = Tasks(
            addrs
                .iter()
                .map(|&addr| spawn_subscriber(addr, topic, (plan.messages, messages), &warm, None))
                .collect(),
        );
        wait(
            &warm,
            |p| p.ready.load(Ordering::Relaxed) >= addrs.len(),
            "warm-up",
        )
        .await?;
        drop(warm_tasks);
        tokio::time::sleep(Duration::from_millis(200)).await;
        let before = sum(&pids, procfs::rss)?;

        let progress = Arc::new(Progress::default());
        let gate = Arc::new(tokio::sync::Semaphore::new(CONNECT_CONCURRENCY));
        let tasks = Tasks(
            (0..n)
                .map(|i| {
                    spawn_subscriber(
                        addrs[i % addrs.len()],
                        topic,
                        (plan.messages, messages),
                        &progress,
                        Some(gate.clone()),
                    )
                })
                .collect(),
        );
        wait(
            &progress,
            |p| p.ready.load(Ordering::Relaxed) >= n,
            "response heads",
        )
        .await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let idle = sum(&pids, procfs::rss)?;

        let mut publisher = Publisher::connect(addrs[0], topic).await?;
        let c0 = sum_cpu(&pids)?;
        let r0 = redis_pid.map(procfs::cpu_time_fine).transpose()?;
        let mut interval = tokio::time::interval(Duration::from_secs(1) / plan.rate.max(1) as u32);
        for seq in 1..=plan.messages {
            interval.tick().await;
            publisher.publish(seq..seq + 1, plan.size).await?;
            if let Some(why) = progress.failed.lock().map_err(|e| e.to_string())?.clone() {
                return Err(why);
            }
        }
        wait(
            &progress,
            |p| p.paced.load(Ordering::Relaxed) >= n,
            "the paced messages",
        )
        .await?;
        let t0 = Instant::now();
        publisher
            .publish(plan.messages + 1..messages + 1, plan.size)
            .await?;
        wait(
            &progress,
            |p| p.done.load(Ordering::Relaxed) >= n,
            "every message",
        )
        .await?;
        let t1 = Instant::now();
        // A message too many would arrive about now.
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Some(why) = progress.failed.lock().map_err(|e| e.to_string())?.clone() {
            return Err(why);
        }
        let c1 = sum_cpu(&pids)?;
        let r1 = redis_pid.map(procfs::cpu_time_fine).transpose()?;
        let delivered = progress.delivered.load(Ordering::Relaxed);
        let expected = messages * n as u64;
        if delivered != expected {
            return Err(format!("{delivered} deliveries, {expected} expected"));
        }
        drop(tasks);
        let mut samples = std::mem::take(&mut *progress.samples.lock().map_err(|e| e.to_string())?);
        let delivered = delivered as f64;
        let redis_cpu_us = match (r0, r1) {
            (Some(r0), Some(r1)) => r1.saturating_sub(r0).as_secs_f64() * 1e6 / messages as f64,
            _ => f64::NAN,
        };
        Ok(Run {
            per_second: (plan.burst * n as u64) as f64 / (t1 - t0).as_secs_f64(),
            p50_ms: samples.quantile(0.5).as_secs_f64() * 1e3,
            p99_ms: samples.quantile(0.99).as_secs_f64() * 1e3,
            rss_bytes: idle.saturating_sub(before) as f64 / n as f64,
            cpu_ns: c1.saturating_sub(c0).as_nanos() as f64 / delivered,
            redis_cpu_us,
        })
    });
    drop(nodes);
    result
}

fn sum(pids: &[u32], read: fn(u32) -> Result<u64, String>) -> Result<u64, String> {
    pids.iter().map(|&pid| read(pid)).sum()
}

fn sum_cpu(pids: &[u32]) -> Result<Duration, String> {
    pids.iter().map(|&pid| procfs::cpu_time_fine(pid)).sum()
}

/// The subscribers' shared state.
#[derive(Debug, Default)]
struct Progress {
    /// Subscribers that have their response head.
    ready: AtomicUsize,
    /// Subscribers that have had every paced message.
    paced: AtomicUsize,
    /// Subscribers that have had every message.
    done: AtomicUsize,
    /// Messages received in order, all subscribers together.
    delivered: AtomicU64,
    /// Publish → receive latencies of the paced messages, merged as each
    /// subscriber completes.
    samples: Mutex<Samples>,
    /// The first failure: the run fails with it.
    failed: Mutex<Option<String>>,
}

impl Progress {
    fn fail(&self, why: String) {
        let mut failed = self.failed.lock().unwrap_or_else(|e| e.into_inner());
        failed.get_or_insert(why);
    }
}

async fn wait(
    progress: &Progress,
    until: impl Fn(&Progress) -> bool,
    what: &str,
) -> Result<(), String> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(why) = progress.failed.lock().map_err(|e| e.to_string())?.clone() {
            return Err(why);
        }
        if until(progress) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "waited {PATIENCE:?} for {what}: {} ready, {} done, {} deliveries",
                progress.ready.load(Ordering::Relaxed),
                progress.done.load(Ordering::Relaxed),
                progress.delivered.load(Ordering::Relaxed),
            ));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn spawn_subscriber(
    addr: SocketAddr,
    topic: &str,
    messages: (u64, u64),
    progress: &Arc<Progress>,
    gate: Option<Arc<tokio::sync::Semaphore>>,
) -> tokio::task::JoinHandle<()> {
    let topic = topic.to_owned();
    let progress = progress.clone();
    tokio::spawn(async move {
        if let Err(why) = subscriber(addr, &topic, messages, &progress, gate).await {
            progress.fail(why);
        }
    })
}

/// One subscriber: `GET /events`, the head, then events until the last message,
/// each checked (see the module docs); then it stays connected until the run ends.
/// `messages`: (the paced ones, all).
async fn subscriber(
    addr: SocketAddr,
    topic: &str,
    messages: (u64, u64),
    progress: &Progress,
    gate: Option<Arc<tokio::sync::Semaphore>>,
) -> Result<(), String> {
    let permit = match &gate {
        Some(gate) => Some(gate.acquire().await.map_err(|e| e.to_string())?),
        None => None,
    };
    let mut tcp = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
    let request = format!(
        "GET /events?topic={topic} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
    );
    tcp.write_all(request.as_bytes())
        .await
        .map_err(|e| format!("request: {e}"))?;
    let mut buf = vec![0u8; 4096];
    let mut head = Vec::new();
    let body_start = loop {
        let n = tcp.read(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("end of stream in the response head".into());
        }
        head.extend_from_slice(&buf[..n]);
        if let Some(end) = memchr::memmem::find(&head, b"\r\n\r\n") {
            break end + 4;
        }
    };
    let text = String::from_utf8_lossy(&head[..body_start]).to_ascii_lowercase();
    if !text.starts_with("http/1.1 200") || !text.contains("content-type: text/event-stream") {
        return Err(format!("not an event stream: {text:?}"));
    }
    progress.ready.fetch_add(1, Ordering::Relaxed);
    drop(permit);
    let mut checker = Checker::new(messages.0, messages.1);
    let mut got = checker.feed(&head[body_start..])?;
    let mut paced = false;
    while !checker.complete() {
        progress.delivered.fetch_add(got, Ordering::Relaxed);
        if !paced && checker.last >= messages.0 {
            paced = true;
            progress.paced.fetch_add(1, Ordering::Relaxed);
        }
        let n = tcp.read(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err(format!("stream ended after message {}", checker.last));
        }
        got = checker.feed(&buf[..n])?;
    }
    progress.delivered.fetch_add(got, Ordering::Relaxed);
    if !paced {
        progress.paced.fetch_add(1, Ordering::Relaxed);
    }
    progress
        .samples
        .lock()
        .map_err(|e| e.to_string())?
        .merge(std::mem::take(&mut checker.samples));
    progress.done.fetch_add(1, Ordering::Relaxed);
    // Stay connected until the run ends, still checking: anything more is a
    // message too many.
    loop {
        let n = tcp.read(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Ok(());
        }
        checker.feed(&buf[..n])?;
    }
}

/// Checks one subscriber's stream: messages 1..=end in order, once each, with
/// consecutive offsets of one epoch; records the latency of 1..=timed.
#[derive(Debug)]
struct Checker {
    /// The last message seen.
    last: u64,
    timed: u64,
    end: u64,
    /// The position (`EPOCH:OFFSET`) of the last message seen.
    position: Option<(String, u64)>,
    /// The part of an event not yet ended.
    partial: Vec<u8>,
    samples: Samples,
}

impl Checker {
    fn new(timed: u64, end: u64) -> Self {
        Self {
            last: 0,
            timed,
            end,
            position: None,
            partial: Vec::new(),
            samples: Samples::default(),
        }
    }

    fn complete(&self) -> bool {
        self.last == self.end
    }

    /// Takes bytes of the stream; the number of messages they ended.
    fn feed(&mut self, bytes: &[u8]) -> Result<u64, String> {
        let now = now_nanos();
        let mut buf = std::mem::take(&mut self.partial);
        buf.extend_from_slice(bytes);
        let mut rest = &buf[..];
        let mut count = 0;
        while let Some(end) = memchr::memmem::find(rest, b"\n\n") {
            self.event(&rest[..end + 1], now)?;
            count += 1;
            rest = &rest[end + 2..];
        }
        self.partial = rest.to_vec();
        Ok(count)
    }

    /// One whole event (its lines, each ending in `\n`).
    fn event(&mut self, event: &[u8], now: u64) -> Result<(), String> {
        let text = std::str::from_utf8(event).map_err(|e| e.to_string())?;
        let (mut id, mut data) = (None, None);
        for line in text.lines() {
            if let Some(v) = line.strip_prefix("id: ") {
                id = Some(v);
            } else if let Some(v) = line.strip_prefix("data: ") {
                data = Some(v);
            } else if line.starts_with("event:") {
                return Err(format!("not a message (a discontinuity?): {text:?}"));
            }
        }
        let (Some(id), Some(data)) = (id, data) else {
            return Err(format!("an event without id or data: {text:?}"));
        };
        let (epoch, offset) = id
            .split_once(':')
            .and_then(|(e, o)| Some((e, o.parse::<u64>().ok()?)))
            .ok_or_else(|| format!("an id that is not EPOCH:OFFSET: {id:?}"))?;
        if let Some((last_epoch, last_offset)) = &self.position {
            if last_epoch != epoch || offset != last_offset + 1 {
                return Err(format!(
                    "position {id} after {last_epoch}:{last_offset}: not the next"
                ));
            }
        }
        self.position = Some((epoch.to_owned(), offset));
        let (seq, sent) = parse_payload(data)?;
        if seq != self.last + 1 || seq > self.end {
            return Err(format!(
                "message {seq} after {}: lost, repeated or reordered",
                self.last
            ));
        }
        self.last = seq;
        if seq <= self.timed {
            self.samples
                .push(Duration::from_nanos(now.saturating_sub(sent)));
        }
        Ok(())
    }
}

/// The publisher: one keep-alive HTTP/1.1 connection to a node.
struct Publisher {
    io: BufReader<TcpStream>,
    topic: String,
    addr: SocketAddr,
}

impl Publisher {
    async fn connect(addr: SocketAddr, topic: &str) -> Result<Self, String> {
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("publisher: connect {addr}: {e}"))?;
        tcp.set_nodelay(true).map_err(|e| e.to_string())?;
        Ok(Self {
            io: BufReader::new(tcp),
            topic: topic.to_owned(),
            addr,
        })
    }

    /// Publishes the messages `seqs`, stamped now, in one write (pipelined), and
    /// waits for the node's answers.
    async fn publish(&mut self, seqs: std::ops::Range<u64>, size: usize) -> Result<(), String> {
        let sent = now_nanos();
        let mut requests = String::new();
        for seq in seqs.clone() {
            let payload = payload(seq, sent, size);
            requests += &format!(
                "GET /publish?topic={}&p={payload} HTTP/1.1\r\nHost: {}\r\n\r\n",
                self.topic, self.addr
            );
        }
        let io_err = |e: std::io::Error| format!("publisher: {e}");
        self.io
            .get_mut()
            .write_all(requests.as_bytes())
            .await
            .map_err(io_err)?;
        for _ in seqs {
            self.answer().await?;
        }
        Ok(())
    }

    /// Reads one answer of the node.
    async fn answer(&mut self) -> Result<(), String> {
        let io_err = |e: std::io::Error| format!("publisher: {e}");
        let mut line = String::new();
        let mut length = 0usize;
        let mut first = true;
        loop {
            line.clear();
            if self.io.read_line(&mut line).await.map_err(io_err)? == 0 {
                return Err("publisher: the node closed the connection".into());
            }
            if first && !line.starts_with("HTTP/1.1 200") {
                return Err(format!("publisher: {}", line.trim()));
            }
            first = false;
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().map_err(|_| "publisher: content-length")?;
            }
            if line == "\r\n" {
                break;
            }
        }
        let mut body = vec![0u8; length];
        self.io.read_exact(&mut body).await.map_err(io_err)?;
        Ok(())
    }
}

/// Nanoseconds since this process's first call: the publisher's stamp and the
/// subscribers' reading share it.
fn now_nanos() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    let start = *START.get_or_init(Instant::now);
    u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// A message: `SEQ-SENT-` and `x`s up to `size` bytes (URL- and SSE-safe).
fn payload(seq: u64, sent: u64, size: usize) -> String {
    let mut payload = format!("{seq}-{sent}-");
    while payload.len() < size {
        payload.push('x');
    }
    payload
}

fn parse_payload(data: &str) -> Result<(u64, u64), String> {
    let mut parts = data.splitn(3, '-');
    let mut number = || parts.next().and_then(|p| p.parse::<u64>().ok());
    match (number(), number()) {
        (Some(seq), Some(sent)) => Ok((seq, sent)),
        _ => Err(format!("a payload that is not SEQ-SENT-...: {data:?}")),
    }
}

// ---------------------------------------------------------------------------
// The node server (`tidings-e2e serve node memory|redis://...`).

/// Runs a `broker::Node` SSE server until stdin closes: `Node::new` for `memory`,
/// else `Node::with_redis` on that URL. Routes (raw HTTP/1.1, heads read by hand):
///
/// - `/events?topic=T`: subscribes to T from now on (`Since::Live`), then writes
///   each delivery with `SseWriter`: `id: EPOCH:OFFSET`, the payload as `data`; a
///   discontinuity is written as `event: discontinuity` (the client fails the
///   run), a dropped subscription ends the stream;
/// - `/publish?topic=T&p=PAYLOAD`: `Node::publish`, answered with the position;
///   keep-alive, one request after another.
pub(crate) fn serve_node(target: &str) -> Result<(), String> {
    let target = target.to_owned();
    crate::servers::serve(|listener| async move {
        let mut config = Config::default();
        config.max_subscriptions = 2_000_000;
        let node = if target == "memory" {
            Node::new(config)
        } else {
            match Redis::connect(&target, RedisConfig::default()).await {
                Ok(redis) => Node::with_redis(config, redis),
                Err(e) => {
                    eprintln!("serve node: Redis {target}: {e}");
                    std::process::exit(1);
                }
            }
        };
        loop {
            let Some(tcp) = crate::servers::accept(&listener).await else {
                continue;
            };
            let node = node.clone();
            tokio::spawn(async move {
                let _ = node_connection(tcp, node).await;
            });
        }
    })
}

type BoxError = Box<dyn std::error::Error>;

async fn node_connection(tcp: TcpStream, node: Node) -> Result<(), BoxError> {
    use tidings_io::sse::{ServerConfig, ServerSentEvent, SseWriter};
    let mut io = BufReader::new(tcp);
    loop {
        let Some(target) = read_head(&mut io).await? else {
            return Ok(());
        };
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let param = |name: &str| {
            query.split('&').find_map(|pair| {
                pair.strip_prefix(name)
                    .and_then(|rest| rest.strip_prefix('='))
            })
        };
        let topic = param("topic").ok_or("no topic")?.to_owned();
        match path {
            "/publish" => {
                let payload = Bytes::from(param("p").unwrap_or("").to_owned());
                let answer = match node.publish(&topic, payload).await {
                    Ok(position) => {
                        let body = position.to_string();
                        format!(
                            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
                            body.len()
                        )
                    }
                    Err(e) => {
                        let body = e.to_string();
                        format!(
                            "HTTP/1.1 503 Service Unavailable\r\ncontent-length: {}\r\n\r\n{body}",
                            body.len()
                        )
                    }
                };
                io.get_mut().write_all(answer.as_bytes()).await?;
            }
            "/events" => {
                let subscription = node.subscribe(&topic, Since::Live).await?;
                let mut config = ServerConfig::default();
                config.keep_alive = None;
                // The client sends nothing after its request: nothing is buffered.
                let tcp = io.into_inner();
                let mut writer = SseWriter::start(tidings_io::Tokio::new(tcp), config).await?;
                let events = futures_util::stream::unfold(subscription, |mut s| async move {
                    let event = match s.next().await? {
                        Delivery::Event(event) => {
                            ServerSentEvent::data(String::from_utf8_lossy(&event.payload))
                                .id(event.position.to_string())
                        }
                        Delivery::Discontinuity(gap) => ServerSentEvent::data(format!("{gap:?}"))
                            .event("discontinuity")
                            .id(gap.resume.to_string()),
                        _ => return None,
                    };
                    Some((event, s))
                });
                writer.run(events.boxed()).await?;
                return Ok(());
            }
            _ => return Err(format!("no route {path}").into()),
        }
    }
}

/// Reads one request head; its target, or `None` at the end of the stream.
async fn read_head(io: &mut BufReader<TcpStream>) -> Result<Option<String>, BoxError> {
    let mut line = String::new();
    if io.read_line(&mut line).await? == 0 {
        return Ok(None);
    }
    let target = line
        .split(' ')
        .nth(1)
        .ok_or("a request line without a target")?
        .to_owned();
    loop {
        line.clear();
        if io.read_line(&mut line).await? == 0 {
            return Err("end of stream in a request head".into());
        }
        if line == "\r\n" || line == "\n" {
            return Ok(Some(target));
        }
    }
}

// ---------------------------------------------------------------------------
// Redis and limits.

/// A `redis-server` of this part's own, on a free loopback port, without
/// persistence; stopped when dropped.
#[derive(Debug)]
pub(crate) struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    pub(crate) fn start() -> Result<Self, String> {
        let port = StdTcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("a free port: {e}"))?
            .port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("redis-server: {e}"))?;
        let server = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if server.ping() {
                return Ok(server);
            }
            if Instant::now() > deadline {
                return Err(format!("redis-server did not answer on port {port}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn ping(&self) -> bool {
        use std::io::{Read, Write};
        let Ok(mut tcp) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = tcp.set_read_timeout(Some(Duration::from_secs(1)));
        let mut answer = [0u8; 7];
        tcp.write_all(b"PING\r\n").is_ok()
            && tcp.read_exact(&mut answer).is_ok()
            && &answer == b"+PONG\r\n"
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// This process's soft open-file limit (`/proc/self/limits`), inherited by the
/// nodes; `None` if unreadable or unlimited.
fn open_file_limit() -> Option<usize> {
    let file = std::fs::File::open("/proc/self/limits").ok()?;
    StdBufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .find(|l| l.starts_with("Max open files"))?
        .split_whitespace()
        .nth(3)?
        .parse()
        .ok()
}

fn with_range(values: &[f64], decimals: usize) -> String {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let m = median(values);
    let show = |v: f64| {
        if decimals == 0 {
            thousands(v)
        } else {
            format!("{v:.decimals$}")
        }
    };
    if values.len() < 2 {
        return show(m);
    }
    format!("{} ({}-{})", show(m), show(min), show(max))
}

/// `1234567.8` as `1,234,568`.
fn thousands(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    let digits = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0.0 { format!("-{out}") } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_order_and_positions() {
        let event = |seq: u64, offset: u64| {
            format!("id: 7:{offset}\ndata: {}\n\n", payload(seq, 0, 64)).into_bytes()
        };
        let mut c = Checker::new(2, 3);
        let mut stream = event(1, 10);
        stream.extend(event(2, 11));
        let third = event(3, 12);
        stream.extend(&third[..5]);
        assert_eq!(c.feed(&stream).unwrap(), 2);
        assert_eq!(c.feed(&third[5..]).unwrap(), 1);
        assert!(c.complete());
        assert_eq!(c.samples.len(), 2, "the paced ones only");
        assert!(c.feed(&event(4, 13)).is_err(), "one too many");

        let mut c = Checker::new(3, 3);
        c.feed(&event(1, 10)).unwrap();
        assert!(c.feed(&event(1, 11)).is_err(), "a repeat");
        let mut c = Checker::new(3, 3);
        c.feed(&event(1, 10)).unwrap();
        assert!(c.feed(&event(2, 12)).is_err(), "an offset skipped");
        let mut c = Checker::new(3, 3);
        assert!(
            c.feed(b"event: discontinuity\nid: 7:3\ndata: x\n\n")
                .is_err()
        );
    }

    #[test]
    fn numbers() {
        assert_eq!(thousands(1_234_567.8), "1,234,568");
        assert_eq!(thousands(12.0), "12");
        assert_eq!(parse_payload(&payload(5, 99, 64)).unwrap(), (5, 99));
        assert_eq!(payload(5, 99, 64).len(), 64);
    }
}
