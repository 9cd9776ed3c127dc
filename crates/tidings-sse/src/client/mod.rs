//! The byte-level client: an [`EventSource`] with the sliver of HTTP/1.1 an event
//! stream needs, still without I/O.
//!
//! # Why it is built this way
//!
//! An event stream is one long `GET`: a request head, a response head, a body framed
//! one of three ways (RFC 9112 §6.3), and redirects before it. A whole HTTP client
//! would be weight without use, and where one is already there (hyper, an HTTP/2
//! stack), it sends the request and parses the head itself: the client then works a
//! level up ([`Client::handle_response`], [`Client::handle_body`]), so that what a
//! driver does with the `EventSource` (which request fields, which response ends it,
//! the connect timeout) is decided here once for both. So the layers are:
//!
//! ```text
//!   Client  (this module: HTTP/1.1)                     EventSource (no HTTP)
//!   ┌────────────────────────────────────────┐          ┌─────────────────────────┐
//!   │ url: parse, Host, join a Location      │          │ readyState, Last-Event- │
//!   │ request head  ── poll_transmit ──►     │ Connect  │ ID, retry, backoff,     │
//!   │ response::HeadParser (linear, httparse)│ ◄─────── │ read timeout, the       │
//!   │ redirects, credentials, connect timer  │ status,  │ stream parser           │
//!   │ framing: chunked / length / close ─────┼────────► │ handle_response / body  │
//!   └────────────────────────────────────────┘ body     └─────────────────────────┘
//! ```
//!
//! The client never decides what the `EventSource` decides (what to do with a status,
//! when to reconnect, what `Last-Event-ID` to send); it turns bytes into what the
//! `EventSource` takes and the `EventSource`'s requests into bytes. Everything that
//! goes wrong in HTTP is an [`Error`] handed to [`EventSource::handle_error`]: a network
//! error, hence a reconnection, except for the redirect errors, where retrying is
//! futile.
//!
//! # Theory of operation
//!
//! The client is in one of four stages:
//!
//! ```text
//!   Idle ──(EventSource: Connect)──► Connecting ──handle_connected──► Head
//!    ▲                                   ▲  (Event::Connect(url))      │ poll_transmit: request
//!    │                                   │                             │ handle_bytes: head
//!    │                                   └────── 3xx + Location ◄──────┤
//!    │                                          (next hop)             │ 1xx: next head
//!    │                                                                 ▼
//!    └── any Event::Error (disconnect, timeout, bad framing) ◄──── Body (framing)
//! ```
//!
//! Invariants:
//!
//! * At most one connection is wanted at a time: [`Event::Connect`] replaces the
//!   current one, and every [`Event::Error`] ends it.
//! * The connect deadline covers one hop: dialling, sending the request and receiving
//!   the response head. Once the body flows, the `EventSource`'s read timeout takes
//!   over.
//! * A redirect to another origin drops `Authorization`, `Cookie` and
//!   `Proxy-Authorization` for that hop and the hops after it, within one attempt; a
//!   reconnection starts again from the configured URL with all the headers.
//! * Head work is linear in its bytes and the head is bounded
//!   ([`Config::max_head_size`], [`Config::max_headers`]); the chunked decoder keeps a
//!   few counters; the body is never buffered here.

pub(crate) mod chunked;
mod response;
pub(crate) mod url;

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};

use crate::event_source::{self, EventSource, Request};
use crate::{Cause, Error, LocalError, MessageEvent, RandomSource, ReadyState, Status, Warning};
use response::{Framing, HeadParser, Limits};

pub use chunked::ChunkedError;
pub use url::{Url, UrlError};

/// Settings of a [`Client`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// The `EventSource`'s settings: parser limits (16 MiB lines and events by
    /// default), reconnection time (3 s) and its bounds, backoff, read timeout (45 s).
    pub event_source: event_source::Config,
    /// Extra request headers (e.g. `Authorization`), sent on every request. Names
    /// must be tokens, values visible ASCII, space or tab; `Host`, `Last-Event-ID`
    /// and the framing and connection headers are the client's own. `Authorization`,
    /// `Cookie` and `Proxy-Authorization` do not follow a redirect to another origin.
    pub headers: Vec<(String, String)>,
    /// How many redirects one attempt follows. Default 5 (browsers allow 20; an event
    /// stream rarely needs more than one).
    pub max_redirects: u8,
    /// The largest response head accepted, in bytes, interim `1xx` heads included.
    /// Default 16 KiB.
    pub max_head_size: usize,
    /// The most response header fields accepted. Default 64.
    pub max_headers: usize,
    /// How long dialling, sending the request and receiving the response head may
    /// take, per hop; past it the attempt is a network error
    /// ([`Error::ConnectTimeout`]), so a reconnection. Default 10 s.
    pub connect_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            event_source: event_source::Config::default(),
            headers: Vec::new(),
            max_redirects: 5,
            max_head_size: 16 * 1024,
            max_headers: 64,
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// What the [`Client`] asks of its caller, or tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// Drop the current connection, if any, and open one to `url.host()` and
    /// `url.port()`, with TLS (server name `url.host()`) if `url.is_https()`; then
    /// [`Client::handle_connected`], or [`Client::handle_disconnect`] if it failed.
    /// For the first request, each redirect hop and each reconnection.
    Connect(Url),
    /// The `open` event: the stream was accepted; `readyState` is `OPEN`.
    Open,
    /// A dispatched event: the `message` event, or the type the server named.
    Message(MessageEvent),
    /// A comment line, when the parser's `comments` option is on.
    Comment(String),
    /// The `error` event. Drop the current connection. With `ready_state`
    /// [`Connecting`](ReadyState::Connecting), a reconnection is scheduled; with
    /// [`Closed`](ReadyState::Closed) the `EventSource` failed for good.
    Error {
        /// `readyState` after the error.
        ready_state: ReadyState,
        /// What went wrong.
        cause: Cause,
    },
    /// Something the application should log; the client carries on.
    Warning(Warning),
}

/// The header names an application may not set: the client writes `Host` and
/// `Last-Event-ID` itself, and the others would change the request's framing or its
/// connection (RFC 9110 §7.6.1, RFC 9112 §6).
const FORBIDDEN_HEADERS: [&str; 10] = [
    "host",
    "last-event-id",
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
    "keep-alive",
    "te",
    "trailer",
    "expect",
];

/// The headers that do not follow a redirect to another origin (Fetch's HTTP-redirect
/// fetch removes `Authorization`; curl also drops `Cookie`, and a proxy credential
/// means nothing to another server).
const CREDENTIALS: [&str; 3] = ["authorization", "cookie", "proxy-authorization"];

/// The sans-IO `EventSource` client over HTTP/1.1: bytes in, bytes and events out.
///
/// # Call order
///
/// 1. Create it with [`Client::new`] (or [`Client::with_random_source`]), giving the
///    time. It queues [`Event::Connect`] for the URL.
/// 2. After every call below, drain [`poll_event`](Self::poll_event) until `None`,
///    acting on each event in order: on [`Event::Connect`], drop any connection and
///    open the one asked for; on [`Event::Error`], drop the connection.
/// 3. Once the connection is open: [`handle_connected`](Self::handle_connected), then
///    write everything [`poll_transmit`](Self::poll_transmit) returns.
/// 4. Feed every byte read from the connection to
///    [`handle_bytes`](Self::handle_bytes), in order.
/// 5. When the connection fails to open, fails, or the server closes it (a read of
///    zero bytes): [`handle_disconnect`](Self::handle_disconnect).
/// 6. Whenever [`poll_timeout`](Self::poll_timeout) is `Some(deadline)`, call
///    [`handle_timeout`](Self::handle_timeout) once `now >= deadline`.
/// 7. [`close`](Self::close) to stop for good (then drop the connection).
///
/// With an HTTP stack of the caller's (HTTP/2, hyper), steps 3 and 4 are a level up:
/// on [`Event::Connect`] send a `GET` of the URL with
/// [`request_headers`](Self::request_headers), then report the response head with
/// [`handle_response`](Self::handle_response) and the body pieces with
/// [`handle_body`](Self::handle_body); the rest is the same.
///
/// `now` is a [`Duration`] since an epoch of the caller's choosing, the same for
/// every call.
///
/// ```
/// use core::time::Duration;
/// use tidings_sse::{Client, Event, client::Config};
///
/// let now = Duration::ZERO;
/// let no_jitter = |buf: &mut [u8]| buf.fill(0);
/// let mut client =
///     Client::with_random_source("http://example.com/events", Config::default(), no_jitter, now)?;
/// let Some(Event::Connect(url)) = client.poll_event() else { unreachable!() };
/// assert_eq!((url.host(), url.port(), url.is_https()), ("example.com", 80, false));
///
/// // Connected: the request goes out.
/// client.handle_connected();
/// let request = client.poll_transmit().unwrap();
/// assert_eq!(
///     &request[..],
///     b"GET /events HTTP/1.1\r\nHost: example.com\r\nAccept: text/event-stream\r\n\
///       Cache-Control: no-store\r\n\r\n"
/// );
///
/// // The response, in two reads.
/// client.handle_bytes(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n", now);
/// client.handle_bytes(b"\r\nid: 1\ndata: hello\n\n", now);
/// assert_eq!(client.poll_event(), Some(Event::Open));
/// let Some(Event::Message(message)) = client.poll_event() else { unreachable!() };
/// assert_eq!((message.data(), message.last_event_id()), ("hello", "1"));
///
/// // The server closes: a reconnection after the reconnection time, resuming after 1.
/// client.handle_disconnect(now);
/// assert!(matches!(client.poll_event(), Some(Event::Error { .. })));
/// let deadline = client.poll_timeout().unwrap();
/// assert_eq!(deadline, Duration::from_secs(3));
/// client.handle_timeout(deadline);
/// assert!(matches!(client.poll_event(), Some(Event::Connect(_))));
/// client.handle_connected();
/// let request = client.poll_transmit().unwrap();
/// assert!(request.ends_with(b"\r\nLast-Event-ID: 1\r\n\r\n"));
/// # Ok::<(), tidings_sse::LocalError>(())
/// ```
pub struct Client {
    config: Config,
    /// The URL given: every attempt starts here.
    url: Url,
    source: EventSource,
    stage: Stage,
    /// What the `EventSource` asked for in its last `Connect`.
    request: Request,
    /// The response head of the current connection; its buffer is reused.
    head: HeadParser,
    /// The request head, until taken by `poll_transmit`.
    transmit: Option<Bytes>,
    /// A stream was accepted once (an [`Event::Open`] went out).
    opened: bool,
    events: VecDeque<Event>,
}

/// Where the current connection is.
#[derive(Debug)]
enum Stage {
    /// No connection: the `EventSource` is waiting to reconnect, or closed.
    Idle,
    /// `Event::Connect` is out; waiting for `handle_connected`.
    Connecting(Hop),
    /// The request is out; reading the response head.
    Head(Hop),
    /// The stream was accepted; its body goes through the framing.
    Body(Framing),
}

/// One request of an attempt: the first, or one after a redirect.
#[derive(Debug)]
struct Hop {
    url: Url,
    /// Redirects followed so far in this attempt.
    redirects: u8,
    /// A redirect crossed origins: the credentials stay behind.
    strip_credentials: bool,
    /// When the hop gives up without a response head.
    deadline: Duration,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("url", &self.url)
            .field("source", &self.source)
            .field("stage", &self.stage)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for `url`, at time `now`, with its first [`Event::Connect`] queued.
    ///
    /// Jitter comes from the OS ([`OsRandom`](crate::OsRandom)) with the `std`
    /// feature; without it the jitter is zero unless you use
    /// [`Client::with_random_source`].
    ///
    /// # Errors
    ///
    /// [`LocalError::InvalidUrl`] for a URL that is not `http://` or `https://`;
    /// [`LocalError::InvalidHeader`] or [`LocalError::ForbiddenHeader`] for a
    /// [`Config::headers`] entry that cannot be sent.
    pub fn new(url: &str, config: Config, now: Duration) -> Result<Self, LocalError> {
        #[cfg(feature = "std")]
        let random = crate::OsRandom;
        #[cfg(not(feature = "std"))]
        let random = |buf: &mut [u8]| buf.fill(0);
        Self::with_random_source(url, config, random, now)
    }

    /// A client drawing its reconnection jitter from `random`.
    ///
    /// # Errors
    ///
    /// As for [`Client::new`].
    pub fn with_random_source(
        url: &str,
        config: Config,
        random: impl RandomSource + Send + 'static,
        now: Duration,
    ) -> Result<Self, LocalError> {
        let url = Url::parse(url)?;
        for (name, value) in &config.headers {
            check_header(name, value)?;
        }
        let source = EventSource::with_random_source(config.event_source, random);
        let mut client = Self {
            config,
            url,
            source,
            stage: Stage::Idle,
            request: Request::empty(),
            head: HeadParser::default(),
            transmit: None,
            opened: false,
            events: VecDeque::new(),
        };
        client.relay(now);
        Ok(client)
    }

    /// The URL given to [`new`](Self::new): reconnections go there, not to a redirect
    /// target.
    #[must_use]
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
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

    /// The reconnection time: the server's last `retry` (within bounds), or the
    /// configured one.
    #[must_use]
    pub fn reconnection_time(&self) -> Duration {
        self.source.reconnection_time()
    }

    /// Whether a stream was ever accepted ([`Event::Open`]). Until then a request that
    /// fails may be a wrong URL, a server that is not there or speaks something else:
    /// worth showing to the application; after, it is a reconnection like any other.
    #[must_use]
    pub fn has_opened(&self) -> bool {
        self.opened
    }

    /// The request header fields of the current request, in the order to send them,
    /// `Host` aside: the `EventSource`'s (`Accept`, `Cache-Control`, and
    /// `Last-Event-ID` when resuming), then [`Config::headers`] (without the
    /// credentials after a redirect to another origin). For an HTTP stack of the
    /// caller's, which writes `Host` or `:authority` from the URL of
    /// [`Event::Connect`]; see [`handle_response`](Self::handle_response).
    pub fn request_headers(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        let strip = match &self.stage {
            Stage::Connecting(hop) | Stage::Head(hop) => hop.strip_credentials,
            Stage::Idle | Stage::Body(_) => false,
        };
        self.fields(strip)
    }

    /// Reports that the connection asked for by the last [`Event::Connect`] is open
    /// (TLS included): the request is ready for [`poll_transmit`](Self::poll_transmit).
    pub fn handle_connected(&mut self) {
        let Stage::Connecting(hop) = core::mem::replace(&mut self.stage, Stage::Idle) else {
            return;
        };
        self.transmit = Some(self.encode_request(&hop));
        self.stage = Stage::Head(hop);
    }

    /// Reports the response head to the request of the last [`Event::Connect`], when
    /// an HTTP stack of the caller's (HTTP/2, hyper) sent that request and parsed the
    /// answer, instead of [`handle_connected`](Self::handle_connected),
    /// [`poll_transmit`](Self::poll_transmit) and [`handle_bytes`](Self::handle_bytes).
    /// `content_type` is the `Content-Type` value, if any.
    ///
    /// The request is a `GET` of the URL with [`request_headers`](Self::request_headers).
    /// The stack frames the body: hand its pieces to [`handle_body`](Self::handle_body),
    /// and report its end, or a failure before or after the head, with
    /// [`handle_disconnect`](Self::handle_disconnect). No redirect is followed in this
    /// mode: a `3xx`, like any status but `200`, fails the `EventSource`. The connect
    /// timeout runs from the `Connect` to this call.
    pub fn handle_response(&mut self, status: u16, content_type: Option<&[u8]>, now: Duration) {
        if let Stage::Connecting(_) | Stage::Head(_) = self.stage {
            self.stage = Stage::Idle;
            self.respond(status, content_type, Framing::Close, now);
            self.relay(now);
        }
    }

    /// Reports a piece of the body of the response given to
    /// [`handle_response`](Self::handle_response), as the caller's HTTP stack framed it.
    pub fn handle_body(&mut self, bytes: &[u8], now: Duration) {
        if let Stage::Body(framing) = &mut self.stage {
            on_body(&mut self.source, framing, bytes, now);
            self.relay(now);
        }
    }

    /// Reports bytes read from the connection.
    pub fn handle_bytes(&mut self, mut bytes: &[u8], now: Duration) {
        loop {
            match &mut self.stage {
                Stage::Head(_) => {
                    let limits = Limits {
                        max_size: self.config.max_head_size,
                        max_headers: self.config.max_headers,
                    };
                    match self.head.parse(bytes, limits) {
                        Ok(Status::Partial) => break,
                        Ok(Status::Complete((head, n))) => {
                            bytes = &bytes[n..];
                            if !self.on_head(head, now) {
                                break;
                            }
                        }
                        Err(error) => {
                            self.network_error(error, now);
                            break;
                        }
                    }
                }
                Stage::Body(framing) => {
                    on_body(&mut self.source, framing, bytes, now);
                    break;
                }
                Stage::Idle | Stage::Connecting(_) => break,
            }
        }
        self.relay(now);
    }

    /// Reports that the connection is gone or never came: it could not be opened, it
    /// failed, or the server closed it. A reconnection follows (an
    /// [`Event::Error`]), unless the client was already between connections.
    pub fn handle_disconnect(&mut self, now: Duration) {
        if !matches!(self.stage, Stage::Idle) {
            self.stage = Stage::Idle;
            self.source.handle_disconnect(now);
            self.relay(now);
        }
    }

    /// Fires what is due at `now`: the connect timeout, the read timeout, the
    /// scheduled reconnection.
    pub fn handle_timeout(&mut self, now: Duration) {
        if let Stage::Connecting(hop) | Stage::Head(hop) = &self.stage {
            if now >= hop.deadline {
                self.network_error(Error::ConnectTimeout, now);
            }
        }
        self.source.handle_timeout(now);
        self.relay(now);
    }

    /// Closes for good, like `EventSource.close()`: `CLOSED`, no `error` event, events
    /// not yet polled are dropped. Drop the connection.
    pub fn close(&mut self) {
        self.source.close();
        self.stage = Stage::Idle;
        self.transmit = None;
        self.events.clear();
    }

    /// The next thing to do or to tell the application.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The bytes to write on the connection: the request head, once per connection.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.transmit.take()
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next, on the scale of the
    /// `now` values passed in; `None` when nothing is scheduled (closed).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Duration> {
        let hop = match &self.stage {
            Stage::Connecting(hop) | Stage::Head(hop) => Some(hop.deadline),
            _ => None,
        };
        match (hop, self.source.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Moves what the `EventSource` said to the client's queue, starting a hop when it
    /// asks for a connection and dropping the connection on an error.
    fn relay(&mut self, now: Duration) {
        while let Some(event) = self.source.poll_event() {
            let event = match event {
                event_source::Event::Connect(request) => {
                    self.request = request;
                    self.start_hop(self.url.clone(), 0, false, now);
                    continue;
                }
                event_source::Event::Open => {
                    self.opened = true;
                    Event::Open
                }
                event_source::Event::Message(message) => Event::Message(message),
                event_source::Event::Comment(text) => Event::Comment(text),
                event_source::Event::Warning(warning) => Event::Warning(warning),
                event_source::Event::Error { ready_state, cause } => {
                    self.stage = Stage::Idle;
                    self.transmit = None;
                    Event::Error { ready_state, cause }
                }
            };
            self.events.push_back(event);
        }
    }

    /// Asks for a connection to `url`.
    fn start_hop(&mut self, url: Url, redirects: u8, strip_credentials: bool, now: Duration) {
        self.head.reset();
        self.transmit = None;
        self.events.push_back(Event::Connect(url.clone()));
        self.stage = Stage::Connecting(Hop {
            url,
            redirects,
            strip_credentials,
            deadline: now.saturating_add(self.config.connect_timeout),
        });
    }

    /// A failure of the current connection that the server caused.
    fn network_error(&mut self, error: Error, now: Duration) {
        self.stage = Stage::Idle;
        self.source.handle_error(error, now);
    }

    /// Acts on a complete response head. Returns `true` when the rest of the input
    /// belongs to this connection still (an interim response, or the body).
    fn on_head(&mut self, head: response::Head, now: Duration) -> bool {
        let Stage::Head(hop) = core::mem::replace(&mut self.stage, Stage::Idle) else {
            return false;
        };
        // "A client MUST be able to parse one or more 1xx responses received prior to
        // a final response" (RFC 9110 §15.2); 101 is final here, since nothing asked
        // for an upgrade.
        if (100..200).contains(&head.status) && head.status != 101 {
            self.head.next_head();
            self.stage = Stage::Head(hop);
            return true;
        }
        if response::is_redirect(head.status) {
            self.redirect(hop, head.location.as_deref(), now);
            return false;
        }
        let framing = match head.framing {
            Ok(framing) => framing,
            Err(error) => {
                self.network_error(error, now);
                return false;
            }
        };
        let content_type: Option<&[u8]> = if head.event_stream {
            Some(crate::head::MIME_TYPE.as_bytes())
        } else {
            None
        };
        self.respond(head.status, content_type, framing, now)
    }

    /// Hands a final response head to the `EventSource`; when it accepts the stream,
    /// the body follows in `framing`. Returns whether it did.
    fn respond(
        &mut self,
        status: u16,
        content_type: Option<&[u8]>,
        framing: Framing,
        now: Duration,
    ) -> bool {
        self.source.handle_response(status, content_type, now);
        let open = self.source.ready_state() == ReadyState::Open;
        if open {
            self.stage = Stage::Body(framing);
        }
        open
    }

    /// Follows a redirect (Fetch's "HTTP-redirect fetch"), or fails.
    fn redirect(&mut self, hop: Hop, location: Option<&str>, now: Duration) {
        let Some(target) = location.and_then(|location| hop.url.join(location).ok()) else {
            return self.network_error(Error::InvalidRedirect, now);
        };
        if hop.url.is_https() && !target.is_https() {
            return self.network_error(Error::RedirectDowngrade, now);
        }
        if hop.redirects >= self.config.max_redirects {
            let limit = usize::from(self.config.max_redirects);
            return self.network_error(Error::TooManyRedirects { limit }, now);
        }
        // "If request's current URL's origin is not same origin with locationURL's
        // origin, then for each headerName of CORS non-wildcard request-header name,
        // delete headerName from request's header list."
        let strip = hop.strip_credentials || !hop.url.same_origin(&target);
        if strip && !hop.strip_credentials && self.has_credentials() {
            self.events
                .push_back(Event::Warning(Warning::CredentialsNotForwarded));
        }
        self.start_hop(target, hop.redirects + 1, strip, now);
    }

    fn has_credentials(&self) -> bool {
        self.config
            .headers
            .iter()
            .any(|(name, _)| is_credential(name))
    }

    /// The request head for `hop`: RFC 9112 §3, origin-form.
    fn encode_request(&self, hop: &Hop) -> Bytes {
        let mut out = BytesMut::with_capacity(256);
        out.put_slice(b"GET ");
        out.put_slice(hop.url.target().as_bytes());
        out.put_slice(b" HTTP/1.1\r\n");
        // The URL was checked by `Url::parse` (visible ASCII), Last-Event-ID by the
        // stream parser (no CR, LF or NUL), the extra headers by `new`.
        let mut line = |name: &str, value: &[u8]| {
            out.put_slice(name.as_bytes());
            out.put_slice(b": ");
            out.put_slice(value);
            out.put_slice(b"\r\n");
        };
        line("Host", hop.url.host_header().as_bytes());
        for (name, value) in self.fields(hop.strip_credentials) {
            line(name, value.as_bytes());
        }
        out.put_slice(b"\r\n");
        out.freeze()
    }

    /// The request fields but `Host`: the `EventSource`'s, then the configured ones,
    /// credentials left out when `strip`.
    fn fields(&self, strip: bool) -> impl Iterator<Item = (&str, &str)> + '_ {
        let configured = self.config.headers.iter();
        let configured = configured.map(|(name, value)| (name.as_str(), value.as_str()));
        let request = self
            .request
            .headers()
            .map(|(name, value)| (name as &str, value));
        request.chain(configured.filter(move |(name, _)| !(strip && is_credential(name))))
    }
}

/// Passes body bytes through the framing to the `EventSource`.
fn on_body(source: &mut EventSource, framing: &mut Framing, bytes: &[u8], now: Duration) {
    let ended = match framing {
        Framing::Close => {
            source.handle_body(bytes, now);
            Ok(false)
        }
        Framing::Length(left) => {
            let take = usize::try_from(*left).map_or(bytes.len(), |left| left.min(bytes.len()));
            source.handle_body(&bytes[..take], now);
            *left -= take as u64;
            Ok(*left == 0)
        }
        Framing::Chunked(decoder) => decoder
            .decode(bytes, |data| source.handle_body(data, now))
            .map(|end| end.is_some())
            .map_err(Error::Chunked),
    };
    match ended {
        Ok(false) => {}
        // The body is over: "reestablish the connection", as for a closed one.
        Ok(true) => source.handle_disconnect(now),
        Err(error) => source.handle_error(error, now),
    }
}

/// Checks an extra request header: `field-name = token`, `field-value` of visible
/// ASCII, space and tab (RFC 9110 §5.1, §5.5; `obs-text` refused), not one the
/// client owns.
fn check_header(name: &str, value: &str) -> Result<(), LocalError> {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    let name_ok = !name.is_empty() && name.bytes().all(token);
    let value_ok = value
        .bytes()
        .all(|b| b.is_ascii_graphic() || b == b' ' || b == b'\t');
    if !name_ok || !value_ok {
        return Err(LocalError::InvalidHeader);
    }
    if FORBIDDEN_HEADERS
        .iter()
        .any(|forbidden| name.eq_ignore_ascii_case(forbidden))
    {
        return Err(LocalError::ForbiddenHeader);
    }
    Ok(())
}

fn is_credential(name: &str) -> bool {
    CREDENTIALS
        .iter()
        .any(|credential| name.eq_ignore_ascii_case(credential))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_checks() {
        for (name, value) in [("X-A", "b c\td"), ("Authorization", "Bearer x"), ("a", "")] {
            assert_eq!(check_header(name, value), Ok(()), "{name}");
        }
        for (name, value) in [
            ("", "x"),
            ("Bad Name", "x"),
            ("Bad\r\nName", "x"),
            ("X", "a\r\nInjected: y"),
            ("X", "caf\u{e9}"),
            ("X", "nul\0"),
        ] {
            assert_eq!(
                check_header(name, value),
                Err(LocalError::InvalidHeader),
                "{name:?}"
            );
        }
        for name in [
            "Host",
            "last-event-id",
            "Content-Length",
            "TRANSFER-ENCODING",
        ] {
            assert_eq!(
                check_header(name, "x"),
                Err(LocalError::ForbiddenHeader),
                "{name}"
            );
        }
    }
}
