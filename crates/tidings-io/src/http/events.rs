//! An `EventSource` over HTTP/2: the sans-IO [`tidings_sse::EventSource`] machine
//! (which knows no HTTP) driven over streams of an [`H2Connection`].
//!
//! Each `Connect` of the machine is a `GET` on a new stream of the connection (which
//! is dialled again only when it is gone), its status and `Content-Type` go to `handle_response`, its DATA frames to
//! `handle_body`, its end to `handle_disconnect`. The events go to the caller
//! through a bounded channel: a caller that stops reading stops the reading of the
//! stream, and h2 flow control holds the server back.

use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use tidings_sse::Cause;
use tidings_sse::Event;
use tidings_sse::client::Config as ClientConfig;
use tidings_sse::client::Url;
use tidings_sse::event_source::{self, Event as Machine, ReadyState};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::H2Connection;
use crate::Dialer;
use crate::sse::Error;

/// The events of an event stream read over HTTP/2, reconnecting with
/// `Last-Event-ID` after the server's `retry`; see [`event_source()`]. The items are
/// those of [`sse::EventSource`](crate::sse::EventSource).
#[derive(Debug)]
pub struct H2EventSource {
    events: mpsc::Receiver<Result<Event, Error>>,
    task: tokio::task::JoinHandle<()>,
}

/// Reads the event stream at `url` (`http://`: h2c; `https://`: TLS with ALPN `h2`)
/// dialled with `dialer` (e.g. [`Dialer::default`]) with [`ClientConfig`]'s
/// `event_source` settings, `headers` and `connect_timeout`, on a connection of its
/// own (for several on one connection, see [`H2Connection::event_source`]). It ends
/// on `204 No Content`; another status or type fails it for good
/// ([`Error::Failed`]). A request that fails before any stream opened is reported
/// ([`Error::Io`], [`Error::NoHttp2`], [`Error::HandshakeTimeout`]...) and retried;
/// later failures are reconnections.
///
/// # Errors
///
/// [`Error::LocalSse`] for a URL that is not `http://` or `https://`,
/// [`Error::TlsUnsupported`] for `https://` with a dialer without TLS.
pub fn event_source(
    url: &str,
    config: ClientConfig,
    dialer: &Dialer,
) -> Result<H2EventSource, Error> {
    let url = Url::parse(url).map_err(|e| Error::LocalSse(e.into()))?;
    let connection = H2Connection::new(url.clone(), dialer)?;
    Ok(H2EventSource::spawn(connection, url, config))
}

impl H2EventSource {
    /// Runs the machine for `url` on `connection`'s streams.
    pub(super) fn spawn(connection: H2Connection, url: Url, config: ClientConfig) -> Self {
        let (sender, events) = mpsc::channel(16);
        let task = tokio::spawn(run(connection, url, config, sender));
        Self { events, task }
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

/// The machine's loop: connect when it says so, feed it, wait for its timers.
async fn run(
    connection: H2Connection,
    url: Url,
    config: ClientConfig,
    events: mpsc::Sender<Result<Event, Error>>,
) {
    let epoch = Instant::now();
    let now = || epoch.elapsed();
    let mut machine = event_source::EventSource::new(config.event_source);
    let mut body: Option<h2::RecvStream> = None;
    let mut opened = false;
    loop {
        while let Some(event) = machine.poll_event() {
            let sent = match event {
                Machine::Connect(request) => {
                    match get(&connection, &url, &request, &config).await {
                        Ok(response) => {
                            let content_type = response.headers().get("content-type");
                            let content_type = content_type.map(|v| v.as_bytes());
                            let status = response.status().as_u16();
                            machine.handle_response(status, content_type, now());
                            body = Some(response.into_body());
                            continue;
                        }
                        Err(e) => {
                            machine.handle_disconnect(now());
                            match opened {
                                false => Err(e),
                                true => continue,
                            }
                        }
                    }
                }
                Machine::Open => {
                    opened = true;
                    Ok(Event::Open)
                }
                // "Fail the connection": the end, quietly for a 204.
                Machine::Error {
                    cause,
                    ready_state: ReadyState::Closed,
                } => {
                    if cause == Cause::Status(204) {
                        return;
                    }
                    let _ = events.send(Err(Error::Failed(cause))).await;
                    return;
                }
                Machine::Error { cause, ready_state } => Ok(Event::Error { ready_state, cause }),
                Machine::Message(message) => Ok(Event::Message(message)),
                Machine::Comment(comment) => Ok(Event::Comment(comment)),
                Machine::Warning(warning) => Ok(Event::Warning(warning)),
                _ => continue,
            };
            if events.send(sent).await.is_err() {
                return; // nobody listens any more
            }
        }
        if machine.ready_state() == ReadyState::Closed {
            return;
        }
        // Wait for body bytes or the machine's next timer (a reconnection, the read
        // timeout); without either, for a day at a time.
        let at = machine
            .poll_timeout()
            .map_or(now() + Duration::from_secs(86_400), |at| at);
        let mut sleep = pin!(tokio::time::sleep_until(epoch + at));
        let read = poll_fn(|cx| {
            if let Some(Poll::Ready(data)) = body.as_mut().map(|body| body.poll_data(cx)) {
                return Poll::Ready(Some(data));
            }
            sleep.as_mut().poll(cx).map(|()| None)
        });
        match read.await {
            None => machine.handle_timeout(now()),
            Some(Some(Ok(data))) => {
                machine.handle_body(&data, now());
                if let Some(body) = &mut body {
                    let _ = body.flow_control().release_capacity(data.len());
                }
            }
            Some(_) => {
                body = None;
                machine.handle_disconnect(now());
            }
        }
    }
}

/// Sends the request of a [`Machine::Connect`] on a new stream of `connection`,
/// within [`ClientConfig::connect_timeout`]; the response head.
async fn get(
    connection: &H2Connection,
    url: &Url,
    request: &event_source::Request,
    config: &ClientConfig,
) -> Result<http::Response<h2::RecvStream>, Error> {
    let mut head = http::Request::get(url.to_string());
    for (name, value) in request.headers() {
        head = head.header(name, value);
    }
    for (name, value) in &config.headers {
        head = head.header(name, value);
    }
    let head = head
        .body(())
        .map_err(|_| Error::LocalSse(tidings_sse::LocalError::InvalidHeader))?;
    let deadline = Instant::now() + config.connect_timeout;
    let (response, _) = connection.request(head, true, deadline).await?;
    Ok(response)
}
