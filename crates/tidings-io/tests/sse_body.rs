//! The `http_body::Body` adapter, polled directly: the frames are the encoder's bytes,
//! keep-alives come on ticks only when the stream was silent.
#![cfg(feature = "http-body")]

use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{StreamExt as _, stream};
use http_body::Body;
use tidings_io::sse::{ServerSentEvent, SseBody};

/// Polls once with a no-op waker: `Some(frame data)`, `None` at the end, or
/// `Err("pending")`.
fn poll_once<B>(body: &mut B) -> Result<Option<Result<Bytes, B::Error>>, &'static str>
where
    B: Body<Data = Bytes> + Unpin,
{
    let mut cx = Context::from_waker(Waker::noop());
    match Pin::new(body).poll_frame(&mut cx) {
        Poll::Ready(Some(frame)) => Ok(Some(frame.map(|f| f.into_data().unwrap()))),
        Poll::Ready(None) => Ok(None),
        Poll::Pending => Err("pending"),
    }
}

#[test]
fn frames_are_the_encoded_events() {
    let events = stream::iter([
        ServerSentEvent::data("one").id("1"),
        ServerSentEvent::comment("note"),
        ServerSentEvent::data("a\nb").event("two"),
    ]);
    let mut body = SseBody::new(events);
    let mut frames = Vec::new();
    while let Some(frame) = poll_once(&mut body).unwrap() {
        frames.push(frame.unwrap());
    }
    assert_eq!(
        frames,
        [
            &b"id: 1\ndata: one\n\n"[..],
            b": note\n",
            b"event: two\ndata: a\ndata: b\n\n"
        ]
    );
    assert!(body.is_end_stream());
    assert_eq!(poll_once(&mut body).unwrap(), None);
}

#[test]
fn an_invalid_event_ends_the_body_with_its_error() {
    let mut body = SseBody::new(stream::iter([
        ServerSentEvent::data("x").id("a\nb"),
        ServerSentEvent::data("y"),
    ]));
    let first = poll_once(&mut body).unwrap().unwrap();
    assert_eq!(first, Err(tidings_sse::LocalError::InvalidId));
    assert_eq!(poll_once(&mut body).unwrap(), None);
}

#[test]
fn keep_alive_only_after_a_silent_tick() {
    let events = stream::iter([ServerSentEvent::data("x")]).chain(stream::pending());
    let ticks = stream::iter([(), (), ()]);
    let mut body = SseBody::new(Box::pin(events)).keep_alive_on(ticks);
    assert_eq!(
        poll_once(&mut body),
        Ok(Some(Ok(Bytes::from_static(b"data: x\n\n"))))
    );
    // The first tick follows an event: skipped. The next two find silence.
    assert_eq!(
        poll_once(&mut body),
        Ok(Some(Ok(Bytes::from_static(b":\n"))))
    );
    assert_eq!(
        poll_once(&mut body),
        Ok(Some(Ok(Bytes::from_static(b":\n"))))
    );
    // Ticks exhausted, no events: pending, not ended.
    assert_eq!(poll_once(&mut body), Err("pending"));
    assert!(!body.is_end_stream());
}

#[cfg(feature = "tokio")]
#[tokio::test(start_paused = true)]
async fn keep_alive_on_tokio_paused_clock() {
    let mut body = SseBody::new(stream::pending()).keep_alive(Duration::from_secs(15));
    let start = tokio::time::Instant::now();
    for n in 1..=3 {
        let frame = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        let data = frame.unwrap().unwrap().into_data().unwrap();
        assert_eq!(data, Bytes::from_static(b":\n"));
        assert_eq!(start.elapsed(), Duration::from_secs(15 * n));
    }
}
