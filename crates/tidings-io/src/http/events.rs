//! An `EventSource` over HTTP/2: the sans-IO [`tidings_sse::Client`], at its response
//! level, driven over streams of an [`H2Connection`].
//!
//! The client decides everything, as over HTTP/1.1: which request fields to send,
//! which response opens the stream or ends it, when to reconnect and with which
//! `Last-Event-ID`, and what each of its events is to the application. The loop that
//! runs it is [`sse::EventSource`](crate::sse::EventSource)'s own; this module is
//! the [`H2Connection`]'s side of it, its `Link`: each `Connect` of the client is a
//! `GET` on a new stream of the connection (which is dialled again only when it is
//! gone), its status and `Content-Type` go to `handle_response`, its DATA frames to
//! `handle_body` (each one's flow-control capacity released as it is handed over),
//! its end to `handle_disconnect`. The stream is read only when the `EventSource` is
//! polled: a caller that stops reading stops the reading of the stream, and h2 flow
//! control holds the server back.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tidings_sse::Client;
use tidings_sse::client::Config as ClientConfig;
use tidings_sse::client::Url;
use tokio::time::Instant;

use super::H2Connection;
use crate::Dialer;
use crate::clock::Clock;
use crate::clock::sealed::Sealed as _;
use crate::sse::{Error, EventSource, Link};

/// The events of an event stream read over HTTP/2, reconnecting with
/// `Last-Event-ID` after the server's `retry`; see [`event_source()`]. It is an
/// [`sse::EventSource`](crate::sse::EventSource) whose connections are streams of an
/// [`H2Connection`], and yields its items but
/// [`Event::Connect`](tidings_sse::Event::Connect): a request is a
/// stream, not a connection.
pub type H2EventSource = EventSource<H2Connection>;

/// Reads the event stream at `url` (`http://`: h2c; `https://`: TLS with ALPN `h2`)
/// dialled with `dialer` (e.g. [`Dialer::default`]) with [`ClientConfig`]'s
/// `event_source` settings, `headers` and `connect_timeout`, on a connection of its
/// own (for several on one connection, see [`H2Connection::event_source`]). It ends
/// on `204 No Content`; another status (redirects are not followed) or type fails it
/// for good ([`Error::Failed`]). A request that fails before any stream opened is
/// reported ([`Error::Io`], [`Error::NoHttp2`], [`Error::HandshakeTimeout`]...) and
/// retried; later failures are reconnections.
///
/// # Errors
///
/// [`Error::LocalSse`] for a URL that is not `http://` or `https://`, or a
/// [`ClientConfig::headers`] entry that cannot be sent; [`Error::TlsUnsupported`]
/// for `https://` with a dialer without TLS.
pub fn event_source(
    url: &str,
    config: ClientConfig,
    dialer: &Dialer,
) -> Result<H2EventSource, Error> {
    let origin = Url::parse(url).map_err(|e| Error::LocalSse(e.into()))?;
    H2Connection::new(origin, dialer)?.event_source(url, config)
}

/// A request on its way: the response head.
type Request = Pin<Box<dyn Future<Output = Result<http::Response<h2::RecvStream>, Error>> + Send>>;

impl Link for H2Connection {
    type Opening = Request;
    type Open = h2::RecvStream;
    const STREAMS: bool = true;

    fn clock() -> Clock {
        crate::Tokio::<()>::clock()
    }

    /// Sends the client's request for `url` on a new stream, by the client's connect
    /// deadline: the request's own timeout is due at the same instant as the
    /// client's, and the loop polls the request first, so a stream that never opens
    /// is an [`Error::HandshakeTimeout`] and its connection is dialled again for the
    /// next one. (The connection's dialer was checked against its origin, the only
    /// one its event streams request: redirects are not followed.)
    fn open(&mut self, url: &Url, client: &Client, clock: &Clock) -> Result<Request, Error> {
        let mut head = http::Request::get(url.to_string());
        for (name, value) in client.request_headers() {
            head = head.header(name, value);
        }
        let head = head
            .body(())
            .map_err(|_| tidings_sse::LocalError::InvalidHeader);
        let now = clock.now();
        let at = client.poll_timeout();
        let at = at.unwrap_or_else(|| now + client.config().connect_timeout);
        let deadline = Instant::now() + at.saturating_sub(now);
        let connection = self.clone();
        Ok(Box::pin(async move {
            Ok(connection.request(head?, true, deadline).await?.0)
        }))
    }

    fn poll_open(
        request: &mut Request,
        client: &mut Client,
        cx: &mut Context<'_>,
        now: Duration,
    ) -> Poll<Result<h2::RecvStream, Error>> {
        let response = ready!(request.as_mut().poll(cx))?;
        let content_type = response.headers().get("content-type");
        let content_type = content_type.map(|v| v.as_bytes());
        client.handle_response(response.status().as_u16(), content_type, now);
        Poll::Ready(Ok(response.into_body()))
    }

    fn poll_read(
        body: &mut h2::RecvStream,
        client: &mut Client,
        cx: &mut Context<'_>,
        now: Duration,
    ) -> Poll<bool> {
        let Some(Ok(data)) = ready!(body.poll_data(cx)) else {
            return Poll::Ready(false);
        };
        client.handle_body(&data, now);
        // Taken: the window opens again by as much.
        let _ = body.flow_control().release_capacity(data.len());
        Poll::Ready(true)
    }
}
