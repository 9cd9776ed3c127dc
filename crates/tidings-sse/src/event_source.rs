//! The `EventSource` processing model (WHATWG HTML, §9.2.2–§9.2.3), without the I/O and
//! without HTTP.
//!
//! # Theory of operation
//!
//! An [`EventSource`] decides *when* to connect, *what* to ask for, *whether* a
//! response is acceptable and *how long* to wait before trying again. The caller does
//! the connecting and the reading, and tells the machine what happened through
//! `handle_*` calls that carry `now`, a [`Duration`] since an epoch of the caller's
//! choosing. The machine never reads a clock, never draws its own randomness (see
//! [`RandomSource`]) and never blocks, so a whole reconnect-with-backoff history runs
//! in a unit test in microseconds.
//!
//! It knows nothing of HTTP/1.1: it takes a status, a `Content-Type` and body pieces,
//! which any HTTP stack hands out (hyper, an HTTP/2 binding). [`Client`](crate::Client)
//! is this machine with the HTTP/1.1 an event stream needs on top.
//!
//! The machine is always in one of four stages; `readyState` follows from the stage
//! and is never stored separately, so the two cannot disagree:
//!
//! ```text
//!            new()                      handle_response(200, text/event-stream)
//!   ──────► Requesting ─────────────────────────────────────────► Streaming
//!   Connect    │  ▲  (CONNECTING)                                 (OPEN)  │
//!              │  │ handle_timeout(now >= deadline): Connect              │
//!              │  │                                                       │
//!              │  Waiting ◄──── handle_disconnect / handle_error ─────────┘
//!              │  (CONNECTING)  / limit / read timeout: "reestablish the connection"
//!              │      ▲
//!              │      └──────── handle_disconnect / handle_error (network error)
//!              ▼
//!   other status or type, a futile error: "fail the connection" ──► Closed (CLOSED)
//!   close() from any stage ────────────────────────────────────────► Closed
//! ```
//!
//! Invariants:
//!
//! * [`Event::Connect`] is only emitted on entering `Requesting`, so at most one
//!   request is asked for at a time.
//! * Every [`Event::Error`] means the current connection, if any, is over: the
//!   transport must drop it. Its `ready_state` says whether a `Connect` will follow
//!   (`Connecting`) or never again (`Closed`).
//! * Inputs that do not fit the stage (a body while `Waiting`, anything after `Closed`)
//!   are ignored: they are late news about a connection the machine already gave up.
//! * Once `Closed`, nothing more is emitted; [`EventSource::close`] also drops events
//!   not yet polled, as the spec's queued tasks check for `CLOSED` before firing.
//! * No server can make the client spin or stall: its `retry` is kept within
//!   [`Config::min_reconnection_time`] and [`Config::max_reconnection_time`], and an
//!   open stream that stays silent for [`Config::read_timeout`] is a network error.
//!
//! # Reconnection delay
//!
//! "Wait a delay equal to the reconnection time of the event source. Optionally, wait
//! some more. In particular, if the previous attempt failed, then user agents might
//! introduce an exponential backoff delay to avoid overloading a potentially already
//! overloaded server."
//!
//! * After a stream that was *established* (accepted with `200` and
//!   `text/event-stream`), the wait is the reconnection time: the server's `retry`, or
//!   [`Config::reconnection_time`]. Opening a stream resets the failure count.
//! * After an attempt that *failed* (no accepted response: a refused connection, a
//!   timeout, a malformed response), with [`Backoff`] the wait is
//!   `max(retry, min(retry × 2^failures, max_delay))`, `failures` counting the failed
//!   attempts since the last established stream.
//! * Up to [`Backoff::jitter_percent`] of the wait is added at random, so clients that
//!   a restart dropped together do not return together. Jitter only adds: the wait is
//!   never less than the reconnection time.

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::string::String;
use core::fmt;
use core::time::Duration;

use crate::head::{self, REQUEST_HEADERS};
use crate::parse::{self, Item, MessageEvent, Parser};
use crate::{Error, RandomSource};

/// The `readyState` of an `EventSource`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReadyState {
    /// `CONNECTING` (0): a request is under way or a reconnection is scheduled.
    Connecting,
    /// `OPEN` (1): a stream was accepted and events are flowing.
    Open,
    /// `CLOSED` (2): failed or closed for good; nothing will happen any more.
    Closed,
}

/// Settings of an [`EventSource`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Limits and options of the stream parser.
    pub parser: parse::Config,
    /// The reconnection time before the server sets one with `retry`. The spec leaves
    /// it "implementation-defined, probably in the region of a few seconds"; the
    /// default is Chromium's, 3 s. (It is the application's choice, so the bounds
    /// below do not apply to it.)
    pub reconnection_time: Duration,
    /// The shortest reconnection time a server can set with `retry`; a smaller value
    /// is raised to it, with a [`Warning::RetryClamped`]. Default 100 ms: every wait a
    /// browser honours from 100 ms up is honoured as is (Chromium has no floor,
    /// Firefox's is 500 ms), and a server that sends `retry: 0` and closes after each
    /// event gets at most 10 requests a second from each client instead of thousands.
    pub min_reconnection_time: Duration,
    /// The longest reconnection time a server can set with `retry`; a larger value is
    /// lowered to it, with a [`Warning::RetryClamped`]. Default 10 minutes: a server
    /// that wants clients gone for longer answers `204 No Content`.
    pub max_reconnection_time: Duration,
    /// Exponential backoff after failed attempts. Default: on, see [`Backoff`]. `None`
    /// waits exactly the reconnection time, every time.
    pub backoff: Option<Backoff>,
    /// An open stream that brings no body bytes for this long is a network error
    /// ([`Error::ReadTimeout`]), and the client reconnects. Default 45 s, three times
    /// the usual keep-alive interval of servers (15 s); `None` waits forever.
    pub read_timeout: Option<Duration>,
    /// The longest last event ID sent back as `Last-Event-ID`, in bytes. A longer one
    /// is not sent (the request goes without `Last-Event-ID`, as if the ID were empty,
    /// and the server starts as for a new client), with a
    /// [`Warning::LastEventIdNotSent`]. Default 4 KiB: half the smallest header line
    /// limit of common servers (8 KiB), where a 16 MiB `id` line would otherwise be
    /// replayed on every reconnection, redirects included.
    pub max_last_event_id_len: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            parser: parse::Config::default(),
            reconnection_time: Duration::from_secs(3),
            min_reconnection_time: Duration::from_millis(100),
            max_reconnection_time: Duration::from_secs(600),
            backoff: Some(Backoff::default()),
            read_timeout: Some(Duration::from_secs(45)),
            max_last_event_id_len: 4096,
        }
    }
}

/// How the wait grows when attempts keep failing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Backoff {
    /// The wait doubles with each consecutive failed attempt up to this cap (but never
    /// below the reconnection time). Default 60 s.
    pub max_delay: Duration,
    /// Up to this percentage of the wait is added at random, so that clients dropped
    /// together do not return together. Clamped to 100. Default 50.
    pub jitter_percent: u8,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            max_delay: Duration::from_secs(60),
            jitter_percent: 50,
        }
    }
}

/// What the [`EventSource`] asks of its caller, or tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// Send this request now (the constructor's "fetch", or a reconnection), then
    /// report the response with [`EventSource::handle_response`].
    Connect(Request),
    /// "Announce the connection": the `open` event; `readyState` is now `OPEN`.
    Open,
    /// A dispatched event: the `message` event, or the type the server named.
    Message(MessageEvent),
    /// A comment line, when [`parse::Config::comments`] is on.
    Comment(String),
    /// The `error` event. Drop the current connection, if any. With `ready_state`
    /// [`Connecting`](ReadyState::Connecting) a reconnection is scheduled (see
    /// [`EventSource::poll_timeout`]); with [`Closed`](ReadyState::Closed) the
    /// connection failed for good.
    Error {
        /// `readyState` after the error.
        ready_state: ReadyState,
        /// What went wrong.
        cause: Cause,
    },
    /// Something the application should log; the machine carries on.
    Warning(Warning),
}

/// Why an `error` event was fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cause {
    /// The response body ended, or the connection was lost or could not be made
    /// ("if res is not a network error, then reestablish the connection": even a clean
    /// end reconnects).
    Disconnected,
    /// The response status was not 200 (after redirects). `204 No Content` is how a
    /// server tells clients to stop.
    Status(u16),
    /// The response was a 200 whose `Content-Type` is not `text/event-stream`.
    ContentType,
    /// The server broke a rule or a limit, or went silent: a network error, or, for
    /// the errors where retrying is futile ([`Error::is_fatal`]), the end.
    Error(Error),
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Disconnected => f.write_str("connection closed"),
            Self::Status(status) => write!(f, "server answered status {status}"),
            Self::ContentType => f.write_str("response is not text/event-stream"),
            Self::Error(e) => fmt::Display::fmt(e, f),
        }
    }
}

/// Something the server did that the machine corrected, for the application to log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Warning {
    /// A `retry` outside [`Config::min_reconnection_time`] ..=
    /// [`Config::max_reconnection_time`]: the reconnection time is `used` instead.
    /// Reported once per distinct value.
    RetryClamped {
        /// What the server asked for.
        requested: Duration,
        /// The reconnection time now in force.
        used: Duration,
    },
    /// The last event ID is longer than [`Config::max_last_event_id_len`]: the
    /// reconnection request goes without `Last-Event-ID`. Reported once per ID.
    LastEventIdNotSent {
        /// The ID's length, in bytes.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// A redirect to another origin (scheme, host, port): the configured
    /// `Authorization`, `Cookie` and `Proxy-Authorization` headers are not sent to it,
    /// nor further along this chain of redirects (as Fetch and curl do). Only from
    /// [`Client`](crate::Client).
    CredentialsNotForwarded,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RetryClamped { requested, used } => write!(
                f,
                "server retry of {} ms is out of bounds, waiting {} ms instead",
                requested.as_millis(),
                used.as_millis()
            ),
            Self::LastEventIdNotSent { len, limit } => write!(
                f,
                "last event ID of {len} bytes is over the limit of {limit}, not sent as Last-Event-ID"
            ),
            Self::CredentialsNotForwarded => f.write_str(
                "redirect to another origin: Authorization, Cookie and Proxy-Authorization not forwarded",
            ),
        }
    }
}

/// The request to send for [`Event::Connect`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    last_event_id: Option<String>,
}

impl Request {
    /// A request without `Last-Event-ID`.
    pub(crate) const fn empty() -> Self {
        Self {
            last_event_id: None,
        }
    }

    /// The `Last-Event-ID` to send, if any: only when the last event ID is not empty
    /// (and not over [`Config::max_last_event_id_len`]).
    #[must_use]
    pub fn last_event_id(&self) -> Option<&str> {
        self.last_event_id.as_deref()
    }

    /// The request headers, as name/value pairs: `Accept: text/event-stream`,
    /// `Cache-Control: no-store`, and `Last-Event-ID` when resuming. The transport
    /// adds `Host` and whatever else the application needs.
    pub fn headers(&self) -> impl Iterator<Item = (&'static str, &str)> + '_ {
        let resume = self
            .last_event_id
            .as_deref()
            .map(|id| ("Last-Event-ID", id));
        REQUEST_HEADERS.into_iter().chain(resume)
    }
}

/// Where the machine is; `readyState` is derived from it.
#[derive(Debug)]
enum Stage {
    /// `Event::Connect` was queued; waiting for `handle_response`.
    Requesting,
    /// The response was accepted and its body is being parsed; body bytes last came
    /// at `heard`.
    Streaming { parser: Parser, heard: Duration },
    /// Waiting to reconnect.
    Waiting { until: Duration },
    /// Failed or closed.
    Closed,
}

/// The sans-IO `EventSource`: reconnection logic plus the stream parser, for any HTTP
/// stack (see [`Client`](crate::Client) for one with HTTP/1.1 included).
///
/// # Call order
///
/// 1. Create it with [`EventSource::new`] (or [`EventSource::with_random_source`]).
///    It starts `CONNECTING`, with an [`Event::Connect`] waiting.
/// 2. Drain [`poll_event`](Self::poll_event) after every call below, until `None`.
///    On `Connect`, send an HTTP GET with [`Request::headers`], following redirects.
/// 3. When the final response head arrives: [`handle_response`](Self::handle_response).
/// 4. For each piece of the body: [`handle_body`](Self::handle_body).
/// 5. When the body ends or the connection breaks:
///    [`handle_disconnect`](Self::handle_disconnect); when the response could not be
///    read for a reason the caller can name: [`handle_error`](Self::handle_error).
/// 6. Whenever [`poll_timeout`](Self::poll_timeout) is `Some(deadline)`, call
///    [`handle_timeout`](Self::handle_timeout) once `now >= deadline`.
/// 7. [`close`](Self::close) to stop for good.
///
/// ```
/// use core::time::Duration;
/// use tidings_sse::event_source::{Cause, Config, Event, EventSource, ReadyState};
///
/// let mut source = EventSource::with_random_source(Config::default(), |buf: &mut [u8]| buf.fill(0));
/// let Some(Event::Connect(request)) = source.poll_event() else { unreachable!() };
/// assert_eq!(request.headers().count(), 2); // Accept, Cache-Control
///
/// let now = Duration::ZERO;
/// source.handle_response(200, Some(b"text/event-stream"), now);
/// source.handle_body(b"id: 1\ndata: hi\n\ndata: lost", now);
/// assert_eq!(source.poll_event(), Some(Event::Open));
/// let Some(Event::Message(message)) = source.poll_event() else { unreachable!() };
/// assert_eq!(message.data(), "hi");
///
/// // The connection drops mid-event: the partial event is discarded.
/// source.handle_disconnect(now);
/// let error = Event::Error { ready_state: ReadyState::Connecting, cause: Cause::Disconnected };
/// assert_eq!(source.poll_event(), Some(error));
/// assert_eq!(source.poll_event(), None);
///
/// // After the reconnection time, a new request that resumes after event 1.
/// let deadline = source.poll_timeout().unwrap();
/// assert_eq!(deadline, Duration::from_secs(3));
/// source.handle_timeout(deadline);
/// let Some(Event::Connect(request)) = source.poll_event() else { unreachable!() };
/// assert_eq!(request.last_event_id(), Some("1"));
/// ```
pub struct EventSource {
    config: Config,
    stage: Stage,
    /// The reconnection time: `retry` from the server (within bounds), or the default.
    reconnection_time: Duration,
    /// The last event ID string.
    last_event_id: String,
    /// Failed attempts since the last established stream.
    failures: u32,
    /// The last out-of-bounds `retry` warned about, so a server that repeats it on
    /// every connection is reported once.
    clamped_retry: Option<Duration>,
    /// A too-long last event ID was warned about and has not changed since.
    long_id_reported: bool,
    events: VecDeque<Event>,
    random: Box<dyn RandomSource + Send>,
}

impl fmt::Debug for EventSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventSource")
            .field("ready_state", &self.ready_state())
            .field("stage", &self.stage)
            .field("reconnection_time", &self.reconnection_time)
            .field("last_event_id", &self.last_event_id)
            .field("failures", &self.failures)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

impl EventSource {
    /// A new `EventSource`, `CONNECTING`, with its first [`Event::Connect`] queued.
    ///
    /// Jitter comes from the OS ([`OsRandom`](crate::OsRandom)) with the `std` feature;
    /// without it the jitter is zero unless you use [`EventSource::with_random_source`].
    #[must_use]
    pub fn new(config: Config) -> Self {
        #[cfg(feature = "std")]
        let random = crate::OsRandom;
        #[cfg(not(feature = "std"))]
        let random = |buf: &mut [u8]| buf.fill(0);
        Self::with_random_source(config, random)
    }

    /// A new `EventSource` drawing its jitter from `random`.
    #[must_use]
    pub fn with_random_source(config: Config, random: impl RandomSource + Send + 'static) -> Self {
        let mut source = Self {
            config,
            stage: Stage::Closed,
            reconnection_time: config.reconnection_time,
            last_event_id: String::new(),
            failures: 0,
            clamped_retry: None,
            long_id_reported: false,
            events: VecDeque::new(),
            random: Box::new(random),
        };
        source.connect();
        source
    }

    /// The `readyState`.
    #[must_use]
    pub fn ready_state(&self) -> ReadyState {
        match self.stage {
            Stage::Requesting | Stage::Waiting { .. } => ReadyState::Connecting,
            Stage::Streaming { .. } => ReadyState::Open,
            Stage::Closed => ReadyState::Closed,
        }
    }

    /// The last event ID string, sent as `Last-Event-ID` on reconnection.
    #[must_use]
    pub fn last_event_id(&self) -> &str {
        &self.last_event_id
    }

    /// The reconnection time: the last `retry` the server sent (within
    /// [`Config::min_reconnection_time`] ..= [`Config::max_reconnection_time`]), or the
    /// configured one.
    #[must_use]
    pub fn reconnection_time(&self) -> Duration {
        self.reconnection_time
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Reports the final response head (after redirects) to the request of the last
    /// [`Event::Connect`]. `content_type` is the `Content-Type` value, if any.
    ///
    /// "If res's status is not 200, or if res's `Content-Type` is not
    /// `text/event-stream`, then fail the connection. Otherwise, announce the
    /// connection and interpret res's body line by line."
    pub fn handle_response(&mut self, status: u16, content_type: Option<&[u8]>, now: Duration) {
        if !matches!(self.stage, Stage::Requesting) {
            return;
        }
        if status != 200 {
            self.fail(Cause::Status(status));
        } else if !content_type.is_some_and(head::is_event_stream) {
            self.fail(Cause::ContentType);
        } else {
            // The stream is established: what failed before is forgiven.
            self.failures = 0;
            let parser = Parser::resume(self.config.parser, &self.last_event_id);
            self.stage = Stage::Streaming { parser, heard: now };
            self.events.push_back(Event::Open);
        }
    }

    /// Reports a piece of the response body. Ignored unless `OPEN`.
    pub fn handle_body(&mut self, bytes: &[u8], now: Duration) {
        let Stage::Streaming { parser, heard } = &mut self.stage else {
            return;
        };
        if bytes.is_empty() {
            return;
        }
        *heard = now;
        let mut failure = None;
        for item in parser.feed(bytes) {
            match item {
                Ok(Item::Message(message)) => self.events.push_back(Event::Message(message)),
                Ok(Item::Retry(requested)) => {
                    self.reconnection_time = bound_retry(
                        &self.config,
                        requested,
                        &mut self.clamped_retry,
                        &mut self.events,
                    );
                }
                Ok(Item::Comment(text)) => self.events.push_back(Event::Comment(text)),
                Err(error) => {
                    failure = Some(error);
                    break;
                }
            }
        }
        if self.last_event_id != parser.last_event_id() {
            self.last_event_id.clear();
            self.last_event_id.push_str(parser.last_event_id());
            self.long_id_reported = false;
        }
        if let Some(error) = failure {
            self.reestablish(Cause::Error(error), now);
        }
    }

    /// Reports that the connection is gone: the body ended, or the request or the
    /// connection failed before or after the response head. The partial event, if
    /// any, is discarded, and a reconnection is scheduled.
    pub fn handle_disconnect(&mut self, now: Duration) {
        if matches!(self.stage, Stage::Requesting | Stage::Streaming { .. }) {
            self.reestablish(Cause::Disconnected, now);
        }
    }

    /// Reports that the response could not be read because the server broke a rule
    /// or a limit (a malformed head, a bad chunk, a redirect loop...): a network error
    /// with a cause. The connection is reestablished, or failed for good when
    /// retrying is futile ([`Error::is_fatal`]).
    pub fn handle_error(&mut self, error: Error, now: Duration) {
        if !matches!(self.stage, Stage::Requesting | Stage::Streaming { .. }) {
            return;
        }
        if error.is_fatal() {
            self.fail(Cause::Error(error));
        } else {
            self.reestablish(Cause::Error(error), now);
        }
    }

    /// Fires what is due at `now`: the scheduled reconnection, or the read timeout.
    pub fn handle_timeout(&mut self, now: Duration) {
        match self.stage {
            Stage::Waiting { until } if now >= until => self.connect(),
            Stage::Streaming { heard, .. } => {
                let timeout = self.config.read_timeout;
                if timeout.is_some_and(|timeout| now >= heard.saturating_add(timeout)) {
                    self.reestablish(Cause::Error(Error::ReadTimeout), now);
                }
            }
            _ => {}
        }
    }

    /// Closes the `EventSource` for good, like the `close()` method: `CLOSED`, no
    /// `error` event, and events not yet polled are dropped.
    pub fn close(&mut self) {
        self.stage = Stage::Closed;
        self.events.clear();
    }

    /// The next thing to do or to tell the application.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next, on the scale of the
    /// `now` values passed in; `None` when nothing is scheduled.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Duration> {
        match self.stage {
            Stage::Waiting { until } => Some(until),
            Stage::Streaming { heard, .. } => self
                .config
                .read_timeout
                .map(|timeout| heard.saturating_add(timeout)),
            _ => None,
        }
    }

    /// Enters `Requesting` and asks for a request, with `Last-Event-ID` when the last
    /// event ID string is not empty and not too long.
    fn connect(&mut self) {
        self.stage = Stage::Requesting;
        let id = &self.last_event_id;
        let limit = self.config.max_last_event_id_len;
        let last_event_id = if id.len() > limit {
            if !self.long_id_reported {
                self.long_id_reported = true;
                let len = id.len();
                self.events
                    .push_back(Event::Warning(Warning::LastEventIdNotSent { len, limit }));
            }
            None
        } else {
            Some(id.clone()).filter(|id| !id.is_empty())
        };
        self.events
            .push_back(Event::Connect(Request { last_event_id }));
    }

    /// "Fail the connection": `CLOSED`, an `error` event, and no reconnection.
    fn fail(&mut self, cause: Cause) {
        self.stage = Stage::Closed;
        self.events.push_back(Event::Error {
            ready_state: ReadyState::Closed,
            cause,
        });
    }

    /// "Reestablish the connection": `CONNECTING`, an `error` event, then wait.
    fn reestablish(&mut self, cause: Cause, now: Duration) {
        let delay = self.reconnect_delay();
        // Counted now, forgiven when a stream opens: an established stream that ends
        // leaves the count at 1, so a first failure after it doubles the wait once.
        self.failures = self.failures.saturating_add(1);
        self.stage = Stage::Waiting {
            until: now.saturating_add(delay),
        };
        self.events.push_back(Event::Error {
            ready_state: ReadyState::Connecting,
            cause,
        });
    }

    /// The wait before the next attempt; see the module docs.
    fn reconnect_delay(&mut self) -> Duration {
        let base = self.reconnection_time;
        let Some(backoff) = self.config.backoff else {
            return base;
        };
        let doubled = base.saturating_mul(1 << self.failures.min(31));
        let delay = doubled.min(backoff.max_delay).max(base);
        let mut random = [0u8; 4];
        self.random.fill(&mut random);
        let fraction = u128::from(u32::from_le_bytes(random));
        let percent = u128::from(backoff.jitter_percent.min(100));
        // delay × percent/100 × fraction/2^32, saturating instead of overflowing.
        let jitter =
            (delay.as_nanos().saturating_mul(percent) / 100).saturating_mul(fraction) >> 32;
        delay.saturating_add(duration_from_nanos(jitter))
    }
}

/// "Set the event stream's reconnection time to that integer", within the bounds of
/// `config`: returns the reconnection time to use, and warns once per out-of-bounds
/// value (a server that repeats it on every connection is reported once).
fn bound_retry(
    config: &Config,
    requested: Duration,
    clamped: &mut Option<Duration>,
    events: &mut VecDeque<Event>,
) -> Duration {
    // Not `clamp`: it panics on a config with min > max; here max wins.
    let used = requested
        .max(config.min_reconnection_time)
        .min(config.max_reconnection_time);
    if used != requested && *clamped != Some(requested) {
        *clamped = Some(requested);
        events.push_back(Event::Warning(Warning::RetryClamped { requested, used }));
    }
    used
}

/// `Duration::from_nanos` for `u128`, saturating at `Duration::MAX`.
fn duration_from_nanos(nanos: u128) -> Duration {
    const NANOS_PER_SEC: u128 = 1_000_000_000;
    match u64::try_from(nanos / NANOS_PER_SEC) {
        // The remainder is below 10^9, so it fits in u32.
        Ok(secs) => Duration::new(secs, (nanos % NANOS_PER_SEC) as u32),
        Err(_) => Duration::MAX,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_never_shortens_and_stays_within_bounds() {
        let config = Config {
            reconnection_time: Duration::from_secs(1),
            ..Config::default()
        };
        for byte in [0x00, 0x80, 0xFF] {
            let mut source =
                EventSource::with_random_source(config, move |buf: &mut [u8]| buf.fill(byte));
            let delay = source.reconnect_delay();
            assert!(delay >= Duration::from_secs(1), "{delay:?}");
            assert!(delay < Duration::from_millis(1500), "{delay:?}");
        }
    }

    #[test]
    fn huge_retry_saturates() {
        let mut source =
            EventSource::with_random_source(Config::default(), |buf: &mut [u8]| buf.fill(0xFF));
        source.reconnection_time = Duration::MAX;
        source.failures = 40;
        assert_eq!(source.reconnect_delay(), Duration::MAX);
        assert_eq!(duration_from_nanos(u128::MAX), Duration::MAX);
    }

    #[test]
    fn inverted_bounds_do_not_panic() {
        let config = Config {
            min_reconnection_time: Duration::from_secs(9),
            max_reconnection_time: Duration::from_secs(1),
            ..Config::default()
        };
        let mut events = VecDeque::new();
        let used = bound_retry(&config, Duration::from_secs(5), &mut None, &mut events);
        assert_eq!(used, Duration::from_secs(1));
        assert_eq!(events.len(), 1);
    }
}
