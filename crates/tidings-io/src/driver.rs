//! The WebSocket driver, written once: a reading piece and a writing piece, which
//! [`WebSocket`](crate::WebSocket) runs side by side in one task and
//! [`WsReader`](crate::WsReader) / [`WsWriter`](crate::WsWriter) run in two.
//!
//! The core is built the same way: a [`RecvHalf`] turns bytes into events, a
//! [`SendHalf`] owns everything that is written and every timer, and what the first
//! learns that the second must act on travels as signals. The reading piece drives a
//! `RecvHalf`, the writing piece a `SendHalf`, and neither owns its half nor the
//! transport: both are handed to each call. A whole `WebSocket` lends them out of
//! its one [`Connection`](tidings_ws::Connection) (`halves_mut`) and relays the
//! signals at once; split, they travel through a bounded channel.
//!
//! ```text
//!   Reader: read side ──► RecvHalf::read_buffer() (no copy)     + end of stream
//!   Writer: SendHalf::poll_transmit(now) ──► Outbox ──► vectored writes ──► write side
//!           poll_timeout() / handle_timeout(now), plus this crate's timers:
//!           the write timeout and the linger
//!           should_close_transport() ──► shut the write side down
//! ```
//!
//! Every protocol decision (what a frame means, when to pong, when to close TCP,
//! which code to close with, when a silent peer has been idle too long) is the
//! core's. The writing piece's own timers are about the transport only: a peer that
//! takes no bytes for [`Config::write_timeout`] is cut off, and once the connection
//! is closing, bytes the peer still has not taken after the close timeout are given
//! up (the linger).
//!
//! The reading loop ([`poll_recv`]) is written once, over the [`Link`] trait that
//! `WebSocket` and `WsReader` implement; they differ only in where the receiving
//! half's signals go. A whole connection relays them to its own sending half at once
//! and runs the writing piece in the same loop, so its stream ends when the writing
//! piece has finished (a protocol error is reported after its close frame went out).
//! A reader forwards them through the bounded channel, holds "the peer closed" until
//! the writer has every signal before it, and ends at the end of the stream, after a
//! protocol error, or when the writer tells it the connection ended.
//!
//! The public faces of the writing piece (`send`, `send_prepared`, `flush`, `close`,
//! the `Sink`) are written once too, over the [`Drive`] trait that `WebSocket` and
//! `WsWriter` implement.

use std::future::poll_fn;
use std::io;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tidings_ws::{CloseCode, Event, LocalError, ReadSize, RecvHalf, SendHalf, State};

use crate::clock::Clock;
use crate::config::Config;
use crate::error::Error;
use crate::outbox::Outbox;
use crate::transport::sealed::{Read, Write};
use crate::websocket::Message;

/// The core's event as a message; `None` for events a whole-message binding never
/// sees (chunks are off).
pub(crate) fn to_message(event: Event) -> Option<Message> {
    Some(match event {
        Event::Text(text) => Message::Text(text),
        Event::Binary(data) => Message::Binary(data),
        Event::Ping(data) => Message::Ping(data),
        Event::Pong(data) => Message::Pong(data),
        Event::Close(frame) => Message::Close(frame),
        _ => return None,
    })
}

/// Hands `message` to the sending half (no I/O).
pub(crate) fn queue(half: &mut SendHalf, message: Message) -> Result<(), LocalError> {
    match message {
        Message::Text(text) => half.send_text(text),
        Message::Binary(data) => half.send_binary(data),
        Message::Ping(data) => half.send_ping(data),
        Message::Pong(data) => half.send_pong(data),
        Message::Close(None) => half.close(CloseCode::NORMAL, ""),
        Message::Close(Some(frame)) => half.close(frame.code, frame.reason.as_str()),
    }
}

/// What runs the writing piece: a whole [`WebSocket`](crate::WebSocket), or a
/// [`WsWriter`](crate::WsWriter) (which applies the reader's signals first).
pub(crate) trait Drive {
    /// The writing side of the transport.
    type Io: Write;

    /// The writing piece and the sending half, for what needs no I/O.
    fn parts(&mut self) -> (&mut Writer, &mut SendHalf);

    /// Runs `poll` on the writing piece, its transport and its half.
    fn drive<T>(
        &mut self,
        cx: &mut Context<'_>,
        poll: impl FnOnce(&mut Writer, &mut Context<'_>, &mut Self::Io, &mut SendHalf) -> Poll<T>,
    ) -> Poll<T>;

    /// Ready when a message may be queued: waits (writing, and firing timers) while
    /// the queue is above the high watermark, until it is at the low watermark.
    fn poll_ready_send(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.drive(cx, Writer::poll_ready)
    }

    /// Hands a message to the half with `queue` (no I/O).
    fn queue_with(
        &mut self,
        queue: impl FnOnce(&mut SendHalf) -> Result<(), LocalError>,
    ) -> Result<(), Error> {
        let (writer, half) = self.parts();
        if writer.finished {
            return Err(writer.ended());
        }
        Ok(queue(half)?)
    }

    /// Starts the closing handshake, unless it has started or the connection is over.
    fn start_close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        match self.queue_with(|half| half.close(code, reason)) {
            Err(Error::LocalProtocol(e)) => Err(Error::LocalProtocol(e)),
            _ => Ok(()),
        }
    }

    /// Runs until the connection is over, with the error that ended it if any.
    fn poll_closed(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>>;

    /// The `Sink`'s close: starts the closing handshake with 1000 (unless started)
    /// and runs until the connection is over.
    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.start_close(CloseCode::NORMAL, "")?;
        self.poll_closed(cx)
    }

    /// Writes until at most the high watermark is queued, or (`flush`) nothing is.
    fn poll_drain(&mut self, cx: &mut Context<'_>, flush: bool) -> Poll<Result<(), Error>> {
        self.drive(cx, |writer, cx, io, half| {
            let limit = if flush { 0 } else { writer.high };
            writer.poll_drain(cx, io, half, limit)
        })
    }
}

/// `send` and `send_prepared`: waits for room, queues with `queue`, and writes until
/// at most the high watermark is left queued.
pub(crate) async fn send(
    side: &mut impl Drive,
    queue: impl FnOnce(&mut SendHalf) -> Result<(), LocalError>,
) -> Result<(), Error> {
    poll_fn(|cx| side.poll_ready_send(cx)).await?;
    side.queue_with(queue)?;
    poll_fn(|cx| side.poll_drain(cx, false)).await
}

/// `close`: starts the closing handshake (unless it has started) and runs until the
/// connection is over.
pub(crate) async fn close(
    side: &mut impl Drive,
    code: CloseCode,
    reason: &str,
) -> Result<(), Error> {
    side.start_close(code, reason)?;
    poll_fn(|cx| side.poll_closed(cx)).await
}

/// What runs the reading piece, and where the receiving half's signals go: a whole
/// [`WebSocket`](crate::WebSocket) relays them to its own sending half and runs the
/// writing piece in the same loop; a [`WsReader`](crate::WsReader) forwards them
/// through the bounded channel to the writer's task.
pub(crate) trait Link {
    /// The reading side of the transport.
    type Io: Read;

    /// The reading piece, its transport and its half.
    fn reading(&mut self) -> (&mut Reader, &mut Self::Io, &mut RecvHalf);

    /// Hands the half's signals on, in order; `true` once all are with the writer.
    fn forward(&mut self, cx: &mut Context<'_>) -> bool;

    /// Why the connection ended, kept until the stream reports it.
    fn failure(&mut self) -> &mut Option<Error>;

    /// The connection is over for the reader: only its failure is left to report.
    fn ended(&mut self, cx: &mut Context<'_>) -> bool;

    /// The half has no event (and its signals were `forwarded`, or not): the
    /// writer's turn. Ready to look again, the connection maybe over.
    fn poll_idle(&mut self, cx: &mut Context<'_>, forwarded: bool) -> Poll<()>;

    /// Frees the buffers an idle connection need not hold.
    fn shrink(&mut self);
}

/// The reading loop, for both: events from the half (a protocol error remembered
/// until the stream ends), the writer's turn, then a read into the half's buffer;
/// when nothing is readable, idle buffers are freed. Cancel safe: across a `Pending`,
/// everything is kept in the half, the reading piece (the held close) and the link.
pub(crate) fn poll_recv(
    link: &mut impl Link,
    cx: &mut Context<'_>,
) -> Poll<Option<Result<Message, Error>>> {
    loop {
        if link.reading().0.held.is_some() {
            if !link.forward(cx) {
                return Poll::Pending;
            }
            return Poll::Ready(link.reading().0.held.take().map(Ok));
        }
        if link.ended(cx) {
            return Poll::Ready(link.failure().take().map(Err));
        }
        // 1. Events, made lazily from buffered bytes.
        let event = link.reading().2.poll_event();
        let forwarded = link.forward(cx);
        match event {
            Ok(Some(event)) => match to_message(event) {
                // "The peer closed" is told once the writer knows it.
                Some(close @ Message::Close(_)) if !forwarded => {
                    link.reading().0.held = Some(close);
                    continue;
                }
                Some(message) => return Poll::Ready(Some(Ok(message))),
                None => continue,
            },
            Ok(None) => {}
            Err(e) => {
                link.failure().get_or_insert(Error::Protocol(e));
            }
        }
        // 2. The writer's turn.
        if link.poll_idle(cx, forwarded).is_ready() {
            continue;
        }
        // 3. Reads, straight into the half's buffer.
        let (reader, io, half) = link.reading();
        if !reader.eof {
            match reader.poll_read(cx, io, half) {
                // A reset after the close frame is how some peers say goodbye.
                Poll::Ready(Err(e)) if !half.is_done() => {
                    link.failure().get_or_insert(Error::Io(e));
                    continue;
                }
                Poll::Ready(_) => continue,
                Poll::Pending => {}
            }
        }
        // Nothing to do until the transport or a timer wakes us: hold no buffers.
        link.shrink();
        return Poll::Pending;
    }
}

/// The reading piece: reads into the receiving half's buffer.
#[derive(Debug)]
pub(crate) struct Reader {
    /// How many bytes the next read asks for.
    read_size: ReadSize,
    /// The transport said end of stream, or failed: nothing more is read.
    pub(crate) eof: bool,
    /// The peer's close, told once every signal before it is with the writer.
    held: Option<Message>,
}

impl Reader {
    pub(crate) fn new(config: &Config) -> Self {
        Self {
            read_size: ReadSize::new(config.read_buffer_size),
            eof: false,
            held: None,
        }
    }

    /// Reads once into `half`'s buffer: the rest of a large frame at once, else the
    /// adaptive size. At the end of the stream (`Ok(0)`) or on an error, the half is
    /// told and nothing more is read.
    #[inline]
    pub(crate) fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        io: &mut impl Read,
        half: &mut RecvHalf,
    ) -> Poll<io::Result<usize>> {
        let size = self.read_size.for_frame(half.frame_bytes_wanted());
        // Once input is done the half drops what is appended; read only to see the
        // end of stream, and drop the bytes at once.
        let done = half.is_done();
        let buf = half.read_buffer();
        let before = buf.len();
        let read = ready!(io.poll_read_into(cx, buf, size));
        if done {
            half.read_buffer().truncate(before);
        }
        match read {
            Ok(n) if n > 0 => self.read_size.record(n),
            _ => {
                self.eof = true;
                half.handle_eof();
            }
        }
        Poll::Ready(read)
    }
}

/// The writing piece: the bytes taken from the core, the writes, the shutdown, and
/// every timer.
#[derive(Debug)]
pub(crate) struct Writer {
    pub(crate) out: Outbox,
    clock: Clock,
    high: usize,
    low: usize,
    write_timeout: Option<Duration>,
    close_timeout: Duration,
    /// A sender is waiting for the queue to fall to the low watermark.
    draining: bool,
    /// The transport is shut down, failed, or given up on: the connection is over.
    pub(crate) finished: bool,
    /// Why the connection ended, to report once it has.
    pub(crate) failure: Option<Error>,
    /// Give up on a peer that does not take the last bytes, at this time.
    linger: Option<Duration>,
}

impl Writer {
    pub(crate) fn new(config: &Config, clock: Clock) -> Self {
        Self {
            out: Outbox::default(),
            clock,
            high: config.write_high_watermark,
            low: config.write_low_watermark.min(config.write_high_watermark),
            write_timeout: config.write_timeout,
            close_timeout: config.ws.close_timeout,
            draining: false,
            finished: false,
            failure: None,
            linger: None,
        }
    }

    /// Bytes queued for the transport: the half's queue plus the batch in hand.
    pub(crate) fn buffered_amount(&self, half: &SendHalf) -> usize {
        half.buffered_amount() + self.out.len
    }

    /// The connection is over on this side, `failure` first if it is the first.
    fn finish(&mut self, failure: Option<Error>) {
        self.finished = true;
        if let Some(e) = failure {
            self.failure.get_or_insert(e);
        }
    }

    /// Why nothing more can be sent: the transport's failure (a write timeout, an
    /// I/O error), else [`Error::Closed`]. The connection's own failure is reported
    /// where it ends: the stream of messages, and `closed`.
    pub(crate) fn ended(&self) -> Error {
        match &self.failure {
            Some(e @ (Error::WriteTimeout | Error::Io(_))) => e.copy(),
            _ => Error::Closed,
        }
    }

    /// Ready when a message may be queued: `Ok` at once below the high watermark;
    /// above it, once writing brought the queue down to the low watermark.
    fn poll_ready(
        &mut self,
        cx: &mut Context<'_>,
        io: &mut impl Write,
        half: &mut SendHalf,
    ) -> Poll<Result<(), Error>> {
        if self.finished || half.state() != State::Open {
            return Poll::Ready(Err(self.ended()));
        }
        if self.buffered_amount(half) > self.high {
            self.draining = true;
        }
        if self.draining {
            ready!(self.poll_run(cx, io, half, Some(self.low)));
            if self.finished {
                return Poll::Ready(Err(self.ended()));
            }
            self.draining = false;
        }
        Poll::Ready(Ok(()))
    }

    /// Writes until at most `limit` bytes are queued (and, at 0, the transport is
    /// flushed); `Err` if the connection ended first with more queued, or the
    /// transport failed.
    fn poll_drain(
        &mut self,
        cx: &mut Context<'_>,
        io: &mut impl Write,
        half: &mut SendHalf,
        limit: usize,
    ) -> Poll<Result<(), Error>> {
        ready!(self.poll_run(cx, io, half, Some(limit)));
        let failed = matches!(self.failure, Some(Error::WriteTimeout | Error::Io(_)));
        Poll::Ready(match self.finished {
            true if failed || self.buffered_amount(half) > limit => Err(self.ended()),
            _ => Ok(()),
        })
    }

    /// The writer's loop: writes what the half gives, shuts the transport down when
    /// the half says so, and keeps the timers. Ready once at most `limit` bytes are
    /// queued (and, at 0, flushed), or once the connection is over
    /// ([`finished`](Self::finished)); with no `limit`, only then. `Pending` leaves
    /// the waker with the transport and the clock.
    pub(crate) fn poll_run(
        &mut self,
        cx: &mut Context<'_>,
        io: &mut impl Write,
        half: &mut SendHalf,
        limit: Option<usize>,
    ) -> Poll<()> {
        loop {
            if self.finished {
                return Poll::Ready(());
            }
            let now = self.clock.now();
            if half.state() != State::Open && self.linger.is_none() {
                self.linger = Some(now + self.close_timeout);
            }
            if let Poll::Ready(Err(e)) =
                self.out.poll_write(cx, io, now, || half.poll_transmit(now))
            {
                // A reset after the close frame is how some peers say goodbye.
                self.finish((half.state() != State::Closed).then_some(Error::Io(e)));
                continue;
            }
            // The half says when the transport should go. A failed shutdown changes
            // nothing: the connection is over either way.
            if self.out.len == 0 && half.should_close_transport() {
                let _ = ready!(io.poll_shutdown(cx));
                self.finish(None);
                continue;
            }
            if limit.is_some_and(|limit| self.buffered_amount(half) <= limit) {
                return Poll::Ready(());
            }
            // Timers. The clock is read only when something waits on it: it is the
            // most frequent call in this loop otherwise.
            let write = self.out.write_deadline(self.write_timeout);
            match [half.poll_timeout(), self.linger, write]
                .into_iter()
                .flatten()
                .min()
            {
                Some(at) if at <= now || self.clock.poll_sleep(cx, at).is_ready() => {
                    self.fire_timers(half);
                    continue;
                }
                Some(_) => {}
                // No deadline: no timer left in the runtime's wheel.
                None => self.clock.cancel_sleep(),
            }
            return Poll::Pending;
        }
    }

    fn fire_timers(&mut self, half: &mut SendHalf) {
        let now = self.clock.now();
        half.handle_timeout(now);
        if let Some(e) = half.poll_error() {
            self.failure.get_or_insert(Error::Protocol(e));
        }
        if self
            .out
            .write_deadline(self.write_timeout)
            .is_some_and(|at| at <= now)
        {
            // The peer takes nothing: what is queued will never leave.
            self.out.clear();
            self.finish(Some(Error::WriteTimeout));
            return;
        }
        if self.linger.is_some_and(|at| at <= now) {
            self.linger = None;
            // The peer would not take what is left: drop it and end.
            if self.buffered_amount(half) != 0 {
                self.finish(None);
            }
        }
    }
}
