//! The protocol state machine: RFC 6455 §5-§7 for one end of one connection.
//!
//! # Theory of operation
//!
//! A [`Connection`] is two halves and the wire between them:
//!
//! ```text
//!  bytes in ─► RecvHalf ──► events                 (recv.rs: frames, reassembly, UTF-8)
//!                 │
//!                 │ Signal: Heard, MessageStarted/Done, Ping, CloseReceived, Failed, Eof
//!                 ▼
//!  commands ─► SendHalf ──► bytes out, deadlines    (send.rs: queues, closing, timers)
//! ```
//!
//! The receiving half owns everything input decides and never writes; the sending half
//! owns everything that goes on the wire and when the transport closes, and learns what
//! the peer did only through signals. `Connection` relays each signal as soon as it is
//! produced, so it behaves as one state machine; [`Connection::into_split`] hands the
//! halves to a reader and a writer that share no state and take no lock, and the caller
//! relays the signals (property tests check that both ways give the same events, the
//! same bytes and, as time passes, the same timer failures).
//!
//! Invariants, across both halves:
//!
//! - **Frames are parsed lazily**, inside `poll_event`, one at a time, so there is never
//!   a queue of decoded events: memory is the read buffer (bounded by
//!   [`Config::max_frame_size`] plus what the caller hands in between polls) and, in
//!   whole-message mode, one message's fragments (bounded by
//!   [`Config::max_message_size`]).
//! - **Payload bytes are touched once**: unmasked in place and validated as they
//!   arrive, then split off the read buffer as [`Bytes`] without a copy. Only fragmented
//!   messages are copied, once.
//! - **Every header is checked before its payload is buffered**, against the limits and
//!   the rules of §5.
//! - **After a close frame is received, or the connection fails, input is ignored**; the
//!   close frame is the last frame sent.
//! - **Control frames overtake queued data at frame boundaries**; the close frame does not.
//! - **Timers are deadlines on the caller's clock**, armed when the caller next says
//!   what time it is. All of them live in the sending half, the receive timers
//!   (message assembly, idle) included: the receiving half only reports, in signals
//!   folded so that they stay bounded, that a frame was heard and whether a message
//!   is being assembled.

use alloc::boxed::Box;
use core::fmt;
use core::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};

use crate::close::{CloseCode, CloseFrame};
use crate::config::Config;
use crate::error::{Error, LocalError};
use crate::frame::OpCode;
use crate::key::{KeySource, RandomSource};
use crate::recv::RecvHalf;
use crate::send::{PreparedMessage, SendHalf};
use crate::utf8::Utf8Bytes;

/// Which end of the connection this is; it decides who masks (§5.1) and who closes
/// the transport first (§7.1.1).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Role {
    /// The end that opened the connection: masks every frame it sends.
    Client,
    /// The end that accepted it: never masks, closes the transport first.
    Server,
}

/// Where the closing handshake stands (§7).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum State {
    /// Messages flow both ways.
    Open,
    /// We queued a close frame and wait for the peer's.
    Closing,
    /// The closing handshake finished, timed out, or the connection failed. Queued
    /// bytes may remain; see [`Connection::should_close_transport`].
    Closed,
}

/// The type of a data message.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum MessageKind {
    /// UTF-8 text (opcode `%x1`).
    Text,
    /// Binary data (opcode `%x2`).
    Binary,
}

impl MessageKind {
    pub(crate) fn opcode(self) -> OpCode {
        match self {
            Self::Text => OpCode::TEXT,
            Self::Binary => OpCode::BINARY,
        }
    }
}

/// What the peer said.
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum Event {
    /// A whole text message, validated as UTF-8.
    Text(Utf8Bytes),
    /// A whole binary message.
    Binary(Bytes),
    /// A piece of a message, in [`Config::receive_chunks`] mode.
    Chunk(Chunk),
    /// A ping. With [`Config::auto_pong`] the pong is already queued.
    Ping(Bytes),
    /// A pong.
    Pong(Bytes),
    /// The peer's close frame (`None` if it carried no code). The answer is already
    /// queued if we had not closed first; no event follows.
    Close(Option<CloseFrame>),
}

/// A piece of a message delivered as it arrives ([`Config::receive_chunks`]).
///
/// For text, the concatenation of a message's chunks is valid UTF-8 (checked as the
/// bytes arrive), but a chunk may end inside a code point.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Chunk {
    /// The message type.
    pub kind: MessageKind,
    /// The bytes.
    pub data: Bytes,
    /// This is the message's first chunk.
    pub first: bool,
    /// This is the message's last chunk.
    pub last: bool,
}

/// How many pongs may wait for the transport. Every ping is answered (Autobahn's case
/// 2.10 checks it, though §5.5.3 does not require it), but a peer that pings without
/// reading cannot grow our output beyond this.
pub(crate) const MAX_PENDING_PONGS: usize = 32;

/// One end of a WebSocket connection, without I/O.
///
/// # Call protocol
///
/// ```text
///            bytes from the transport                 bytes for the transport
///  receive(&[u8]) / read_buffer() ──►┌────────────┐──► poll_transmit(now) -> Bytes
///                      handle_eof() ─►│ Connection │
///              handle_timeout(now) ──►│            │──► poll_event() -> Event
///   send_text / send_binary / close ─►└────────────┘──► poll_timeout() -> deadline
/// ```
///
/// 1. Hand in bytes with [`receive`](Self::receive) (or append to
///    [`read_buffer`](Self::read_buffer)), and end of stream with
///    [`handle_eof`](Self::handle_eof).
/// 2. Drain events: `while let Some(event) = conn.poll_event()? { ... }`. An `Err`
///    means the connection failed; the close frame with the matching code is already
///    queued.
/// 3. Issue commands ([`send_text`](Self::send_text), [`send_binary`](Self::send_binary),
///    [`send_fragment`](Self::send_fragment), [`send_ping`](Self::send_ping),
///    [`close`](Self::close)) whenever you like.
/// 4. Write out what [`poll_transmit`](Self::poll_transmit) returns until it returns
///    `None`, in order.
/// 5. Sleep until [`poll_timeout`](Self::poll_timeout) (or until bytes arrive), then call
///    [`handle_timeout`](Self::handle_timeout) and go to 2.
/// 6. When [`should_close_transport`](Self::should_close_transport) says so, close the
///    transport: this is how §7.1.1's "the server closes TCP first" is honoured.
///
/// Time is a [`Duration`] since any epoch the caller likes, as long as it is the same
/// for every call.
///
/// ```
/// use tidings_ws::{Config, Connection, Event};
/// use core::time::Duration;
///
/// let mut client = Connection::client_with_random_source(Config::default(), |key: &mut [u8]| {
///     key.copy_from_slice(&[1, 2, 3, 4])
/// });
/// let mut server = Connection::server(Config::default());
/// let now = Duration::ZERO;
///
/// client.send_text("hello")?;
/// while let Some(bytes) = client.poll_transmit(now) {
///     server.receive(&bytes);
/// }
/// assert_eq!(server.poll_event()?, Some(Event::Text("hello".into())));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Connection {
    recv: RecvHalf,
    send: SendHalf,
}

impl Connection {
    /// A connection for `role`; a client gets OS randomness for its masking keys.
    #[cfg(feature = "std")]
    pub fn new(role: Role, config: Config) -> Self {
        match role {
            Role::Client => Self::client(config),
            Role::Server => Self::server(config),
        }
    }

    /// The server end of a connection.
    pub fn server(config: Config) -> Self {
        Self::with_parts(Role::Server, config, None)
    }

    /// The client end of a connection, masking with keys from the OS.
    #[cfg(feature = "std")]
    pub fn client(config: Config) -> Self {
        Self::client_with_random_source(config, crate::key::OsRandom::new())
    }

    /// The client end of a connection, drawing its 4-byte masking keys from `source`.
    pub fn client_with_random_source(
        config: Config,
        source: impl RandomSource + Send + 'static,
    ) -> Self {
        Self::with_parts(Role::Client, config, Some(Box::new(source)))
    }

    fn with_parts(role: Role, config: Config, random: Option<Box<dyn KeySource>>) -> Self {
        Self {
            recv: RecvHalf::new(role, config.clone()),
            send: SendHalf::new(role, config, random),
        }
    }

    /// Splits the connection into a receiving and a sending half, for a reader task
    /// and a writer task that share nothing and take no lock.
    ///
    /// The one duty this adds: every [`Signal`](crate::Signal) that
    /// [`RecvHalf::poll_signal`] yields must reach [`SendHalf::handle_signal`], in
    /// order (a channel does). That is how pings get their pongs, a close frame its
    /// answer, and a protocol error its close code, from the writer.
    ///
    /// ```
    /// use tidings_ws::{Config, Connection, Event};
    /// use core::time::Duration;
    ///
    /// let (mut rx, mut tx) = Connection::server(Config::default()).into_split();
    /// rx.receive(&[0x89, 0x80, 1, 2, 3, 4]); // a masked, empty ping
    /// assert_eq!(rx.poll_event()?, Some(Event::Ping(Default::default())));
    /// while let Some(signal) = rx.poll_signal() {
    ///     tx.handle_signal(signal); // in real code: sent over a channel
    /// }
    /// assert_eq!(&tx.poll_transmit(Duration::ZERO).unwrap()[..], &[0x8A, 0x00]); // the pong
    /// # Ok::<(), tidings_ws::Error>(())
    /// ```
    pub fn into_split(self) -> (RecvHalf, SendHalf) {
        (self.recv, self.send)
    }

    /// Hands the signals the receiving half produced to the sending half.
    fn relay(&mut self) {
        while let Some(signal) = self.recv.poll_signal() {
            self.send.handle_signal(signal);
        }
    }

    /// Both halves, borrowed, for a driver that runs them side by side (one loop
    /// reads into the [`RecvHalf`], one writes from the [`SendHalf`]) and keeps the
    /// connection whole. Call [`relay_signals`](Self::relay_signals) after using
    /// them.
    pub fn halves_mut(&mut self) -> (&mut RecvHalf, &mut SendHalf) {
        (&mut self.recv, &mut self.send)
    }

    /// After [`halves_mut`](Self::halves_mut): hands the receiving half's signals to
    /// the sending half, and stops the receiving half once the sending half ended
    /// the connection (a timer fired), as [`handle_timeout`](Self::handle_timeout)
    /// does. The other methods of `Connection` do this themselves.
    ///
    /// ```
    /// use core::time::Duration;
    /// use tidings_ws::{Config, Connection, Error, State};
    ///
    /// let mut config = Config::default();
    /// config.idle_timeout = Some(Duration::from_secs(10));
    /// let mut conn = Connection::server(config);
    /// let (_, send) = conn.halves_mut();
    /// send.handle_timeout(Duration::ZERO); // arms the idle timer
    /// send.handle_timeout(Duration::from_secs(10)); // fires it
    /// assert_eq!(send.poll_error(), Some(Error::IdleTimeout));
    /// conn.relay_signals();
    /// assert_eq!(conn.state(), State::Closed);
    /// assert!(conn.is_input_done()); // stopped, as `handle_timeout` would have
    /// ```
    pub fn relay_signals(&mut self) {
        self.relay();
        if self.send.state() == State::Closed && !self.recv.is_done() {
            self.recv.stop();
        }
    }

    // --- getters ------------------------------------------------------------------

    /// Client or server.
    pub fn role(&self) -> Role {
        self.send.role()
    }

    /// Where the closing handshake stands.
    pub fn state(&self) -> State {
        self.send.state()
    }

    /// The settings this connection was made with.
    pub fn config(&self) -> &Config {
        self.send.config()
    }

    /// Bytes queued for the transport (the browser API's `bufferedAmount`): a caller
    /// applying backpressure stops sending while this is high.
    pub fn buffered_amount(&self) -> usize {
        self.send.buffered_amount()
    }

    /// Whether [`poll_transmit`](Self::poll_transmit) has anything to give.
    pub fn has_transmit(&self) -> bool {
        self.send.has_transmit()
    }

    /// Whether the transport should be closed now.
    ///
    /// True once nothing is left to write and either the connection failed, or the
    /// closing handshake finished and this is the server (§7.1.1: "the underlying TCP
    /// connection, in most normal cases, SHOULD be closed first by the server"), or a
    /// client's wait for the server to close ran out ([`Config::close_timeout`]), or the
    /// peer already closed its side.
    pub fn should_close_transport(&self) -> bool {
        self.send.should_close_transport()
    }

    /// Whether input is finished: a close frame arrived, the connection failed or a
    /// timer ended it. Reading from the transport can stop; bytes handed in from now on
    /// are dropped.
    pub fn is_input_done(&self) -> bool {
        self.recv.is_done()
    }

    // --- inputs -------------------------------------------------------------------

    /// Hands in bytes from the transport. Call [`poll_event`](Self::poll_event) next.
    ///
    /// Bytes after a close frame, or after a failure, are dropped.
    pub fn receive(&mut self, bytes: &[u8]) {
        self.recv.receive(bytes);
    }

    /// The receive buffer, for reading from the transport without a copy (e.g. with
    /// tokio's `read_buf`). Only append to it; then call
    /// [`poll_event`](Self::poll_event).
    pub fn read_buffer(&mut self) -> &mut BytesMut {
        self.recv.read_buffer()
    }

    /// How many more bytes the frame being received needs before it is whole; see
    /// [`RecvHalf::frame_bytes_wanted`].
    pub fn frame_bytes_wanted(&self) -> usize {
        self.recv.frame_bytes_wanted()
    }

    /// The transport will deliver no more bytes (a read returned 0).
    pub fn handle_eof(&mut self) {
        self.recv.handle_eof();
        self.relay();
    }

    /// Tells the connection the time; fires the timers that are due.
    ///
    /// Call it when [`poll_timeout`](Self::poll_timeout)'s deadline passes; calling it
    /// at other times is harmless. A timer that fails the connection (keepalive,
    /// [`Config::message_timeout`], [`Config::idle_timeout`]) reports its error at the
    /// next [`poll_event`](Self::poll_event).
    pub fn handle_timeout(&mut self, now: Duration) {
        self.send.handle_timeout(now);
        if self.send.state() == State::Closed {
            // A timer ended the connection: stop reading.
            self.recv.stop();
        }
    }

    // --- commands -----------------------------------------------------------------

    /// Queues a text message, split into frames of at most
    /// [`Config::max_send_frame_size`]. `String` and `Utf8Bytes` are taken without a
    /// copy.
    pub fn send_text(&mut self, text: impl Into<Utf8Bytes>) -> Result<(), LocalError> {
        self.send.send_text(text)
    }

    /// Queues a binary message, split into frames of at most
    /// [`Config::max_send_frame_size`]. A server sends `Bytes` without copying them.
    pub fn send_binary(&mut self, data: impl Into<Bytes>) -> Result<(), LocalError> {
        self.send.send_binary(data)
    }

    /// Queues a binary message copied from `data`: the fastest send for small
    /// messages (see [`SendHalf::send_binary_slice`]).
    pub fn send_binary_slice(&mut self, data: &[u8]) -> Result<(), LocalError> {
        self.send.send_binary_slice(data)
    }

    /// Queues a text message copied from `text` (see [`SendHalf::send_text_str`]).
    pub fn send_text_str(&mut self, text: &str) -> Result<(), LocalError> {
        self.send.send_text_str(text)
    }

    /// Queues a message encoded once for many connections (see [`PreparedMessage`]).
    pub fn send_prepared(&mut self, message: &PreparedMessage) -> Result<(), LocalError> {
        self.send.send_prepared(message)
    }

    /// Queues one piece of a message whose whole size need not be known: the first
    /// call starts a message of `kind`, later calls continue it, and `fin` ends it.
    ///
    /// Text pieces may split a code point; the message as a whole must be UTF-8, and a
    /// piece that makes it invalid is refused (nothing of it is queued).
    pub fn send_fragment(
        &mut self,
        kind: MessageKind,
        data: impl Into<Bytes>,
        fin: bool,
    ) -> Result<(), LocalError> {
        self.send.send_fragment(kind, data, fin)
    }

    /// Queues a ping (payload at most 125 bytes).
    pub fn send_ping(&mut self, payload: impl Into<Bytes>) -> Result<(), LocalError> {
        self.send.send_ping(payload)
    }

    /// Queues an unsolicited pong (payload at most 125 bytes), e.g. as a heartbeat.
    pub fn send_pong(&mut self, payload: impl Into<Bytes>) -> Result<(), LocalError> {
        self.send.send_pong(payload)
    }

    /// Starts the closing handshake: queues a close frame after everything already
    /// queued, and waits up to [`Config::close_timeout`] for the peer's answer.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), LocalError> {
        self.send.close(code, reason)
    }

    // --- outputs ------------------------------------------------------------------

    /// The next event, or `None` when the buffered input holds no complete one.
    ///
    /// An `Err` means the connection failed: the close frame carrying
    /// [`Error::close_code`] is queued, input is ignored from now on, and later calls
    /// return `Ok(None)`.
    pub fn poll_event(&mut self) -> Result<Option<Event>, Error> {
        if let Some(error) = self.send.poll_error() {
            return Err(error);
        }
        let event = self.recv.poll_event();
        self.relay();
        event
    }

    /// The next bytes to write to the transport, in order, or `None`.
    ///
    /// Payloads over 512 bytes come out as their own `Bytes` (the caller's, for a
    /// server: no copy), so a vectored write can send header and payload together.
    pub fn poll_transmit(&mut self, now: Duration) -> Option<Bytes> {
        self.send.poll_transmit(now)
    }

    /// Writes everything [`poll_transmit`](Self::poll_transmit) would return into `buf`;
    /// returns the number of bytes written.
    pub fn poll_transmit_into(&mut self, now: Duration, buf: &mut impl BufMut) -> usize {
        self.send.poll_transmit_into(now, buf)
    }

    /// The next deadline at which [`handle_timeout`](Self::handle_timeout) must be
    /// called, on the caller's clock.
    pub fn poll_timeout(&self) -> Option<Duration> {
        self.send.poll_timeout()
    }

    /// Frees the receive and send buffers if they are empty, so an idle connection
    /// holds only its fixed-size state.
    pub fn shrink_buffers(&mut self) {
        self.recv.shrink_buffers();
        self.send.shrink_buffers();
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("role", &self.role())
            .field("state", &self.state())
            .field("buffered_input", &self.recv.buffered_input())
            .field("buffered_amount", &self.buffered_amount())
            .finish_non_exhaustive()
    }
}
