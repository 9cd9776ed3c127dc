//! `tidings demo`: one HTTP/1.1 port serving a page that shows WebSocket and SSE
//! side by side, live. (`--tls` serves the same over HTTPS and HTTP/2: `demo_tls`.)
//!
//! Each connection's request head is parsed once and dispatched on its path:
//!
//! ```text
//!   GET  /        the page (embedded: demo.html, no build step)
//!   GET  /ws      WebSocket chat: every text message goes to every open page
//!   GET  /events  SSE ticker, one event a tick, ids 1, 2, 3...
//!   POST /drop    (or GET) closes every open event stream, to show reconnection
//! ```
//!
//! The ticker keeps its last [`HISTORY`] events, so a client that reconnects with
//! `Last-Event-ID: n` is sent n+1, n+2... from the history, then the live ticks,
//! with no gap and no duplicate. The history is appended and published under one
//! lock, and a stream subscribes and takes its snapshot under the same lock, so no
//! tick can fall between the two. Memory is bounded: the history, the chat backlog
//! and each connection's queue have fixed caps; a connection that falls behind
//! the live ticks is closed and resumes from the history when it reconnects.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use tidings_handshake::{Limits, Rejection, Request, RequestParser, Status};
use tidings_io::sse::{self, ServerConfig, ServerSentEvent, SseWriter};
use tidings_io::{
    CloseCode, Config, DeflateConfig, Message, PreparedMessage, Tokio, UpgradeRequest,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, watch};

use crate::Failure;
use crate::echo::describe_close;

/// The page, embedded in the binary.
pub(crate) const PAGE: &str = include_str!("demo.html");
/// How many ticks the server keeps for reconnecting clients.
const HISTORY: usize = 1024;
/// How many chat messages (and live ticks) a slow connection may fall behind.
const BACKLOG: usize = 256;
/// The longest chat message relayed, in bytes.
pub(crate) const MAX_CHAT: usize = 4096;
/// The whole request head must arrive within this.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// The `retry` sent on every stream: browsers reconnect after this.
pub(crate) const RETRY: Duration = Duration::from_millis(1000);

/// Options of `tidings demo`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Milliseconds between two ticks of the SSE ticker.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(10..=60_000))]
    tick_ms: u64,
    /// Connections served at once (page loads, chats and event streams); more are
    /// closed on accept until one ends.
    #[arg(long, default_value_t = crate::net::MAX_CONNECTIONS, value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: u32,
    /// Do not accept permessage-deflate (RFC 7692) for the chat; browsers offer it.
    #[arg(long)]
    no_deflate: bool,
    /// Serve HTTPS with a self-signed certificate made at start (its SHA-256
    /// fingerprint is printed), HTTP/2 by ALPN and HTTP/1.1: a browser then carries
    /// the page, every event stream and the chat's WebSocket (RFC 8441) on one
    /// connection.
    #[arg(long)]
    tls: bool,
}

/// One event of the ticker.
#[derive(Clone, Debug)]
pub(crate) struct Tick {
    pub(crate) id: u64,
    pub(crate) data: String,
}

/// What every connection shares.
#[derive(Debug)]
pub(crate) struct Shared {
    room: broadcast::Sender<PreparedMessage>,
    /// The last ticks, and the channel they are published on (under this lock).
    ticks: Mutex<(VecDeque<Tick>, broadcast::Sender<Tick>)>,
    /// Bumped by `/drop`: every stream watching it ends.
    pub(crate) drops: watch::Sender<u64>,
    pub(crate) streams: AtomicUsize,
    /// Accept permessage-deflate on the chat.
    pub(crate) deflate: bool,
}

/// Serves until Ctrl-C.
pub(crate) async fn run(args: Args) -> Result<(), Failure> {
    let listener = TcpListener::bind(args.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.addr))?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("cannot listen on {}: {e}", args.addr))?;
    let shared = Arc::new(Shared {
        room: broadcast::channel(BACKLOG).0,
        ticks: Mutex::new((
            VecDeque::with_capacity(HISTORY),
            broadcast::channel(BACKLOG).0,
        )),
        drops: watch::channel(0).0,
        streams: AtomicUsize::new(0),
        deflate: !args.no_deflate,
    });
    tokio::spawn(ticker(
        Arc::clone(&shared),
        Duration::from_millis(args.tick_ms),
    ));
    if args.tls {
        return crate::demo_tls::serve(&listener, local, args.max_connections, shared).await;
    }
    crate::output(&format!("tidings demo on http://{local}/"))?;
    crate::net::serve(&listener, args.max_connections, |tcp, peer| {
        let shared = Arc::clone(&shared);
        async move {
            if let Err(e) = connection(tcp, peer, shared).await {
                log!("{peer}: {e}");
            }
        }
    })
    .await;
    Ok(())
}

/// Publishes a tick every `every`: `{"tick":n,"sent_ms":unix milliseconds}`.
async fn ticker(shared: Arc<Shared>, every: Duration) {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut id = 0u64;
    loop {
        interval.tick().await;
        id += 1;
        let sent_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let tick = Tick {
            id,
            data: format!("{{\"tick\":{id},\"sent_ms\":{sent_ms}}}"),
        };
        let mut ticks = shared.ticks.lock().unwrap_or_else(|p| p.into_inner());
        if ticks.0.len() == HISTORY {
            ticks.0.pop_front();
        }
        ticks.0.push_back(tick.clone());
        // No stream listening is fine.
        let _ = ticks.1.send(tick);
    }
}

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Reads one request head and answers it.
async fn connection(
    mut tcp: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
) -> Result<(), BoxError> {
    tcp.set_nodelay(true)?;
    let mut parser = RequestParser::with_limits(Limits::default());
    let mut buf = vec![0; 4096];
    let read_head = async {
        loop {
            let n = tcp.read(&mut buf).await?;
            if n == 0 {
                return Ok::<_, std::io::Error>(None);
            }
            match parser.parse(&buf[..n]) {
                Ok(Status::Partial) => {}
                Ok(Status::Complete((head, consumed))) => {
                    return Ok(Some(Ok((head, buf[consumed..n].to_vec()))));
                }
                Err(e) => return Ok(Some(Err(e))),
            }
        }
    };
    let Ok(parsed) = tokio::time::timeout(HEAD_TIMEOUT, read_head).await else {
        return Ok(()); // too slow: drop it
    };
    let (head, leftover) = match parsed? {
        None => return Ok(()),
        Some(Ok(parsed)) => parsed,
        Some(Err(e)) => return answer(tcp, Rejection::from_error(&e)).await,
    };
    match head {
        Request::Upgrade(request) if request.path() == "/ws" => {
            chat(tcp, peer, &request, &leftover, &shared).await
        }
        Request::Plain(request) => match (request.method(), request.path()) {
            ("GET", "/") => page(tcp).await,
            ("GET", "/events") => match sse::Request::from_head(request) {
                Ok(request) => events(tcp, peer, &request, &shared).await,
                Err(e) => {
                    let status = e.status().unwrap_or(400);
                    answer(tcp, Rejection::new(status)?).await
                }
            },
            ("GET" | "POST", "/drop") => {
                let open = shared.streams.load(Ordering::Relaxed);
                shared.drops.send_modify(|n| *n = n.wrapping_add(1));
                log!("{peer}: /drop: closing {open} event stream(s)");
                let body = format!("dropped {open} event stream(s)\n");
                respond(tcp, "200 OK", "text/plain; charset=utf-8", &body).await
            }
            (_, "/" | "/events" | "/drop") => {
                answer(tcp, Rejection::new(405)?.header("Allow", "GET, POST")?).await
            }
            _ => answer(tcp, Rejection::new(404)?.body("Not found.\n")).await,
        },
        Request::Upgrade(_) => answer(tcp, Rejection::new(404)?.body("Not found.\n")).await,
    }
}

/// Writes the page.
async fn page(tcp: TcpStream) -> Result<(), BoxError> {
    respond(tcp, "200 OK", "text/html; charset=utf-8", PAGE).await
}

/// Writes a whole response and closes.
async fn respond(
    mut tcp: TcpStream,
    status: &str,
    content_type: &str,
    body: &str,
) -> Result<(), BoxError> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    tcp.write_all(head.as_bytes()).await?;
    tcp.write_all(body.as_bytes()).await?;
    tcp.shutdown().await?;
    Ok(())
}

/// Writes a refusal and closes.
async fn answer(mut tcp: TcpStream, rejection: Rejection) -> Result<(), BoxError> {
    let mut bytes = Vec::new();
    rejection.encode(&mut bytes);
    tcp.write_all(&bytes).await?;
    tcp.shutdown().await?;
    Ok(())
}

/// Counts open event streams while alive.
struct Open<'a>(&'a AtomicUsize);

impl Drop for Open<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One event stream: the history after `Last-Event-ID`, then live ticks, until
/// `/drop`, the client leaves, or it falls [`BACKLOG`] ticks behind.
async fn events(
    tcp: TcpStream,
    peer: SocketAddr,
    request: &sse::Request,
    shared: &Shared,
) -> Result<(), BoxError> {
    let (resume, replay, live) = subscribe(shared, request.last_event_id(), peer);
    match resume {
        Some(last) => log!(
            "{peer}: event stream reconnected with Last-Event-ID {last} (replaying {})",
            replay.len()
        ),
        None => log!("{peer}: event stream opened"),
    }
    shared.streams.fetch_add(1, Ordering::Relaxed);
    let _open = Open(&shared.streams);
    let mut drops = shared.drops.subscribe();
    drops.mark_unchanged();
    let mut config = ServerConfig::default();
    config.retry = Some(RETRY);
    let mut writer = SseWriter::start(Tokio::new(tcp), config).await?;
    // The replay, then the live ticks, as one stream, which ends if this client falls
    // BACKLOG ticks behind: the ticker never waits for anyone, and `/drop` ends the
    // stream at once even while a write is stuck on a client that does not read.
    let sent = AtomicU64::new(resume.unwrap_or(0));
    let lagged = AtomicBool::new(false);
    let live = futures_util::stream::unfold(live, |mut live| {
        let lagged = &lagged;
        async move {
            match live.recv().await {
                Ok(tick) => Some((tick, live)),
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    lagged.store(true, Ordering::Relaxed);
                    None
                }
                Err(broadcast::error::RecvError::Closed) => None,
            }
        }
    });
    let ticks = futures_util::stream::iter(replay)
        .chain(live)
        .filter_map(|tick| {
            let new = tick.id > sent.load(Ordering::Relaxed);
            if new {
                sent.store(tick.id, Ordering::Relaxed);
            }
            std::future::ready(
                new.then(|| ServerSentEvent::data(tick.data).id(tick.id.to_string())),
            )
        })
        .boxed();
    let why = tokio::select! {
        ended = writer.run(ticks) => match ended {
            Ok(()) if lagged.load(Ordering::Relaxed) => "too slow (it will resume)",
            Ok(()) => "the ticker stopped",
            Err(sse::Error::WriteTimeout) => "it read nothing for the write timeout",
            Err(sse::Error::Closed | sse::Error::Io(_)) => "the client left",
            Err(e) => return Err(e.into()),
        },
        _ = drops.changed() => "dropped by /drop",
    };
    let sent = sent.load(Ordering::Relaxed);
    log!("{peer}: event stream closed after id {sent}: {why}");
    Ok(())
}

/// The ticks after `last_event_id` from the history (none for an id this server
/// never sent), and the live ticks after them, subscribed under the history's lock
/// so that no tick falls between the two.
pub(crate) fn subscribe(
    shared: &Shared,
    last_event_id: Option<&str>,
    peer: SocketAddr,
) -> (Option<u64>, Vec<Tick>, broadcast::Receiver<Tick>) {
    let resume = last_event_id.and_then(|id| id.parse::<u64>().ok());
    let ticks = shared.ticks.lock().unwrap_or_else(|p| p.into_inner());
    // An id this server never sent (from before a restart) resumes nothing.
    let newest = ticks.0.back().map_or(0, |t| t.id);
    let resume = resume.filter(|&last| last <= newest);
    let replay: Vec<Tick> = match resume {
        Some(last) => ticks.0.iter().filter(|t| t.id > last).cloned().collect(),
        None => Vec::new(),
    };
    if let (Some(last), Some(oldest)) = (resume, ticks.0.front()) {
        if oldest.id > last.saturating_add(1) {
            log!("{peer}: Last-Event-ID {last} is older than the history: a gap");
        }
    }
    (resume, replay, ticks.1.subscribe())
}

/// One chat member: its text messages go to every member.
async fn chat(
    tcp: TcpStream,
    peer: SocketAddr,
    request: &UpgradeRequest,
    leftover: &[u8],
    shared: &Shared,
) -> Result<(), BoxError> {
    let ws =
        tidings_io::accept_parsed(Tokio::new(tcp), request, leftover, chat_config(shared)).await?;
    chat_session(ws, peer, shared).await
}

/// The chat's connection settings.
pub(crate) fn chat_config(shared: &Shared) -> Config {
    let mut config = Config::default();
    config.ws.max_message_size = MAX_CHAT;
    config.deflate = shared.deflate.then(DeflateConfig::default);
    config
}

/// One chat member on an open WebSocket (over TCP, TLS or an HTTP/2 stream).
pub(crate) async fn chat_session<T>(
    ws: tidings_io::WebSocket<Tokio<T>>,
    peer: SocketAddr,
    shared: &Shared,
) -> Result<(), BoxError>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let compressed = ws.connection().config().deflate.is_some();
    log!(
        "{peer}: WebSocket connected{}",
        if compressed {
            " (permessage-deflate)"
        } else {
            ""
        }
    );
    let (mut reader, mut writer) = ws.split();
    let mut inbox = shared.room.subscribe();
    let writing = tokio::spawn(async move {
        loop {
            tokio::select! {
                received = inbox.recv() => match received {
                    Ok(message) => match writer.send_prepared(&message).await {
                        Ok(()) => {}
                        // The page's close arrived first: finish the closing
                        // handshake (the echo of its close) instead of dropping it.
                        Err(tidings_io::Error::Closed) => return writer.closed().await,
                        Err(e) => return Err(e),
                    },
                    // A slow page misses messages rather than growing a queue.
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => {
                        return writer.close(CloseCode::GOING_AWAY, "").await;
                    }
                },
                closed = writer.closed() => return closed,
            }
        }
    });
    let mut close = "no close frame".to_owned();
    let mut failure = None;
    while let Some(message) = reader.recv().await {
        match message {
            Ok(Message::Text(text)) => {
                let _ = shared.room.send(PreparedMessage::text(text));
            }
            Ok(Message::Close(frame)) => close = describe_close(frame.as_ref()),
            Ok(_) => {}
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let written = writing
        .await
        .unwrap_or_else(|join| Err(std::io::Error::other(join).into()));
    match failure.map_or(written, Err) {
        Ok(()) => log!("{peer}: WebSocket closed ({close})"),
        Err(e) => log!("{peer}: WebSocket failed: {e}"),
    }
    Ok(())
}
