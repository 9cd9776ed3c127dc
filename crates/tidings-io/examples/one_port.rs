//! One HTTP/1.1 listener for everything: a page on `/`, Server-Sent Events on
//! `/events` and a WebSocket echo on `/ws`.
//!
//! ```text
//! cargo run -p tidings-io --example one_port [-- 127.0.0.1:9004]
//! ```
//!
//! Then open <http://127.0.0.1:9004/> in a browser. Each connection's request head
//! is read and parsed once, with `tidings_handshake::RequestParser`, and dispatched
//! on its path and on whether it is a WebSocket upgrade (`Request::Upgrade`) or
//! not (`Request::Plain`): the page is written here, the event stream starts with
//! `sse::Request::from_head` and `SseWriter::start`, the WebSocket with
//! `tidings_io::accept_parsed` (which takes the bytes read past the head too).
//! `/events` is a ticker with IDs: a client that reconnects with `Last-Event-ID`
//! resumes after that tick. One response per connection (`Connection: close`).

use std::time::Duration;

use futures_util::StreamExt;
use tidings_handshake::{Limits, Rejection, Request, RequestParser, Status};
use tidings_io::sse::{self, ServerConfig, ServerSentEvent, SseWriter};
use tidings_io::{Config, Message, Tokio};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The whole request head must arrive within this.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

const PAGE: &str = r#"<!doctype html>
<meta charset="utf-8">
<title>tidings: one port</title>
<h1>tidings on one port</h1>
<p>Ticks from <code>/events</code>: <span id="tick">…</span></p>
<p><input id="say" placeholder="to /ws"> echoed: <span id="echo"></span></p>
<script>
  new EventSource("/events").onmessage = (e) => tick.textContent = e.data;
  const ws = new WebSocket(`ws://${location.host}/ws`);
  ws.onmessage = (e) => echo.textContent = e.data;
  say.onchange = () => ws.send(say.value);
</script>
"#;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9004".into());
    let listener = TcpListener::bind(&addr).await?;
    println!("serving http://{}/", listener.local_addr()?);
    serve(listener, Duration::from_secs(1)).await
}

/// Serves every connection of `listener`, one task each; `/events` ticks every
/// `tick`.
pub(crate) async fn serve(listener: TcpListener, tick: Duration) -> std::io::Result<()> {
    loop {
        let (tcp, peer) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        tokio::spawn(async move {
            if let Err(e) = connection(tcp, tick).await {
                eprintln!("{peer}: {e}");
            }
        });
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Reads one request head and answers it.
async fn connection(mut tcp: TcpStream, tick: Duration) -> Result<(), BoxError> {
    let mut parser = RequestParser::with_limits(Limits::default());
    let mut buf = vec![0; 4096];
    let read_head = async {
        loop {
            let n = tcp.read(&mut buf).await?;
            if n == 0 {
                return Ok(None);
            }
            // Each read is fed once: the parser keeps what it needs of a partial
            // head, and says how much of this read the head used.
            match parser.parse(&buf[..n]) {
                Ok(Status::Partial) => {}
                Ok(Status::Complete((head, consumed))) => {
                    return Ok(Some(Ok((head, buf[consumed..n].to_vec()))));
                }
                Err(e) => return Ok(Some(Err(e))),
            }
        }
    };
    let parsed: std::io::Result<_> = match tokio::time::timeout(HEAD_TIMEOUT, read_head).await {
        Ok(parsed) => parsed,
        Err(_) => return Ok(()), // too slow: drop it
    };
    let (head, leftover) = match parsed? {
        None => return Ok(()),
        Some(Ok(parsed)) => parsed,
        Some(Err(e)) => return answer(tcp, Rejection::from_error(&e)).await,
    };
    match head {
        Request::Upgrade(request) if request.path() == "/ws" => {
            let io = Tokio::new(tcp);
            let mut ws =
                tidings_io::accept_parsed(io, &request, &leftover, Config::default()).await?;
            while let Some(message) = ws.recv().await {
                let message = message?;
                if matches!(message, Message::Text(_) | Message::Binary(_)) {
                    ws.send(message).await?;
                }
            }
            Ok(())
        }
        Request::Plain(request) if request.method() != "GET" => {
            let refusal = Rejection::new(405)?.header("Allow", "GET")?;
            answer(tcp, refusal).await
        }
        Request::Plain(request) if request.path() == "/" => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n",
                PAGE.len()
            );
            tcp.write_all(head.as_bytes()).await?;
            tcp.write_all(PAGE.as_bytes()).await?;
            tcp.shutdown().await?;
            Ok(())
        }
        Request::Plain(request) if request.path() == "/events" => {
            let request = match sse::Request::from_head(request) {
                Ok(request) => request,
                // An invalid Last-Event-ID: 400.
                Err(e) => {
                    let status = e.status().unwrap_or(400);
                    return answer(tcp, Rejection::new(status)?).await;
                }
            };
            let first = request
                .last_event_id()
                .and_then(|id| id.parse::<u64>().ok())
                .map_or(1, |last| last.saturating_add(1));
            let mut writer = SseWriter::start(Tokio::new(tcp), ServerConfig::default()).await?;
            let ticks = futures_util::stream::iter(first..).then(move |n| async move {
                tokio::time::sleep(tick).await;
                ServerSentEvent::data(format!("tick {n}")).id(n.to_string())
            });
            match writer.run(ticks).await {
                Ok(()) | Err(sse::Error::Closed) => Ok(()),
                Err(e) => Err(e.into()),
            }
        }
        _ => answer(tcp, Rejection::new(404)?.body("Not found.\n")).await,
    }
}

/// Writes a refusal and closes.
async fn answer(mut tcp: TcpStream, rejection: Rejection) -> Result<(), BoxError> {
    let mut bytes = Vec::new();
    rejection.encode(&mut bytes);
    tcp.write_all(&bytes).await?;
    tcp.shutdown().await?;
    Ok(())
}
