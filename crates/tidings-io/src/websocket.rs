//! [`WebSocket`]: one connection, driven on a runtime.
//!
//! This is the call protocol of [`tidings_ws::Connection`] written once as a poll
//! loop, and nothing more: every protocol decision (what a frame means, when to pong,
//! when to close TCP, which code to close with) is the core's. The loop, in
//! [`WebSocket::poll_recv`], is:
//!
//! 1. `poll_event()`: a message is returned at once; a protocol error is remembered,
//!    and reported only after the close frame carrying its code has been written.
//! 2. Write what `poll_transmit(now)` gives, batched into vectored writes.
//! 3. Once `should_close_transport()`, shut the write side down and end the stream.
//! 4. Fire due timers (`poll_timeout()` / `handle_timeout(now)`, plus the idle and
//!    linger timeouts of this crate); otherwise sleep until the next one.
//! 5. Read into the core's receive buffer and go to 1; when nothing is readable, free
//!    idle buffers (`shrink_buffers()`) and wait.
//!
//! # Cancel safety
//!
//! [`WebSocket::recv`] holds nothing across an `.await`: bytes read are in the core's
//! buffer the moment the read returns, and events are only made by `poll_event` when a
//! message is about to be returned. Dropping a pending `recv` (in `select!`, or with a
//! timeout) therefore loses nothing. [`WebSocket::send`] never half-queues a message:
//! dropped while it waits for room, the message was not queued; dropped while it
//! writes, the message is queued whole and goes out with the next call.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{Buf, Bytes};
use futures_core::Stream;
use futures_sink::Sink;
use tidings_ws::{
    CloseCode, CloseFrame, Connection, Event, PreparedMessage, Role, State, Utf8Bytes,
};

use crate::config::Config;
use crate::error::Error;
use crate::split::{Parts, WsReader, WsWriter};
use crate::transport::sealed::WriteIo;
use crate::transport::{ReadSize, SplitTransport, Transport};

/// How many chunks from `poll_transmit` one vectored write may carry.
const MAX_IOV: usize = 16;
/// How many bytes are taken out of the core ahead of a write. Control frames the core
/// queues later overtake data only behind this much.
const WRITE_BATCH: usize = 64 * 1024;

/// A message, whole: the payloads are the core's [`Bytes`], never copied here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A text message (valid UTF-8).
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
    /// A ping (at most 125 bytes). Received pings are already answered.
    Ping(Bytes),
    /// A pong (at most 125 bytes).
    Pong(Bytes),
    /// A close frame. Received: the peer's (the answer is already queued). Sent:
    /// starts the closing handshake, `None` meaning 1000 (normal) with no reason.
    Close(Option<CloseFrame>),
}

impl Message {
    /// A text message.
    pub fn text(text: impl Into<Utf8Bytes>) -> Self {
        Self::Text(text.into())
    }

    /// A binary message.
    pub fn binary(data: impl Into<Bytes>) -> Self {
        Self::Binary(data.into())
    }
}

/// A WebSocket connection over a [`Transport`]: a [`Stream`] and a [`Sink`] of
/// [`Message`]s, with plain [`recv`](Self::recv) and [`send`](Self::send) too.
///
/// Made by [`accept`](crate::accept) or [`connect`](crate::connect).
///
/// Only [`recv`](Self::recv) (or polling the stream) reads: keep it polled, or pings
/// go unanswered and the peer's close is never seen. Sending is buffered up to
/// [`Config::write_high_watermark`]; the bytes are written by whichever of `recv`,
/// `send`, [`flush`](Self::flush) or [`close`](Self::close) runs next, so call `flush`
/// when you stop sending and do not otherwise poll the connection.
pub struct WebSocket<S> {
    io: S,
    conn: Connection,
    config: Config,
    protocol: Option<String>,

    /// Bytes taken from the core, not yet written.
    out: Outbox,
    /// `send` is waiting for the queue to fall to the low watermark.
    draining: bool,

    /// The transport said end of stream.
    eof: bool,
    /// The transport is shut down (or failed): the stream has ended.
    finished: bool,
    /// The error to report once the close frame is out and the transport shut.
    failure: Option<Error>,
    /// Give up writing the close frame to a peer that does not read, at this time.
    linger: Option<Duration>,
    /// When something was last received (for the idle timeout).
    last_received: Duration,
    /// How many bytes the next read asks for.
    read_size: ReadSize,
}

impl<S: Transport> WebSocket<S> {
    /// Wraps a transport whose opening handshake is done; `leftover` are bytes read
    /// after the handshake's head (the first frames).
    pub(crate) fn from_parts(
        io: S,
        mut conn: Connection,
        config: Config,
        protocol: Option<String>,
        leftover: &[u8],
    ) -> Self {
        conn.receive(leftover);
        let now = io.now();
        let read_size = ReadSize::new(config.read_buffer_size);
        Self {
            io,
            conn,
            config,
            protocol,
            out: Outbox::default(),
            draining: false,
            eof: false,
            finished: false,
            failure: None,
            linger: None,
            last_received: now,
            read_size,
        }
    }

    /// Wraps a stream whose opening handshake was done by someone else: a hyper or
    /// axum upgrade (`hyper::upgrade::on`, answered with
    /// `tidings_handshake::Accept::to_http`), or a handshake of your own.
    /// `protocol` is the subprotocol that handshake agreed on, if any.
    ///
    /// No byte is read or written here; frames start at the stream's next byte.
    /// The `examples/axum.rs` example shows the whole path inside an axum app.
    pub fn from_upgraded(io: S, role: Role, config: Config, protocol: Option<String>) -> Self {
        let conn = Connection::new(role, crate::handshake::ws_config(&config));
        Self::from_parts(io, conn, config, protocol, &[])
    }

    /// The subprotocol agreed in the handshake, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The protocol state machine (for its getters: state, role, config).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The transport.
    pub fn get_ref(&self) -> &S {
        &self.io
    }

    /// Bytes queued for the transport: the core's queue plus the batch in hand.
    pub fn buffered_amount(&self) -> usize {
        self.conn.buffered_amount() + self.out.len()
    }

    /// The next message; `None` once the connection is closed and the transport shut
    /// down. Cancel safe: see the module documentation.
    ///
    /// After an error, the next call returns `None`.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Queues a message and writes until at most [`Config::write_high_watermark`]
    /// bytes are left queued, waiting for the transport as needed. Once the queue has
    /// gone over the high watermark, it also waits for it to fall to
    /// [`Config::write_low_watermark`] before queueing. [`Message::Close`] starts the
    /// closing handshake without waiting for it; see [`close`](Self::close).
    pub async fn send(&mut self, message: Message) -> Result<(), Error> {
        poll_fn(|cx| self.poll_ready_send(cx)).await?;
        self.start_send_message(message)?;
        let high = self.config.write_high_watermark;
        poll_fn(|cx| self.poll_drain_to(cx, high)).await
    }

    /// Queues a message encoded once for many connections (broadcast), waiting for
    /// room as [`send`](Self::send) does. On a server the prepared frames are queued
    /// as they are: one encoding and no copy, whatever the number of connections.
    ///
    /// ```no_run
    /// # async fn run(clients: &mut [tidings_io::WebSocket<tidings_io::Tokio<tokio::net::TcpStream>>])
    /// # -> Result<(), tidings_io::Error> {
    /// let news = tidings_ws::PreparedMessage::text("tick 42");
    /// for ws in clients {
    ///     ws.send_prepared(&news).await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn send_prepared(&mut self, message: &PreparedMessage) -> Result<(), Error> {
        poll_fn(|cx| self.poll_ready_send(cx)).await?;
        if self.finished {
            return Err(self.ended());
        }
        self.conn.send_prepared(message)?;
        let high = self.config.write_high_watermark;
        poll_fn(|cx| self.poll_drain_to(cx, high)).await
    }

    /// Splits the connection into a reader and a writer for two tasks, with no lock
    /// between them on the data path. The writer must be polled for pings to be
    /// answered: see [`WsWriter`] and [`WsWriter::closed`].
    ///
    /// The transport is split too: into owned halves without a lock for tokio's and
    /// smol's TCP and Unix streams, and behind a per-call mutex for other streams
    /// (see [`SplitTransport`](crate::SplitTransport)).
    ///
    /// ```no_run
    /// # async fn run(ws: tidings_io::WebSocket<tidings_io::Tokio<tokio::net::TcpStream>>) {
    /// let (mut reader, mut writer) = ws.split();
    /// // The writer runs on its own: it answers pings and keeps the timers.
    /// tokio::spawn(async move { writer.closed().await });
    /// while let Some(Ok(message)) = reader.recv().await {
    ///     println!("{message:?}");
    /// }
    /// # }
    /// ```
    pub fn split(self) -> (WsReader<S>, WsWriter<S>)
    where
        S: SplitTransport,
    {
        let (recv, send) = self.conn.into_split();
        Parts {
            io: self.io,
            recv,
            send,
            config: self.config,
            protocol: self.protocol,
            out: self.out,
            eof: self.eof,
            finished: self.finished,
            failure: self.failure,
            last_received: self.last_received,
        }
        .split()
    }

    /// Writes everything queued and flushes the transport.
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| self.poll_flush_all(cx)).await
    }

    /// Starts the closing handshake (unless it has started) and drives the connection
    /// until the transport is shut down. Messages that arrive meanwhile are dropped.
    /// Ends within [`tidings_ws::Config::close_timeout`] of a silent peer.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        match self.conn.close(code, reason) {
            Ok(()) | Err(tidings_ws::SendError::Closing) => {}
            Err(e) => return Err(Error::Send(e)),
        }
        poll_fn(|cx| self.poll_until_closed(cx)).await
    }

    /// The stream's poll: see the module documentation for the loop.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, Error>>> {
        loop {
            if self.finished {
                return Poll::Ready(self.failure.take().map(Err));
            }
            // 1. Events, made lazily from buffered bytes.
            match self.conn.poll_event() {
                Ok(Some(event)) => {
                    if let Some(message) = to_message(event) {
                        return Poll::Ready(Some(Ok(message)));
                    }
                    continue;
                }
                Ok(None) => {}
                Err(e) => {
                    self.fail(Error::Protocol(e));
                    continue;
                }
            }
            // 2. Writes; `Pending` leaves the waker with the transport.
            if let Poll::Ready(Err(e)) = self.poll_write_out(cx) {
                let e = self.io_failed(e);
                if self.conn.state() != State::Closed {
                    self.failure.get_or_insert(e);
                }
                self.finished = true;
                continue;
            }
            // 3. The core says when the transport should go.
            if self.out.is_empty() && self.conn.should_close_transport() {
                // A failed shutdown changes nothing: the stream is over either way.
                let _ = ready!(self.io.poll_shutdown(cx));
                self.finished = true;
                continue;
            }
            // 4. Timers. The clock is read only when something waits on it: it is
            // the most frequent call in this loop otherwise.
            if let Some(deadline) = self.next_deadline() {
                let now = self.io.now();
                if deadline <= now || self.io.poll_sleep_until(cx, deadline).is_ready() {
                    self.fire_timers(self.io.now());
                    continue;
                }
            } else {
                // No deadline (the handshake's is over): no timer in the wheel.
                self.io.cancel_sleep();
            }
            // 5. Reads, straight into the core's buffer.
            if !self.eof {
                // The rest of a large frame at once, else the adaptive size.
                let size = self.read_size.for_frame(self.conn.frame_bytes_wanted());
                // Once input is done the core drops what is appended; read only to see
                // the end of stream, and drop the bytes at once.
                let closed = self.conn.is_input_done();
                let buf = self.conn.read_buffer();
                let before = buf.len();
                let read = self.io.poll_read_into(cx, buf, size);
                if closed {
                    self.conn.read_buffer().truncate(before);
                }
                match read {
                    Poll::Ready(Ok(0)) => {
                        self.eof = true;
                        self.conn.handle_eof();
                        continue;
                    }
                    Poll::Ready(Ok(n)) => {
                        self.read_size.record(n);
                        if self.config.idle_timeout.is_some() {
                            self.last_received = self.io.now();
                        }
                        continue;
                    }
                    Poll::Ready(Err(e)) => {
                        // A reset after the close frame is how some peers say goodbye.
                        if self.conn.state() != State::Closed {
                            self.failure.get_or_insert(Error::Io(e));
                        }
                        self.eof = true;
                        self.conn.handle_eof();
                        continue;
                    }
                    Poll::Pending => {}
                }
            }
            // Nothing to do until the transport or a timer wakes us: hold no buffers.
            self.conn.shrink_buffers();
            self.out.shrink();
            return Poll::Pending;
        }
    }

    /// Ready when a message may be queued: waits (writing, and firing timers) while
    /// the queue is above the high watermark, until it is at the low watermark.
    pub fn poll_ready_send(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if self.finished || self.conn.state() != State::Open {
            return Poll::Ready(Err(self.ended()));
        }
        let high = self.config.write_high_watermark;
        if self.buffered_amount() > high {
            self.draining = true;
        }
        if self.draining {
            let low = self.config.write_low_watermark.min(high);
            ready!(self.poll_drain_to(cx, low))?;
            self.draining = false;
        }
        Poll::Ready(Ok(()))
    }

    /// Writes until at most `limit` bytes are queued, keeping the close and keepalive
    /// timers running meanwhile.
    fn poll_drain_to(&mut self, cx: &mut Context<'_>, limit: usize) -> Poll<Result<(), Error>> {
        loop {
            if self.finished {
                return Poll::Ready(Err(self.ended()));
            }
            if let Poll::Ready(Err(e)) = self.poll_write_out(cx) {
                return Poll::Ready(Err(self.io_failed(e)));
            }
            if self.buffered_amount() <= limit {
                return Poll::Ready(Ok(()));
            }
            match self.next_deadline() {
                Some(deadline)
                    if deadline <= self.io.now()
                        || self.io.poll_sleep_until(cx, deadline).is_ready() =>
                {
                    self.fire_timers(self.io.now());
                }
                _ => return Poll::Pending,
            }
        }
    }

    /// Hands a message to the core (no I/O). Call after
    /// [`poll_ready_send`](Self::poll_ready_send) returned `Ready(Ok(()))`.
    fn start_send_message(&mut self, message: Message) -> Result<(), Error> {
        if self.finished {
            return Err(self.ended());
        }
        let sent = match message {
            Message::Text(text) => self.conn.send_text(text),
            Message::Binary(data) => self.conn.send_binary(data),
            Message::Ping(data) => self.conn.send_ping(data),
            Message::Pong(data) => self.conn.send_pong(data),
            Message::Close(None) => self.conn.close(CloseCode::NORMAL, ""),
            Message::Close(Some(frame)) => self.conn.close(frame.code, frame.reason.as_str()),
        };
        Ok(sent?)
    }

    /// Writes everything queued, then flushes the transport.
    fn poll_flush_all(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if self.finished {
            return Poll::Ready(match self.conn.has_transmit() || !self.out.is_empty() {
                true => Err(Error::Closed),
                false => Ok(()),
            });
        }
        if let Err(e) = ready!(self.poll_write_out(cx)) {
            return Poll::Ready(Err(self.io_failed(e)));
        }
        Poll::Ready(Ok(()))
    }

    /// Drives the connection to its end, dropping messages.
    fn poll_until_closed(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        loop {
            match ready!(self.poll_recv(cx)) {
                None => return Poll::Ready(Ok(())),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Poll::Ready(Err(e)),
            }
        }
    }

    /// Writes until the core and the batch in hand are empty and the transport is
    /// flushed. `Pending` means the transport is full (the waker is registered).
    fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let now = self.io.now();
        let conn = &mut self.conn;
        self.out
            .poll_write(cx, &mut self.io, now, || conn.poll_transmit(now))
    }

    /// The earliest of the core's deadline and this crate's own.
    fn next_deadline(&self) -> Option<Duration> {
        let idle = match (self.config.idle_timeout, self.conn.state()) {
            (Some(idle), State::Open) => Some(self.last_received + idle),
            _ => None,
        };
        let write = self.out.write_deadline(self.config.write_timeout);
        [self.conn.poll_timeout(), idle, self.linger, write]
            .into_iter()
            .flatten()
            .min()
    }

    fn fire_timers(&mut self, now: Duration) {
        self.conn.handle_timeout(now);
        if self.out.write_timed_out(self.config.write_timeout, now) {
            // The peer takes nothing: what is queued will never leave.
            self.out.clear();
            self.failure.get_or_insert(Error::WriteTimeout);
            self.finished = true;
            return;
        }
        if self.linger.is_some_and(|at| at <= now) {
            // The peer would not take the close frame: drop it and end.
            self.linger = None;
            self.finished = true;
        }
        let idle = self.config.idle_timeout;
        if let Some(idle) = idle {
            if self.conn.state() == State::Open && self.last_received + idle <= now {
                // A closing handshake, so a live peer learns why; its own timeout
                // (close_timeout) ends it if the peer is gone.
                let _ = self.conn.close(CloseCode::GOING_AWAY, "idle timeout");
                self.failure.get_or_insert(Error::IdleTimeout);
            }
        }
    }

    /// Remembers `error` for after the close frame is out, bounded by the close
    /// timeout in case the peer does not read.
    fn fail(&mut self, error: Error) {
        self.failure.get_or_insert(error);
        if self.linger.is_none() {
            self.linger = Some(self.io.now() + self.conn.config().close_timeout);
        }
    }

    /// Why nothing more can be sent: a write timeout says so, anything else is
    /// reported by `recv`.
    fn ended(&self) -> Error {
        match self.failure {
            Some(Error::WriteTimeout) => Error::WriteTimeout,
            _ => Error::Closed,
        }
    }

    /// The transport cannot be written: the stream is over.
    fn io_failed(&mut self, e: io::Error) -> Error {
        self.finished = true;
        Error::Io(e)
    }
}

/// The bytes taken from the core for the transport, and the write loop that
/// empties them, shared by [`WebSocket`] and the split writer.
///
/// The first [`INLINE_CHUNKS`] chunks live in the struct itself: a small message is
/// one chunk and a large one from a server two (header, payload), so the common
/// write needs no list. The list (`spill`) is allocated only when more chunks wait,
/// and freed again when the connection goes idle. A list allocated for every write
/// and freed at every wait was one of the six allocations of a 20-byte echo.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    /// The first chunks in hand, in order: `inline[..inline_len]`; the rest are
    /// empty `Bytes` (no allocation).
    inline: [Bytes; INLINE_CHUNKS],
    inline_len: usize,
    /// The chunks after the inline ones. A chunk goes here only while this list is
    /// not empty or the inline slots are full, so the order is inline, then spill.
    spill: VecDeque<Bytes>,
    /// Bytes in hand.
    len: usize,
    /// Bytes were written since the last flush.
    unflushed: bool,
    /// When the transport last refused bytes we had in hand, if it has taken none
    /// since (the write timeout counts from here).
    stalled_since: Option<Duration>,
}

/// Chunks an [`Outbox`] holds without allocating.
const INLINE_CHUNKS: usize = 2;

impl Outbox {
    /// Bytes in hand.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// When the write timeout fires, if the transport is stuck with bytes in hand.
    pub(crate) fn write_deadline(&self, timeout: Option<Duration>) -> Option<Duration> {
        timeout
            .zip(self.stalled_since)
            .map(|(timeout, since)| since + timeout)
    }

    /// Whether the transport has taken nothing for `timeout` while bytes wait.
    pub(crate) fn write_timed_out(&self, timeout: Option<Duration>, now: Duration) -> bool {
        self.write_deadline(timeout).is_some_and(|at| at <= now)
    }

    /// Drops everything in hand: the peer will not take it.
    pub(crate) fn clear(&mut self) {
        self.inline = Default::default();
        self.inline_len = 0;
        self.spill = VecDeque::new();
        self.len = 0;
        self.stalled_since = None;
    }

    /// Drops the list's memory once it is empty: an idle connection holds none
    /// (128 bytes or more, from `benches/e2e`).
    pub(crate) fn shrink(&mut self) {
        if self.spill.is_empty() && self.spill.capacity() != 0 {
            self.spill = VecDeque::new();
        }
    }

    /// How many chunks are in hand.
    fn chunk_count(&self) -> usize {
        self.inline_len + self.spill.len()
    }

    fn push_back(&mut self, chunk: Bytes) {
        self.len += chunk.len();
        if self.spill.is_empty() && self.inline_len < INLINE_CHUNKS {
            self.inline[self.inline_len] = chunk;
            self.inline_len += 1;
        } else {
            self.spill.push_back(chunk);
        }
    }

    fn front_mut(&mut self) -> Option<&mut Bytes> {
        match self.inline_len {
            0 => self.spill.front_mut(),
            _ => Some(&mut self.inline[0]),
        }
    }

    fn pop_front(&mut self) {
        if self.inline_len == 0 {
            self.spill.pop_front();
            return;
        }
        self.inline[0] = Bytes::new();
        self.inline[..self.inline_len].rotate_left(1);
        self.inline_len -= 1;
    }

    /// The chunks in hand, in order.
    fn chunks(&self) -> impl Iterator<Item = &Bytes> {
        self.inline[..self.inline_len].iter().chain(&self.spill)
    }

    /// Writes what `transmit` (the core's `poll_transmit`) gives, batched into
    /// vectored writes, until it and the batch in hand are empty and the transport
    /// is flushed. `Pending` means the transport is full (the waker is registered).
    pub(crate) fn poll_write<W: WriteIo>(
        &mut self,
        cx: &mut Context<'_>,
        io: &mut W,
        now: Duration,
        mut transmit: impl FnMut() -> Option<Bytes>,
    ) -> Poll<io::Result<()>> {
        loop {
            // Refill the batch: the core decides the order (control frames first).
            while self.chunk_count() < MAX_IOV && self.len < WRITE_BATCH {
                match transmit() {
                    Some(chunk) if chunk.is_empty() => {}
                    Some(chunk) => self.push_back(chunk),
                    None => break,
                }
            }
            let count = self.chunk_count();
            if count == 0 {
                self.stalled_since = None;
                if self.unflushed {
                    ready!(io.poll_flush(cx))?;
                    self.unflushed = false;
                }
                return Poll::Ready(Ok(()));
            }
            // One chunk (a small message) goes out with a plain write, a cheaper
            // system call than a vectored one.
            let polled = match self.chunks().next() {
                Some(chunk) if count == 1 => io.poll_write(cx, chunk),
                _ => {
                    let mut iov = [IoSlice::new(&[]); MAX_IOV];
                    let n = count.min(MAX_IOV);
                    for (slot, chunk) in iov.iter_mut().zip(self.chunks()) {
                        *slot = IoSlice::new(chunk);
                    }
                    io.poll_write_vectored(cx, &iov[..n])
                }
            };
            let mut written = match polled {
                Poll::Ready(result) => result?,
                Poll::Pending => {
                    self.stalled_since.get_or_insert(now);
                    return Poll::Pending;
                }
            };
            self.stalled_since = None;
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.unflushed = true;
            self.len -= written;
            while written > 0 {
                let Some(front) = self.front_mut() else {
                    break;
                };
                if written >= front.len() {
                    written -= front.len();
                    self.pop_front();
                } else {
                    front.advance(written);
                    written = 0;
                }
            }
        }
    }
}

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

impl<S: Transport> Stream for WebSocket<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_recv(cx)
    }
}

impl<S: Transport> Sink<Message> for WebSocket<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_ready_send(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
        self.get_mut().start_send_message(item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_flush_all(cx)
    }

    /// Starts the closing handshake with 1000 (unless started) and drives the
    /// connection to its end, dropping messages that arrive meanwhile.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        if this.conn.state() == State::Open && !this.finished {
            this.start_send_message(Message::Close(None))?;
        }
        this.poll_until_closed(cx)
    }
}

impl<S> std::fmt::Debug for WebSocket<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocket")
            .field("conn", &self.conn)
            .field("protocol", &self.protocol)
            .field("in_hand", &self.out.len())
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, feature = "tokio"))]
mod tests {
    use super::*;
    use crate::Tokio;

    /// What an idle connection holds once a 1 MiB message went each way: the fixed
    /// size of the structs, and no buffers. Prints the figures (`--nocapture`).
    #[tokio::test]
    async fn idle_connection_frees_its_buffers() {
        let (a, b) = tokio::io::duplex(64 * 1024);
        let (server, client) = tokio::join!(
            crate::accept(Tokio::new(a), Config::default()),
            crate::connect(Tokio::new(b), "ws://example/", Config::default()),
        );
        let (mut server, mut client) = (server.unwrap(), client.unwrap());
        let big = Message::binary(vec![7u8; 1 << 20]);
        // `send` leaves up to the high watermark queued: flush to push it all out.
        let (sent, got) = tokio::join!(
            async { client.send(big.clone()).await.and(client.flush().await) },
            server.recv()
        );
        sent.unwrap();
        assert_eq!(got.unwrap().unwrap(), big);
        let (sent, got) = tokio::join!(
            async { server.send(big.clone()).await.and(server.flush().await) },
            client.recv()
        );
        sent.unwrap();
        assert_eq!(got.unwrap().unwrap(), big);
        client.flush().await.unwrap();
        server.flush().await.unwrap();
        // One poll that finds nothing to do: the connection goes idle.
        for ws in [&mut server, &mut client] {
            let idle = tokio::time::timeout(Duration::from_millis(10), ws.recv()).await;
            assert!(idle.is_err(), "nothing should arrive");
            assert_eq!(ws.conn.read_buffer().capacity(), 0);
            assert_eq!(ws.out.len(), 0);
            assert_eq!(ws.out.spill.capacity(), 0);
        }
        let ws = std::mem::size_of::<WebSocket<Tokio<tokio::net::TcpStream>>>();
        let conn = std::mem::size_of::<Connection>();
        println!("idle WebSocket<Tokio<TcpStream>>: {ws} B inline (Connection {conn} B)");
        assert!(ws < 4096, "{ws}");
    }
}

#[cfg(test)]
mod outbox_tests {
    use super::*;
    use std::task::Waker;

    /// A transport that takes at most `step` bytes per write, vectored or not.
    struct Trickle {
        written: Vec<u8>,
        step: usize,
        plain_writes: usize,
    }

    impl WriteIo for Trickle {
        fn poll_write_vectored(
            &mut self,
            _: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            let mut room = self.step;
            for buf in bufs {
                let n = buf.len().min(room);
                self.written.extend_from_slice(&buf[..n]);
                room -= n;
            }
            Poll::Ready(Ok(self.step - room))
        }
        fn poll_write(&mut self, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
            self.plain_writes += 1;
            let n = buf.len().min(self.step);
            self.written.extend_from_slice(&buf[..n]);
            Poll::Ready(Ok(n))
        }
        fn poll_flush(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn now(&self) -> Duration {
            Duration::ZERO
        }
        fn poll_sleep_until(&mut self, _: &mut Context<'_>, _: Duration) -> Poll<()> {
            Poll::Pending
        }
        fn cancel_sleep(&mut self) {}
    }

    /// Chunks beyond the inline slots, written a few bytes at a time, come out
    /// whole and in order, and the list is freed once empty.
    #[test]
    fn chunks_keep_their_order_across_inline_and_spill() {
        let chunks: Vec<Bytes> = (0u8..40)
            .map(|i| Bytes::from(vec![i; 1 + usize::from(i) % 7]))
            .collect();
        let expected: Vec<u8> = chunks.iter().flatten().copied().collect();
        for step in [1, 3, 5, 64, 1000] {
            let mut io = Trickle {
                written: Vec::new(),
                step,
                plain_writes: 0,
            };
            let mut out = Outbox::default();
            let mut source = chunks.iter().cloned();
            let mut cx = Context::from_waker(Waker::noop());
            let done = out.poll_write(&mut cx, &mut io, Duration::ZERO, || source.next());
            assert!(matches!(done, Poll::Ready(Ok(()))));
            assert_eq!(io.written, expected, "step {step}");
            assert!(out.is_empty());
            out.shrink();
            assert_eq!(out.spill.capacity(), 0);
        }
    }

    /// A single chunk goes out with a plain write.
    #[test]
    fn one_chunk_is_a_plain_write() {
        let mut io = Trickle {
            written: Vec::new(),
            step: 1000,
            plain_writes: 0,
        };
        let mut out = Outbox::default();
        let mut source = Some(Bytes::from_static(b"\x82\x02hi")).into_iter();
        let mut cx = Context::from_waker(Waker::noop());
        let done = out.poll_write(&mut cx, &mut io, Duration::ZERO, || source.next());
        assert!(matches!(done, Poll::Ready(Ok(()))));
        assert_eq!(io.written, b"\x82\x02hi");
        assert_eq!(io.plain_writes, 1);
    }
}
