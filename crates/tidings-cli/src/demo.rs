//! `tidings demo`: one HTTP/1.1 port serving a page that shows WebSocket and SSE
//! side by side, live. (`--tls` serves the same over HTTPS and HTTP/2: `demo_tls`.)
//!
//! Each connection's request head is parsed once and dispatched on its path:
//!
//! ```text
//!   GET  /        the page (embedded: demo.html, no build step)
//!   GET  /ws      WebSocket chat: every text message goes to every open page
//!                 (?since=EPOCH:OFFSET resumes after that message)
//!   GET  /events  SSE ticker, one event a tick, ids EPOCH:OFFSET
//!   POST /drop    (or GET) closes every open event stream, to show reconnection
//! ```
//!
//! Both go through a [`Node`] (tidings-hub): the topics `ticker` and `chat`, with a
//! bounded history in memory, or shared through Redis by every demo node started
//! with the same `--redis` (or NATS JetStream, `--nats`; then resumptions older than
//! a node's memory are read
//! from Redis). A client that reconnects, to this node or another, with
//! `Last-Event-ID: EPOCH:OFFSET` (or `?since=` on the chat) gets what followed, with
//! no gap and no duplicate; when that is gone (older than the history, or the
//! history was lost: another epoch) it is told so first:
//!
//! ```text
//!   SSE:        event: discontinuity
//!               id: EPOCH:OFFSET          (where delivery goes on: the resume)
//!               data: {"reason":"expired","from":"2a:7","resume":"2a:90"}
//!   WebSocket:  {"discontinuity":{"reason":"expired","from":"2a:7","resume":"2a:90"}}
//! ```
//!
//! `reason` is one of `epoch_changed`, `expired`, `gap`, `lagged`, `unknown`,
//! `unavailable` (tidings-hub's `Reason`); `from` is `null` for a position that
//! could not be read. A chat message goes out as the JSON object the member sent
//! with an `"id"` added (its position: the resume token), or as
//! `{"id":..,"text":..}` if it was not an object.
//!
//! Memory is bounded: the hub's history, and each connection's lag: a connection
//! more than [`BACKLOG`] events behind is closed and resumes when it reconnects.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tidings_hub::{Delivery, Discontinuity, LagPolicy, Reason, Since, StreamPosition};
use tidings_io::broker::{Node, Subscription};

use futures_util::StreamExt;
use tidings_handshake::{Limits, Rejection, Request, RequestParser, Status};
use tidings_io::sse::{self, ServerConfig, ServerSentEvent, SseWriter};
use tidings_io::{CloseCode, Config, DeflateConfig, Message, Tokio, UpgradeRequest};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::Failure;
use crate::echo::describe_close;

/// The page, embedded in the binary.
pub(crate) const PAGE: &str = include_str!("demo.html");
/// How many chat messages (and live ticks) a slow connection may fall behind.
const BACKLOG: u64 = 256;
/// The topics.
pub(crate) const TICKER: &str = "ticker";
pub(crate) const CHAT: &str = "chat";
/// The longest chat message relayed, in bytes.
const MAX_CHAT: usize = 4096;
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
    /// Share the topics with every demo node using this Redis
    /// (`redis://127.0.0.1:6379`): several nodes behind a load balancer.
    #[arg(long, value_name = "URL", conflicts_with = "nats")]
    redis: Option<String>,
    /// Share the topics with every demo node using this NATS server with JetStream
    /// (`nats://127.0.0.1:4222`).
    #[arg(long, value_name = "URL")]
    nats: Option<String>,
    /// This node's name, in its ticks and logs.
    #[arg(long, default_value = "demo")]
    node_name: String,
    /// How many events of each topic this node keeps in memory for resumptions
    /// (with Redis, older ones are read from Redis, which keeps --redis-max-len).
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    history: u64,
    /// With Redis or NATS: the length each topic's stream is trimmed to
    /// (approximately, with Redis).
    #[arg(long, alias = "max-len", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    redis_max_len: u64,
    /// Do not run the ticker on this node (another node ticks for the topic).
    #[arg(long)]
    no_ticker: bool,
    /// Serve HTTPS with a self-signed certificate made at start (its SHA-256
    /// fingerprint is printed), HTTP/2 by ALPN and HTTP/1.1: a browser then carries
    /// the page, every event stream and the chat's WebSocket (RFC 8441) on one
    /// connection.
    #[arg(long)]
    tls: bool,
}

/// What every connection shares.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The topics `ticker` and `chat`.
    pub(crate) node: Node,
    name: String,
    /// Bumped by `/drop`: every stream watching it ends.
    pub(crate) drops: watch::Sender<u64>,
    pub(crate) streams: AtomicUsize,
    /// Accept permessage-deflate on the chat.
    deflate: bool,
}

/// Serves until Ctrl-C.
pub(crate) async fn run(args: Args) -> Result<(), Failure> {
    let listener = TcpListener::bind(args.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.addr))?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("cannot listen on {}: {e}", args.addr))?;
    let mut hub = tidings_hub::Config::default();
    hub.history_events = usize::try_from(args.history).unwrap_or(usize::MAX);
    hub.max_lag = Some(BACKLOG);
    hub.lag_policy = LagPolicy::Drop;
    hub.max_topics = 16;
    let node = crate::pubsub::node(
        args.redis.as_deref(),
        args.nats.as_deref(),
        hub,
        args.redis_max_len,
    )
    .await?;
    let shared = Arc::new(Shared {
        node,
        name: args.node_name.clone(),
        drops: watch::channel(0).0,
        streams: AtomicUsize::new(0),
        deflate: !args.no_deflate,
    });
    if !args.no_ticker {
        tokio::spawn(ticker(
            Arc::clone(&shared),
            Duration::from_millis(args.tick_ms),
        ));
    }
    if args.tls {
        return crate::demo_tls::serve(&listener, local, args.max_connections, shared).await;
    }
    let shared_by = args
        .redis
        .as_ref()
        .or(args.nats.as_ref())
        .map_or(String::new(), |url| {
            format!(" (node {}, topics shared through {url})", args.node_name)
        });
    crate::output(&format!("tidings demo on http://{local}/{shared_by}"))?;
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

/// Publishes a tick every `every`: `{"node":name,"sent_ms":unix milliseconds}` (its
/// number is its position).
async fn ticker(shared: Arc<Shared>, every: Duration) {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let failed = Mutex::new(false);
    loop {
        interval.tick().await;
        let sent_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let data = serde_json::json!({ "node": shared.name, "sent_ms": sent_ms }).to_string();
        let published = shared.node.publish(TICKER, Bytes::from(data)).await;
        // One line when the broker goes away, one when it is back.
        let mut failing = failed.lock().unwrap_or_else(|p| p.into_inner());
        match published {
            Err(e) if !*failing => {
                log!("ticker: {e}");
                *failing = true;
            }
            Ok(_) if *failing => {
                log!("ticker: publishing again");
                *failing = false;
            }
            _ => {}
        }
    }
}

/// Where a client resumes: after a position it sent, or live.
pub(crate) fn since(position: Option<&str>) -> Since {
    match position {
        None | Some("") => Since::Live,
        Some(text) => text
            .parse::<StreamPosition>()
            .map_or(Since::Lost, Since::After),
    }
}

/// A discontinuity as the JSON the clients get (see the module docs).
pub(crate) fn discontinuity_json(gap: &Discontinuity) -> serde_json::Value {
    let reason = match gap.reason {
        Reason::EpochChanged => "epoch_changed",
        Reason::Expired => "expired",
        Reason::Gap => "gap",
        Reason::Lagged => "lagged",
        Reason::Unknown => "unknown",
        Reason::Unavailable => "unavailable",
        _ => "other",
    };
    serde_json::json!({
        "reason": reason,
        "from": gap.from.map(|from| from.to_string()),
        "resume": gap.resume.to_string(),
    })
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

/// One event stream: the ticks after `Last-Event-ID` (or a discontinuity first),
/// then live ticks, until `/drop`, the client leaves, or it falls [`BACKLOG`] ticks
/// behind.
async fn events(
    tcp: TcpStream,
    peer: SocketAddr,
    request: &sse::Request,
    shared: &Shared,
) -> Result<(), BoxError> {
    let resume = request.last_event_id().map(str::to_owned);
    let mut subscription = shared
        .node
        .subscribe(TICKER, since(resume.as_deref()))
        .await?;
    match &resume {
        Some(last) => log!("{peer}: event stream reconnected with Last-Event-ID {last}"),
        None => log!("{peer}: event stream opened"),
    }
    shared.streams.fetch_add(1, Ordering::Relaxed);
    let _open = Open(&shared.streams);
    let mut drops = shared.drops.subscribe();
    drops.mark_unchanged();
    let mut config = ServerConfig::default();
    config.retry = Some(RETRY);
    let mut writer = SseWriter::start(Tokio::new(tcp), config).await?;
    // The hub's deliveries as one stream, which ends if this client falls BACKLOG
    // ticks behind (the hub drops it: the ticker never waits for anyone), and
    // `/drop` ends it at once even while a write is stuck on a client that does
    // not read.
    let sent = Mutex::new(resume);
    let lagged = AtomicBool::new(false);
    let ticks = futures_util::stream::unfold(&mut subscription, |subscription| async {
        let Some((id, event)) = sse_event(subscription.next().await?, peer) else {
            lagged.store(true, Ordering::Relaxed);
            return None;
        };
        *sent.lock().unwrap_or_else(|p| p.into_inner()) = Some(id);
        Some((event, subscription))
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
    let sent = sent.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let sent = sent.as_deref().unwrap_or("none");
    log!("{peer}: event stream closed after id {sent}: {why}");
    Ok(())
}

/// A hub delivery as an event of an event stream, with its id (the position): a
/// discontinuity is `event: discontinuity` (see the module docs). `None` once the
/// hub dropped the subscription (too slow: it resumes when the client reconnects).
pub(crate) fn sse_event(delivery: Delivery, peer: SocketAddr) -> Option<(String, ServerSentEvent)> {
    let (id, event) = match delivery {
        Delivery::Event(event) => {
            let data = String::from_utf8_lossy(&event.payload).into_owned();
            (event.position, ServerSentEvent::data(data))
        }
        Delivery::Discontinuity(gap) => {
            log!("{peer}: discontinuity: {}", discontinuity_json(&gap));
            let data = discontinuity_json(&gap).to_string();
            (
                gap.resume,
                ServerSentEvent::data(data).event("discontinuity"),
            )
        }
        _ => return None,
    };
    let id = id.to_string();
    Some((id.clone(), event.id(id)))
}

/// The chat's resume token in a query (`since=EPOCH:OFFSET`, the colon perhaps
/// percent-encoded).
pub(crate) fn chat_resume(query: Option<&str>) -> Option<String> {
    query
        .unwrap_or("")
        .split('&')
        .find_map(|pair| pair.strip_prefix("since="))
        .map(|token| token.replace("%3A", ":").replace("%3a", ":"))
}

/// The chat's connection settings.
pub(crate) fn chat_config(shared: &Shared) -> Config {
    let mut config = Config::default();
    config.ws.max_message_size = MAX_CHAT;
    config.deflate = shared.deflate.then(DeflateConfig::default);
    config
}

/// One chat member: its text messages go to every member, of every node; with
/// `?since=EPOCH:OFFSET` it first gets what it missed.
async fn chat(
    tcp: TcpStream,
    peer: SocketAddr,
    request: &UpgradeRequest,
    leftover: &[u8],
    shared: &Shared,
) -> Result<(), BoxError> {
    let resume = chat_resume(request.query());
    let subscription = shared
        .node
        .subscribe(CHAT, since(resume.as_deref()))
        .await?;
    let config = chat_config(shared);
    let ws = tidings_io::accept_parsed(Tokio::new(tcp), request, leftover, config).await?;
    chat_session(ws, peer, shared, subscription, resume.as_deref()).await
}

/// One chat member on an open WebSocket (over TCP, TLS or an HTTP/2 stream), its
/// `subscription` to the chat taken where it resumes.
pub(crate) async fn chat_session<T>(
    ws: tidings_io::WebSocket<Tokio<T>>,
    peer: SocketAddr,
    shared: &Shared,
    mut subscription: Subscription,
    resume: Option<&str>,
) -> Result<(), BoxError>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let compressed = ws.connection().config().deflate.is_some();
    log!(
        "{peer}: WebSocket connected{}{}",
        if compressed {
            " (permessage-deflate)"
        } else {
            ""
        },
        resume.map_or(String::new(), |since| format!(", resuming after {since}"))
    );
    let (mut reader, mut writer) = ws.split();
    let writing = tokio::spawn(async move {
        loop {
            tokio::select! {
                delivery = subscription.next() => {
                    let text = match delivery {
                        Some(Delivery::Event(event)) => chat_message(&event),
                        Some(Delivery::Discontinuity(gap)) => {
                            serde_json::json!({ "discontinuity": discontinuity_json(&gap) })
                                .to_string()
                        }
                        // Too slow: it resumes with its token when it reconnects.
                        _ => return writer.close(CloseCode::TRY_AGAIN_LATER, "too slow").await,
                    };
                    match writer.send(Message::text(text)).await {
                        Ok(()) => {}
                        // The page's close arrived first: finish the closing
                        // handshake (the echo of its close) instead of dropping it.
                        Err(tidings_io::Error::Closed) => return writer.closed().await,
                        Err(e) => return Err(e),
                    }
                }
                closed = writer.closed() => return closed,
            }
        }
    });
    let mut close = "no close frame".to_owned();
    let mut failure = None;
    while let Some(message) = reader.recv().await {
        match message {
            Ok(Message::Text(text)) => {
                let payload = Bytes::copy_from_slice(text.as_bytes());
                if let Err(e) = shared.node.publish(CHAT, payload).await {
                    log!("{peer}: chat message lost: {e}");
                }
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

/// A chat message as sent to the members: the member's JSON object with its
/// position added as `"id"`, or `{"id":..,"text":..}`.
fn chat_message(event: &tidings_hub::Event) -> String {
    let id = serde_json::Value::String(event.position.to_string());
    let text = String::from_utf8_lossy(&event.payload);
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Object(mut object)) => {
            object.insert("id".into(), id);
            serde_json::Value::Object(object).to_string()
        }
        _ => serde_json::json!({ "id": id, "text": text }).to_string(),
    }
}
