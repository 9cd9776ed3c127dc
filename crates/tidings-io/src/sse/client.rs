//! The `EventSource` client: a thin driver over [`tidings_sse::Client`].
//!
//! # Theory of operation
//!
//! The sans-IO [`Client`] decides everything: what to request, how to read the
//! response, where redirects go, when to reconnect and with which `Last-Event-ID`.
//! [`EventSource::poll_next`](futures_core::Stream::poll_next) only does what it asks:
//!
//! ```text
//!   Client::poll_event ─► Connect(url) ─► dial(url) ─► handle_connected
//!                      ─► Error        ─► drop the connection
//!                      ─► others       ─► yielded to the application
//!   Client::poll_transmit ─► write ; read ─► Client::handle_bytes ; EOF, error ─► handle_disconnect
//!   Client::poll_timeout ─► Clock::poll_sleep_until ─► Client::handle_timeout
//! ```
//!
//! The wait runs on a [`Clock`] of the transport's runtime: between two connections
//! there is no transport whose timer could be used.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::BytesMut;
use futures_core::Stream;
use tidings_sse::{Cause, Client, Event, MessageEvent, ReadyState};

use super::clock::sealed::Sealed as _;
use super::clock::{Clock, Runtime};
use super::{ClientConfig, Error, Url};
use crate::outbox::Outbox;
use crate::transport::Transport;
use crate::transport::sealed::Read as _;

/// How much one read asks the transport for.
const READ_SIZE: usize = 16 * 1024;

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
    /// yes; [`Dialer`](crate::Dialer) says whether it has a TLS config.
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

/// A client `EventSource`: a [`Stream`] of what happens on an event stream, across
/// reconnections.
///
/// It yields the [`tidings_sse::Event`]s of the machine, after acting on them:
/// [`Event::Message`] for each dispatched event, [`Event::Open`] when a stream is
/// accepted, [`Event::Error`] (with `ReadyState::Connecting`) when the connection is
/// lost and a reconnection is scheduled, [`Event::Warning`] for what the application
/// should log (a capped `retry`...), and [`Event::Connect`] when it dials (the first
/// time, each redirect, each reconnection). Match what you need and skip the rest.
///
/// It ends (`None`) when the server answers `204 No Content`, the way a server tells
/// clients to stop; it yields one [`Error::Failed`] and then ends when the
/// `EventSource` fails for good: another status, a wrong `Content-Type`, a redirect
/// loop or an unusable redirect. Everything else (refused connections, resets,
/// timeouts, the end of a response) leads to a reconnection, with `Last-Event-ID`.
///
/// Dropping a pending `next()` loses nothing: all state lives in the struct.
pub struct EventSource<D: Dial> {
    client: Client,
    dialer: D,
    clock: Clock,
    conn: Conn<D>,
    buf: BytesMut,
    /// The stream has ended; `poll_next` returns `None`.
    finished: bool,
}

/// The connection the client asked for.
enum Conn<D: Dial> {
    None,
    Dialing(Pin<Box<D::Future>>),
    Open {
        io: D::Io,
        /// Request bytes not yet written or flushed.
        out: Outbox,
    },
}

impl<D: Dial> fmt::Debug for EventSource<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventSource")
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "tokio")]
impl EventSource<crate::Dialer> {
    /// An `EventSource` for `url` on tokio with
    /// [`Dialer::default`](crate::Dialer::default) (`https://` with the `rustls`
    /// feature), dialling again for every redirect and reconnection. Nothing
    /// happens until it is polled.
    ///
    /// # Errors
    ///
    /// [`Error::LocalSse`] for a malformed URL or a bad [`ClientConfig::headers`]
    /// entry, [`Error::TlsUnsupported`] for `https://` without the `rustls` feature.
    pub fn connect_url(url: &str, config: ClientConfig) -> Result<Self, Error> {
        Self::new(url, crate::Dialer::default(), config)
    }
}

impl<D: Dial> EventSource<D> {
    /// An `EventSource` for `url`, connecting with `dialer`. Nothing happens until
    /// it is polled.
    ///
    /// # Errors
    ///
    /// [`Error::LocalSse`] for a malformed URL or a bad [`ClientConfig::headers`]
    /// entry, [`Error::TlsUnsupported`] for `https://` with a dialer without TLS.
    pub fn new(url: &str, dialer: D, config: ClientConfig) -> Result<Self, Error> {
        let clock = D::Io::clock();
        let client = Client::new(url, config, clock.now())?;
        if client.url().is_https() && !dialer.tls() {
            return Err(Error::TlsUnsupported);
        }
        Ok(Self {
            client,
            dialer,
            clock,
            conn: Conn::None,
            buf: BytesMut::new(),
            finished: false,
        })
    }

    /// The sans-IO machine, for its getters: the URL given to [`new`](Self::new)
    /// (reconnections go there, not to a redirect target), the `readyState`, the
    /// last event ID (sent as `Last-Event-ID` on the next reconnection), the
    /// reconnection time.
    #[must_use]
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The dispatched events alone, skipping opens, reconnections and warnings: for
    /// an application that only wants the data (and logs nothing).
    pub fn messages(self) -> Messages<D> {
        Messages { source: self }
    }

    /// Closes for good: drops the connection; the stream ends.
    pub fn close(&mut self) {
        self.client.close();
        self.conn = Conn::None;
        self.finished = true;
    }

    /// Acts on one event of the machine; `Some` is what the stream yields.
    fn act(&mut self, event: Event) -> Option<Result<Event, Error>> {
        match &event {
            Event::Connect(url) => {
                if url.is_https() && !self.dialer.tls() {
                    self.close();
                    return Some(Err(Error::TlsUnsupported));
                }
                self.conn = Conn::Dialing(Box::pin(self.dialer.dial(url)));
            }
            Event::Error {
                ready_state: ReadyState::Closed,
                ..
            } => self.close(),
            Event::Error { .. } => self.conn = Conn::None,
            _ => {}
        }
        item(event)
    }

    /// Moves the connection along. `Ready` when the client has news.
    fn poll_conn(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let now = self.clock.now();
        match &mut self.conn {
            Conn::None => Poll::Pending,
            Conn::Dialing(future) => {
                match ready!(future.as_mut().poll(cx)) {
                    Ok(io) => {
                        self.conn = Conn::Open {
                            io,
                            out: Outbox::default(),
                        };
                        self.client.handle_connected();
                    }
                    Err(_) => self.disconnect(now),
                }
                Poll::Ready(())
            }
            Conn::Open { io, out } => {
                let written = out.poll_write(cx, io, now, || self.client.poll_transmit());
                self.buf.clear();
                let read = io.poll_read_into(cx, &mut self.buf, READ_SIZE);
                match (written, read) {
                    (Poll::Ready(Err(_)), _) | (_, Poll::Ready(Ok(0) | Err(_))) => {
                        self.disconnect(now);
                    }
                    (_, Poll::Ready(Ok(_))) => self.client.handle_bytes(&self.buf, now),
                    (_, Poll::Pending) => return Poll::Pending,
                }
                Poll::Ready(())
            }
        }
    }

    /// The connection failed or ended.
    fn disconnect(&mut self, now: Duration) {
        self.conn = Conn::None;
        self.client.handle_disconnect(now);
    }
}

/// What an event of the [`Client`] is to the application, over HTTP/1.1 and HTTP/2
/// alike: the event itself, or for one that closed the `EventSource` for good,
/// [`Error::Failed`], or the quiet end (`None`) for `204 No Content`, how a server
/// says "stop".
pub(crate) fn item(event: Event) -> Option<Result<Event, Error>> {
    match event {
        Event::Error {
            ready_state: ReadyState::Closed,
            cause,
        } => (cause != Cause::Status(204)).then_some(Err(Error::Failed(cause))),
        event => Some(Ok(event)),
    }
}

/// The messages of an [`EventSource`], from [`EventSource::messages`]: a [`Stream`] of
/// each dispatched [`MessageEvent`], ending as the `EventSource` does.
#[derive(Debug)]
#[must_use = "streams do nothing unless polled"]
pub struct Messages<D: Dial> {
    source: EventSource<D>,
}

impl<D: Dial> Messages<D> {
    /// The `EventSource` (its `readyState`, last event ID...).
    pub fn get_ref(&self) -> &EventSource<D> {
        &self.source
    }

    /// The `EventSource`, to close it.
    pub fn get_mut(&mut self) -> &mut EventSource<D> {
        &mut self.source
    }
}

impl<D: Dial> Stream for Messages<D> {
    type Item = Result<MessageEvent, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            match ready!(Pin::new(&mut self.source).poll_next(cx)) {
                Some(Ok(Event::Message(message))) => return Poll::Ready(Some(Ok(message))),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => return Poll::Ready(None),
            }
        }
    }
}

impl<D: Dial> Unpin for EventSource<D> {}

impl<D: Dial> Stream for EventSource<D> {
    type Item = Result<Event, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if this.finished {
                return Poll::Ready(None);
            }
            if let Some(event) = this.client.poll_event() {
                match this.act(event) {
                    Some(item) => return Poll::Ready(Some(item)),
                    None => continue,
                }
            }
            if this.poll_conn(cx).is_ready() {
                continue;
            }
            let Some(deadline) = this.client.poll_timeout() else {
                if matches!(this.conn, Conn::None) {
                    // No connection, nothing scheduled: the machine is closed.
                    this.finished = true;
                    continue;
                }
                // Streaming with no read timeout: the connection wakes us.
                return Poll::Pending;
            };
            ready!(this.clock.poll_sleep_until(cx, deadline));
            this.client.handle_timeout(this.clock.now());
        }
    }
}
