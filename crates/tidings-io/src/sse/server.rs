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
//! holds one event at a time and a slow client slows its own stream down instead of
//! filling a queue; a client that takes nothing at all is cut off at the write
//! timeout.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use futures_core::Stream;
use tidings_handshake::{Limits, PlainRequest, Rejection, RequestParser};
use tidings_sse::encode;
use tidings_sse::head::{self, RESPONSE_HEAD};
use tidings_sse::keep_alive::KeepAlive;

use super::{Error, ServerSentEvent};
use crate::clock::Clock;
use crate::transport::{Deadline, Transport};

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
    /// proxies and load balancers do not cut an idle stream (the rule is
    /// [`tidings_sse::KeepAlive`]'s). Default 15 s; `None` sends none.
    pub keep_alive: Option<Duration>,
    /// A `retry` to send right after the response head. Default `None`.
    pub retry: Option<Duration>,
    /// A client that takes none of the bytes waiting for it for this long is cut
    /// off: [`SseWriter::send`], [`run`](SseWriter::run) and
    /// [`close`](SseWriter::close) fail with [`Error::WriteTimeout`], and the
    /// connection should be dropped. Default 30 s, as
    /// [`Config::write_timeout`](crate::Config::write_timeout): the kernel's buffers
    /// fill first, so the clock starts only once a client stopped reading, and a
    /// client on a lossy link can legitimately take nothing for a few seconds
    /// (TCP's retransmission backoff). `None` waits forever.
    pub write_timeout: Option<Duration>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            head_limits: Limits::default(),
            head_timeout: Duration::from_secs(10),
            keep_alive: Some(Duration::from_secs(15)),
            retry: None,
            write_timeout: Some(Duration::from_secs(30)),
        }
    }
}

/// A request for an event stream: the parsed head, and its `Last-Event-ID`.
///
/// It dereferences to the head, for its method, path, query and headers.
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

    /// The ID of the last event the client saw, when it is resuming: send what
    /// came after it. `None` for a first connection (or an empty ID).
    #[must_use]
    pub fn last_event_id(&self) -> Option<&str> {
        self.last_event_id.as_deref()
    }
}

impl std::ops::Deref for Request {
    type Target = PlainRequest;

    fn deref(&self) -> &PlainRequest {
        &self.head
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
/// [`Error::Handshake`], [`Error::Rejected`], [`Error::Sse`] as above;
/// [`Error::HandshakeTimeout`] after [`ServerConfig::head_timeout`]; [`Error::Io`],
/// or [`Error::Closed`] when the client closes before a whole head arrived.
pub async fn read_request<S: Transport>(
    io: &mut S,
    config: &ServerConfig,
) -> Result<Request, Error> {
    let mut deadline = Deadline::after::<S>(config.head_timeout);
    let mut parser = RequestParser::with_limits(config.head_limits);
    // Bytes after the head (a pipelined request) are not read: the response is the
    // rest of the connection.
    let (refusal, error) = match deadline.read_head(io, |b| parser.parse(b)).await? {
        Ok((tidings_handshake::Request::Plain(head), _)) => match Request::from_head(head) {
            Ok(request) => return Ok(request),
            Err(e) => (e.status().and_then(|s| Rejection::new(s).ok()), e),
        },
        Ok((tidings_handshake::Request::Upgrade(_), _)) => {
            let rejection = Rejection::upgrade_refused();
            let status = rejection.status();
            (Some(rejection), Error::Rejected { status })
        }
        Err(e) => (Some(Rejection::from_error(&e)), Error::Handshake(e)),
    };
    // The request is refused whether or not the answer gets through.
    if let Some(refusal) = refusal {
        let _ = deadline.refuse(io, &refusal).await;
    }
    Err(error)
}

/// The response side of an event stream on a transport.
///
/// ```text
/// start(io) ─► send(event) / run(stream of events) ─► close()
///              (flushes each event; keep-alive and peer-closed detection in run;
///               a client that takes nothing for write_timeout is cut off)
/// ```
///
/// # Fan-out
///
/// One stream fed to many subscribers must never wait on the slowest one. Give each
/// writer a bounded queue of its own that the publisher never waits on
/// (`tokio::sync::broadcast`, or a channel filled with `try_send`), and end the
/// writer's stream when its subscriber falls behind (broadcast's `Lagged`, a full
/// channel): [`run`](Self::run) returns, and the connection is dropped; the client
/// reconnects with `Last-Event-ID` when it can keep up. A subscriber that stops
/// reading altogether stops its writer, not the publisher, and is cut off at
/// [`ServerConfig::write_timeout`]. `tests/sse_tokio.rs` has the whole pattern.
#[derive(Debug)]
pub struct SseWriter<S> {
    io: S,
    clock: Clock,
    config: ServerConfig,
    /// Encoded bytes not yet written: at most one event or keep-alive.
    out: BytesMut,
    /// Written but not yet flushed.
    flushing: bool,
    /// When the next keep-alive is due ([`ServerConfig::keep_alive`]): told of each
    /// flush, on the clock.
    keep_alive: KeepAlive,
    /// When the transport last refused bytes, if it has taken none since (the write
    /// timeout counts from here).
    stalled_since: Option<Duration>,
    /// Where what the client sends while streaming lands, to be dropped.
    scratch: BytesMut,
}

impl<S: Transport> SseWriter<S> {
    /// Writes the response head ([`RESPONSE_HEAD`]: `200 OK`, the event stream
    /// headers, `Connection: close`) and [`ServerConfig::retry`], if any.
    ///
    /// # Errors
    ///
    /// [`Error::Io`], or [`Error::HandshakeTimeout`] after
    /// [`ServerConfig::head_timeout`].
    pub async fn start(mut io: S, config: ServerConfig) -> Result<Self, Error> {
        let mut deadline = Deadline::after::<S>(config.head_timeout);
        let mut head = BytesMut::from(RESPONSE_HEAD);
        if let Some(retry) = config.retry {
            encode::write_retry(retry, &mut head);
        }
        deadline.write_all(&mut io, head.freeze()).await?;
        let clock = S::clock();
        Ok(Self {
            io,
            keep_alive: KeepAlive::new(config.keep_alive, clock.now()),
            clock,
            config,
            out: BytesMut::new(),
            flushing: false,
            stalled_since: None,
            scratch: BytesMut::new(),
        })
    }

    /// Writes and flushes one event (or comment).
    ///
    /// # Errors
    ///
    /// [`Error::LocalSse`] for an event that cannot be encoded (nothing was written);
    /// [`Error::Io`] when the transport fails; [`Error::WriteTimeout`].
    pub async fn send(&mut self, event: &ServerSentEvent) -> Result<(), Error> {
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
    /// [`Error::Closed`] when the client went away; [`Error::LocalSse`] for an event
    /// that cannot be encoded; [`Error::Io`] when a write fails;
    /// [`Error::WriteTimeout`].
    pub async fn run<St: Stream<Item = ServerSentEvent>>(
        &mut self,
        events: St,
    ) -> Result<(), Error> {
        let mut events = std::pin::pin!(events);
        poll_fn(|cx| self.poll_run(cx, events.as_mut())).await
    }

    /// Flushes and closes the write side (TCP: FIN), ending the response body.
    ///
    /// # Errors
    ///
    /// [`Error::Io`], [`Error::WriteTimeout`].
    pub async fn close(mut self) -> Result<(), Error> {
        poll_fn(|cx| self.poll_write_out(cx)).await?;
        let timeout = self.config.write_timeout.unwrap_or(Duration::MAX);
        match Deadline::after::<S>(timeout).shutdown(&mut self.io).await {
            Err(Error::HandshakeTimeout) => Err(Error::WriteTimeout),
            result => result,
        }
    }

    /// The transport.
    pub fn get_ref(&self) -> &S {
        &self.io
    }

    /// Gives the transport back; bytes not yet written are lost.
    pub fn into_inner(self) -> S {
        self.io
    }

    fn poll_run<St: Stream<Item = ServerSentEvent>>(
        &mut self,
        cx: &mut Context<'_>,
        mut events: Pin<&mut St>,
    ) -> Poll<Result<(), Error>> {
        loop {
            ready!(self.poll_write_out(cx))?;
            // Is the client still there? EOF or a reset means no.
            self.scratch.clear();
            match self.io.poll_read_into(cx, &mut self.scratch, DRAIN_READ) {
                Poll::Ready(Ok(0) | Err(_)) => return Poll::Ready(Err(Error::Closed)),
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
            if let Some(due) = self.keep_alive.poll_timeout() {
                if self.clock.poll_sleep(cx, due).is_ready() {
                    self.keep_alive
                        .poll_transmit(self.clock.now(), &mut self.out);
                    continue;
                }
            }
            return Poll::Pending;
        }
    }

    /// Writes and flushes `self.out` (from this one reused buffer, not through an
    /// `Outbox`: see that module).
    fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        while !self.out.is_empty() {
            let written = self.io.poll_write(cx, &self.out);
            let n = ready!(self.bounded(cx, written))?;
            if n == 0 {
                return Poll::Ready(Err(io::Error::from(io::ErrorKind::WriteZero).into()));
            }
            self.out.advance(n);
            self.flushing = true;
        }
        if self.flushing {
            let flushed = self.io.poll_flush(cx);
            ready!(self.bounded(cx, flushed))?;
            self.flushing = false;
            self.keep_alive.handle_write(self.clock.now());
        }
        Poll::Ready(Ok(()))
    }

    /// A write-side poll of the transport, under the write timeout: `Pending`
    /// starts a stall (or continues it), which fails with [`Error::WriteTimeout`]
    /// once it has lasted [`ServerConfig::write_timeout`].
    #[inline]
    fn bounded<T>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<T>>,
    ) -> Poll<Result<T, Error>> {
        let Poll::Ready(result) = polled else {
            return self.poll_stalled(cx);
        };
        self.stalled_since = None;
        Poll::Ready(result.map_err(Error::Io))
    }

    /// The transport took nothing: `Pending` until the write timeout.
    #[cold]
    fn poll_stalled<T>(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, Error>> {
        let since = *self.stalled_since.get_or_insert_with(|| self.clock.now());
        match self.config.write_timeout {
            Some(timeout)
                if self
                    .clock
                    .poll_sleep_until(cx, since.saturating_add(timeout))
                    .is_ready() =>
            {
                Poll::Ready(Err(Error::WriteTimeout))
            }
            _ => Poll::Pending,
        }
    }
}
