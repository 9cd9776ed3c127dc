//! An event stream as an [`http_body::Body`], for servers whose HTTP is hyper's
//! (axum, warp, tonic...).
//!
//! There the HTTP stack owns the connection, the head and the framing, so all that
//! is left is turning events into data frames. The body is runtime-agnostic: the
//! keep-alive is driven by any [`Stream`] of ticks the caller hands in (with the
//! `tokio` feature, [`SseBody::keep_alive`] makes one from `tokio::time`). A tick
//! writes `:\n` only if no event went out since the previous tick, so a busy stream
//! carries no keep-alives.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use http_body::{Body, Frame};
use tidings_sse::encode;

use super::ServerSentEvent;

/// A `text/event-stream` response body: one data frame per event.
///
/// ```
/// use tidings_io::sse::{ServerSentEvent, SseBody};
///
/// let events = futures_util::stream::iter([ServerSentEvent::data("hi"), ServerSentEvent::data("there")]);
/// let body = SseBody::new(events);
/// // axum: Response::builder()
/// //     .header("content-type", "text/event-stream")
/// //     .header("cache-control", "no-store")
/// //     .body(axum::body::Body::new(body))
/// # let _ = body;
/// ```
///
/// An event that cannot be encoded (an `id` with a line break...) ends the body with
/// its [`tidings_sse::LocalError`].
#[derive(Debug)]
#[must_use = "a body does nothing unless served"]
pub struct SseBody<St, K = Never> {
    events: St,
    ticks: Option<K>,
    /// An event went out since the last tick.
    active: bool,
    done: bool,
}

/// The tick stream of a body without keep-alive: never yields.
#[derive(Debug, Clone, Copy, Default)]
pub struct Never;

impl Stream for Never {
    type Item = Infallible;

    fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Infallible>> {
        Poll::Ready(None)
    }
}

impl<St> SseBody<St, Never>
where
    St: Stream<Item = ServerSentEvent> + Unpin,
{
    /// A body sending `events`, with no keep-alive. Pin a stream that is not
    /// `Unpin` with `Box::pin`.
    pub fn new(events: St) -> Self {
        Self {
            events,
            ticks: None,
            active: false,
            done: false,
        }
    }

    /// Adds a keep-alive comment on each item of `ticks` that comes when no event
    /// was sent since the previous one.
    pub fn keep_alive_on<K: Stream + Unpin>(self, ticks: K) -> SseBody<St, K> {
        SseBody {
            events: self.events,
            ticks: Some(ticks),
            active: self.active,
            done: self.done,
        }
    }

    /// Adds a keep-alive comment every `interval` of silence, on tokio's timer.
    #[cfg(feature = "tokio")]
    pub fn keep_alive(self, interval: std::time::Duration) -> SseBody<St, Ticks> {
        let start = tokio::time::Instant::now() + interval;
        self.keep_alive_on(Ticks {
            interval: tokio::time::interval_at(start, interval),
        })
    }
}

/// Ticks of a `tokio::time::Interval`, as a [`Stream`].
#[cfg(feature = "tokio")]
#[derive(Debug)]
pub struct Ticks {
    interval: tokio::time::Interval,
}

#[cfg(feature = "tokio")]
impl Stream for Ticks {
    type Item = ();

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<()>> {
        self.interval.poll_tick(cx).map(|_| Some(()))
    }
}

impl<St, K> Body for SseBody<St, K>
where
    St: Stream<Item = ServerSentEvent> + Unpin,
    K: Stream + Unpin,
{
    type Data = Bytes;
    type Error = tidings_sse::LocalError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        if let Poll::Ready(event) = Pin::new(&mut this.events).poll_next(cx) {
            let mut buf = BytesMut::new();
            let frame = event.map(|event| event.encode(&mut buf).map(|()| buf.freeze()));
            // The end of the events, or one that cannot be encoded, ends the body.
            this.done = !matches!(frame, Some(Ok(_)));
            this.active = true;
            return Poll::Ready(frame.map(|frame| frame.map(Frame::data)));
        }
        while let Some(ticks) = &mut this.ticks {
            match Pin::new(ticks).poll_next(cx) {
                Poll::Ready(Some(_)) if std::mem::take(&mut this.active) => {}
                Poll::Ready(Some(_)) => {
                    let keep_alive = Bytes::from_static(encode::KEEP_ALIVE);
                    return Poll::Ready(Some(Ok(Frame::data(keep_alive))));
                }
                Poll::Ready(None) => this.ticks = None,
                Poll::Pending => break,
            }
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }
}
