//! [`WsReader`] and [`WsWriter`]: one connection as two halves, for a reader task and
//! a writer task that share no lock on the data path.
//!
//! The core splits the same way ([`Connection::into_split`](tidings_ws::Connection::into_split)):
//! the [`RecvHalf`] turns bytes into messages, the [`SendHalf`] owns everything that
//! is written and every timer. What the reader learns that makes the writer write (a
//! ping to answer, the peer's close to echo, a failure to close with, a frame that
//! proves the peer alive) comes out of the reader as opaque [`Signal`]s, which must
//! reach the writer in order. Each half runs one piece of the driver (`driver.rs`,
//! the same pieces a whole [`WebSocket`](crate::WebSocket) runs side by side), and
//! the signals travel between them through a channel:
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
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_channel::{mpsc, oneshot};
use futures_core::Stream;
use futures_sink::Sink;
use tidings_ws::{CloseCode, Connection, PreparedMessage, RecvHalf, SendHalf, Signal};

use crate::driver::{self, Drive, Link, Reader, Writer};
use crate::error::Error;
use crate::transport::sealed::Split;
use crate::websocket::Message;

/// How many signals may wait between the halves before they wait in the core.
pub const SIGNAL_QUEUE: usize = 16;

/// Cuts a connection in two; called by [`WebSocket::split`](crate::WebSocket::split).
pub(crate) fn split<S: Split>(
    io: S,
    conn: Connection,
    reader: Reader,
    mut writer: Writer,
    protocol: Option<String>,
) -> (WsReader<S>, WsWriter<S>) {
    let (read_io, write_io) = io.split();
    let (recv, send) = conn.into_split();
    let (signal_tx, signal_rx) = mpsc::channel(SIGNAL_QUEUE - 1);
    let (ended_tx, ended_rx) = oneshot::channel();
    let reader = WsReader {
        io: read_io,
        half: recv,
        reader,
        signals: signal_tx,
        stashed: None,
        ended: Some(ended_rx),
        finished: writer.finished,
        failure: writer.failure.take(),
    };
    let writer = WsWriter {
        io: write_io,
        half: send,
        writer,
        protocol,
        signals: Some(signal_rx),
        ended: Some(ended_tx),
    };
    (reader, writer)
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
    reader: Reader,
    signals: mpsc::Sender<Signal>,
    /// A signal taken from the core while the channel was full.
    stashed: Option<Signal>,
    /// Fires when the writer ended the connection, with its error if any.
    ended: Option<oneshot::Receiver<Option<Error>>>,
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
        driver::poll_recv(self, cx)
    }
}

/// The reading piece's signals go through the channel; the writer tells the end.
impl<S: Split> Link for WsReader<S> {
    type Io = S::ReadHalf;

    fn reading(&mut self) -> (&mut Reader, &mut S::ReadHalf, &mut RecvHalf) {
        (&mut self.reader, &mut self.io, &mut self.half)
    }

    /// Moves the core's signals into the channel; `true` once none is left. When the
    /// channel is full, the task is woken as the writer takes signals out.
    fn forward(&mut self, cx: &mut Context<'_>) -> bool {
        loop {
            let Some(signal) = self.stashed.take().or_else(|| self.half.poll_signal()) else {
                return true;
            };
            match self.signals.poll_ready(cx) {
                // A failed send: the writer was dropped, the signal has nowhere to go.
                Poll::Ready(Ok(())) => drop(self.signals.start_send(signal)),
                Poll::Ready(Err(_)) => {}
                Poll::Pending => {
                    self.stashed = Some(signal);
                    return false;
                }
            }
        }
    }

    fn failure(&mut self) -> &mut Option<Error> {
        &mut self.failure
    }

    /// Finished here, or the writer ended the connection: nothing more is read.
    fn ended(&mut self, cx: &mut Context<'_>) -> bool {
        if !self.finished
            && let Some(ended) = &mut self.ended
            && let Poll::Ready(result) = Pin::new(ended).poll(cx)
        {
            self.ended = None;
            // `Err`: the writer was dropped without ending; keep reading.
            if let Ok(failure) = result {
                self.failure = self.failure.take().or(failure);
                self.finished = true;
            }
        }
        self.finished
    }

    /// At the end of the stream, or after a protocol error, every event is out: the
    /// stream ends once the writer has every signal.
    fn poll_idle(&mut self, _: &mut Context<'_>, forwarded: bool) -> Poll<()> {
        if forwarded && (self.reader.eof || self.failure.is_some()) {
            self.finished = true;
            return Poll::Ready(());
        }
        Poll::Pending
    }

    fn shrink(&mut self) {
        self.half.shrink_buffers();
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
    writer: Writer,
    protocol: Option<String>,
    /// `None` once the reader is gone.
    signals: Option<mpsc::Receiver<Signal>>,
    /// Tells the reader the connection ended.
    ended: Option<oneshot::Sender<Option<Error>>>,
}

impl<S: Split> WsWriter<S> {
    /// The subprotocol agreed in the handshake, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// Bytes queued for the transport.
    pub fn buffered_amount(&self) -> usize {
        self.writer.buffered_amount(&self.half)
    }

    /// As [`WebSocket::send`](crate::WebSocket::send): queues a message and writes
    /// until at most [`Config::write_high_watermark`](crate::Config::write_high_watermark)
    /// bytes are left queued.
    pub async fn send(&mut self, message: Message) -> Result<(), Error> {
        driver::send(self, |half| driver::queue(half, message)).await
    }

    /// Queues a message encoded once for many connections (broadcast), waiting for
    /// room as [`send`](Self::send) does. On a server the prepared frames are queued
    /// as they are, without a copy; with permessage-deflate and
    /// `server_no_context_takeover`, compressed once for all connections.
    pub async fn send_prepared(&mut self, message: &PreparedMessage) -> Result<(), Error> {
        driver::send(self, |half| half.send_prepared(message)).await
    }

    /// Writes everything queued and flushes the transport.
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| self.poll_drain(cx, true)).await
    }

    /// Starts the closing handshake (unless started) and writes until the transport
    /// is shut down, which needs the [`WsReader`] polled to see the peer's answer;
    /// ends within [`tidings_ws::Config::close_timeout`] anyway.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        driver::close(self, code, reason).await
    }

    /// Writes what the connection needs without being asked (pongs, the close echo,
    /// keepalive pings) and keeps its timers, until the connection is over: then it
    /// returns, with the error that ended it if any. Cancel safe: select on it next to
    /// whatever the writer task waits for.
    pub async fn closed(&mut self) -> Result<(), Error> {
        poll_fn(|cx| self.poll_closed(cx)).await
    }

    /// Ready when a message may be queued (see
    /// [`WebSocket::poll_ready_send`](crate::WebSocket::poll_ready_send)).
    pub fn poll_ready_send(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Drive::poll_ready_send(self, cx)
    }
}

impl<S: Split> Drive for WsWriter<S> {
    type Io = S::WriteHalf;

    fn parts(&mut self) -> (&mut Writer, &mut SendHalf) {
        (&mut self.writer, &mut self.half)
    }

    /// Applies the reader's signals, runs `poll`, tells the reader once the
    /// connection is over, and frees idle buffers when it waits.
    fn drive<T>(
        &mut self,
        cx: &mut Context<'_>,
        poll: impl FnOnce(&mut Writer, &mut Context<'_>, &mut Self::Io, &mut SendHalf) -> Poll<T>,
    ) -> Poll<T> {
        // What the reader learned, in order; registers for more.
        while let Some(signals) = &mut self.signals {
            match Pin::new(signals).poll_next(cx) {
                Poll::Ready(Some(signal)) => self.half.handle_signal(signal),
                // The reader is gone: nothing more will be read.
                Poll::Ready(None) => self.signals = None,
                Poll::Pending => break,
            }
        }
        let polled = poll(&mut self.writer, cx, &mut self.io, &mut self.half);
        if self.writer.finished {
            if let Some(ended) = self.ended.take() {
                // The reader may be gone; then nobody needs to know.
                let _ = ended.send(self.writer.failure.as_ref().map(Error::copy));
            }
        } else if polled.is_pending() {
            self.half.shrink_buffers();
            self.writer.out.shrink();
        }
        polled
    }

    /// Runs the writer until the connection is over.
    fn poll_closed(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        ready!(self.drive(cx, |writer, cx, io, half| {
            writer.poll_run(cx, io, half, None)
        }));
        Poll::Ready(self.writer.failure.take().map_or(Ok(()), Err))
    }
}

impl<S: Split> Sink<Message> for WsWriter<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_ready_send(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
        self.get_mut().queue_with(|half| driver::queue(half, item))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_drain(cx, true)
    }

    /// Starts the closing handshake with 1000 (unless started) and writes until the
    /// transport is shut down.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Drive::poll_close(self.get_mut(), cx)
    }
}

impl<S: Split> std::fmt::Debug for WsWriter<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsWriter")
            .field("half", &self.half)
            .field("protocol", &self.protocol)
            .field("finished", &self.writer.finished)
            .finish_non_exhaustive()
    }
}
