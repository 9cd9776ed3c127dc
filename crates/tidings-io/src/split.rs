//! [`WsReader`] and [`WsWriter`]: one connection as two halves, for a reader task and
//! a writer task that share no lock on the data path.
//!
//! The core splits the same way ([`Connection::into_split`](tidings_ws::Connection::into_split)):
//! the [`RecvHalf`] turns bytes into messages, the [`SendHalf`] owns everything that
//! is written and every timer. What the reader learns that makes the writer write (a
//! ping to answer, the peer's close to echo, a failure to close with, a frame that
//! proves the peer alive) comes out of the reader as opaque [`Signal`]s, which must
//! reach the writer in order. So:
//!
//! ```text
//!   WsReader: read half ──► RecvHalf ──► poll_event ──► recv() / Stream
//!                              │ poll_signal
//!                              ▼
//!                 bounded lock-free channel (wakes the writer's task)
//!                              │
//!   WsWriter: send() / Sink ──► SendHalf::handle_signal, send_*, timers
//!                              ──► poll_transmit ──► write half
//!                              └─ the connection ended ──► oneshot ──► WsReader ends
//! ```
//!
//! # Why the writer must be polled
//!
//! The reader never writes: it only wakes the writer's task. The writer writes pongs,
//! the close echo and keepalive pings whenever any of its futures is polled
//! ([`send`](WsWriter::send), [`flush`](WsWriter::flush), [`close`](WsWriter::close),
//! [`closed`](WsWriter::closed), or the [`Sink`]). A writer task that waits for
//! something else (a channel of outgoing messages) must therefore also wait on
//! [`WsWriter::closed`], e.g. in a `select!`; a task that only reads can spawn
//! `writer.closed()` alone. This is the price of no lock on the data path: the other
//! design (the reader writes pongs itself) needs the write half behind a lock that
//! every data write takes.
//!
//! # Bounded memory
//!
//! The channel holds at most [`SIGNAL_QUEUE`] signals. When it is full (the writer is
//! not being polled), the reader keeps reading and the signals wait, folded, inside
//! the core's `RecvHalf` (a flag, at most 32 pings, one close, one error). A close or
//! an error is handed to the application only once every signal before it is with
//! the writer, so "the peer closed" is never seen before the writer knows it.

use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use futures_channel::{mpsc, oneshot};
use futures_core::Stream;
use futures_sink::Sink;
use tidings_ws::{CloseCode, PreparedMessage, RecvHalf, SendHalf, Signal, State};

use crate::config::Config;
use crate::error::Error;
use crate::transport::ReadSize;
use crate::transport::sealed::{ReadIo, Split, WriteIo};
use crate::websocket::{Message, Outbox, to_message};

/// How many signals may wait between the halves before they wait in the core.
pub const SIGNAL_QUEUE: usize = 16;

/// What the halves share besides the channels: when something was last received, in
/// nanoseconds on the transport's clock (for the idle timeout, which the writer runs).
#[derive(Debug)]
struct Shared {
    last_received: AtomicU64,
}

impl Shared {
    fn received(&self, now: Duration) {
        let nanos = u64::try_from(now.as_nanos()).unwrap_or(u64::MAX);
        self.last_received.store(nanos, Ordering::Relaxed);
    }

    fn last_received(&self) -> Duration {
        Duration::from_nanos(self.last_received.load(Ordering::Relaxed))
    }
}

/// Makes the two halves; called by [`WebSocket::split`](crate::WebSocket::split).
pub(crate) struct Parts<S: Split> {
    pub(crate) io: S,
    pub(crate) recv: RecvHalf,
    pub(crate) send: SendHalf,
    pub(crate) config: Config,
    pub(crate) protocol: Option<String>,
    pub(crate) out: Outbox,
    pub(crate) eof: bool,
    pub(crate) finished: bool,
    pub(crate) failure: Option<Error>,
    pub(crate) last_received: Duration,
}

impl<S: Split> Parts<S> {
    pub(crate) fn split(self) -> (WsReader<S>, WsWriter<S>) {
        let (read_io, write_io) = self.io.split();
        let (signal_tx, signal_rx) = mpsc::channel(SIGNAL_QUEUE - 1);
        let (ended_tx, ended_rx) = oneshot::channel();
        let shared = Arc::new(Shared {
            last_received: AtomicU64::new(0),
        });
        shared.received(self.last_received);
        let reader = WsReader {
            io: read_io,
            half: self.recv,
            read_size: ReadSize::new(self.config.read_buffer_size),
            stamp: self.config.idle_timeout.is_some(),
            signals: signal_tx,
            stashed: None,
            writer_gone: false,
            ended: Some(ended_rx),
            shared: shared.clone(),
            held: None,
            eof: self.eof,
            finished: self.finished,
            failure: self.failure,
        };
        let writer = WsWriter {
            io: write_io,
            half: self.send,
            config: self.config,
            protocol: self.protocol,
            out: self.out,
            signals: Some(signal_rx),
            ended: Some(ended_tx),
            shared,
            draining: false,
            finished: self.finished,
            failure: None,
            linger: None,
        };
        (reader, writer)
    }
}

/// The reading half of a [`WebSocket`](crate::WebSocket): a [`Stream`] of
/// [`Message`]s, with [`recv`](Self::recv) too. Made by
/// [`WebSocket::split`](crate::WebSocket::split).
///
/// Keep it polled, as the whole connection: it is the only one that reads. It never
/// writes; pings it receives are answered by the [`WsWriter`], which must be polled
/// too (see [`WsWriter::closed`]). `recv` is cancel safe.
///
/// The stream ends (`None`) at the transport's end of stream, after a protocol error
/// (returned first), or when the writer ended the connection (a timeout, a failed
/// write, the transport shut down), with the writer's error first if it had one.
pub struct WsReader<S: Split> {
    io: S::ReadHalf,
    half: RecvHalf,
    /// How many bytes the next read asks for.
    read_size: ReadSize,
    /// Record receive times for the idle timeout.
    stamp: bool,
    signals: mpsc::Sender<Signal>,
    /// A signal taken from the core while the channel was full.
    stashed: Option<Signal>,
    /// The writer was dropped: signals have nowhere to go.
    writer_gone: bool,
    /// Fires when the writer ended the connection, with its error if any.
    ended: Option<oneshot::Receiver<Option<Error>>>,
    shared: Arc<Shared>,
    /// A close or an error, waiting until the signals before it are with the writer.
    held: Option<Result<Message, Error>>,
    eof: bool,
    finished: bool,
    failure: Option<Error>,
}

impl<S: Split> WsReader<S> {
    /// The next message; `None` once the connection is over. Cancel safe.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// The stream's poll.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, Error>>> {
        loop {
            if let Some(item) = self.held.take() {
                if !self.poll_forward(cx) {
                    self.held = Some(item);
                    return Poll::Pending;
                }
                return Poll::Ready(Some(item));
            }
            if self.finished {
                return Poll::Ready(self.failure.take().map(Err));
            }
            // The writer ended the connection: nothing more will be read.
            if let Some(ended) = &mut self.ended {
                if let Poll::Ready(result) = Pin::new(ended).poll(cx) {
                    self.ended = None;
                    // `Err`: the writer was dropped without ending; keep reading.
                    if let Ok(failure) = result {
                        self.failure = self.failure.take().or(failure);
                        self.finished = true;
                        continue;
                    }
                }
            }
            self.poll_forward(cx);
            match self.half.poll_event() {
                Ok(Some(event)) => {
                    let Some(message) = to_message(event) else {
                        continue;
                    };
                    if matches!(message, Message::Close(_)) {
                        self.held = Some(Ok(message));
                        continue;
                    }
                    self.poll_forward(cx);
                    return Poll::Ready(Some(Ok(message)));
                }
                Ok(None) => {}
                Err(e) => {
                    let e = self.failure.take().unwrap_or(Error::Protocol(e));
                    self.held = Some(Err(e));
                    self.finished = true;
                    continue;
                }
            }
            if self.eof {
                // Every event is out; the stream ends once the writer knows.
                if !self.poll_forward(cx) {
                    return Poll::Pending;
                }
                self.finished = true;
                continue;
            }
            let done = self.half.is_done();
            // The rest of a large frame at once, else the adaptive size.
            let size = self.read_size.for_frame(self.half.frame_bytes_wanted());
            let buf = self.half.read_buffer();
            let before = buf.len();
            let read = self.io.poll_read_into(cx, buf, size);
            if done {
                // Input is over: read only to see the end of stream.
                self.half.read_buffer().truncate(before);
            }
            match read {
                Poll::Ready(Ok(0)) => {
                    self.eof = true;
                    self.half.handle_eof();
                }
                Poll::Ready(Ok(n)) => {
                    self.read_size.record(n);
                    if self.stamp {
                        self.shared.received(self.io.now());
                    }
                }
                Poll::Ready(Err(e)) => {
                    if !done {
                        self.failure.get_or_insert(Error::Io(e));
                    }
                    self.eof = true;
                    self.half.handle_eof();
                }
                Poll::Pending => {
                    self.half.shrink_buffers();
                    return Poll::Pending;
                }
            }
        }
    }

    /// Moves the core's signals into the channel; `true` once none is left. When the
    /// channel is full, the task is woken as the writer takes signals out.
    fn poll_forward(&mut self, cx: &mut Context<'_>) -> bool {
        loop {
            let Some(signal) = self.stashed.take().or_else(|| self.half.poll_signal()) else {
                return true;
            };
            if self.writer_gone {
                continue;
            }
            match self.signals.poll_ready(cx) {
                Poll::Ready(Ok(())) => {
                    if self.signals.start_send(signal).is_err() {
                        self.writer_gone = true;
                    }
                }
                Poll::Ready(Err(_)) => self.writer_gone = true,
                Poll::Pending => {
                    self.stashed = Some(signal);
                    return false;
                }
            }
        }
    }
}

impl<S: Split> Stream for WsReader<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_recv(cx)
    }
}

impl<S: Split> std::fmt::Debug for WsReader<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsReader")
            .field("half", &self.half)
            .field("eof", &self.eof)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

/// The writing half of a [`WebSocket`](crate::WebSocket): a [`Sink`] of
/// [`Message`]s, with [`send`](Self::send), [`send_prepared`](Self::send_prepared),
/// [`flush`](Self::flush) and [`close`](Self::close) too. Made by
/// [`WebSocket::split`](crate::WebSocket::split).
///
/// It writes the pongs, the close echo and the keepalive pings the connection needs,
/// and runs its timers, but only while one of its futures is polled: a task that owns
/// it and waits for anything else must also wait on [`closed`](Self::closed).
///
/// ```no_run
/// # async fn run(ws: tidings_io::WebSocket<tidings_io::Tokio<tokio::net::TcpStream>>,
/// #              mut outgoing: tokio::sync::mpsc::Receiver<tidings_io::Message>) {
/// let (mut reader, mut writer) = ws.split();
/// tokio::spawn(async move {
///     loop {
///         tokio::select! {
///             Some(message) = outgoing.recv() => {
///                 if writer.send(message).await.is_err() { break }
///             }
///             _ = writer.closed() => break, // also answers pings meanwhile
///         }
///     }
/// });
/// while let Some(Ok(message)) = reader.recv().await {
///     println!("{message:?}");
/// }
/// # }
/// ```
pub struct WsWriter<S: Split> {
    io: S::WriteHalf,
    half: SendHalf,
    config: Config,
    protocol: Option<String>,
    out: Outbox,
    /// `None` once the reader is gone.
    signals: Option<mpsc::Receiver<Signal>>,
    /// Tells the reader the connection ended.
    ended: Option<oneshot::Sender<Option<Error>>>,
    shared: Arc<Shared>,
    /// `send` is waiting for the queue to fall to the low watermark.
    draining: bool,
    /// The transport is shut down (or failed, or given up on).
    finished: bool,
    /// The error to report from the writer's next call.
    failure: Option<Error>,
    /// Give up writing to a peer that does not read, at this time.
    linger: Option<Duration>,
}

impl<S: Split> WsWriter<S> {
    /// The subprotocol agreed in the handshake, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// Bytes queued for the transport.
    pub fn buffered_amount(&self) -> usize {
        self.half.buffered_amount() + self.out.len()
    }

    /// As [`WebSocket::send`](crate::WebSocket::send): queues a message and writes
    /// until at most [`Config::write_high_watermark`] bytes are left queued.
    pub async fn send(&mut self, message: Message) -> Result<(), Error> {
        poll_fn(|cx| self.poll_ready_send(cx)).await?;
        self.start_send_message(message)?;
        let high = self.config.write_high_watermark;
        poll_fn(|cx| self.poll_run(cx, Some(high))).await
    }

    /// Queues a message encoded once for many connections (broadcast), waiting for
    /// room as [`send`](Self::send) does. On a server the prepared frames are queued
    /// as they are, without a copy.
    pub async fn send_prepared(&mut self, message: &PreparedMessage) -> Result<(), Error> {
        poll_fn(|cx| self.poll_ready_send(cx)).await?;
        self.half.send_prepared(message)?;
        let high = self.config.write_high_watermark;
        poll_fn(|cx| self.poll_run(cx, Some(high))).await
    }

    /// Writes everything queued and flushes the transport.
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| self.poll_run(cx, Some(0))).await
    }

    /// Starts the closing handshake (unless started) and writes until the transport
    /// is shut down, which needs the [`WsReader`] polled to see the peer's answer;
    /// ends within [`tidings_ws::Config::close_timeout`] anyway.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        if !self.finished {
            match self.half.close(code, reason) {
                Ok(()) | Err(tidings_ws::SendError::Closing) => {}
                Err(e) => return Err(Error::Send(e)),
            }
        }
        self.closed().await
    }

    /// Writes what the connection needs without being asked (pongs, the close echo,
    /// keepalive pings) and keeps its timers, until the connection is over: then it
    /// returns, with the error that ended it if any. Cancel safe: select on it next to
    /// whatever the writer task waits for.
    pub async fn closed(&mut self) -> Result<(), Error> {
        poll_fn(|cx| self.poll_run(cx, None)).await
    }

    /// Ready when a message may be queued (see
    /// [`WebSocket::poll_ready_send`](crate::WebSocket::poll_ready_send)).
    pub fn poll_ready_send(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.take_signals(cx);
        if let Some(e) = self.failure.take() {
            return Poll::Ready(Err(e));
        }
        if self.finished || self.half.state() != State::Open {
            return Poll::Ready(Err(Error::Closed));
        }
        let high = self.config.write_high_watermark;
        if self.buffered_amount() > high {
            self.draining = true;
        }
        if self.draining {
            let low = self.config.write_low_watermark.min(high);
            ready!(self.poll_run(cx, Some(low)))?;
            self.draining = false;
        }
        Poll::Ready(Ok(()))
    }

    /// Hands a message to the core (no I/O).
    fn start_send_message(&mut self, message: Message) -> Result<(), Error> {
        if self.finished {
            return Err(Error::Closed);
        }
        let sent = match message {
            Message::Text(text) => self.half.send_text(text),
            Message::Binary(data) => self.half.send_binary(data),
            Message::Ping(data) => self.half.send_ping(data),
            Message::Pong(data) => self.half.send_pong(data),
            Message::Close(None) => self.half.close(CloseCode::NORMAL, ""),
            Message::Close(Some(frame)) => self.half.close(frame.code, frame.reason.as_str()),
        };
        Ok(sent?)
    }

    /// The writer's loop: signals from the reader, writes, shutting the transport
    /// down when the core says, timers. With `limit`, ready once at most that many
    /// bytes are queued (and, at 0, flushed); without, once the connection is over.
    fn poll_run(&mut self, cx: &mut Context<'_>, limit: Option<usize>) -> Poll<Result<(), Error>> {
        loop {
            if self.finished {
                return Poll::Ready(match self.failure.take() {
                    Some(e) => Err(e),
                    None if limit.is_none_or(|l| self.buffered_amount() <= l) => Ok(()),
                    None => Err(Error::Closed),
                });
            }
            // 1. What the reader learned, in order.
            self.take_signals(cx);
            if let Some(e) = self.half.poll_error() {
                self.failure.get_or_insert(Error::Protocol(e));
            }
            if self.half.state() != State::Open && self.linger.is_none() {
                self.linger = Some(self.io.now() + self.half.config().close_timeout);
            }
            // 2. Writes; `Pending` leaves the waker with the transport.
            let now = self.io.now();
            let half = &mut self.half;
            if let Poll::Ready(Err(e)) = self
                .out
                .poll_write(cx, &mut self.io, now, || half.poll_transmit(now))
            {
                self.finish(Some(Error::Io(e)));
                continue;
            }
            // 3. The core says when the transport should go.
            if self.out.is_empty() && self.half.should_close_transport() {
                // A failed shutdown changes nothing: the connection is over either way.
                let _ = ready!(self.io.poll_shutdown(cx));
                self.finish(None);
                continue;
            }
            if let Some(limit) = limit {
                if self.buffered_amount() <= limit {
                    return Poll::Ready(Ok(()));
                }
            }
            // 4. Timers.
            if let Some(deadline) = self.next_deadline() {
                if deadline <= now || self.io.poll_sleep_until(cx, deadline).is_ready() {
                    self.fire_timers(self.io.now());
                    continue;
                }
            } else {
                // No deadline: no timer left in the wheel (see `cancel_sleep`).
                self.io.cancel_sleep();
            }
            if self.out.is_empty() {
                self.half.shrink_buffers();
                self.out.shrink();
            }
            return Poll::Pending;
        }
    }

    /// Applies the reader's signals; registers for more.
    fn take_signals(&mut self, cx: &mut Context<'_>) {
        while let Some(signals) = &mut self.signals {
            match Pin::new(signals).poll_next(cx) {
                Poll::Ready(Some(signal)) => self.half.handle_signal(signal),
                // The reader is gone: nothing more will be read.
                Poll::Ready(None) => self.signals = None,
                Poll::Pending => break,
            }
        }
    }

    /// The earliest of the core's deadline and this crate's own.
    fn next_deadline(&self) -> Option<Duration> {
        let idle = match (self.config.idle_timeout, self.half.state()) {
            (Some(idle), State::Open) => Some(self.shared.last_received() + idle),
            _ => None,
        };
        let write = self.out.write_deadline(self.config.write_timeout);
        [self.half.poll_timeout(), idle, self.linger, write]
            .into_iter()
            .flatten()
            .min()
    }

    fn fire_timers(&mut self, now: Duration) {
        self.half.handle_timeout(now);
        if self.out.write_timed_out(self.config.write_timeout, now) {
            // The peer takes nothing: what is queued will never leave.
            self.out.clear();
            self.finish(Some(Error::WriteTimeout));
            return;
        }
        if self.linger.is_some_and(|at| at <= now) {
            self.linger = None;
            if !self.out.is_empty() || self.half.has_transmit() {
                // The peer would not take what is left: drop it and end.
                self.finish(None);
            }
        }
        if let Some(idle) = self.config.idle_timeout {
            if self.half.state() == State::Open && self.shared.last_received() + idle <= now {
                let _ = self.half.close(CloseCode::GOING_AWAY, "idle timeout");
                self.failure.get_or_insert(Error::IdleTimeout);
            }
        }
    }

    /// The connection is over on the writer's side: tell the reader.
    fn finish(&mut self, failure: Option<Error>) {
        self.finished = true;
        if let Some(e) = failure {
            self.failure.get_or_insert(e);
        }
        if let Some(ended) = self.ended.take() {
            // The reader may be gone; then nobody needs to know.
            let _ = ended.send(self.failure.as_ref().map(copy_error));
        }
    }
}

/// The reader's copy of the writer's error (`io::Error` is not `Clone`).
fn copy_error(e: &Error) -> Error {
    match e {
        Error::Io(e) => Error::Io(io::Error::new(e.kind(), e.to_string())),
        Error::Protocol(e) => Error::Protocol(*e),
        Error::IdleTimeout => Error::IdleTimeout,
        Error::WriteTimeout => Error::WriteTimeout,
        _ => Error::Closed,
    }
}

impl<S: Split> Sink<Message> for WsWriter<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_ready_send(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
        self.get_mut().start_send_message(item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_run(cx, Some(0))
    }

    /// Starts the closing handshake with 1000 (unless started) and writes until the
    /// transport is shut down.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        if this.half.state() == State::Open && !this.finished {
            this.start_send_message(Message::Close(None))?;
        }
        this.poll_run(cx, None)
    }
}

impl<S: Split> std::fmt::Debug for WsWriter<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsWriter")
            .field("half", &self.half)
            .field("protocol", &self.protocol)
            .field("in_hand", &self.out.len())
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}
