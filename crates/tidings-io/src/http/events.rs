//! An `EventSource` over HTTP/2: the sans-IO [`tidings_sse::Client`], at its response
//! level, driven over streams of an [`H2Connection`].
//!
//! The client decides everything, as over HTTP/1.1: which request fields to send,
//! which response opens the stream or ends it, when to reconnect and with which
//! `Last-Event-ID`, and what each of its events is to the application
//! ([`sse::item`](crate::sse::item), shared with the HTTP/1.1 driver). Here each
//! `Connect` of the client is a `GET` on a new stream of the connection (which is
//! dialled again only when it is gone), its status and `Content-Type` go to
//! `handle_response`, its DATA frames to `handle_body`, its end to
//! `handle_disconnect`. The events go to the caller through a bounded channel: a
//! caller that stops reading stops the reading of the stream, and h2 flow control
//! holds the server back.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use tidings_sse::client::Config as ClientConfig;
use tidings_sse::client::Url;
use tidings_sse::{Client, Event, ReadyState};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::H2Connection;
use crate::Dialer;
use crate::clock::Clock;
use crate::clock::sealed::Sealed as _;
use crate::sse::{Error, item};

/// The events of an event stream read over HTTP/2, reconnecting with
/// `Last-Event-ID` after the server's `retry`; see [`event_source()`]. The items are
/// those of [`sse::EventSource`](crate::sse::EventSource), but
/// [`Event::Connect`]: a request is a stream, not a connection.
#[derive(Debug)]
pub struct H2EventSource {
    events: mpsc::Receiver<Result<Event, Error>>,
    task: tokio::task::JoinHandle<()>,
}

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
    let url = Url::parse(url).map_err(|e| Error::LocalSse(e.into()))?;
    let connection = H2Connection::new(url.clone(), dialer)?;
    H2EventSource::spawn(connection, &url, config)
}

impl H2EventSource {
    /// Runs a client for `url` on `connection`'s streams.
    pub(super) fn spawn(
        connection: H2Connection,
        url: &Url,
        config: ClientConfig,
    ) -> Result<Self, Error> {
        let clock = crate::Tokio::<()>::clock();
        let client = Client::new(&url.to_string(), config, clock.now())?;
        let (sender, events) = mpsc::channel(16);
        let task = tokio::spawn(run(connection, client, clock, sender));
        Ok(Self { events, task })
    }
}

impl Stream for H2EventSource {
    type Item = Result<Event, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.events.poll_recv(cx)
    }
}

impl Drop for H2EventSource {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The client's loop: request when it says so, feed it, wait for its timers (on the
/// crate's one clock).
async fn run(
    connection: H2Connection,
    mut client: Client,
    mut clock: Clock,
    events: mpsc::Sender<Result<Event, Error>>,
) {
    let mut body: Option<h2::RecvStream> = None;
    loop {
        while let Some(event) = client.poll_event() {
            let sent = match event {
                Event::Connect(url) => match get(&connection, &url, &client).await {
                    Ok(response) => {
                        let content_type = response.headers().get("content-type");
                        let content_type = content_type.map(|v| v.as_bytes());
                        let status = response.status().as_u16();
                        client.handle_response(status, content_type, clock.now());
                        body = Some(response.into_body());
                        continue;
                    }
                    Err(e) => {
                        client.handle_disconnect(clock.now());
                        match client.has_opened() {
                            false => Err(e),
                            true => continue,
                        }
                    }
                },
                event => {
                    if let Event::Error { .. } = event {
                        body = None;
                    }
                    let Some(item) = item(event) else { return };
                    item
                }
            };
            if events.send(sent).await.is_err() {
                return; // nobody listens any more
            }
        }
        if client.ready_state() == ReadyState::Closed {
            return;
        }
        // Wait for body bytes or the client's next timer (a reconnection, the read
        // timeout).
        let at = client.poll_timeout();
        let read = poll_fn(|cx| {
            if let Some(Poll::Ready(data)) = body.as_mut().map(|body| body.poll_data(cx)) {
                return Poll::Ready(Some(data));
            }
            let due = at.map(|at| clock.poll_sleep_until(cx, at));
            due.unwrap_or(Poll::Pending).map(|()| None)
        });
        let read = read.await;
        let now = clock.now();
        match read {
            None => client.handle_timeout(now),
            Some(Some(Ok(data))) => {
                client.handle_body(&data, now);
                if let Some(body) = &mut body {
                    let _ = body.flow_control().release_capacity(data.len());
                }
            }
            Some(_) => {
                body = None;
                client.handle_disconnect(now);
            }
        }
    }
}

/// Sends the client's request for `url` on a new stream of `connection`, within
/// [`ClientConfig::connect_timeout`]; the response head. (The request is made before
/// the wait: the client is not `Sync`, so no borrow of it may be held across it.)
fn get<'a>(
    connection: &'a H2Connection,
    url: &Url,
    client: &Client,
) -> impl Future<Output = Result<http::Response<h2::RecvStream>, Error>> + Send + use<'a> {
    let mut head = http::Request::get(url.to_string());
    for (name, value) in client.request_headers() {
        head = head.header(name, value);
    }
    let head = head
        .body(())
        .map_err(|_| tidings_sse::LocalError::InvalidHeader);
    let deadline = Instant::now() + client.config().connect_timeout;
    async move { Ok(connection.request(head?, true, deadline).await?.0) }
}
