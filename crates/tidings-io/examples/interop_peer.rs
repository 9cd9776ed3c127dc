//! Our side of the interop runs in `conformance/interop/`: tidings-io against real
//! peers (Node `ws`, Python `websockets`, npm `eventsource`, a Node SSE server).
//!
//! ```text
//! interop_peer server             WebSocket echo server; prints "PLAIN <url> FRAG <url>"
//! interop_peer client PLAIN FRAG  runs the WebSocket matrix against a peer's server
//! interop_peer sse-server         SSE server with a forced drop; prints its URL
//! interop_peer sse-client URL N   EventSource across the peer server's drop
//! ```
//!
//! Every peer speaks the same small protocol, written down in
//! `conformance/interop/README.md`: a server echoes every text and binary message as
//! it came; the text commands `cmd:close CODE REASON` and `cmd:ping PAYLOAD` make it
//! close, or ping and then report the pong as the text `pong PAYLOAD`; a server
//! reached on its FRAG url sends everything in 1000-byte fragments. Payloads are
//! generated the same way in every language ([`binary`], [`text`]), so a peer can
//! check what it receives without a second channel.
//!
//! The client prints one `PASS name` or `FAIL name: why` line per case and exits 1
//! if any case failed; every case has its own connection and a 30 s bound.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use tidings_io::sse::{self, ClientConfig, ServerConfig, ServerSentEvent, SseWriter, Url};
use tidings_io::{CloseCode, CloseFrame, Config, Message, Tokio, Utf8Bytes};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

/// The size of the fragments a FRAG server (or a fragmenting client) sends.
const FRAGMENT: usize = 1000;
/// How long one client case may take.
const CASE_TIMEOUT: Duration = Duration::from_secs(30);
/// The SSE stream: events 1..=SSE_EVENTS, cut after [`SSE_DROP_AFTER`] on a first
/// connection.
const SSE_EVENTS: u64 = 20;
/// The last whole event a first SSE connection gets before the forced drop.
const SSE_DROP_AFTER: u64 = 5;

/// The largest ping payload (RFC 6455 §5.5: control frames carry at most 125 bytes).
const PING_125: &str = "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\
                        0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefg";

/// The longest close reason (RFC 6455 §5.5: 125 bytes, less the 2-byte code).
const REASON_123: &str = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

type Result<T, E = Box<dyn std::error::Error + Send + Sync>> = std::result::Result<T, E>;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let outcome = match args.as_slice() {
        ["server"] => ws_server().await,
        ["client", plain, frag] => ws_client(plain, frag).await,
        ["sse-server"] => sse_server().await,
        ["sse-client", url, n] => match n.parse() {
            Ok(n) => sse_client(url, n).await,
            Err(e) => Err(e.into()),
        },
        _ => Err(
            "usage: interop_peer server | client PLAIN FRAG | sse-server | \
                  sse-client URL N"
                .into(),
        ),
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("interop_peer: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The binary payload of `len` bytes every peer generates: byte `i` is
/// `(31 i + 7) mod 251`.
fn binary(len: usize) -> Bytes {
    (0..len).map(|i| ((i * 31 + 7) % 251) as u8).collect()
}

/// The ASCII text payload of `len` bytes every peer generates: `a`..`z` repeated.
fn text(len: usize) -> String {
    (0..len)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect()
}

/// Settings for both roles: 16 MiB frames and messages (the matrix's largest) pass.
fn config(fragment: bool) -> Config {
    let mut config = Config::default();
    config.ws.max_frame_size = 16 << 20;
    config.ws.max_message_size = 64 << 20;
    config.write_high_watermark = 1 << 20;
    if fragment {
        config.ws.max_send_frame_size = FRAGMENT;
    }
    // With INTEROP_DEFLATE=1 (and `--features deflate`), both roles use
    // permessage-deflate, and every connection must have negotiated it.
    #[cfg(feature = "deflate")]
    if deflate_wanted() {
        config.deflate = Some(tidings_io::DeflateConfig::default());
    }
    config
}

/// Whether this run is the compressed one (`INTEROP_DEFLATE=1`).
fn deflate_wanted() -> bool {
    std::env::var_os("INTEROP_DEFLATE").is_some_and(|v| v == "1")
}

/// Fails a connection that did not negotiate what this run is about.
fn check_deflate<S: tidings_io::Transport>(ws: &tidings_io::WebSocket<S>) -> Result<()> {
    #[cfg(feature = "deflate")]
    let agreed = ws.connection().config().deflate.is_some();
    #[cfg(not(feature = "deflate"))]
    let agreed = {
        let _ = ws;
        false
    };
    if agreed != deflate_wanted() {
        let wanted = deflate_wanted();
        return Err(format!("permessage-deflate agreed: {agreed}, wanted: {wanted}").into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// WebSocket server

/// Two listeners: one sends messages whole (up to 1 MiB frames), the other in
/// [`FRAGMENT`]-byte frames.
async fn ws_server() -> Result<bool> {
    let plain = TcpListener::bind("127.0.0.1:0").await?;
    let frag = TcpListener::bind("127.0.0.1:0").await?;
    println!(
        "PLAIN ws://{}/ FRAG ws://{}/frag",
        plain.local_addr()?,
        frag.local_addr()?
    );
    let plain = tokio::spawn(serve(plain, false));
    let frag = tokio::spawn(serve(frag, true));
    let (plain, frag) = tokio::join!(plain, frag);
    plain??;
    frag??;
    Ok(true)
}

async fn serve(listener: TcpListener, fragment: bool) -> Result<()> {
    loop {
        let (tcp, peer) = listener.accept().await?;
        tokio::spawn(async move {
            if let Err(e) = serve_one(tcp, fragment).await {
                eprintln!("server: {peer}: {e}");
            }
        });
    }
}

async fn serve_one(tcp: TcpStream, fragment: bool) -> Result<()> {
    tcp.set_nodelay(true)?;
    let mut ws = tidings_io::accept(Tokio::new(tcp), config(fragment)).await?;
    check_deflate(&ws)?;
    // The payload of the ping we sent on `cmd:ping`, until its pong comes.
    let mut pinged: Option<Bytes> = None;
    while let Some(message) = ws.recv().await {
        match message? {
            Message::Text(text) => {
                if let Some(command) = text.as_str().strip_prefix("cmd:") {
                    let (verb, rest) = command.split_once(' ').unwrap_or((command, ""));
                    match verb {
                        "close" => {
                            let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
                            let code: u16 = code.parse()?;
                            ws.send(close(code, reason)).await?;
                        }
                        "ping" => {
                            let payload = Bytes::copy_from_slice(rest.as_bytes());
                            pinged = Some(payload.clone());
                            ws.send(Message::Ping(payload)).await?;
                        }
                        _ => return Err(format!("unknown command {command:?}").into()),
                    }
                } else {
                    ws.send(Message::Text(text)).await?;
                }
            }
            Message::Binary(data) => ws.send(Message::Binary(data)).await?,
            Message::Pong(data) if pinged.as_ref() == Some(&data) => {
                pinged = None;
                let answer = format!("pong {}", String::from_utf8_lossy(&data));
                ws.send(Message::text(answer)).await?;
            }
            _ => {}
        }
    }
    Ok(())
}

fn close(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code: CloseCode(code),
        reason: Utf8Bytes::from(reason),
    }))
}

// ---------------------------------------------------------------------------------
// WebSocket client

/// One row of the matrix: what the client does on a fresh connection.
#[derive(Debug, Clone)]
enum Case {
    /// Send this, expect it back unchanged.
    Echo(Message),
    /// Send this in [`FRAGMENT`]-byte frames, expect it back.
    SendFragmented(Message),
    /// Send this to the FRAG server (which answers in fragments), expect it back.
    ReceiveFragmented(Message),
    /// Send this many messages without waiting (text `m<i>` for even `i`, `i` bytes
    /// of binary for odd `i`), then expect their echoes in order.
    Pipelined(usize),
    /// Ping with this payload, expect its pong.
    Ping(&'static str),
    /// Ask the server to ping; our pong must reach it (it says `pong PAYLOAD`).
    ServerPing(&'static str),
    /// Close with this code and reason; expect the code echoed.
    ClientClose(u16, &'static str),
    /// Ask the server to close with this code and reason; expect exactly those.
    ServerClose(u16, &'static str),
}

fn cases() -> Vec<(String, Case)> {
    let mut cases = vec![
        ("text 0 B".into(), Case::Echo(Message::text(""))),
        (
            "text unicode".into(),
            Case::Echo(Message::text("héllo wörld ✓ 😀 ∑")),
        ),
    ];
    for (name, len) in [("125 B", 125), ("64 KiB", 65536), ("16 MiB", 16 << 20)] {
        cases.push((format!("text {name}"), Case::Echo(Message::text(text(len)))));
    }
    for (name, len) in [
        ("0 B", 0),
        ("1 B", 1),
        ("125 B", 125),
        ("126 B", 126),
        ("65535 B", 65535),
        ("64 KiB", 65536),
        ("1 MiB", 1 << 20),
        ("16 MiB", 16 << 20),
    ] {
        let case = Case::Echo(Message::Binary(binary(len)));
        cases.push((format!("binary {name}"), case));
    }
    // Multi-byte characters cut across fragment boundaries: the receiver must
    // validate UTF-8 across frames, not per frame. 2 MiB in 1000-byte fragments is
    // 2098 frames: the peers cap the fragments of one message (`ws` at 16384,
    // `websockets` at 4096), tidings caps only its size.
    let unicode = "fragmented ✓ 😀 ".repeat(200);
    cases.extend([
        (
            "fragmented text, sent".into(),
            Case::SendFragmented(Message::text(unicode.as_str())),
        ),
        (
            "fragmented binary, sent".into(),
            Case::SendFragmented(Message::Binary(binary(100_000))),
        ),
        (
            "fragmented binary 2 MiB, sent".into(),
            Case::SendFragmented(Message::Binary(binary(2 << 20))),
        ),
        (
            "fragmented text, received".into(),
            Case::ReceiveFragmented(Message::text(unicode.as_str())),
        ),
        (
            "fragmented binary, received".into(),
            Case::ReceiveFragmented(Message::Binary(binary(100_000))),
        ),
        (
            "fragmented binary 2 MiB, received".into(),
            Case::ReceiveFragmented(Message::Binary(binary(2 << 20))),
        ),
        (
            "pipelined: 100 messages in order".into(),
            Case::Pipelined(100),
        ),
        ("ping/pong, client pings".into(), Case::Ping("p1")),
        ("ping/pong, 125 B payload".into(), Case::Ping(PING_125)),
        ("ping/pong, server pings".into(), Case::ServerPing("p2")),
    ]);
    for (code, reason) in [
        (1000, ""),
        (1001, "going away"),
        (3000, "app"),
        (4999, "bye ✓"),
        (4000, REASON_123),
    ] {
        cases.push((
            format!("close {code}, client"),
            Case::ClientClose(code, reason),
        ));
        cases.push((
            format!("close {code}, server"),
            Case::ServerClose(code, reason),
        ));
    }
    cases
}

async fn ws_client(plain: &str, frag: &str) -> Result<bool> {
    let mut failed = 0;
    for (name, case) in cases() {
        let outcome = tokio::time::timeout(CASE_TIMEOUT, run_case(plain, frag, case)).await;
        match outcome {
            Ok(Ok(())) => println!("PASS {name}"),
            Ok(Err(e)) => {
                failed += 1;
                println!("FAIL {name}: {e}");
            }
            Err(_) => {
                failed += 1;
                println!("FAIL {name}: no answer within {CASE_TIMEOUT:?}");
            }
        }
    }
    Ok(failed == 0)
}

type Ws = tidings_io::WebSocket<Tokio<tidings_io::MaybeTlsStream>>;

/// The next message, or an error if the connection ended.
async fn next(ws: &mut Ws) -> Result<Message> {
    match ws.recv().await {
        Some(message) => Ok(message?),
        None => Err("the connection ended".into()),
    }
}

/// Expects the peer's close frame next, then receives until the transport ends.
async fn closing(ws: &mut Ws) -> Result<Option<CloseFrame>> {
    match next(ws).await? {
        Message::Close(frame) => {
            while let Some(message) = ws.recv().await {
                message?;
            }
            Ok(frame)
        }
        other => Err(format!("expected a close, got {}", show(&other)).into()),
    }
}

async fn run_case(plain: &str, frag: &str, case: Case) -> Result<()> {
    let (url, fragment) = match case {
        Case::SendFragmented(_) => (plain, true),
        Case::ReceiveFragmented(_) => (frag, false),
        _ => (plain, false),
    };
    let mut ws = tidings_io::connect_url(url, config(fragment)).await?;
    check_deflate(&ws)?;
    match case {
        Case::Echo(message) | Case::SendFragmented(message) | Case::ReceiveFragmented(message) => {
            ws.send(message.clone()).await?;
            let echo = next(&mut ws).await?;
            if echo != message {
                return Err(format!("sent {}, got back {}", show(&message), show(&echo)).into());
            }
        }
        Case::Pipelined(n) => {
            let messages: Vec<Message> = (0..n).map(pipelined).collect();
            for message in &messages {
                ws.send(message.clone()).await?;
            }
            for (i, message) in messages.iter().enumerate() {
                let echo = next(&mut ws).await?;
                if echo != *message {
                    let (sent, got) = (show(message), show(&echo));
                    return Err(format!("message {i}: sent {sent}, got back {got}").into());
                }
            }
        }
        Case::Ping(payload) => {
            ws.send(Message::Ping(Bytes::from_static(payload.as_bytes())))
                .await?;
            let pong = next(&mut ws).await?;
            if pong != Message::Pong(Bytes::from_static(payload.as_bytes())) {
                return Err(format!("expected a pong {payload:?}, got {}", show(&pong)).into());
            }
        }
        Case::ServerPing(payload) => {
            ws.send(Message::text(format!("cmd:ping {payload}")))
                .await?;
            loop {
                match next(&mut ws).await? {
                    // The ping itself: the core has queued its pong already.
                    Message::Ping(data) if data == payload.as_bytes() => {}
                    Message::Text(text) if text.as_str() == format!("pong {payload}") => break,
                    other => return Err(format!("unexpected {}", show(&other)).into()),
                }
            }
        }
        Case::ClientClose(code, reason) => {
            ws.send(close(code, reason)).await?;
            let echo = closing(&mut ws).await?;
            let got = echo.as_ref().map(|f| f.code.0);
            if got != Some(code) {
                return Err(format!("closed with {code}, the echo had {got:?}").into());
            }
            return Ok(());
        }
        Case::ServerClose(code, reason) => {
            ws.send(Message::text(format!("cmd:close {code} {reason}")))
                .await?;
            let frame = closing(&mut ws).await?;
            let got = frame.as_ref().map(|f| (f.code.0, f.reason.as_str()));
            if got != Some((code, reason)) {
                return Err(format!("expected ({code}, {reason:?}), got {got:?}").into());
            }
            return Ok(());
        }
    }
    ws.close(CloseCode::NORMAL, "").await?;
    Ok(())
}

/// Message `i` of a pipelined case.
fn pipelined(i: usize) -> Message {
    if i % 2 == 0 {
        Message::text(format!("m{i}"))
    } else {
        Message::Binary(binary(i))
    }
}

/// A message for an error line: short payloads whole, long ones by length.
fn show(message: &Message) -> String {
    match message {
        Message::Text(t) if t.len() <= 64 => format!("text {:?}", t.as_str()),
        Message::Text(t) => format!("text of {} bytes", t.len()),
        Message::Binary(b) => format!("binary of {} bytes", b.len()),
        Message::Ping(b) => format!("ping {b:?}"),
        Message::Pong(b) => format!("pong {b:?}"),
        Message::Close(frame) => format!("close {frame:?}"),
    }
}

// ---------------------------------------------------------------------------------
// Server-Sent Events

/// The data of event `id`; every tenth spans two lines.
fn sse_data(id: u64) -> String {
    if id % 10 == 0 {
        format!("event {id} ✓\nline two")
    } else {
        format!("event {id} ✓")
    }
}

/// The type of event `id`: every seventh is a `tick`, the others `message`s.
fn sse_type(id: u64) -> &'static str {
    if id % 7 == 0 { "tick" } else { "message" }
}

/// Event `id` as the servers send it.
fn sse_event(id: u64) -> ServerSentEvent {
    let event = ServerSentEvent::data(sse_data(id)).id(id.to_string());
    if sse_type(id) == "message" {
        event
    } else {
        event.event(sse_type(id))
    }
}

/// Events `last + 1 ..= SSE_EVENTS`, then the end of the response. A first
/// connection (no `Last-Event-ID`) is cut after [`SSE_DROP_AFTER`] in the middle of
/// an event, which the client must drop; a client that already has every event gets
/// 204, which ends an EventSource.
async fn sse_server() -> Result<bool> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    println!("http://{}/events", listener.local_addr()?);
    loop {
        let (tcp, peer) = listener.accept().await?;
        tokio::spawn(async move {
            if let Err(e) = sse_serve_one(tcp).await {
                eprintln!("sse-server: {peer}: {e}");
            }
        });
    }
}

async fn sse_serve_one(tcp: TcpStream) -> Result<()> {
    tcp.set_nodelay(true)?;
    let mut io = Tokio::new(tcp);
    let request = sse::read_request(&mut io, &ServerConfig::default()).await?;
    let last = match request.last_event_id() {
        Some(id) => Some(id.parse::<u64>()?),
        None => None,
    };
    eprintln!("sse-server: request, Last-Event-ID {last:?}");
    if last == Some(SSE_EVENTS) {
        let mut tcp = io.into_inner();
        tcp.write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .await?;
        tcp.shutdown().await?;
        return Ok(());
    }
    let mut config = ServerConfig::default();
    config.retry = Some(Duration::from_millis(200));
    let mut writer = SseWriter::start(io, config).await?;
    let first = last.unwrap_or(0) + 1;
    let end = if last.is_none() {
        SSE_DROP_AFTER
    } else {
        SSE_EVENTS
    };
    for id in first..=end {
        writer.send(&sse_event(id)).await?;
    }
    if last.is_none() {
        // The forced drop: half an event, then the connection goes away.
        let mut tcp = writer.into_inner().into_inner();
        tcp.write_all(format!("id: {}\ndata: partial", end + 1).as_bytes())
            .await?;
        drop(tcp);
        return Ok(());
    }
    writer.close().await?;
    Ok(())
}

/// Reads `n` events through the peer server's drop; they must be 1..=n, in order,
/// each once, with the expected data, and more than one connection must have
/// been made.
async fn sse_client(url: &str, n: u64) -> Result<bool> {
    let dials = Arc::new(AtomicUsize::new(0));
    let counter = dials.clone();
    let dial = move |url: &Url| {
        counter.fetch_add(1, Ordering::Relaxed);
        let addr = (url.host().to_owned(), url.port());
        async move {
            let tcp = TcpStream::connect(addr).await?;
            tcp.set_nodelay(true)?;
            Ok(Tokio::new(tcp))
        }
    };
    let mut source = sse::EventSource::new(url, dial, ClientConfig::default())?.messages();
    let mut seen = Vec::new();
    let read = async {
        while let Some(event) = source.next().await {
            let event = event?;
            let (id, kind) = (event.last_event_id(), event.event_type());
            seen.push((id.to_owned(), kind.to_owned(), event.data().to_owned()));
        }
        Ok::<_, sse::Error>(())
    };
    let outcome = tokio::time::timeout(CASE_TIMEOUT, read).await;
    let expected: Vec<(String, String, String)> = (1..=n)
        .map(|id| (id.to_string(), sse_type(id).to_owned(), sse_data(id)))
        .collect();
    let dials = dials.load(Ordering::Relaxed);
    let mut ok = true;
    let mut check = |name: &str, pass: bool, why: String| {
        if pass {
            println!("PASS {name}");
        } else {
            ok = false;
            println!("FAIL {name}: {why}");
        }
    };
    check(
        "stream ends on 204",
        matches!(outcome, Ok(Ok(()))),
        format!("{outcome:?}"),
    );
    check(
        "reconnected after the drop",
        dials >= 2,
        format!("{dials} connection(s)"),
    );
    let ids: Vec<&str> = seen.iter().map(|(id, _, _)| id.as_str()).collect();
    let first_difference = seen.iter().zip(&expected).find(|(got, want)| got != want);
    check(
        "events 1..N, no gap, no duplicate",
        seen == expected,
        format!("got ids {ids:?}; first difference (got, expected): {first_difference:?}"),
    );
    Ok(ok)
}
