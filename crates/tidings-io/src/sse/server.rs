//! The server side on a raw stream: read the request head, answer with an event
//! stream, write events as they come, keep the stream alive, notice when the client
//! has gone.
//!
//! The request head is parsed by `tidings-handshake`'s [`RequestParser`] (linear,
//! bounded, with the same limits and error answers as a WebSocket handshake), so a
//! single listener can serve both protocols with one parser. The body is a plain
//! close-delimited one (RFC 9112 §6.3, rule 8: no `Content-Length`, no
//! `Transfer-Encoding`, the end is the end of the connection), which every HTTP/1.x
//! client reads and which needs no framing per event. Each event is written and
//! flushed before the next one is taken from the application's stream, so memory
//! holds one event at a time and a slow client slows the stream down instead of
//! filling a queue.

use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use futures_core::Stream;
use tidings_handshake::{Headers, Limits, Parsed, PlainRequest, Rejection, RequestParser, Status};
use tidings_sse::encode;
use tidings_sse::head::{self, RESPONSE_HEADERS};

use super::{Error, Event};
use crate::transport::{Bounded, Transport, read_before, write_all_before};

/// How much one read of the request head asks for.
const HEAD_READ: usize = 4096;
/// How much one read asks for while streaming (what the client sends is dropped).
const DRAIN_READ: usize = 512;

/// Settings of the server side.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Limits on the request head (default 16 KiB, 64 fields); over them the
    /// request is answered with 431.
    pub head_limits: Limits,
    /// How long the request head may take to arrive, and the response head to be
    /// written. Default 10 s.
    pub head_timeout: Duration,
    /// Send a keep-alive comment (`:\n`) when nothing was written for this long, so
    /// proxies and load balancers do not cut an idle stream. Default 15 s; `None`
    /// sends none.
    pub keep_alive: Option<Duration>,
    /// A `retry` to send right after the response head. Default `None`.
    pub retry: Option<Duration>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            head_limits: Limits::default(),
            head_timeout: Duration::from_secs(10),
            keep_alive: Some(Duration::from_secs(15)),
            retry: None,
        }
    }
}

/// A request for an event stream: the parsed head, and its `Last-Event-ID`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    head: PlainRequest,
    last_event_id: Option<String>,
}

impl Request {
    /// An event stream request from a head you already parsed with
    /// [`RequestParser`], for a server that routes requests itself (then
    /// [`SseWriter::start`] answers it). [`read_request`] is this plus the reading.
    ///
    /// # Errors
    ///
    /// [`Error::Sse`] for an invalid `Last-Event-ID`; answer it with
    /// [`Error::status`] (400). Nothing is written here.
    pub fn from_head(head: PlainRequest) -> Result<Self, Error> {
        let last_event_id = head::last_event_id(head.headers().iter())?.map(str::to_owned);
        Ok(Self {
            head,
            last_event_id,
        })
    }

    /// The method, e.g. `GET`.
    #[must_use]
    pub fn method(&self) -> &str {
        self.head.method()
    }

    /// The path of the request-target, `/` if empty.
    #[must_use]
    pub fn path(&self) -> &str {
        self.head.path()
    }

    /// The query, without `?`.
    #[must_use]
    pub fn query(&self) -> Option<&str> {
        self.head.query()
    }

    /// Every header field, in order.
    #[must_use]
    pub fn headers(&self) -> Headers<'_> {
        self.head.headers()
    }

    /// The ID of the last event the client saw, when it is resuming: send what
    /// came after it. `None` for a first connection (or an empty ID).
    #[must_use]
    pub fn last_event_id(&self) -> Option<&str> {
        self.last_event_id.as_deref()
    }
}

/// Reads one request head from `io`.
///
/// A malformed or oversized head, a WebSocket upgrade, or an invalid
/// `Last-Event-ID` is answered on `io` (400, 431...) and returned as an error whose
/// [`Error::status`] is the answer; the connection should then be dropped.
///
/// # Errors
///
/// [`Error::Request`], [`Error::Status`], [`Error::Sse`] as above;
/// [`Error::Timeout`] after [`ServerConfig::head_timeout`]; [`Error::Io`], or
/// [`Error::PeerClosed`] when the client closes before a whole head arrived.
pub async fn read_request<S: Transport>(
    io: &mut S,
    config: &ServerConfig,
) -> Result<Request, Error> {
    let deadline = io.now().saturating_add(config.head_timeout);
    let mut parser = RequestParser::with_limits(config.head_limits);
    let mut buf = BytesMut::new();
    let request = loop {
        buf.clear();
        if read_some(io, &mut buf, deadline).await? == 0 {
            return Err(Error::PeerClosed);
        }
        match parser.parse(&buf) {
            // Every byte was taken; the parser keeps what it needs.
            Ok(Status::Partial) => {}
            // Bytes after the head (a pipelined request) are not read: the response
            // is the rest of the connection.
            Ok(Status::Complete(Parsed { head, .. })) => break head,
            Err(e) => {
                let _ = answer(io, &Rejection::from_error(&e), deadline).await;
                return Err(Error::Request(e));
            }
        }
    };
    let head = match request {
        tidings_handshake::Request::Plain(head) => head,
        tidings_handshake::Request::Upgrade(_) => {
            let _ = refuse(io, 400, deadline).await;
            return Err(Error::Status(400));
        }
    };
    match Request::from_head(head) {
        Ok(request) => Ok(request),
        Err(e) => {
            let _ = refuse(io, 400, deadline).await;
            Err(e)
        }
    }
}

/// The response side of an event stream on a transport.
///
/// ```text
/// start(io) ─► send(event) / run(stream of events) ─► close()
///              (flushes each event; keep-alive and peer-closed detection in run)
/// ```
#[derive(Debug)]
pub struct SseWriter<S> {
    io: S,
    config: ServerConfig,
    /// Encoded bytes not yet written: at most one event or keep-alive.
    out: BytesMut,
    /// Written but not yet flushed.
    flushing: bool,
    /// When the last bytes were flushed, on the transport's clock.
    last_write: Duration,
    /// Where what the client sends while streaming lands, to be dropped.
    scratch: BytesMut,
}

impl<S: Transport> SseWriter<S> {
    /// Writes the response head (`200 OK`, [`RESPONSE_HEADERS`],
    /// `Connection: close`) and [`ServerConfig::retry`], if any.
    ///
    /// # Errors
    ///
    /// [`Error::Io`], or [`Error::Timeout`] after [`ServerConfig::head_timeout`].
    pub async fn start(mut io: S, config: ServerConfig) -> Result<Self, Error> {
        let deadline = io.now().saturating_add(config.head_timeout);
        let mut out = BytesMut::with_capacity(128);
        out.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
        for (name, value) in RESPONSE_HEADERS.iter().chain(&[("Connection", "close")]) {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        if let Some(retry) = config.retry {
            encode::write_retry(retry, &mut out);
        }
        write_all(&mut io, &out, deadline).await?;
        let last_write = io.now();
        Ok(Self {
            io,
            config,
            out: BytesMut::new(),
            flushing: false,
            last_write,
            scratch: BytesMut::new(),
        })
    }

    /// Writes and flushes one event (or comment).
    ///
    /// # Errors
    ///
    /// [`Error::Sse`] for an event that cannot be encoded (nothing was written);
    /// [`Error::Io`] when the transport fails.
    pub async fn send(&mut self, event: &Event) -> Result<(), Error> {
        event.encode(&mut self.out)?;
        poll_fn(|cx| self.poll_write_out(cx)).await
    }

    /// Sends every event of `events`, flushing each, and a keep-alive comment
    /// whenever nothing was written for [`ServerConfig::keep_alive`]. Returns
    /// `Ok(())` when `events` ends; the writer can then still send or close.
    ///
    /// While waiting for events it reads from the client (dropping what it sends),
    /// so a client that closes its side or resets the connection is noticed at once,
    /// without waiting for a write to fail. Cancel safe between events: dropping the
    /// future loses at most the event being written.
    ///
    /// # Errors
    ///
    /// [`Error::PeerClosed`] when the client went away; [`Error::Sse`] for an event
    /// that cannot be encoded; [`Error::Io`] when a write fails.
    pub async fn run<St: Stream<Item = Event>>(&mut self, events: St) -> Result<(), Error> {
        let mut events = std::pin::pin!(events);
        poll_fn(|cx| self.poll_run(cx, events.as_mut())).await
    }

    /// Flushes and closes the write side (TCP: FIN), ending the response body.
    ///
    /// # Errors
    ///
    /// [`Error::Io`].
    pub async fn close(mut self) -> Result<(), Error> {
        poll_fn(|cx| self.poll_write_out(cx)).await?;
        poll_fn(|cx| self.io.poll_shutdown(cx)).await?;
        Ok(())
    }

    /// The transport.
    pub fn get_ref(&self) -> &S {
        &self.io
    }

    /// Gives the transport back; bytes not yet written are lost.
    pub fn into_inner(self) -> S {
        self.io
    }

    fn poll_run<St: Stream<Item = Event>>(
        &mut self,
        cx: &mut Context<'_>,
        mut events: Pin<&mut St>,
    ) -> Poll<Result<(), Error>> {
        loop {
            ready!(self.poll_write_out(cx))?;
            // Is the client still there? EOF or a reset means no.
            self.scratch.clear();
            match self.io.poll_read_into(cx, &mut self.scratch, DRAIN_READ) {
                Poll::Ready(Ok(0) | Err(_)) => return Poll::Ready(Err(Error::PeerClosed)),
                Poll::Ready(Ok(_)) => continue,
                Poll::Pending => {}
            }
            match events.as_mut().poll_next(cx) {
                Poll::Ready(Some(event)) => {
                    event.encode(&mut self.out)?;
                    continue;
                }
                Poll::Ready(None) => return Poll::Ready(Ok(())),
                Poll::Pending => {}
            }
            if let Some(interval) = self.config.keep_alive {
                let due = self.last_write.saturating_add(interval);
                if self.io.poll_sleep_until(cx, due).is_ready() {
                    encode::write_keep_alive(&mut self.out);
                    continue;
                }
            }
            return Poll::Pending;
        }
    }

    /// Writes and flushes `self.out`.
    fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        while !self.out.is_empty() {
            let n = ready!(self.io.poll_write_vectored(cx, &[IoSlice::new(&self.out)]))?;
            if n == 0 {
                return Poll::Ready(Err(io::Error::from(io::ErrorKind::WriteZero).into()));
            }
            self.out.advance(n);
            self.flushing = true;
        }
        if self.flushing {
            ready!(self.io.poll_flush(cx))?;
            self.flushing = false;
            self.last_write = self.io.now();
        }
        Poll::Ready(Ok(()))
    }
}

/// Answers a refused request with `status`.
async fn refuse<S: Transport>(io: &mut S, status: u16, deadline: Duration) -> Result<(), Error> {
    match Rejection::new(status) {
        Ok(rejection) => answer(io, &rejection, deadline).await,
        Err(e) => Err(Error::Request(e)),
    }
}

/// Sends a rejection and closes the write side.
async fn answer<S: Transport>(
    io: &mut S,
    rejection: &Rejection,
    deadline: Duration,
) -> Result<(), Error> {
    let mut bytes = Vec::new();
    rejection.encode(&mut bytes);
    write_all(io, &bytes, deadline).await?;
    poll_fn(|cx| io.poll_shutdown(cx)).await?;
    Ok(())
}

/// Reads some bytes (appended to `buf`) before `deadline`.
async fn read_some<S: Transport>(
    io: &mut S,
    buf: &mut BytesMut,
    deadline: Duration,
) -> Result<usize, Error> {
    read_before(io, buf, HEAD_READ, deadline)
        .await
        .map_err(head_error)
}

/// Writes and flushes `bytes` before `deadline`.
async fn write_all<S: Transport>(
    io: &mut S,
    bytes: &[u8],
    deadline: Duration,
) -> Result<(), Error> {
    write_all_before(io, bytes, deadline)
        .await
        .map_err(head_error)
}

fn head_error(e: Bounded) -> Error {
    match e {
        Bounded::TimedOut => Error::Timeout,
        Bounded::Io(e) => Error::Io(e),
    }
}
