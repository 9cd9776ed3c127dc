//! The `EventSource` client: a thin driver over [`tidings_sse::Client`], the one of
//! the crate, over HTTP/1.1 and HTTP/2 alike.
//!
//! # Theory of operation
//!
//! The sans-IO [`Client`] decides everything: what to request, how to read the
//! response, where redirects go, when to reconnect and with which `Last-Event-ID`.
//! [`EventSource::poll_next`](futures_core::Stream::poll_next) only does what it asks:
//!
//! ```text
//!   Client::poll_event ─► Connect(url) ─► Link::open(url)
//!                      ─► Error        ─► drop the connection
//!                      ─► others       ─► yielded to the application
//!   Link::poll_open ─► Client::handle_connected | handle_response ; error ─► handle_disconnect
//!   Link::poll_read ─► write poll_transmit ; Client::handle_bytes | handle_body
//!                   ; end, error ─► handle_disconnect
//!   Client::poll_timeout ─► Clock::poll_sleep_until ─► Client::handle_timeout
//! ```
//!
//! The connection the client asked for is a [`Link`]'s: over HTTP/1.1 a [`Dial`]
//! gives a byte transport, the request is written from
//! [`Client::poll_transmit`] and what is read goes to [`Client::handle_bytes`]; over
//! HTTP/2 (feature `http2`) each connection is a `GET` on a new stream of an
//! `H2Connection`, whose response head and DATA frames go to the client's response
//! level. Either way the loop here is the one that runs it, and it reads only when
//! polled: a caller that stops reading stops the reading of the connection (TCP's
//! window, or h2 flow control, holds the server back).
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

/// The connections the [`Client`] asks for, as the one loop of
/// [`EventSource`] sees them: how a `Connect` is opened, and
/// how an open connection feeds the client. A [`Dial`] is one (a
/// byte transport, the client at its HTTP/1.1 level); an `H2Connection` is
/// another (a stream per request, the client at its response level).
#[allow(unreachable_pub)] // Sealed: public in a private module on purpose.
pub trait Link {
    /// A connection being opened.
    type Opening;
    /// An open connection.
    type Open;
    /// Whether each connection is a request on a stream of a connection shared
    /// and dialled elsewhere (HTTP/2): then
    /// [`Event::Connect`](tidings_sse::Event::Connect) is no item (a request is
    /// a stream, not a connection), and a request that fails before any stream
    /// was accepted is one, an `Err` before the reconnection (it says more than a
    /// refused dial: no HTTP/2, a timeout).
    const STREAMS: bool;

    /// A clock of the runtime the connections run on.
    fn clock() -> Clock;

    /// Starts opening `url` for the client's request; `Err` if it cannot be
    /// opened at all ([`Error::TlsUnsupported`]), which ends the `EventSource`.
    fn open(&mut self, url: &Url, client: &Client, clock: &Clock) -> Result<Self::Opening, Error>;

    /// Moves an opening along; once open, tells the client
    /// (`handle_connected`, or `handle_response`).
    fn poll_open(
        opening: &mut Self::Opening,
        client: &mut Client,
        cx: &mut Context<'_>,
        now: Duration,
    ) -> Poll<Result<Self::Open, Error>>;

    /// Writes what the client transmits and feeds it what is read:
    /// `Ready(true)` when the client was fed, `Ready(false)` when the
    /// connection ended or failed.
    fn poll_read(
        open: &mut Self::Open,
        client: &mut Client,
        cx: &mut Context<'_>,
        now: Duration,
    ) -> Poll<bool>;
}

/// A dialled byte transport: the request written, the response read.
#[derive(Debug)]
#[allow(unreachable_pub)] // Named by the sealed `Link` impl.
pub struct Dialled<T> {
    io: T,
    /// Request bytes not yet written or flushed.
    out: Outbox,
    /// The last read.
    buf: BytesMut,
}

impl<D: Dial> Link for D {
    type Opening = Pin<Box<D::Future>>;
    type Open = Dialled<D::Io>;
    const STREAMS: bool = false;

    fn clock() -> Clock {
        D::Io::clock()
    }

    fn open(&mut self, url: &Url, _: &Client, _: &Clock) -> Result<Self::Opening, Error> {
        if url.is_https() && !self.tls() {
            return Err(Error::TlsUnsupported);
        }
        Ok(Box::pin(self.dial(url)))
    }

    fn poll_open(
        opening: &mut Self::Opening,
        client: &mut Client,
        cx: &mut Context<'_>,
        _: Duration,
    ) -> Poll<Result<Self::Open, Error>> {
        let io = ready!(opening.as_mut().poll(cx))?;
        client.handle_connected();
        let (out, buf) = (Outbox::default(), BytesMut::new());
        Poll::Ready(Ok(Dialled { io, out, buf }))
    }

    fn poll_read(
        open: &mut Self::Open,
        client: &mut Client,
        cx: &mut Context<'_>,
        now: Duration,
    ) -> Poll<bool> {
        let Dialled { io, out, buf } = open;
        let written = out.poll_write(cx, io, now, || client.poll_transmit());
        buf.clear();
        match (written, io.poll_read_into(cx, buf, READ_SIZE)) {
            (Poll::Ready(Err(_)), _) | (_, Poll::Ready(Ok(0) | Err(_))) => Poll::Ready(false),
            (_, Poll::Ready(Ok(_))) => {
                client.handle_bytes(buf, now);
                Poll::Ready(true)
            }
            (_, Poll::Pending) => Poll::Pending,
        }
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
///
/// Over HTTP/2 (feature `http2`), the same type reads an event stream on the streams
/// of an `H2Connection`: [`http::H2EventSource`](crate::http::H2EventSource).
pub struct EventSource<D: Link> {
    client: Client,
    link: D,
    clock: Clock,
    conn: Conn<D>,
    /// The stream has ended; `poll_next` returns `None`.
    finished: bool,
}

/// The connection the client asked for.
enum Conn<D: Link> {
    None,
    Opening(D::Opening),
    Open(D::Open),
}

impl<D: Link> fmt::Debug for EventSource<D> {
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
        let source = Self::with_link(url, dialer, config)?;
        if source.client.url().is_https() && !source.link.tls() {
            return Err(Error::TlsUnsupported);
        }
        Ok(source)
    }
}

impl<D: Link> EventSource<D> {
    /// An `EventSource` for `url`, whose connections `link` opens.
    pub(crate) fn with_link(url: &str, link: D, config: ClientConfig) -> Result<Self, Error> {
        let clock = D::clock();
        let client = Client::new(url, config, clock.now())?;
        Ok(Self {
            client,
            link,
            clock,
            conn: Conn::None,
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
            Event::Connect(url) => match self.link.open(url, &self.client, &self.clock) {
                Ok(opening) => self.conn = Conn::Opening(opening),
                Err(e) => {
                    self.close();
                    return Some(Err(e));
                }
            },
            Event::Error {
                ready_state: ReadyState::Closed,
                ..
            } => self.close(),
            Event::Error { .. } => self.conn = Conn::None,
            _ => {}
        }
        match event {
            Event::Connect(_) if D::STREAMS => None,
            event => item(event),
        }
    }

    /// Moves the connection along. `Ready` when the client has news, with an item
    /// for the stream if the link reports the failure (see [`Link::STREAMS`]).
    fn poll_conn(&mut self, cx: &mut Context<'_>) -> Poll<Option<Error>> {
        let now = self.clock.now();
        let fed = match &mut self.conn {
            Conn::None => return Poll::Pending,
            Conn::Opening(opening) => {
                match ready!(D::poll_open(opening, &mut self.client, cx, now)) {
                    Ok(open) => {
                        self.conn = Conn::Open(open);
                        true
                    }
                    Err(e) => {
                        let report = D::STREAMS && !self.client.has_opened();
                        self.disconnect(now);
                        return Poll::Ready(report.then_some(e));
                    }
                }
            }
            Conn::Open(open) => ready!(D::poll_read(open, &mut self.client, cx, now)),
        };
        if !fed {
            self.disconnect(now);
        }
        Poll::Ready(None)
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
fn item(event: Event) -> Option<Result<Event, Error>> {
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
pub struct Messages<D: Link> {
    source: EventSource<D>,
}

impl<D: Link> Messages<D> {
    /// The `EventSource` (its `readyState`, last event ID...).
    pub fn get_ref(&self) -> &EventSource<D> {
        &self.source
    }

    /// The `EventSource`, to close it.
    pub fn get_mut(&mut self) -> &mut EventSource<D> {
        &mut self.source
    }
}

impl<D: Link> Stream for Messages<D> {
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

impl<D: Link> Unpin for EventSource<D> {}

impl<D: Link> Stream for EventSource<D> {
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
            if let Poll::Ready(failure) = this.poll_conn(cx) {
                match failure {
                    Some(e) => return Poll::Ready(Some(Err(e))),
                    None => continue,
                }
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
