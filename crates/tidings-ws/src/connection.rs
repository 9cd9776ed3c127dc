//! The protocol state machine: RFC 6455 §5-§7 for one end of one connection.
//!
//! # Theory of operation
//!
//! A [`Connection`] owns three things: the bytes received but not yet turned into
//! events (`read`), the bytes queued for the transport (`out`), and the protocol state
//! between them. It never owns a socket or reads a clock.
//!
//! Invariants:
//!
//! - **Frames are parsed lazily**, inside [`Connection::poll_event`], one at a time, so
//!   there is never a queue of decoded events: memory is the read buffer (bounded by
//!   [`Config::max_frame_size`] plus what the caller hands in between polls) and, in
//!   whole-message mode, the fragments of one message (bounded by
//!   [`Config::max_message_size`]).
//! - **Payload bytes are touched once.** The payload of a frame is unmasked in place in
//!   the read buffer and, for text, validated as UTF-8, as soon as it arrives, even
//!   before the frame is complete; `checked` remembers how far that went so nothing is
//!   scanned twice. A complete frame leaves the read buffer as a [`Bytes`] split off it,
//!   without a copy. Only fragmented messages are copied, once, into one buffer.
//! - **Every header is checked before its payload is buffered**: lengths against the
//!   limits, so a 2^63-byte header costs nothing; and the rules of §5 (reserved bits,
//!   opcodes, masking by role, control frame shape, continuation order).
//! - **After a close frame is received, or the connection fails, input is ignored**,
//!   and after a close frame is queued, nothing but control frames queued before it is
//!   sent: "the endpoint MUST NOT send any more data frames" (§5.5.1).
//! - **Control frames overtake queued data at frame boundaries**, so a pong is not stuck
//!   behind a large message; the close frame does not overtake, since it must be last.
//! - **Timers are deadlines on the caller's clock**, armed when the caller next says
//!   what time it is ([`Connection::poll_transmit`], [`Connection::handle_timeout`]).

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use core::fmt;
use core::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::close::{CloseCode, CloseFrame, MAX_REASON_LEN};
use crate::config::Config;
use crate::error::{Error, SendError};
use crate::frame::{FrameHeader, HeaderError, MAX_HEADER_LEN, OpCode, Status};
use crate::key::MaskSource;
use crate::mask::{apply_mask, extend_masked};
use crate::utf8::{Utf8Bytes, Utf8Validator};

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
    fn opcode(self) -> OpCode {
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

/// Payloads at most this long are copied next to their header, so a burst of small
/// frames leaves as one contiguous write; longer ones are handed on as their own
/// [`Bytes`] (no copy).
const INLINE_PAYLOAD: usize = 512;

/// How many pongs may wait for the transport. Every ping is answered (Autobahn's case
/// 2.10 checks it, though §5.5.3 does not require it), but a peer that pings without
/// reading cannot grow our output beyond this.
const MAX_PENDING_PONGS: usize = 32;

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
/// let mut client = Connection::client_with_mask_source(Config::default(), || [1, 2, 3, 4]);
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
    role: Role,
    config: Config,
    state: State,
    mask_source: Option<Box<dyn MaskSource>>,

    /// Received bytes not yet consumed; the current frame's payload starts at 0.
    read: BytesMut,
    /// The frame whose header was read and whose payload is (partly) in `read`.
    frame: Option<InFrame>,
    /// The data message being received.
    message: InMessage,
    /// A close frame was received, or the connection failed: ignore further input.
    input_done: bool,
    /// The transport will deliver no more bytes.
    eof: bool,
    /// The connection failed (protocol error, timeout, lost transport).
    failed: bool,
    /// An error raised outside `poll_event` (by a timer), reported by its next call.
    pending_error: Option<Error>,

    out: Outgoing,
    /// The fragmented message being sent, if any.
    sending: Option<OutMessage>,
    /// Pings to answer, oldest first; at most [`MAX_PENDING_PONGS`], the oldest
    /// dropped beyond that (§5.5.3 allows answering only the latest).
    pending_pongs: VecDeque<Bytes>,
    /// A close frame is in the outgoing data stream.
    close_queued: bool,

    timers: Timers,
}

/// The frame being received.
#[derive(Clone, Copy, Debug)]
struct InFrame {
    header: FrameHeader,
    /// Payload bytes already split off the read buffer (chunk mode only).
    taken: u64,
    /// Bytes at the front of `read`, past `taken`, already unmasked and validated.
    checked: usize,
}

/// Reassembly state of the data message being received.
#[derive(Debug, Default)]
struct InMessage {
    /// `Some` between a message's first frame and its last.
    kind: Option<MessageKind>,
    /// Payload of the frames received so far (whole-message mode, fragmented only).
    buf: BytesMut,
    /// Total payload length announced so far, checked against the message limit.
    len: u64,
    utf8: Utf8Validator,
    /// A chunk of this message was already delivered (chunk mode).
    delivered: bool,
}

/// The fragmented message being sent.
#[derive(Debug)]
struct OutMessage {
    kind: MessageKind,
    utf8: Utf8Validator,
}

/// Bytes waiting for the transport, in two streams.
#[derive(Debug, Default)]
struct Outgoing {
    /// Whole control frames (pings, pongs), sent ahead of data at frame boundaries.
    control: BytesMut,
    /// Data-stream chunks that were sealed; `true` marks a chunk that ends inside a
    /// frame (a header whose payload is the next chunk).
    queue: VecDeque<(Bytes, bool)>,
    /// Small data-stream frames still being appended to; goes after `queue`.
    tail: BytesMut,
    /// The last chunk handed out ended inside a frame.
    mid_frame: bool,
    /// Bytes queued in all of the above.
    len: usize,
}

#[derive(Debug, Default)]
struct Timers {
    /// When the next keepalive ping is due.
    keepalive: Option<Duration>,
    /// A keepalive ping is unanswered; fail if nothing arrives by then.
    pong_deadline: Option<Duration>,
    /// The closing handshake, or the wait for the server to close, ends by then.
    close: Option<Duration>,
    /// A close deadline should start at the next known time.
    close_pending: bool,
    /// The close deadline passed.
    close_expired: bool,
}

/// How far processing of the current frame got.
enum Step {
    Event(Event),
    /// The frame was consumed without an event; look at the next one.
    Continue,
    /// More bytes are needed.
    Starved,
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
        Self::client_with_mask_source(config, crate::key::OsMaskSource::new())
    }

    /// The client end of a connection, masking with keys from `source`.
    pub fn client_with_mask_source(config: Config, source: impl MaskSource + 'static) -> Self {
        Self::with_parts(Role::Client, config, Some(Box::new(source)))
    }

    fn with_parts(
        role: Role,
        mut config: Config,
        mask_source: Option<Box<dyn MaskSource>>,
    ) -> Self {
        config.max_send_frame_size = config.max_send_frame_size.max(1);
        Self {
            role,
            config,
            state: State::Open,
            mask_source,
            read: BytesMut::new(),
            frame: None,
            message: InMessage::default(),
            input_done: false,
            eof: false,
            failed: false,
            pending_error: None,
            out: Outgoing::default(),
            sending: None,
            pending_pongs: VecDeque::new(),
            close_queued: false,
            timers: Timers::default(),
        }
    }

    // --- getters ------------------------------------------------------------------

    /// Client or server.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Where the closing handshake stands.
    pub fn state(&self) -> State {
        self.state
    }

    /// The settings this connection was made with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Bytes queued for the transport (the browser API's `bufferedAmount`): a caller
    /// applying backpressure stops sending while this is high.
    pub fn buffered_amount(&self) -> usize {
        let pongs: usize = self
            .pending_pongs
            .iter()
            .map(|p| p.len() + MAX_HEADER_LEN)
            .sum();
        self.out.len + pongs
    }

    /// Whether [`poll_transmit`](Self::poll_transmit) has anything to give.
    pub fn has_transmit(&self) -> bool {
        self.buffered_amount() != 0
    }

    /// Whether the transport should be closed now.
    ///
    /// True once nothing is left to write and either the connection failed, or the
    /// closing handshake finished and this is the server (§7.1.1: "the underlying TCP
    /// connection, in most normal cases, SHOULD be closed first by the server"), or a
    /// client's wait for the server to close ran out ([`Config::close_timeout`]), or the
    /// peer already closed its side.
    pub fn should_close_transport(&self) -> bool {
        if self.has_transmit() || self.state != State::Closed {
            return false;
        }
        self.failed || self.eof || self.timers.close_expired || self.role == Role::Server
    }

    // --- inputs -------------------------------------------------------------------

    /// Hands in bytes from the transport. Call [`poll_event`](Self::poll_event) next.
    ///
    /// Bytes after a close frame, or after a failure, are dropped.
    pub fn receive(&mut self, bytes: &[u8]) {
        if !self.input_done {
            self.read.extend_from_slice(bytes);
        }
    }

    /// The receive buffer, for reading from the transport without a copy (e.g. with
    /// tokio's `read_buf`). Only append to it; then call
    /// [`poll_event`](Self::poll_event).
    pub fn read_buffer(&mut self) -> &mut BytesMut {
        &mut self.read
    }

    /// The transport will deliver no more bytes (a read returned 0).
    pub fn handle_eof(&mut self) {
        self.eof = true;
    }

    /// Tells the connection the time; fires the timers that are due.
    ///
    /// Call it when [`poll_timeout`](Self::poll_timeout)'s deadline passes; calling it
    /// at other times is harmless.
    pub fn handle_timeout(&mut self, now: Duration) {
        self.arm_timers(now);
        let t = &mut self.timers;
        if t.pong_deadline.is_some_and(|d| d <= now) {
            t.pong_deadline = None;
            self.fail_silently(Error::KeepaliveTimeout);
            return;
        }
        if t.close.is_some_and(|d| d <= now) {
            t.close = None;
            t.close_expired = true;
            self.state = State::Closed;
            self.input_done = true;
        }
        if let (Some(due), Some(interval)) = (self.timers.keepalive, self.config.keepalive_interval)
        {
            if due <= now && self.state == State::Open {
                self.queue_control(OpCode::PING, &[]);
                if self.timers.pong_deadline.is_none() {
                    self.timers.pong_deadline = Some(now + self.config.pong_timeout);
                }
                self.timers.keepalive = Some(now + interval);
            }
        }
    }

    // --- commands -----------------------------------------------------------------

    /// Queues a text message, split into frames of at most
    /// [`Config::max_send_frame_size`]. `String` and `Utf8Bytes` are taken without a
    /// copy.
    pub fn send_text(&mut self, text: impl Into<Utf8Bytes>) -> Result<(), SendError> {
        self.send_message(MessageKind::Text, text.into().into_bytes())
    }

    /// Queues a binary message, split into frames of at most
    /// [`Config::max_send_frame_size`]. A server sends `Bytes` without copying them.
    pub fn send_binary(&mut self, data: impl Into<Bytes>) -> Result<(), SendError> {
        self.send_message(MessageKind::Binary, data.into())
    }

    fn send_message(&mut self, kind: MessageKind, payload: Bytes) -> Result<(), SendError> {
        self.check_can_send()?;
        if self.sending.is_some() {
            return Err(SendError::MessageInProgress);
        }
        self.queue_data(kind.opcode(), payload, true);
        Ok(())
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
    ) -> Result<(), SendError> {
        self.check_can_send()?;
        let data = data.into();
        let (opcode, mut utf8) = match self.sending.take() {
            None => (kind.opcode(), Utf8Validator::default()),
            Some(m) if m.kind == kind => (OpCode::CONTINUATION, m.utf8),
            Some(m) => {
                self.sending = Some(m);
                return Err(SendError::KindMismatch);
            }
        };
        if kind == MessageKind::Text {
            let before = utf8.clone();
            let checked = utf8
                .feed(&data)
                .and_then(|()| if fin { utf8.finish() } else { Ok(()) });
            if checked.is_err() {
                // Refuse the piece and keep the message where it was.
                if opcode == OpCode::CONTINUATION {
                    self.sending = Some(OutMessage { kind, utf8: before });
                }
                return Err(SendError::InvalidUtf8);
            }
        }
        self.queue_data(opcode, data, fin);
        if !fin {
            self.sending = Some(OutMessage { kind, utf8 });
        }
        Ok(())
    }

    /// Queues a ping (payload at most 125 bytes).
    pub fn send_ping(&mut self, payload: impl Into<Bytes>) -> Result<(), SendError> {
        self.send_control(OpCode::PING, payload.into())
    }

    /// Queues an unsolicited pong (payload at most 125 bytes), e.g. as a heartbeat.
    pub fn send_pong(&mut self, payload: impl Into<Bytes>) -> Result<(), SendError> {
        self.send_control(OpCode::PONG, payload.into())
    }

    fn send_control(&mut self, opcode: OpCode, payload: Bytes) -> Result<(), SendError> {
        self.check_can_send()?;
        if payload.len() > 125 {
            return Err(SendError::ControlTooLong);
        }
        self.queue_control(opcode, &payload);
        Ok(())
    }

    /// Starts the closing handshake: queues a close frame after everything already
    /// queued, and waits up to [`Config::close_timeout`] for the peer's answer.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), SendError> {
        self.check_can_send()?;
        if !code.is_sendable() {
            return Err(SendError::InvalidCloseCode(code.0));
        }
        if reason.len() > MAX_REASON_LEN {
            return Err(SendError::ReasonTooLong);
        }
        self.queue_close(Some((code, reason.as_bytes())));
        self.state = State::Closing;
        self.timers.close_pending = true;
        Ok(())
    }

    fn check_can_send(&self) -> Result<(), SendError> {
        if self.state == State::Open {
            Ok(())
        } else {
            Err(SendError::Closing)
        }
    }

    // --- outputs ------------------------------------------------------------------

    /// The next event, or `None` when the buffered input holds no complete one.
    ///
    /// An `Err` means the connection failed: the close frame carrying
    /// [`Error::close_code`] is queued, input is ignored from now on, and later calls
    /// return `Ok(None)`.
    pub fn poll_event(&mut self) -> Result<Option<Event>, Error> {
        if let Some(e) = self.pending_error.take() {
            return Err(e);
        }
        while !self.input_done {
            let frame = match self.frame {
                Some(frame) => frame,
                None => match FrameHeader::decode(&self.read) {
                    Ok(Status::Complete((header, len))) => {
                        if let Err(e) = self.accept_header(&header) {
                            return Err(self.fail(e));
                        }
                        self.read.advance(len);
                        // Any frame proves the peer alive.
                        self.timers.pong_deadline = None;
                        let frame = InFrame {
                            header,
                            taken: 0,
                            checked: 0,
                        };
                        self.frame = Some(frame);
                        frame
                    }
                    Ok(Status::Partial) => return self.starved(),
                    Err(HeaderError::LengthHighBitSet) => {
                        return Err(self.fail(Error::LengthHighBitSet));
                    }
                },
            };
            let step = if frame.header.opcode.is_control() {
                self.control_frame(frame)
            } else {
                self.data_frame(frame)
            };
            match step {
                Ok(Step::Event(event)) => return Ok(Some(event)),
                Ok(Step::Continue) => {}
                Ok(Step::Starved) => return self.starved(),
                Err(e) => return Err(self.fail(e)),
            }
        }
        Ok(None)
    }

    /// The next bytes to write to the transport, in order, or `None`.
    ///
    /// Payloads over 512 bytes come out as their own `Bytes` (the caller's, for a
    /// server: no copy), so a vectored write can send header and payload together.
    pub fn poll_transmit(&mut self, now: Duration) -> Option<Bytes> {
        self.arm_timers(now);
        let out = &mut self.out;
        if !out.mid_frame {
            let before = out.control.len();
            for payload in self.pending_pongs.drain(..) {
                encode_control(
                    &mut out.control,
                    &mut self.mask_source,
                    OpCode::PONG,
                    &payload,
                );
            }
            out.len += out.control.len() - before;
            if !out.control.is_empty() {
                let chunk = out.control.split().freeze();
                out.len -= chunk.len();
                return Some(chunk);
            }
        }
        let chunk = if let Some((chunk, mid)) = out.queue.pop_front() {
            out.mid_frame = mid;
            chunk
        } else if !out.tail.is_empty() {
            out.mid_frame = false;
            out.tail.split().freeze()
        } else {
            return None;
        };
        out.len -= chunk.len();
        if self.close_queued && out.queue.is_empty() && out.tail.is_empty() {
            // The close frame just left: nothing may follow it.
            out.control.clear();
            out.len = 0;
        }
        Some(chunk)
    }

    /// Writes everything [`poll_transmit`](Self::poll_transmit) would return into `buf`;
    /// returns the number of bytes written.
    pub fn poll_transmit_into(&mut self, now: Duration, buf: &mut impl BufMut) -> usize {
        let mut n = 0;
        while let Some(chunk) = self.poll_transmit(now) {
            n += chunk.len();
            buf.put_slice(&chunk);
        }
        n
    }

    /// The next deadline at which [`handle_timeout`](Self::handle_timeout) must be
    /// called, on the caller's clock.
    pub fn poll_timeout(&self) -> Option<Duration> {
        let t = &self.timers;
        let keepalive = if self.state == State::Open {
            t.keepalive
        } else {
            None
        };
        [keepalive, t.pong_deadline, t.close]
            .into_iter()
            .flatten()
            .min()
    }

    /// Frees the receive and send buffers if they are empty, so an idle connection
    /// holds only its fixed-size state.
    pub fn shrink_buffers(&mut self) {
        if self.read.is_empty() && self.frame.is_none() {
            self.read = BytesMut::new();
        }
        if self.out.len == 0 {
            self.out.control = BytesMut::new();
            self.out.tail = BytesMut::new();
        }
        if self.message.kind.is_none() {
            self.message.buf = BytesMut::new();
        }
    }

    // --- receiving ----------------------------------------------------------------

    /// Applies the §5 rules a header can be judged by, and the limits.
    fn accept_header(&mut self, h: &FrameHeader) -> Result<(), Error> {
        if h.rsv != 0 {
            return Err(Error::ReservedBits);
        }
        if h.opcode.is_reserved() {
            return Err(Error::ReservedOpCode(h.opcode.bits()));
        }
        match (self.role, h.mask.is_some()) {
            (Role::Server, false) => return Err(Error::UnmaskedFrame),
            (Role::Client, true) => return Err(Error::MaskedFrame),
            _ => {}
        }
        if h.opcode.is_control() {
            if !h.fin {
                return Err(Error::FragmentedControl);
            }
            if h.payload_len > 125 {
                return Err(Error::ControlTooLong);
            }
            return Ok(());
        }
        if h.payload_len > self.config.max_frame_size as u64 {
            return Err(Error::FrameTooBig {
                len: h.payload_len,
                limit: self.config.max_frame_size,
            });
        }
        let kind = match h.opcode {
            OpCode::CONTINUATION if self.message.kind.is_none() => {
                return Err(Error::UnexpectedContinuation);
            }
            OpCode::CONTINUATION => None,
            _ if self.message.kind.is_some() => return Err(Error::ExpectedContinuation),
            OpCode::TEXT => Some(MessageKind::Text),
            _ => Some(MessageKind::Binary),
        };
        if let Some(kind) = kind {
            self.message.kind = Some(kind);
            self.message.len = 0;
            self.message.delivered = false;
        }
        self.message.len += h.payload_len;
        if self.message.len > self.config.max_message_size as u64 {
            return Err(Error::MessageTooBig {
                len: self.message.len,
                limit: self.config.max_message_size,
            });
        }
        Ok(())
    }

    fn control_frame(&mut self, frame: InFrame) -> Result<Step, Error> {
        let len = frame.header.payload_len as usize;
        if self.read.len() < len {
            return Ok(Step::Starved);
        }
        let mut payload = self.read.split_to(len);
        if let Some(key) = frame.header.mask {
            apply_mask(&mut payload, key, 0);
        }
        self.frame = None;
        let payload = payload.freeze();
        Ok(Step::Event(match frame.header.opcode {
            OpCode::PING => {
                if self.config.auto_pong && self.state == State::Open {
                    if self.pending_pongs.len() == MAX_PENDING_PONGS {
                        self.pending_pongs.pop_front();
                    }
                    self.pending_pongs.push_back(payload.clone());
                }
                Event::Ping(payload)
            }
            OpCode::PONG => Event::Pong(payload),
            _ => self.close_frame(payload)?,
        }))
    }

    /// §5.5.1: "If an endpoint receives a Close frame and did not previously send a
    /// Close frame, the endpoint MUST send a Close frame in response."
    fn close_frame(&mut self, payload: Bytes) -> Result<Event, Error> {
        let frame = match payload.len() {
            0 => None,
            1 => return Err(Error::InvalidClosePayload),
            _ => {
                let code = CloseCode(u16::from_be_bytes([payload[0], payload[1]]));
                if !code.is_sendable() {
                    return Err(Error::InvalidCloseCode(code.0));
                }
                let reason = Utf8Bytes::try_from_bytes(payload.slice(2..))
                    .map_err(|_| Error::InvalidUtf8)?;
                Some(CloseFrame { code, reason })
            }
        };
        self.input_done = true;
        if self.state == State::Open {
            // Echo the code (§5.5.1: "it typically echos the status code it received").
            self.queue_close(frame.as_ref().map(|f| (f.code, &[][..])));
            // A client now waits for the server to close the transport.
            self.timers.close_pending = self.role == Role::Client;
        } else {
            self.timers.close = None;
            self.timers.close_pending = self.role == Role::Client;
        }
        self.state = State::Closed;
        self.pending_pongs.clear();
        Ok(Event::Close(frame))
    }

    fn data_frame(&mut self, mut frame: InFrame) -> Result<Step, Error> {
        let h = frame.header;
        let kind = self.message.kind.unwrap_or(MessageKind::Binary);
        let remaining = (h.payload_len - frame.taken) as usize;
        let available = self.read.len().min(remaining);

        // Unmask and validate whatever arrived since last time, once.
        if available > frame.checked {
            let fresh = &mut self.read[frame.checked..available];
            if let Some(key) = h.mask {
                apply_mask(
                    fresh,
                    key,
                    (frame.taken as usize).wrapping_add(frame.checked),
                );
            }
            if kind == MessageKind::Text {
                self.message
                    .utf8
                    .feed(fresh)
                    .map_err(|_| Error::InvalidUtf8)?;
            }
            frame.checked = available;
        }
        let complete = available == remaining;
        let last = complete && h.fin;
        if last && kind == MessageKind::Text {
            self.message.utf8.finish().map_err(|_| Error::InvalidUtf8)?;
        }

        if self.config.receive_chunks {
            if available == 0 && !last {
                self.frame = if complete { None } else { Some(frame) };
                return Ok(if complete {
                    Step::Continue
                } else {
                    Step::Starved
                });
            }
            let data = self.read.split_to(available).freeze();
            frame.taken += available as u64;
            frame.checked = 0;
            self.frame = if complete { None } else { Some(frame) };
            let first = !self.message.delivered;
            self.message.delivered = true;
            if last {
                self.message.kind = None;
            }
            return Ok(Step::Event(Event::Chunk(Chunk {
                kind,
                data,
                first,
                last,
            })));
        }

        if !complete {
            self.frame = Some(frame);
            return Ok(Step::Starved);
        }
        self.frame = None;
        let payload = self.read.split_to(remaining);
        if !h.fin {
            self.message.buf.extend_from_slice(&payload);
            return Ok(Step::Continue);
        }
        let data = if self.message.buf.is_empty() {
            payload.freeze()
        } else {
            self.message.buf.extend_from_slice(&payload);
            self.message.buf.split().freeze()
        };
        self.message.kind = None;
        Ok(Step::Event(match kind {
            MessageKind::Text => Event::Text(Utf8Bytes::from_validated(data)),
            MessageKind::Binary => Event::Binary(data),
        }))
    }

    /// No complete event in the buffer: wait, unless the transport is gone.
    fn starved(&mut self) -> Result<Option<Event>, Error> {
        if self.eof && !self.input_done {
            self.input_done = true;
            self.failed = true;
            self.state = State::Closed;
            return Err(Error::UnexpectedEof);
        }
        Ok(None)
    }

    /// _Fail the WebSocket Connection_ (§7.1.7): queue a close frame with the error's
    /// code, stop reading, and let the transport be closed once it is written.
    fn fail(&mut self, error: Error) -> Error {
        if !self.close_queued && error.close_code().is_sendable() {
            self.sending = None;
            self.queue_close(Some((error.close_code(), &[])));
        }
        self.input_done = true;
        self.failed = true;
        self.state = State::Closed;
        self.pending_pongs.clear();
        error
    }

    /// Fails without a close frame (the peer is gone or silent) and drops queued
    /// bytes: nobody will read them.
    fn fail_silently(&mut self, error: Error) {
        self.out = Outgoing::default();
        self.pending_pongs.clear();
        self.input_done = true;
        self.failed = true;
        self.state = State::Closed;
        self.pending_error = Some(error);
    }

    // --- sending ------------------------------------------------------------------

    fn arm_timers(&mut self, now: Duration) {
        let t = &mut self.timers;
        if t.close_pending {
            t.close_pending = false;
            t.close = Some(now + self.config.close_timeout);
        }
        if let Some(interval) = self.config.keepalive_interval {
            if t.keepalive.is_none() && self.state == State::Open {
                t.keepalive = Some(now + interval);
            }
        }
    }

    /// Queues a data message or fragment, split at the configured frame size.
    fn queue_data(&mut self, opcode: OpCode, payload: Bytes, fin: bool) {
        let max = self.config.max_send_frame_size;
        let mut opcode = opcode;
        let mut rest = payload;
        loop {
            let piece = if rest.len() > max {
                rest.split_to(max)
            } else {
                core::mem::take(&mut rest)
            };
            let last = rest.is_empty();
            self.queue_data_frame(fin && last, opcode, piece);
            if last {
                return;
            }
            opcode = OpCode::CONTINUATION;
        }
    }

    fn queue_data_frame(&mut self, fin: bool, opcode: OpCode, payload: Bytes) {
        let mask = self.mask_source.as_mut().map(|s| s.next_key());
        let header = FrameHeader {
            fin,
            rsv: 0,
            opcode,
            mask,
            payload_len: payload.len() as u64,
        };
        let mut head = [0u8; MAX_HEADER_LEN];
        let n = header.encode_array(&mut head);
        let out = &mut self.out;
        out.len += n + payload.len();
        out.tail.extend_from_slice(&head[..n]);
        match mask {
            Some(key) => extend_masked(&mut out.tail, &payload, key, 0),
            None if payload.len() <= INLINE_PAYLOAD => out.tail.extend_from_slice(&payload),
            None => {
                out.queue.push_back((out.tail.split().freeze(), true));
                out.queue.push_back((payload, false));
            }
        }
    }

    fn queue_control(&mut self, opcode: OpCode, payload: &[u8]) {
        let before = self.out.control.len();
        encode_control(
            &mut self.out.control,
            &mut self.mask_source,
            opcode,
            payload,
        );
        self.out.len += self.out.control.len() - before;
    }

    /// Puts a close frame at the end of the data stream: it must be the last frame.
    fn queue_close(&mut self, body: Option<(CloseCode, &[u8])>) {
        let mut payload = [0u8; 125];
        let len = match body {
            Some((code, reason)) => {
                payload[..2].copy_from_slice(&code.0.to_be_bytes());
                payload[2..2 + reason.len()].copy_from_slice(reason);
                2 + reason.len()
            }
            None => 0,
        };
        self.queue_data_frame(true, OpCode::CLOSE, Bytes::copy_from_slice(&payload[..len]));
        self.close_queued = true;
    }
}

/// Encodes a whole control frame (at most 125 bytes of payload) into `buf`.
fn encode_control(
    buf: &mut BytesMut,
    mask_source: &mut Option<Box<dyn MaskSource>>,
    opcode: OpCode,
    payload: &[u8],
) {
    let mask = mask_source.as_mut().map(|s| s.next_key());
    let header = FrameHeader {
        fin: true,
        rsv: 0,
        opcode,
        mask,
        payload_len: payload.len() as u64,
    };
    header.encode(buf);
    match mask {
        Some(key) => extend_masked(buf, payload, key, 0),
        None => buf.extend_from_slice(payload),
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("role", &self.role)
            .field("state", &self.state)
            .field("buffered_input", &self.read.len())
            .field("buffered_amount", &self.buffered_amount())
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}
