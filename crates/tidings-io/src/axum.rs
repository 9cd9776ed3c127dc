//! A drop-in for axum's `extract::ws` (feature `axum`): the same names and shapes,
//! with tidings' core underneath, over HTTP/1.1 and HTTP/2.
//!
//! Change `use axum::extract::ws::{WebSocketUpgrade, WebSocket, Message};` to
//! `use tidings_io::axum::{WebSocketUpgrade, WebSocket, Message};` and the handler
//! stays as it is: `ws.on_upgrade(|socket| async move { .. })`, `socket.recv()`,
//! `socket.send(..)`, `ws.protocols([..])`. Route it with `any(..)` so that both
//! the HTTP/1.1 `GET` and the HTTP/2 `CONNECT` reach it. axum's own `serve` (with its
//! `http2` feature) enables extended CONNECT; [`http::serve`](crate::http::serve)
//! adds TLS with ALPN and the limits of [`ServeConfig`](crate::http::ServeConfig)
//! (wrap the router in [`TowerToHyperService`]).
//!
//! This module is glue: the checks are [`WebSocketUpgrade`](crate::http::WebSocketUpgrade)'s.

use std::pin::Pin;
use std::time::Duration;

use axum_core::body::Body;
use axum_core::extract::FromRequestParts;
use axum_core::response::{IntoResponse, Response};
use futures_core::Stream;

use crate::Config;
use crate::sse::{ServerSentEvent, SseBody};

pub use crate::Message;
pub use hyper_util::service::TowerToHyperService;

/// A WebSocket on an upgraded connection or HTTP/2 stream: a [`crate::WebSocket`].
pub type WebSocket = crate::http::UpgradedWebSocket;

/// The extractor: an HTTP/1.1 upgrade or an HTTP/2 extended CONNECT, checked. A
/// request that is neither is refused with the status the broken rule names (405,
/// 426, 400...).
#[derive(Debug)]
pub struct WebSocketUpgrade(crate::http::WebSocketUpgrade);

impl<S: Sync> FromRequestParts<S> for WebSocketUpgrade {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut http::request::Parts, _: &S) -> Result<Self, Response> {
        crate::http::WebSocketUpgrade::from_parts(parts).map(Self)
    }
}

impl WebSocketUpgrade {
    /// The subprotocols this server speaks; the client's most preferred one among
    /// them is chosen.
    #[must_use]
    pub fn protocols<I: IntoIterator<Item = T>, T: Into<String>>(self, protocols: I) -> Self {
        Self(self.0.protocols(protocols))
    }

    /// The connection's settings (limits, timeouts, watermarks; permessage-deflate
    /// with the `deflate` feature). Stands for axum's `max_message_size` & co.
    #[must_use]
    pub fn config(self, config: Config) -> Self {
        Self(self.0.config(config))
    }

    /// The subprotocol that will be chosen, if any.
    pub fn selected_protocol(&self) -> Option<&str> {
        self.0.selected_protocol()
    }

    /// The answer (`101` or `200`); `callback` then runs with the socket on its own
    /// task.
    pub fn on_upgrade<F, Fut>(self, callback: F) -> Response
    where
        F: FnOnce(WebSocket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.0.on_upgrade(callback)
    }
}

/// An event stream response, over HTTP/1.1 or as one HTTP/2 stream among many
/// (where flow control holds back a reader that stops reading).
///
/// Unlike axum's `Sse`, the stream yields [`ServerSentEvent`]s, not `Result`s.
#[must_use]
pub struct Sse<St> {
    events: St,
    keep_alive: Option<Duration>,
}

impl<St> Sse<St>
where
    St: Stream<Item = ServerSentEvent> + Send + 'static,
{
    /// A response streaming `events`.
    pub fn new(events: St) -> Self {
        Self {
            events,
            keep_alive: None,
        }
    }

    /// A keep-alive comment after each `interval` without an event.
    pub fn keep_alive(mut self, interval: Duration) -> Self {
        self.keep_alive = Some(interval);
        self
    }
}

impl<St> IntoResponse for Sse<St>
where
    St: Stream<Item = ServerSentEvent> + Send + 'static,
{
    fn into_response(self) -> Response {
        let events: Pin<Box<dyn Stream<Item = ServerSentEvent> + Send>> = Box::pin(self.events);
        let body = SseBody::new(events);
        let body = match self.keep_alive {
            Some(interval) => Body::new(body.keep_alive(interval)),
            None => Body::new(body),
        };
        crate::http::sse_response(body)
    }
}

impl<St> std::fmt::Debug for Sse<St> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sse")
            .field("keep_alive", &self.keep_alive)
            .finish_non_exhaustive()
    }
}
