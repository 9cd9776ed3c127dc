//! The `EventSource` processing model (WHATWG HTML, §9.2.2–§9.2.3), without the I/O.
//!
//! # Theory of operation
//!
//! An [`EventSource`] decides *when* to connect, *what* to ask for, *whether* a
//! response is acceptable and *how long* to wait before trying again. The caller (a
//! transport such as `tidings-io`, or a test) does the connecting and the reading,
//! and tells the machine what happened through `handle_*` calls that carry `now`,
//! a [`Duration`] since an epoch of the caller's choosing. The machine never reads a
//! clock, never draws its own randomness (see [`RandomSource`]) and never blocks, so
//! a whole reconnect-with-backoff history runs in a unit test in microseconds.
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
//!              │  Waiting ◄───────────── handle_disconnect / limit ───────┘
//!              │  (CONNECTING)          "reestablish the connection": error
//!              │      ▲
//!              │      └─────────────── handle_disconnect (network error)
//!              ▼
//!   other status or type: "fail the connection": error ──► Closed (CLOSED)
//!   close() from any stage ───────────────────────────────► Closed
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
//!
//! # Reconnection delay
//!
//! "Wait a delay equal to the reconnection time of the event source. Optionally, wait
//! some more. In particular, if the previous attempt failed, then user agents might
//! introduce an exponential backoff delay to avoid overloading a potentially already
//! overloaded server." The delay is therefore never *less* than the reconnection time
//! (the server's `retry`, or [`Config::reconnection_time`]); with [`Backoff`] it is
//! `max(retry, min(retry × 2^failures, max_delay))` plus up to
//! [`Backoff::jitter_percent`] of that, where `failures` counts attempts since the last
//! connection that stayed open for [`Backoff::healthy_after`].

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::string::String;
use core::fmt;
use core::time::Duration;

use crate::Error;
use crate::head::{self, REQUEST_HEADERS};
use crate::parse::{self, Item, MessageEvent, Parser};

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
    /// default is Chromium's, 3 s.
    pub reconnection_time: Duration,
    /// Exponential backoff on repeated failures. Default: on, see [`Backoff`]. `None`
    /// waits exactly the reconnection time, every time.
    pub backoff: Option<Backoff>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            parser: parse::Config::default(),
            reconnection_time: Duration::from_secs(3),
            backoff: Some(Backoff::default()),
        }
    }
}

/// How the wait grows when reconnections keep failing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Backoff {
    /// The wait doubles with each consecutive failure up to this cap (but never below
    /// the reconnection time). Default 60 s.
    pub max_delay: Duration,
    /// Up to this percentage of the wait is added at random, so that clients dropped
    /// together do not return together. Clamped to 100. Default 50.
    pub jitter_percent: u8,
    /// A connection that stayed open this long before it was lost resets the failure
    /// count. Default 30 s.
    pub healthy_after: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            max_delay: Duration::from_secs(60),
            jitter_percent: 50,
            healthy_after: Duration::from_secs(30),
        }
    }
}

/// A source of random bytes for the reconnection jitter. Any
/// `FnMut(&mut [u8])` is one, which makes tests deterministic.
pub trait RandomSource {
    /// Fills `buf` with random bytes.
    fn fill(&mut self, buf: &mut [u8]);
}

impl<F: FnMut(&mut [u8])> RandomSource for F {
    fn fill(&mut self, buf: &mut [u8]) {
        self(buf);
    }
}

/// The operating system's random number generator (`getrandom`). If it fails,
/// the jitter is zero: it spreads load, it guards no secret.
#[cfg(feature = "std")]
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandom;

#[cfg(feature = "std")]
impl RandomSource for OsRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        if getrandom::fill(buf).is_err() {
            buf.fill(0);
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
}

/// Why an [`Event::Error`] was fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cause {
    /// The connection was lost or the response body ended ("if res is not a network
    /// error, then reestablish the connection": even a clean end reconnects).
    Disconnected,
    /// The response status was not 200. `204 No Content` is how a server tells
    /// clients to stop.
    Status(u16),
    /// The response was a 200 whose `Content-Type` is not `text/event-stream`.
    ContentType,
    /// The stream broke a parser limit; treated as a network error.
    Parse(Error),
}

/// The request to send for [`Event::Connect`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    last_event_id: Option<String>,
}

impl Request {
    /// The `Last-Event-ID` to send, if any (only when the last event ID is not empty).
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
    /// The response was accepted and its body is being parsed.
    Streaming { opened_at: Duration, parser: Parser },
    /// Waiting to reconnect.
    Waiting { until: Duration },
    /// Failed or closed.
    Closed,
}

/// The sans-IO `EventSource`: reconnection logic plus the stream parser.
///
/// # Call order
///
/// 1. Create it with [`EventSource::new`] (or [`EventSource::with_random_source`]).
///    It starts `CONNECTING`, with an [`Event::Connect`] waiting.
/// 2. Drain [`poll_event`](Self::poll_event) after every call below, until `None`.
///    On `Connect`, send an HTTP GET with [`Request::headers`], following redirects.
/// 3. When the final response head arrives: [`handle_response`](Self::handle_response).
/// 4. For each chunk of the body: [`handle_body`](Self::handle_body).
/// 5. When the body ends or the connection breaks:
///    [`handle_disconnect`](Self::handle_disconnect).
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
    /// The reconnection time: `retry` from the server, or the configured default.
    reconnection_time: Duration,
    /// The last event ID string.
    last_event_id: String,
    /// Failed attempts since the last healthy connection.
    failures: u32,
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
    /// Jitter comes from the OS ([`OsRandom`]) with the `std` feature; without it the
    /// jitter is zero unless you use [`EventSource::with_random_source`].
    #[must_use]
    pub fn new(config: Config) -> Self {
        #[cfg(feature = "std")]
        let random = OsRandom;
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

    /// The reconnection time: the last `retry` the server sent, or the default.
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
            let parser = Parser::resume(self.config.parser, &self.last_event_id);
            self.stage = Stage::Streaming {
                opened_at: now,
                parser,
            };
            self.events.push_back(Event::Open);
        }
    }

    /// Reports a chunk of the response body. Ignored unless `OPEN`.
    pub fn handle_body(&mut self, bytes: &[u8], now: Duration) {
        let Stage::Streaming { parser, .. } = &mut self.stage else {
            return;
        };
        let mut failure = None;
        for item in parser.feed(bytes) {
            match item {
                Ok(Item::Message(message)) => self.events.push_back(Event::Message(message)),
                // "Set the event stream's reconnection time to that integer."
                Ok(Item::Retry(retry)) => self.reconnection_time = retry,
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
        }
        if let Some(error) = failure {
            self.reestablish(Cause::Parse(error), now);
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

    /// Fires what is due at `now`: the scheduled reconnection.
    pub fn handle_timeout(&mut self, now: Duration) {
        if let Stage::Waiting { until } = self.stage {
            if now >= until {
                self.connect();
            }
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
            _ => None,
        }
    }

    /// Enters `Requesting` and asks for a request, with `Last-Event-ID` when the last
    /// event ID string is not empty.
    fn connect(&mut self) {
        self.stage = Stage::Requesting;
        let last_event_id = Some(self.last_event_id.clone()).filter(|id| !id.is_empty());
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
        if let (Stage::Streaming { opened_at, .. }, Some(backoff)) =
            (&self.stage, self.config.backoff)
        {
            if now.saturating_sub(*opened_at) >= backoff.healthy_after {
                self.failures = 0;
            }
        }
        let delay = self.reconnect_delay();
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
}
