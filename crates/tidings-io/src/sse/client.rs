//! The `EventSource` client: the tidings-sse state machine, plus dialling, one
//! HTTP/1.1 request, the response head, body framing and redirects.
//!
//! # Theory of operation
//!
//! [`tidings_sse::EventSource`] decides everything that the specification decides:
//! when to connect, with which `Last-Event-ID`, whether a response is accepted, how
//! long to wait. [`EventSource::poll_next`](futures_core::Stream::poll_next) drains
//! its events, then moves the one connection attempt along:
//!
//! ```text
//!   Connect(request) ─► Dialing ─► Writing ─► Head ──► 3xx + Location ─► Dialing (next URL)
//!                                               │
//!                                               └─► handle_response ─► Body ─► handle_body
//!   Error(Connecting) ─► Waiting (clock) ─► handle_timeout ─► Connect      │
//!   Error(Closed) ─► the stream ends                     EOF / error ─► handle_disconnect
//! ```
//!
//! Network trouble (a refused dial, a timeout, a malformed head or chunk, a reset)
//! is reported with `handle_disconnect`, so it costs a reconnection, never the
//! stream: "if res is a network error, then reestablish the connection". Redirects
//! are followed here, before the machine sees the final response (Fetch does them);
//! a redirect loop or an unusable target ends the stream, since retrying cannot help.
//!
//! The reconnection wait runs on a [`Clock`] of the transport's runtime: between two
//! connections there is no transport whose timer could be used.

use std::fmt;
use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use futures_core::Stream;
use tidings_sse::event_source::{self, Cause, Event as SourceEvent, Request};
use tidings_sse::{MessageEvent, ReadyState};

use super::Error;
use super::chunked;
use super::clock::sealed::Sealed as _;
use super::clock::{Clock, Runtime};
use super::url::Url;
use crate::transport::Transport;
use crate::transport::sealed::Io as _;

/// Settings of an [`EventSource`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ClientConfig {
    /// The state machine's settings: parser limits (16 MiB lines and events by
    /// default), the initial reconnection time (3 s), backoff (on).
    pub event_source: event_source::Config,
    /// How many redirects one connection attempt follows. Default 5 (browsers allow
    /// 20; an event stream rarely needs more than one).
    pub max_redirects: u8,
    /// The largest response head accepted, in bytes. Default 16 KiB.
    pub max_head_size: usize,
    /// The most response header fields accepted. Default 64.
    pub max_headers: usize,
    /// How long dialling, sending the request and receiving the response head may
    /// take, per hop; past it the attempt is a network error (so: a reconnection).
    /// Default 10 s.
    pub connect_timeout: Duration,
    /// How many bytes one read asks the transport for. Default 16 KiB.
    pub read_buffer_size: usize,
    /// Extra request headers (e.g. `Authorization`), sent on every request,
    /// redirects included. Names must be tokens, values visible ASCII, space or tab.
    pub headers: Vec<(String, String)>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            event_source: event_source::Config::default(),
            max_redirects: 5,
            max_head_size: 16 * 1024,
            max_headers: 64,
            connect_timeout: Duration::from_secs(10),
            read_buffer_size: 16 * 1024,
            headers: Vec::new(),
        }
    }
}

/// Opens connections for an [`EventSource`]: to the URL first, to redirect targets,
/// and again on every reconnection.
///
/// Any `FnMut(&Url) -> impl Future<Output = io::Result<T>>` is a dialer, where `T`
/// is a [`Transport`] such as `Tokio<TcpStream>` or `FuturesIo<TcpStream>` (a
/// TLS stream too, for `https://`):
///
/// ```no_run
/// use tidings_io::Tokio;
/// use tidings_io::sse::{ClientConfig, EventSource, Url};
///
/// let dial = |url: &Url| {
///     let addr = (url.host().to_owned(), url.port());
///     async move { tokio::net::TcpStream::connect(addr).await.map(Tokio::new) }
/// };
/// let events = EventSource::new("http://127.0.0.1:8080/events", dial, ClientConfig::default());
/// ```
pub trait Dial {
    /// The transport a dial yields.
    type Io: Transport + Runtime;
    /// The dialling future.
    type Future: Future<Output = io::Result<Self::Io>>;

    /// Starts connecting to `url`'s host and port (and, for `https`, running TLS).
    fn dial(&mut self, url: &Url) -> Self::Future;

    /// Whether this dialer speaks TLS, so `https://` URLs can be used. Closures say
    /// yes; `TcpDialer` says no.
    fn tls(&self) -> bool {
        true
    }
}

impl<F, Fut, T> Dial for F
where
    F: FnMut(&Url) -> Fut,
    Fut: Future<Output = io::Result<T>>,
    T: Transport + Runtime,
{
    type Io = T;
    type Future = Fut;

    fn dial(&mut self, url: &Url) -> Fut {
        self(url)
    }
}

/// Dials plain TCP on tokio, with `TCP_NODELAY`: the dialer of
/// [`EventSource::connect_url`].
#[cfg(feature = "tokio")]
#[derive(Debug, Clone, Copy, Default)]
pub struct TcpDialer;

#[cfg(feature = "tokio")]
impl Dial for TcpDialer {
    type Io = crate::Tokio<tokio::net::TcpStream>;
    type Future = Pin<Box<dyn Future<Output = io::Result<Self::Io>> + Send>>;

    fn dial(&mut self, url: &Url) -> Self::Future {
        let (host, port) = (url.host().to_owned(), url.port());
        Box::pin(async move {
            let tcp = tokio::net::TcpStream::connect((host, port)).await?;
            tcp.set_nodelay(true)?;
            Ok(crate::Tokio::new(tcp))
        })
    }

    fn tls(&self) -> bool {
        false
    }
}

/// Dials `http://` over TCP and `https://` over TLS on tokio (feature `rustls`), with
/// `TCP_NODELAY` and the URL's host as the TLS server name.
///
/// [`TlsDialer::default`] trusts the `webpki-roots` anchors
/// ([`tls::client_config`](crate::tls::client_config)); [`TlsDialer::new`] takes a
/// config of yours (a private CA, a test certificate). A redirect may go from
/// `http` to `https`, never back.
///
/// ```no_run
/// use futures_util::StreamExt;
/// use tidings_io::sse::{ClientConfig, EventSource, TlsDialer};
///
/// # async fn run() -> Result<(), tidings_io::sse::Error> {
/// let url = "https://example.com/events";
/// let mut events = EventSource::new(url, TlsDialer::default(), ClientConfig::default())?;
/// while let Some(event) = events.next().await {
///     println!("{}", event?.data());
/// }
/// # Ok(()) }
/// ```
///
/// A TLS failure (an untrusted certificate...) is a network error to the
/// `EventSource`, which reconnects after the reconnection time, as for a refused
/// connection; dial once with [`Dial::dial`] to see the `rustls::Error` itself.
#[cfg(feature = "rustls")]
#[derive(Debug, Clone)]
pub struct TlsDialer {
    config: std::sync::Arc<rustls::ClientConfig>,
}

#[cfg(feature = "rustls")]
impl TlsDialer {
    /// A dialer using `config` for `https://` (build it with
    /// [`tls::provider`](crate::tls::provider)).
    #[must_use]
    pub fn new(config: std::sync::Arc<rustls::ClientConfig>) -> Self {
        Self { config }
    }
}

#[cfg(feature = "rustls")]
impl Default for TlsDialer {
    fn default() -> Self {
        Self::new(crate::tls::client_config())
    }
}

#[cfg(feature = "rustls")]
impl Dial for TlsDialer {
    type Io = crate::Tokio<crate::MaybeTlsStream>;
    type Future = Pin<Box<dyn Future<Output = io::Result<Self::Io>> + Send>>;

    fn dial(&mut self, url: &Url) -> Self::Future {
        let (host, port) = (url.host().to_owned(), url.port());
        let tls = url.is_https().then(|| self.config.clone());
        Box::pin(async move {
            let stream = crate::stream::dial(&host, port, tls).await?;
            Ok(crate::Tokio::new(stream))
        })
    }
}

/// A client `EventSource`: a [`Stream`] of the events a server sends, across
/// reconnections.
///
/// It yields each dispatched [`MessageEvent`] (type, data, last event ID). It ends
/// (`None`) when the server answers `204 No Content`, the way a server tells
/// clients to stop; it yields one error and then ends when the `EventSource`
/// fails for good: another status ([`Error::Status`]), a wrong `Content-Type`
/// ([`Error::ContentType`]), a redirect loop or an unusable redirect. Everything
/// else (refused connections, resets, the end of a response) leads to a
/// reconnection after the reconnection time, with `Last-Event-ID`.
///
/// Dropping a pending `next()` loses nothing: all state lives in the struct.
pub struct EventSource<D: Dial> {
    url: Url,
    dialer: D,
    config: ClientConfig,
    source: tidings_sse::EventSource,
    clock: Clock,
    state: State<D>,
    /// The stream has ended; `poll_next` returns `None`.
    finished: bool,
}

/// Where the current connection attempt is.
enum State<D: Dial> {
    /// No connection: waiting for the machine (a reconnection delay, or the end).
    Idle,
    Dialing {
        attempt: Attempt,
        future: Pin<Box<D::Future>>,
    },
    Writing {
        attempt: Attempt,
        io: D::Io,
        request: BytesMut,
    },
    Head {
        attempt: Attempt,
        io: D::Io,
        buf: BytesMut,
    },
    Body {
        io: D::Io,
        buf: BytesMut,
        framing: Framing,
    },
}

/// One request, possibly over several redirects.
struct Attempt {
    url: Url,
    request: Request,
    redirects: u8,
    /// When this hop gives up, on the clock.
    deadline: Duration,
}

/// How the response body ends (RFC 9112 §6.3).
enum Framing {
    /// Rule 4: `Transfer-Encoding` ending in `chunked`.
    Chunked(chunked::Decoder),
    /// Rule 6: `Content-Length`; the bytes left.
    Length(u64),
    /// Rules 4 and 8: until the connection closes.
    Close,
}

impl<D: Dial> fmt::Debug for EventSource<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventSource")
            .field("url", &self.url)
            .field("ready_state", &self.source.ready_state())
            .field("last_event_id", &self.source.last_event_id())
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "tokio")]
impl EventSource<TcpDialer> {
    /// An `EventSource` for `url` over plain TCP on tokio, dialling again for every
    /// redirect and reconnection. Nothing happens until it is polled.
    ///
    /// # Errors
    ///
    /// [`Error::Url`] for a malformed URL, [`Error::TlsUnsupported`] for `https://`,
    /// [`Error::InvalidHeader`] for a bad [`ClientConfig::headers`] entry.
    pub fn connect_url(url: &str, config: ClientConfig) -> Result<Self, Error> {
        Self::new(url, TcpDialer, config)
    }
}

impl<D: Dial> EventSource<D> {
    /// An `EventSource` for `url`, connecting with `dialer`. Nothing happens until
    /// it is polled.
    ///
    /// # Errors
    ///
    /// [`Error::Url`] for a malformed URL, [`Error::TlsUnsupported`] for `https://`
    /// with a dialer without TLS, [`Error::InvalidHeader`] for a bad
    /// [`ClientConfig::headers`] entry.
    pub fn new(url: &str, dialer: D, config: ClientConfig) -> Result<Self, Error> {
        let url = Url::parse(url)?;
        if url.is_https() && !dialer.tls() {
            return Err(Error::TlsUnsupported);
        }
        let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        for (name, value) in &config.headers {
            let name_ok = !name.is_empty() && name.bytes().all(token);
            let value_ok = value
                .bytes()
                .all(|b| b.is_ascii_graphic() || b == b' ' || b == b'\t');
            if !name_ok || !value_ok {
                return Err(Error::InvalidHeader);
            }
        }
        let source = tidings_sse::EventSource::new(config.event_source);
        Ok(Self {
            url,
            dialer,
            config,
            source,
            clock: D::Io::clock(),
            state: State::Idle,
            finished: false,
        })
    }

    /// The URL given to [`new`](Self::new) (reconnections go there, not to a
    /// redirect target).
    #[must_use]
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The `readyState`.
    #[must_use]
    pub fn ready_state(&self) -> ReadyState {
        self.source.ready_state()
    }

    /// The last event ID, sent as `Last-Event-ID` on the next reconnection.
    #[must_use]
    pub fn last_event_id(&self) -> &str {
        self.source.last_event_id()
    }

    /// The reconnection time: the server's last `retry`, or the configured one.
    #[must_use]
    pub fn reconnection_time(&self) -> Duration {
        self.source.reconnection_time()
    }

    /// Closes for good: drops the connection; the stream ends.
    pub fn close(&mut self) {
        self.source.close();
        self.state = State::Idle;
        self.finished = true;
    }

    /// Ends the stream with `error` (for reasons the machine cannot see).
    fn fail(&mut self, error: Error) -> Poll<Option<Result<MessageEvent, Error>>> {
        self.close();
        Poll::Ready(Some(Err(error)))
    }

    /// A network error on the current attempt: drop it, let the machine reconnect.
    fn disconnect(&mut self) {
        self.state = State::Idle;
        self.source.handle_disconnect(self.clock.now());
    }

    /// Starts a hop of `attempt` towards `url`.
    fn dial(&mut self, url: Url, request: Request, redirects: u8) {
        let deadline = self.clock.now().saturating_add(self.config.connect_timeout);
        let future = Box::pin(self.dialer.dial(&url));
        self.state = State::Dialing {
            attempt: Attempt {
                url,
                request,
                redirects,
                deadline,
            },
            future,
        };
    }

    /// The request head for `attempt`.
    fn request_bytes(&self, attempt: &Attempt) -> BytesMut {
        let mut out = BytesMut::with_capacity(256);
        let mut line = |name: &str, value: &str| {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        };
        let host = attempt.url.host_header();
        // Last-Event-ID is checked by the machine's parser (no CR, LF or NUL), the
        // URL by `Url::parse` (visible ASCII), the extra headers by `new`.
        line("Host", &host);
        for (name, value) in attempt.request.headers() {
            line(name, value);
        }
        for (name, value) in &self.config.headers {
            line(name, value);
        }
        let mut head = BytesMut::with_capacity(out.len() + 64);
        head.extend_from_slice(b"GET ");
        head.extend_from_slice(attempt.url.target().as_bytes());
        head.extend_from_slice(b" HTTP/1.1\r\n");
        head.extend_from_slice(&out);
        head.extend_from_slice(b"\r\n");
        head
    }

    /// Moves the current attempt along. `Ready(Some(error))` ends the stream.
    fn poll_attempt(&mut self, cx: &mut Context<'_>) -> Poll<Option<Error>> {
        let now = self.clock.now();
        match std::mem::replace(&mut self.state, State::Idle) {
            State::Idle => {
                let Some(deadline) = self.source.poll_timeout() else {
                    // Nothing scheduled and no connection: the machine is closed.
                    self.finished = true;
                    return Poll::Ready(None);
                };
                ready!(self.clock.poll_sleep_until(cx, deadline));
                self.source.handle_timeout(self.clock.now());
            }
            State::Dialing {
                attempt,
                mut future,
            } => match future.as_mut().poll(cx) {
                Poll::Ready(Ok(io)) => {
                    let request = self.request_bytes(&attempt);
                    self.state = State::Writing {
                        attempt,
                        io,
                        request,
                    };
                }
                Poll::Ready(Err(_)) => self.disconnect(),
                Poll::Pending => {
                    let deadline = attempt.deadline;
                    self.state = State::Dialing { attempt, future };
                    return self.poll_hop_deadline(cx, deadline);
                }
            },
            State::Writing {
                attempt,
                mut io,
                mut request,
            } => {
                let result = poll_write_all(&mut io, cx, &mut request);
                match result {
                    Poll::Ready(Ok(())) => {
                        self.state = State::Head {
                            attempt,
                            io,
                            buf: BytesMut::new(),
                        };
                    }
                    Poll::Ready(Err(_)) => self.disconnect(),
                    Poll::Pending => {
                        let deadline = attempt.deadline;
                        self.state = State::Writing {
                            attempt,
                            io,
                            request,
                        };
                        return self.poll_hop_deadline(cx, deadline);
                    }
                }
            }
            State::Head {
                attempt,
                mut io,
                mut buf,
            } => {
                let room = self.config.max_head_size.saturating_sub(buf.len());
                match io.poll_read_into(cx, &mut buf, room.clamp(1, 4096)) {
                    Poll::Ready(Ok(n)) if n > 0 => {
                        return self.on_head_bytes(attempt, io, buf, now);
                    }
                    Poll::Ready(_) => self.disconnect(),
                    Poll::Pending => {
                        let deadline = attempt.deadline;
                        self.state = State::Head { attempt, io, buf };
                        return self.poll_hop_deadline(cx, deadline);
                    }
                }
            }
            State::Body {
                mut io,
                mut buf,
                framing,
            } => {
                if buf.is_empty() {
                    match io.poll_read_into(cx, &mut buf, self.config.read_buffer_size) {
                        Poll::Ready(Ok(n)) if n > 0 => {}
                        // The end of the body, or of the connection.
                        Poll::Ready(_) => {
                            self.disconnect();
                            return Poll::Ready(None);
                        }
                        Poll::Pending => {
                            self.state = State::Body { io, buf, framing };
                            return Poll::Pending;
                        }
                    }
                }
                self.on_body_bytes(io, buf, framing, now);
            }
        }
        Poll::Ready(None)
    }

    /// Ready (after a network error) once the hop's deadline passes.
    fn poll_hop_deadline(
        &mut self,
        cx: &mut Context<'_>,
        deadline: Duration,
    ) -> Poll<Option<Error>> {
        ready!(self.clock.poll_sleep_until(cx, deadline));
        self.disconnect();
        Poll::Ready(None)
    }

    /// Parses what arrived of the response head.
    fn on_head_bytes(
        &mut self,
        attempt: Attempt,
        io: D::Io,
        mut buf: BytesMut,
        now: Duration,
    ) -> Poll<Option<Error>> {
        // 1xx responses (other than 101) are interim: the real one follows.
        let interim = |code: Option<u16>| code.is_some_and(|c| (100..200).contains(&c) && c != 101);
        let (consumed, status, headers) = loop {
            let mut slots = vec![httparse::EMPTY_HEADER; self.config.max_headers];
            let mut response = httparse::Response::new(&mut slots);
            match response.parse(&buf) {
                Ok(httparse::Status::Complete(n)) if interim(response.code) => buf.advance(n),
                Ok(httparse::Status::Complete(n)) => {
                    let status = response.code.unwrap_or(0);
                    let headers: Vec<(String, Vec<u8>)> = response
                        .headers
                        .iter()
                        .map(|h| (h.name.to_owned(), h.value.to_owned()))
                        .collect();
                    break (n, status, headers);
                }
                Ok(httparse::Status::Partial) if buf.len() < self.config.max_head_size => {
                    self.state = State::Head { attempt, io, buf };
                    return Poll::Ready(None);
                }
                // Too large, too many headers, malformed: a network error.
                _ => {
                    self.disconnect();
                    return Poll::Ready(None);
                }
            }
        };
        let headers: Vec<(&str, &[u8])> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_slice()))
            .collect();
        let find = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| *v)
        };
        if matches!(status, 301 | 302 | 303 | 307 | 308) {
            let location = find("location").and_then(|v| std::str::from_utf8(v).ok());
            let Some(location) = location else {
                return Poll::Ready(Some(Error::Redirect));
            };
            let target = match attempt.url.join(location) {
                Ok(target) => target,
                Err(_) => return Poll::Ready(Some(Error::Redirect)),
            };
            // No downgrade from https to http; https only with a TLS dialer.
            if attempt.url.is_https() && !target.is_https() {
                return Poll::Ready(Some(Error::Redirect));
            }
            if target.is_https() && !self.dialer.tls() {
                return Poll::Ready(Some(Error::TlsUnsupported));
            }
            if attempt.redirects >= self.config.max_redirects {
                return Poll::Ready(Some(Error::TooManyRedirects {
                    limit: self.config.max_redirects,
                }));
            }
            drop(io);
            self.dial(target, attempt.request, attempt.redirects + 1);
            return Poll::Ready(None);
        }
        let content_type = find("content-type");
        let framing = framing(&headers);
        self.source.handle_response(status, content_type, now);
        match (self.source.ready_state(), framing) {
            (ReadyState::Open, Some(framing)) => {
                buf.advance(consumed);
                if buf.is_empty() {
                    self.state = State::Body { io, buf, framing };
                } else {
                    self.on_body_bytes(io, buf, framing, now);
                }
            }
            // A malformed Content-Length: the body cannot be delimited.
            (ReadyState::Open, None) => self.disconnect(),
            // Refused: the machine queued the error; the connection is dropped.
            _ => {}
        }
        Poll::Ready(None)
    }

    /// Passes body bytes through the framing to the machine.
    fn on_body_bytes(&mut self, io: D::Io, mut buf: BytesMut, mut framing: Framing, now: Duration) {
        let source = &mut self.source;
        let ended = match &mut framing {
            Framing::Close => {
                source.handle_body(&buf, now);
                buf.clear();
                Ok(false)
            }
            Framing::Length(left) => {
                let take = usize::try_from(*left).map_or(buf.len(), |left| left.min(buf.len()));
                source.handle_body(&buf[..take], now);
                buf.clear();
                *left -= take as u64;
                Ok(*left == 0)
            }
            Framing::Chunked(decoder) => {
                let result = decoder.decode(&buf, |data| source.handle_body(data, now));
                buf.clear();
                result.map(|end| end.is_some())
            }
        };
        match ended {
            Ok(false) if self.source.ready_state() == ReadyState::Open => {
                self.state = State::Body { io, buf, framing };
            }
            // The machine gave up on this connection (a parser limit): drop it.
            Ok(false) => {}
            // The body ended, or its framing is broken: both end the connection.
            Ok(true) | Err(_) => self.disconnect(),
        }
    }
}

/// The body framing of a response (RFC 9112 §6.3); `None` if it cannot be known.
fn framing(headers: &[(&str, &[u8])]) -> Option<Framing> {
    let values = |name: &'static str| {
        // Comma-separated lists, possibly spread over several fields.
        headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(|&b| b == b','))
            .map(|v| v.trim_ascii())
    };
    // "If a Transfer-Encoding header field is present and the chunked transfer
    // coding is the final encoding, the message body length is determined by
    // reading and decoding the chunked data"; otherwise, in a response, "by
    // reading the connection until it is closed by the server".
    if let Some(last) = values("transfer-encoding").next_back() {
        return Some(if last.eq_ignore_ascii_case(b"chunked") {
            Framing::Chunked(chunked::Decoder::new())
        } else {
            Framing::Close
        });
    }
    // Content-Length = 1*DIGIT; a list of identical values is one value.
    let mut length = None;
    for value in values("content-length") {
        let n = std::str::from_utf8(value)
            .ok()
            .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|v| v.parse::<u64>().ok())?;
        if length.is_some_and(|l| l != n) {
            return None;
        }
        length = Some(n);
    }
    Some(length.map_or(Framing::Close, Framing::Length))
}

/// Writes and flushes `buf`, consuming it.
fn poll_write_all<S: Transport>(
    io: &mut S,
    cx: &mut Context<'_>,
    buf: &mut BytesMut,
) -> Poll<io::Result<()>> {
    while !buf.is_empty() {
        let n = ready!(io.poll_write_vectored(cx, &[IoSlice::new(buf)]))?;
        if n == 0 {
            return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
        }
        buf.advance(n);
    }
    io.poll_flush(cx)
}

impl<D: Dial> Unpin for EventSource<D> {}

impl<D: Dial> Stream for EventSource<D> {
    type Item = Result<MessageEvent, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if this.finished {
                return Poll::Ready(None);
            }
            while let Some(event) = this.source.poll_event() {
                match event {
                    SourceEvent::Connect(request) => {
                        let url = this.url.clone();
                        this.dial(url, request, 0);
                    }
                    SourceEvent::Message(message) => return Poll::Ready(Some(Ok(message))),
                    SourceEvent::Error {
                        ready_state: ReadyState::Closed,
                        cause,
                    } => {
                        this.state = State::Idle;
                        this.finished = true;
                        return Poll::Ready(match cause {
                            // "204 No Content" is how a server says: stop.
                            Cause::Status(204) => None,
                            Cause::Status(status) => Some(Err(Error::Status(status))),
                            Cause::ContentType => Some(Err(Error::ContentType)),
                            _ => None,
                        });
                    }
                    // The current connection is over; a reconnection is scheduled.
                    SourceEvent::Error { .. } => this.state = State::Idle,
                    // Open, comments: nothing to do.
                    _ => {}
                }
            }
            if let Some(error) = ready!(this.poll_attempt(cx)) {
                return this.fail(error);
            }
        }
    }
}
