//! [`WebSocket`]: one connection, driven on a runtime.
//!
//! The connection's reading and writing pieces (`driver`), run side by side on one
//! transport and one [`tidings_ws::Connection`], whose halves they borrow; the
//! core's signals go from the receiving half to the sending half at once. The loop
//! (the driver's one reading loop, which [`WebSocket::poll_recv`] runs) is:
//!
//! 1. `poll_event()`: a message is returned at once; a protocol error is remembered,
//!    and reported only after the close frame carrying its code has been written.
//! 2. The writing piece: write what `poll_transmit(now)` gives, shut the write side
//!    down once `should_close_transport()`, fire due timers; otherwise sleep until
//!    the next one.
//! 3. Read into the core's receive buffer and go to 1; when nothing is readable, free
//!    idle buffers and wait.
//!
//! # Cancel safety
//!
//! [`WebSocket::recv`] holds nothing across an `.await`: bytes read are in the core's
//! buffer the moment the read returns, and events are only made by `poll_event` when a
//! message is about to be returned. Dropping a pending `recv` (in `select!`, or with a
//! timeout) therefore loses nothing. [`WebSocket::send`] never half-queues a message:
//! dropped while it waits for room, the message was not queued; dropped while it
//! writes, the message is queued whole and goes out with the next call.

use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures_core::Stream;
use futures_sink::Sink;
use tidings_ws::{
    CloseCode, CloseFrame, Connection, PreparedMessage, RecvHalf, Role, SendHalf, State, Utf8Bytes,
};

use crate::config::Config;
use crate::driver::{self, Drive, Link, Reader, Writer};
use crate::error::Error;
use crate::split::{WsReader, WsWriter};
use crate::transport::{SplitTransport, Transport};

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
    reader: Reader,
    writer: Writer,
    protocol: Option<String>,
}

impl<S: Transport> WebSocket<S> {
    /// Wraps a transport whose opening handshake is done; `leftover` are bytes read
    /// after the handshake's head (the first frames).
    pub(crate) fn from_parts(
        io: S,
        mut conn: Connection,
        config: &Config,
        protocol: Option<String>,
        leftover: &[u8],
    ) -> Self {
        conn.receive(leftover);
        Self {
            io,
            conn,
            reader: Reader::new(config),
            writer: Writer::new(config, S::clock()),
            protocol,
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
        Self::from_parts(io, conn, &config, protocol, &[])
    }

    /// The subprotocol agreed in the handshake, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The protocol state machine (for its getters: state, role, the config with
    /// the permessage-deflate parameters agreed).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The transport.
    pub fn get_ref(&self) -> &S {
        &self.io
    }

    /// Bytes queued for the transport: the core's queue plus the batch in hand.
    pub fn buffered_amount(&self) -> usize {
        self.conn.buffered_amount() + self.writer.out.len
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
    /// closing handshake without waiting for it; see [`close`](Self::close). Once the
    /// handshake has started (the peer's close arrived, and its answer is queued), a
    /// [`Message::Close`] only writes what is queued: echoing every message, the
    /// close included, ends the connection cleanly (as with axum's WebSocket).
    pub async fn send(&mut self, message: Message) -> Result<(), Error> {
        if matches!(message, Message::Close(_)) && self.conn.state() != State::Open {
            return self.flush().await;
        }
        driver::send(self, |half| driver::queue(half, message)).await
    }

    /// Queues a message encoded once for many connections (broadcast), waiting for
    /// room as [`send`](Self::send) does. On a server the prepared frames are queued
    /// as they are: one encoding and no copy, whatever the number of connections.
    /// With permessage-deflate and `server_no_context_takeover`, the message is also
    /// compressed once for all of them (see [`PreparedMessage`]).
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
        driver::send(self, |half| half.send_prepared(message)).await
    }

    /// Splits the connection into a reader and a writer for two tasks, with no lock
    /// between them on the data path. The writer must be polled for pings to be
    /// answered: see [`WsWriter`] and [`WsWriter::closed`].
    ///
    /// The transport is split too: into owned halves without a lock for tokio's and
    /// smol's TCP and Unix streams, and behind a per-call lock for other streams
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
        crate::split::split(self.io, self.conn, self.reader, self.writer, self.protocol)
    }

    /// Writes everything queued and flushes the transport.
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| self.poll_drain(cx, true)).await
    }

    /// Starts the closing handshake (unless it has started) and drives the connection
    /// until the transport is shut down. Messages that arrive meanwhile are dropped.
    /// Ends within [`tidings_ws::Config::close_timeout`] of a silent peer.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        driver::close(self, code, reason).await
    }

    /// The stream's poll: see the module documentation for the loop.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, Error>>> {
        driver::poll_recv(self, cx)
    }

    /// Ready when a message may be queued: waits (writing, and firing timers) while
    /// the queue is above the high watermark, until it is at the low watermark.
    pub fn poll_ready_send(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Drive::poll_ready_send(self, cx)
    }
}

/// The reading piece's signals go to the connection's own sending half at once, and
/// the writing piece runs in the same loop.
impl<S: Transport> Link for WebSocket<S> {
    type Io = S;

    fn reading(&mut self) -> (&mut Reader, &mut S, &mut RecvHalf) {
        (&mut self.reader, &mut self.io, self.conn.halves_mut().0)
    }

    fn forward(&mut self, _: &mut Context<'_>) -> bool {
        self.conn.relay_signals();
        true
    }

    fn failure(&mut self) -> &mut Option<Error> {
        &mut self.writer.failure
    }

    fn ended(&mut self, _: &mut Context<'_>) -> bool {
        self.writer.finished
    }

    /// Writes, the shutdown, timers; ready only once the connection is over.
    fn poll_idle(&mut self, cx: &mut Context<'_>, _: bool) -> Poll<()> {
        self.drive(cx, |writer, cx, io, half| {
            writer.poll_run(cx, io, half, None)
        })
    }

    fn shrink(&mut self) {
        self.conn.shrink_buffers();
        self.writer.out.shrink();
    }
}

impl<S: Transport> Drive for WebSocket<S> {
    type Io = S;

    fn parts(&mut self) -> (&mut Writer, &mut SendHalf) {
        (&mut self.writer, self.conn.halves_mut().1)
    }

    fn drive<T>(
        &mut self,
        cx: &mut Context<'_>,
        poll: impl FnOnce(&mut Writer, &mut Context<'_>, &mut S, &mut SendHalf) -> Poll<T>,
    ) -> Poll<T> {
        let polled = poll(&mut self.writer, cx, &mut self.io, self.conn.halves_mut().1);
        // A timer may have ended the connection: then nothing more is read.
        if self.conn.state() == State::Closed {
            self.conn.relay_signals();
        }
        polled
    }

    /// Drives the connection to its end, dropping messages.
    fn poll_closed(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        while let Some(item) = ready!(self.poll_recv(cx)) {
            item?;
        }
        Poll::Ready(Ok(()))
    }
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
        self.get_mut().queue_with(|half| driver::queue(half, item))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_drain(cx, true)
    }

    /// Starts the closing handshake with 1000 (unless started) and drives the
    /// connection to its end, dropping messages that arrive meanwhile.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Drive::poll_close(self.get_mut(), cx)
    }
}

impl<S> std::fmt::Debug for WebSocket<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocket")
            .field("conn", &self.conn)
            .field("protocol", &self.protocol)
            .field("finished", &self.writer.finished)
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, feature = "tokio"))]
mod tests {
    use super::*;
    use crate::Tokio;
    use std::time::Duration;

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
            assert_eq!(ws.writer.out.len, 0);
            assert_eq!(ws.writer.out.spill.capacity(), 0);
        }
        let ws = std::mem::size_of::<WebSocket<Tokio<tokio::net::TcpStream>>>();
        let conn = std::mem::size_of::<Connection>();
        println!("idle WebSocket<Tokio<TcpStream>>: {ws} B inline (Connection {conn} B)");
        assert!(ws < 4096, "{ws}");
    }
}
