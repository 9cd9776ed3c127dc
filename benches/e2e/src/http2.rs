//! HTTP/2 against HTTP/1.1 on one server: tidings-io's `http::serve` (`serve http`),
//! which speaks both on one listener (h2c by the prior-knowledge preface here).
//!
//! Two cases, each run over both versions against a fresh server, round-robin,
//! `repeat` times (a cell is the median, with the range of the runs):
//!
//! - **SSE fan-out**: S subscribers of `/events`, as C HTTP/2 connections of S / C
//!   streams each, or as S HTTP/1.1 connections. Once every subscriber has its
//!   response head, the server's RSS is read, then `/publish?n=N` makes it publish N
//!   events; the case ends when every subscriber has all N. Each subscriber checks
//!   that it got 1, 2, ..., N (the `seq` in each event's data): a lost, repeated or
//!   reordered event fails the run. Figures: deliveries (N × S) per second of wall
//!   time, the server's CPU time per delivery, and its RSS growth per subscriber.
//!   A third row is a reference from another server (`serve sse-writer`): the same
//!   HTTP/1.1 subscribers against tidings' own writer on the socket, no hyper, to
//!   tell what HTTP/2 saves from what hyper's HTTP/1.1 costs.
//! - **WebSocket echo**: the load client of `client.rs` (one message in flight per
//!   WebSocket) over the HTTP/1.1 upgrade, over RFC 8441 CONNECT streams on as many
//!   HTTP/2 connections, and over the same number of streams multiplexed on one
//!   HTTP/2 connection.
//!
//! The HTTP/2 client is the `h2` crate (hyper's), with hyper's client windows
//! (2 MiB per stream, 5 MiB per connection); HTTP/1.1 is raw tokio sockets, as
//! everywhere in this harness.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, ReadBuf};
use tokio::net::TcpStream;

use crate::client::{self, WsClient};
use crate::procfs;

/// What the h2 part runs.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// HTTP/2 connections for the subscribers.
    pub(crate) sse_connections: usize,
    /// Streams per HTTP/2 connection (subscribers = connections × streams; over
    /// HTTP/1.1, one connection each).
    pub(crate) sse_streams: usize,
    /// Events published per run.
    pub(crate) events: u64,
    /// Echo cases: (WebSockets, message size).
    pub(crate) echo_cases: Vec<(usize, usize)>,
    /// Untimed time before each echo window.
    pub(crate) warmup: Duration,
    /// Each echo window.
    pub(crate) window: Duration,
    /// Runs of each configuration.
    pub(crate) repeat: usize,
}

/// The largest part of a run that may wait for one thing (every subscriber's head,
/// or every event) before the run fails.
const PATIENCE: Duration = Duration::from_secs(30);

/// Prints the part's two tables.
pub(crate) fn tables(plan: &Plan) -> Result<(), String> {
    println!(
        "## HTTP/2 against HTTP/1.1: one tidings-io server (`http::serve`, h2c and HTTP/1.1 on one listener)\n"
    );
    sse_table(plan)?;
    echo_table(plan)?;
    Ok(())
}

/// How the subscribers reach the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Subscribers {
    /// `connections` HTTP/2 connections × `streams` streams.
    H2 { connections: usize, streams: usize },
    /// One HTTP/1.1 connection each.
    H1(usize),
    /// One HTTP/1.1 connection each, to tidings' own writer (`serve sse-writer`,
    /// not `http::serve`): the reference row.
    H1Writer(usize),
}

impl Subscribers {
    fn count(self) -> usize {
        match self {
            Self::H2 {
                connections,
                streams,
            } => connections * streams,
            Self::H1(n) | Self::H1Writer(n) => n,
        }
    }

    fn name(self) -> String {
        match self {
            Self::H2 {
                connections,
                streams,
            } => format!("HTTP/2: {connections} connections × {streams} streams"),
            Self::H1(n) => format!("HTTP/1.1: {n} connections"),
            Self::H1Writer(n) => {
                format!("(reference) HTTP/1.1, `SseWriter` on the socket: {n} connections")
            }
        }
    }
}

/// What one SSE run measured.
#[derive(Debug, Clone, Copy)]
struct SseRun {
    /// Deliveries (events × subscribers) per second of wall time.
    per_second: f64,
    /// Server CPU time per delivery, in nanoseconds.
    cpu_ns: f64,
    /// Server RSS growth per subscriber, connected and idle, in bytes.
    idle_bytes: f64,
    /// The same once every event was delivered, in bytes.
    after_bytes: f64,
}

fn sse_table(plan: &Plan) -> Result<(), String> {
    let h2 = Subscribers::H2 {
        connections: plan.sse_connections,
        streams: plan.sse_streams,
    };
    let h1 = Subscribers::H1(h2.count());
    let configs = [h2, h1, Subscribers::H1Writer(h2.count())];
    let mut runs: Vec<Vec<SseRun>> = vec![Vec::new(); configs.len()];
    for _ in 0..plan.repeat {
        for (i, &config) in configs.iter().enumerate() {
            runs[i].push(sse_run(config, plan.events)?);
        }
    }
    println!(
        "### SSE fan-out: {} events to {} subscribers, every one checked in order\n",
        plan.events,
        h2.count()
    );
    println!(
        "Median of {} run(s), (min-max) beside it; ratios are each row / HTTP/1.1 of the medians, \
         both rows served by `http::serve` (events/s: higher is better; CPU and memory: lower is better). \
         An event is one delivery to one subscriber. The reference row is another server: \
         tidings' own HTTP/1.1 writer, without hyper.\n",
        plan.repeat
    );
    println!(
        "| subscribers | events/s | ratio | server CPU ns/event | ratio | RSS bytes/subscriber, idle | ratio | RSS bytes/subscriber, after the events | ratio |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let column = |i: usize, f: fn(&SseRun) -> f64| runs[i].iter().map(f).collect::<Vec<_>>();
    let fields: [fn(&SseRun) -> f64; 4] = [
        |r| r.per_second,
        |r| r.cpu_ns,
        |r| r.idle_bytes,
        |r| r.after_bytes,
    ];
    for (i, config) in configs.iter().enumerate() {
        let mut row = format!("| {} |", config.name());
        for field in fields {
            let values = column(i, field);
            let base = median(&column(1, field));
            row += &format!(
                " {} | {:.2}x |",
                with_range(&values, 0),
                median(&values) / base
            );
        }
        println!("{row}");
    }
    println!();
    Ok(())
}

/// One SSE run against a fresh server.
fn sse_run(config: Subscribers, events: u64) -> Result<SseRun, String> {
    let server = match config {
        Subscribers::H1Writer(_) => crate::driver::Server::start_sse_writer()?,
        _ => crate::driver::Server::start_http()?,
    };
    let (addr, pid) = (server.addr, server.pid());
    let result = crate::driver::client_runtime()?.block_on(async {
        // One subscriber first (then gone), so lazily made state is in the baseline.
        let warm = Arc::new(Progress::default());
        let warm_tasks = subscribe(addr, Subscribers::H1(1), events, warm.clone()).await?;
        if let Subscribers::H2 { .. } = config {
            let h2 = Subscribers::H2 {
                connections: 1,
                streams: 1,
            };
            let more = subscribe(addr, h2, events, warm.clone()).await?;
            wait(&warm, |p| p.ready.load(Ordering::Relaxed) >= 2, "warm-up").await?;
            drop(more);
        } else {
            wait(&warm, |p| p.ready.load(Ordering::Relaxed) >= 1, "warm-up").await?;
        }
        drop(warm_tasks);
        tokio::time::sleep(Duration::from_millis(200)).await;
        let before = procfs::rss(pid)?;

        let n = config.count();
        let progress = Arc::new(Progress::default());
        let tasks = subscribe(addr, config, events, progress.clone()).await?;
        wait(
            &progress,
            |p| p.ready.load(Ordering::Relaxed) >= n,
            "response heads",
        )
        .await?;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let idle = procfs::rss(pid)?;

        let (t0, c0) = (Instant::now(), procfs::cpu_time(pid)?);
        publish(addr, events).await?;
        wait(
            &progress,
            |p| p.done.load(Ordering::Relaxed) >= n,
            "every event",
        )
        .await?;
        let (t1, c1) = (Instant::now(), procfs::cpu_time(pid)?);
        let after = procfs::rss(pid)?;
        let delivered = progress.delivered.load(Ordering::Relaxed);
        if delivered != events * n as u64 {
            return Err(format!(
                "{}: {delivered} events delivered, {} expected",
                config.name(),
                events * n as u64
            ));
        }
        drop(tasks);
        let delivered = delivered as f64;
        Ok(SseRun {
            per_second: delivered / (t1 - t0).as_secs_f64(),
            cpu_ns: c1.saturating_sub(c0).as_nanos() as f64 / delivered,
            idle_bytes: idle.saturating_sub(before) as f64 / n as f64,
            after_bytes: after.saturating_sub(before) as f64 / n as f64,
        })
    });
    drop(server);
    result
}

/// The subscribers' shared state.
#[derive(Debug, Default)]
struct Progress {
    /// Subscribers that have their response head (200, `text/event-stream`).
    ready: AtomicUsize,
    /// Subscribers that have had every event.
    done: AtomicUsize,
    /// Events received in order, all subscribers together.
    delivered: AtomicU64,
    /// The first failure, if any: the run fails with it.
    failed: Mutex<Option<String>>,
}

impl Progress {
    fn fail(&self, why: String) {
        let mut failed = self.failed.lock().unwrap_or_else(|e| e.into_inner());
        failed.get_or_insert(why);
    }
}

/// Waits until `until` holds, a subscriber failed, or [`PATIENCE`] ran out.
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
                "waited {PATIENCE:?} for {what}: {} ready, {} done, {} events",
                progress.ready.load(Ordering::Relaxed),
                progress.done.load(Ordering::Relaxed),
                progress.delivered.load(Ordering::Relaxed),
            ));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Aborts its tasks when dropped.
#[derive(Debug)]
pub(crate) struct Tasks(pub(crate) Vec<tokio::task::JoinHandle<()>>);

impl Drop for Tasks {
    fn drop(&mut self) {
        self.0.iter().for_each(|t| t.abort());
    }
}

/// Opens the subscriptions, each read by its own task that checks the events
/// 1..=`events` in order and counts them into `progress`.
async fn subscribe(
    addr: SocketAddr,
    config: Subscribers,
    events: u64,
    progress: Arc<Progress>,
) -> Result<Tasks, String> {
    let mut tasks = Vec::new();
    match config {
        Subscribers::H2 {
            connections,
            streams,
        } => {
            for _ in 0..connections {
                let sender = h2_connect(addr).await?;
                for _ in 0..streams {
                    let sender = sender.clone();
                    let progress = progress.clone();
                    tasks.push(tokio::spawn(async move {
                        let read = subscriber_h2(addr, sender, events, &progress).await;
                        if let Err(why) = read {
                            progress.fail(why);
                        }
                    }));
                }
            }
        }
        Subscribers::H1(n) | Subscribers::H1Writer(n) => {
            for _ in 0..n {
                let progress = progress.clone();
                tasks.push(tokio::spawn(async move {
                    if let Err(why) = subscriber_h1(addr, events, &progress).await {
                        progress.fail(why);
                    }
                }));
            }
        }
    }
    Ok(Tasks(tasks))
}

/// One subscriber on its own HTTP/1.1 connection: `GET /events`, the response
/// head, then the chunked body.
async fn subscriber_h1(addr: SocketAddr, events: u64, progress: &Progress) -> Result<(), String> {
    let mut tcp = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
    let request =
        format!("GET /events HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n");
    tcp.write_all(request.as_bytes())
        .await
        .map_err(|e| format!("request: {e}"))?;
    let mut buf = vec![0u8; 4096];
    let mut head = Vec::new();
    let body_start = loop {
        let n = tcp.read(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("HTTP/1.1: end of stream in the response head".into());
        }
        head.extend_from_slice(&buf[..n]);
        if let Some(end) = memchr::memmem::find(&head, b"\r\n\r\n") {
            break end + 4;
        }
    };
    let text = String::from_utf8_lossy(&head[..body_start]).to_ascii_lowercase();
    if !text.starts_with("http/1.1 200") || !text.contains("content-type: text/event-stream") {
        return Err(format!("HTTP/1.1: not an event stream: {text:?}"));
    }
    progress.ready.fetch_add(1, Ordering::Relaxed);
    // hyper chunks the body; tidings' own writer sends it as is, to the close.
    let mut chunks = text
        .contains("transfer-encoding: chunked")
        .then(Chunked::default);
    let mut checker = InOrder::new(events);
    let mut data = Vec::new();
    let mut feed = |bytes: &[u8], checker: &mut InOrder| -> Result<bool, String> {
        let got = match &mut chunks {
            Some(chunks) => {
                data.clear();
                chunks.feed(bytes, &mut data)?;
                checker.feed(&data)?
            }
            None => checker.feed(bytes)?,
        };
        progress.delivered.fetch_add(got, Ordering::Relaxed);
        Ok(checker.complete())
    };
    let mut complete = feed(&head[body_start..], &mut checker)?;
    while !complete {
        let n = tcp.read(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err(format!(
                "HTTP/1.1: stream ended after event {}",
                checker.last
            ));
        }
        complete = feed(&buf[..n], &mut checker)?;
    }
    progress.done.fetch_add(1, Ordering::Relaxed);
    // Stay connected (the server keeps the subscription) until the case ends.
    std::future::pending::<()>().await;
    Ok(())
}

/// One subscriber as a stream of an HTTP/2 connection.
async fn subscriber_h2(
    addr: SocketAddr,
    sender: h2::client::SendRequest<Bytes>,
    events: u64,
    progress: &Progress,
) -> Result<(), String> {
    let request = http::Request::get(format!("http://{addr}/events"))
        .header("accept", "text/event-stream")
        .body(())
        .map_err(|e| e.to_string())?;
    let mut sender = sender.ready().await.map_err(|e| format!("h2: {e}"))?;
    let (response, _) = sender
        .send_request(request, true)
        .map_err(|e| format!("h2: {e}"))?;
    let response = response.await.map_err(|e| format!("h2: {e}"))?;
    let is_sse = response
        .headers()
        .get("content-type")
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    if response.status() != 200 || !is_sse {
        return Err(format!("h2: not an event stream: {response:?}"));
    }
    progress.ready.fetch_add(1, Ordering::Relaxed);
    let mut body = response.into_body();
    let mut checker = InOrder::new(events);
    while !checker.complete() {
        let Some(data) = body.data().await else {
            return Err(format!("h2: stream ended after event {}", checker.last));
        };
        let data = data.map_err(|e| format!("h2: {e}"))?;
        let _ = body.flow_control().release_capacity(data.len());
        let got = checker.feed(&data)?;
        progress.delivered.fetch_add(got, Ordering::Relaxed);
    }
    progress.done.fetch_add(1, Ordering::Relaxed);
    std::future::pending::<()>().await;
    Ok(())
}

/// Asks the server to publish `events` events (`GET /publish?n=`, HTTP/1.1, its
/// own connection).
async fn publish(addr: SocketAddr, events: u64) -> Result<(), String> {
    let mut tcp = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    let request =
        format!("GET /publish?n={events} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    tcp.write_all(request.as_bytes())
        .await
        .map_err(|e| format!("publish: {e}"))?;
    let mut answer = Vec::new();
    tcp.read_to_end(&mut answer)
        .await
        .map_err(|e| format!("publish: {e}"))?;
    if !answer.starts_with(b"HTTP/1.1 200") {
        return Err(format!(
            "publish: {:?}",
            String::from_utf8_lossy(&answer[..answer.len().min(64)])
        ));
    }
    Ok(())
}

/// Opens an HTTP/2 connection (h2c, prior knowledge) and waits for the server's
/// SETTINGS (a PING's answer comes after them), so extended CONNECT is known.
async fn h2_connect(addr: SocketAddr) -> Result<h2::client::SendRequest<Bytes>, String> {
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
    let (sender, mut connection) = h2::client::Builder::new()
        .initial_window_size(2 << 20)
        .initial_connection_window_size(5 << 20)
        .handshake::<_, Bytes>(tcp)
        .await
        .map_err(|e| format!("h2 handshake: {e}"))?;
    let ping = connection.ping_pong();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    if let Some(mut ping) = ping {
        ping.ping(h2::Ping::opaque())
            .await
            .map_err(|e| format!("h2 ping: {e}"))?;
    }
    Ok(sender)
}

/// Checks an event stream's events carry `"seq":1`, 2, ..., in order: the data of
/// `servers::event_data`, one `data:` line per event, events ending in a blank line.
#[derive(Debug)]
struct InOrder {
    /// The last event seen.
    last: u64,
    /// The last event there will be.
    end: u64,
    /// The part of an event not yet ended.
    partial: Vec<u8>,
}

impl InOrder {
    fn new(end: u64) -> Self {
        Self {
            last: 0,
            end,
            partial: Vec::new(),
        }
    }

    fn complete(&self) -> bool {
        self.last == self.end
    }

    /// Takes bytes of the stream; the number of events they ended.
    fn feed(&mut self, bytes: &[u8]) -> Result<u64, String> {
        if self.partial.is_empty() {
            let (count, rest) = self.events(bytes)?;
            self.partial.extend_from_slice(rest);
            return Ok(count);
        }
        // An event cut by an earlier chunk: short, so searched again from its start.
        let mut buf = std::mem::take(&mut self.partial);
        buf.extend_from_slice(bytes);
        let (count, rest) = self.events(&buf)?;
        let used = buf.len() - rest.len();
        buf.drain(..used);
        self.partial = buf;
        Ok(count)
    }

    /// The whole events at the start of `bytes`: how many, and what follows them.
    fn events<'a>(&mut self, mut bytes: &'a [u8]) -> Result<(u64, &'a [u8]), String> {
        let mut count = 0;
        while let Some(end) = memchr::memmem::find(bytes, b"\n\n") {
            self.event(&bytes[..end + 2])?;
            count += 1;
            bytes = &bytes[end + 2..];
        }
        Ok((count, bytes))
    }

    /// One whole event: its `seq` must be the next.
    fn event(&mut self, event: &[u8]) -> Result<(), String> {
        const KEY: &[u8] = b"\"seq\":";
        let at = memchr::memmem::find(event, KEY).ok_or_else(|| {
            format!(
                "an event without a seq: {:?}",
                String::from_utf8_lossy(event)
            )
        })?;
        let digits = &event[at + KEY.len()..];
        let len = digits.iter().take_while(|b| b.is_ascii_digit()).count();
        let seq: u64 = std::str::from_utf8(&digits[..len])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or("an unreadable seq")?;
        if seq != self.last + 1 {
            return Err(format!(
                "event {seq} after event {}: {} lost or out of order",
                self.last,
                if seq > self.last {
                    "events"
                } else {
                    "an event"
                }
            ));
        }
        self.last = seq;
        Ok(())
    }
}

/// An HTTP/1.1 chunked body decoder (RFC 9112 §7.1), fed any split of the bytes.
#[derive(Debug, Default)]
struct Chunked {
    state: ChunkState,
    size: u64,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    /// The hex digits of a chunk's size.
    #[default]
    Size,
    /// After the size: an extension, up to the LF.
    SizeLine,
    /// `size` bytes of data left.
    Data,
    /// The CRLF after the data, up to the LF.
    DataEnd,
    /// The last chunk came: nothing more is data (the subscriber then finds the
    /// stream ended before its last event).
    Done,
}

impl Chunked {
    /// Appends the data in `bytes` to `out`.
    fn feed(&mut self, mut bytes: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        while let Some(&b) = bytes.first() {
            match self.state {
                ChunkState::Size => {
                    match (b as char).to_digit(16) {
                        Some(d) => self.size = self.size * 16 + u64::from(d),
                        None => self.state = ChunkState::SizeLine,
                    }
                    if self.state == ChunkState::SizeLine {
                        continue; // the same byte, as the line's
                    }
                    bytes = &bytes[1..];
                }
                ChunkState::SizeLine => {
                    if b == b'\n' {
                        self.state = if self.size == 0 {
                            ChunkState::Done
                        } else {
                            ChunkState::Data
                        };
                    }
                    bytes = &bytes[1..];
                }
                ChunkState::Data => {
                    let n = (self.size as usize).min(bytes.len());
                    out.extend_from_slice(&bytes[..n]);
                    self.size -= n as u64;
                    bytes = &bytes[n..];
                    if self.size == 0 {
                        self.state = ChunkState::DataEnd;
                    }
                }
                ChunkState::DataEnd => {
                    if b == b'\n' {
                        self.state = ChunkState::Size;
                    }
                    bytes = &bytes[1..];
                }
                // The trailer section: not data.
                ChunkState::Done => return Ok(()),
            }
        }
        Ok(())
    }
}

/// The WebSocket transports of the echo table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EchoOver {
    /// One HTTP/1.1 connection per WebSocket (`GET` + `Upgrade`, `101`).
    H1,
    /// One HTTP/2 connection per WebSocket, one CONNECT stream on each.
    H2Connections,
    /// Every WebSocket a CONNECT stream of one HTTP/2 connection.
    H2Streams,
}

impl EchoOver {
    const ALL: [Self; 3] = [Self::H1, Self::H2Connections, Self::H2Streams];

    fn name(self, n: usize) -> String {
        match self {
            Self::H1 => format!("HTTP/1.1: {n} connections"),
            Self::H2Connections => format!("HTTP/2: {n} connections × 1 stream"),
            Self::H2Streams => format!("HTTP/2: 1 connection × {n} streams"),
        }
    }
}

/// One echo run: (messages per second, server CPU µs per message, p50 µs, p99 µs).
type EchoRun = (f64, f64, f64, f64);

fn echo_table(plan: &Plan) -> Result<(), String> {
    println!("### WebSocket echo: HTTP/1.1 upgrade against RFC 8441 over HTTP/2\n");
    println!(
        "One message in flight per WebSocket; {:?} warm-up, {:?} window. Median of {} run(s), \
         (min-max) beside it; ratios are each row / HTTP/1.1 of the medians.\n",
        plan.warmup, plan.window, plan.repeat
    );
    println!(
        "| case | WebSockets over | msgs/s | ratio | server CPU µs/msg | ratio | p50 µs | p99 µs |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for &(n, size) in &plan.echo_cases {
        let mut runs: Vec<Vec<EchoRun>> = vec![Vec::new(); EchoOver::ALL.len()];
        for _ in 0..plan.repeat {
            for (i, over) in EchoOver::ALL.into_iter().enumerate() {
                runs[i].push(echo_run(over, n, size, plan)?);
            }
        }
        let column = |i: usize, f: fn(&EchoRun) -> f64| runs[i].iter().map(f).collect::<Vec<_>>();
        let rate = |r: &EchoRun| r.0;
        let cpu = |r: &EchoRun| r.1;
        for (i, over) in EchoOver::ALL.into_iter().enumerate() {
            println!(
                "| {n} × {} | {} | {} | {:.2}x | {} | {:.2}x | {:.0} | {:.0} |",
                crate::driver::size_name(size),
                over.name(n),
                with_range(&column(i, rate), 0),
                median(&column(i, rate)) / median(&column(0, rate)),
                with_range(&column(i, cpu), 2),
                median(&column(i, cpu)) / median(&column(0, cpu)),
                median(&column(i, |r| r.2)),
                median(&column(i, |r| r.3)),
            );
        }
    }
    println!();
    Ok(())
}

fn echo_run(over: EchoOver, n: usize, size: usize, plan: &Plan) -> Result<EchoRun, String> {
    let server = crate::driver::Server::start_http()?;
    let (addr, pid) = (server.addr, server.pid());
    let result = crate::driver::client_runtime()?.block_on(async {
        let mut result = match over {
            EchoOver::H1 => client::echo(addr, pid, n, size, plan.warmup, plan.window).await?,
            EchoOver::H2Connections | EchoOver::H2Streams => {
                let mut clients = Vec::with_capacity(n);
                let mut sender = None;
                for _ in 0..n {
                    if over == EchoOver::H2Connections || sender.is_none() {
                        sender = Some(h2_connect(addr).await?);
                    }
                    if let Some(sender) = &sender {
                        let io = websocket_h2(addr, sender.clone()).await?;
                        let io = BufReader::with_capacity(client::read_buffer(size), io);
                        clients.push(WsClient::opened(io, size));
                    }
                }
                client::run_echo(clients, pid, plan.warmup, plan.window).await?
            }
        };
        Ok::<_, String>((
            result.per_second,
            result.cpu_per_message.as_secs_f64() * 1e6,
            result.samples.quantile(0.5).as_secs_f64() * 1e6,
            result.samples.quantile(0.99).as_secs_f64() * 1e6,
        ))
    });
    drop(server);
    result
}

/// Opens a WebSocket on a new stream of an HTTP/2 connection (RFC 8441: `CONNECT`
/// with `:protocol websocket`, answered `200`).
async fn websocket_h2(
    addr: SocketAddr,
    sender: h2::client::SendRequest<Bytes>,
) -> Result<H2Io, String> {
    if !sender.is_extended_connect_protocol_enabled() {
        return Err("h2: the server did not enable extended CONNECT".into());
    }
    let mut request = http::Request::connect(format!("http://{addr}/"))
        .header("sec-websocket-version", "13")
        .body(())
        .map_err(|e| e.to_string())?;
    request
        .extensions_mut()
        .insert(h2::ext::Protocol::from_static("websocket"));
    let mut sender = sender.ready().await.map_err(|e| format!("h2: {e}"))?;
    let (response, send) = sender
        .send_request(request, false)
        .map_err(|e| format!("h2 CONNECT: {e}"))?;
    let response = response.await.map_err(|e| format!("h2 CONNECT: {e}"))?;
    if response.status() != 200 {
        return Err(format!("h2 CONNECT answered {}", response.status()));
    }
    Ok(H2Io {
        send,
        recv: response.into_body(),
        pending: Bytes::new(),
    })
}

/// An HTTP/2 stream as a byte stream: DATA frames in (their window given back as
/// they are read), DATA frames out within the server's window.
#[derive(Debug)]
pub(crate) struct H2Io {
    send: h2::SendStream<Bytes>,
    recv: h2::RecvStream,
    /// What is left of the last DATA frame read.
    pending: Bytes,
}

fn h2_io(e: h2::Error) -> std::io::Error {
    std::io::Error::other(e)
}

impl AsyncRead for H2Io {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        while self.pending.is_empty() {
            match ready!(self.recv.poll_data(cx)) {
                None => return Poll::Ready(Ok(())),
                Some(Ok(data)) => {
                    let _ = self.recv.flow_control().release_capacity(data.len());
                    self.pending = data;
                }
                Some(Err(e)) => return Poll::Ready(Err(h2_io(e))),
            }
        }
        let n = self.pending.len().min(buf.remaining());
        buf.put_slice(&self.pending[..n]);
        self.pending.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for H2Io {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.send.reserve_capacity(buf.len());
        while self.send.capacity() == 0 {
            match ready!(self.send.poll_capacity(cx)) {
                Some(Ok(_)) => {}
                Some(Err(e)) => return Poll::Ready(Err(h2_io(e))),
                None => return Poll::Ready(Err(std::io::ErrorKind::BrokenPipe.into())),
            }
        }
        let n = self.send.capacity().min(buf.len());
        let data = Bytes::copy_from_slice(&buf[..n]);
        Poll::Ready(self.send.send_data(data, false).map(|()| n).map_err(h2_io))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(self.send.send_data(Bytes::new(), true).map_err(h2_io))
    }
}

fn median(values: &[f64]) -> f64 {
    crate::driver::median(values)
}

/// "median (min-max)", with `decimals` digits.
fn with_range(values: &[f64], decimals: usize) -> String {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let m = median(values);
    if values.len() < 2 {
        return format!("{m:.decimals$}");
    }
    format!("{m:.decimals$} ({min:.decimals$}-{max:.decimals$})")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(events: u64) -> Vec<u8> {
        let mut body = Vec::new();
        for seq in 1..=events {
            body.extend_from_slice(b"data: ");
            body.extend_from_slice(crate::servers::event_data(seq).as_bytes());
            body.extend_from_slice(b"\n\n");
        }
        body
    }

    #[test]
    fn in_order_any_split() {
        let body = stream(3);
        for cut in 0..body.len() {
            let mut check = InOrder::new(3);
            let n = check.feed(&body[..cut]).unwrap() + check.feed(&body[cut..]).unwrap();
            assert_eq!(n, 3, "cut at {cut}");
            assert!(check.complete());
        }
        let mut gap = stream(3);
        let second = memchr::memmem::find(&gap, b"\n\n").unwrap() + 2;
        let third = second + memchr::memmem::find(&gap[second..], b"\n\n").unwrap() + 2;
        gap.drain(second..third);
        assert!(InOrder::new(3).feed(&gap).is_err(), "a lost event is seen");
    }

    #[test]
    fn chunked_any_split() {
        let wire = b"6\r\nhello \r\n5;ext=1\r\nworld\r\n0\r\n\r\n";
        for cut in 0..wire.len() {
            let (mut chunked, mut out) = (Chunked::default(), Vec::new());
            chunked.feed(&wire[..cut], &mut out).unwrap();
            chunked.feed(&wire[cut..], &mut out).unwrap();
            assert_eq!(out, b"hello world", "cut at {cut}");
            assert_eq!(chunked.state, ChunkState::Done);
        }
    }
}
