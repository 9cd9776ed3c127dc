//! The sending half of a connection: commands in, bytes for the transport out, and the
//! closing handshake and timers (RFC 6455 §5.4-§5.5, §7).
//!
//! This half owns what goes on the wire and when the transport closes: the outgoing
//! byte streams, fragmentation of outgoing messages, masking keys, the state of the
//! closing handshake, and every timer (keepalive, close, message assembly, idle). It
//! learns what the peer did only through [`Signal`]s from the
//! [`RecvHalf`](crate::RecvHalf), including the two that the receive timers run on: a
//! frame was heard, and a message started or none is in progress.
//!
//! Invariants:
//! - two outgoing streams: whole control frames (pings, pongs), which overtake data at
//!   frame boundaries so a pong is never stuck behind a large message; and the data
//!   stream (messages, then the close frame), whose order is the send order. The close
//!   frame is always last: "the endpoint MUST NOT send any more data frames" (§5.5.1);
//! - server payloads over [`INLINE_PAYLOAD`] bytes are handed on as the caller's own
//!   `Bytes`; everything else is appended next to its header, and client payloads are
//!   masked in the same pass as that copy;
//! - timers are deadlines on the caller's clock, armed when the caller next says what
//!   time it is (`poll_transmit`, `handle_timeout`): a signal says *that* something
//!   happened, the next `now` says *when*, so the halves share no clock;
//! - the receive timers (message assembly, idle) run only while the connection is
//!   open; once a close frame is out, the close timer bounds what is left.

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};

use crate::close::{CloseCode, MAX_REASON_LEN};
use crate::config::Config;
use crate::connection::{MAX_PENDING_PONGS, MessageKind, Role, State};
use crate::error::{Error, LocalError};
use crate::frame::{FrameHeader, MAX_HEADER_LEN, MaskingKey, OpCode};
use crate::key::KeySource;
use crate::mask::extend_masked;
use crate::recv::{Signal, SignalKind};
use crate::utf8::{Utf8Bytes, Utf8Validator};

/// Payloads at most this long are copied next to their header, so a burst of small
/// frames leaves as one contiguous write; longer ones are handed on as their own
/// [`Bytes`] (no copy).
const INLINE_PAYLOAD: usize = 512;

/// A message encoded once, to be sent on many connections (broadcast).
///
/// The frames are encoded at construction; [`SendHalf::send_prepared`] on a server
/// queues the same refcounted `Bytes` on every connection, with no encoding and no
/// copy. A client must mask each frame with its own key, so on a client connection it
/// is framed and masked like any other message (one copy).
///
/// ```
/// use tidings_ws::{Config, Connection, PreparedMessage};
/// use core::time::Duration;
///
/// let news = PreparedMessage::text("tick 42");
/// let mut a = Connection::server(Config::default());
/// let mut b = Connection::server(Config::default());
/// a.send_prepared(&news)?;
/// b.send_prepared(&news)?;
/// assert_eq!(a.poll_transmit(Duration::ZERO), b.poll_transmit(Duration::ZERO));
/// # Ok::<(), tidings_ws::LocalError>(())
/// ```
///
/// # Compressed broadcast (feature `deflate`)
///
/// On a connection that negotiated permessage-deflate, what is sent depends on its
/// compressing side, as the handshake left it
/// (`DeflateConfig::compress_no_context_takeover` and `compress_window_bits`):
///
/// | compressing side | what `send_prepared` queues |
/// |---|---|
/// | no context takeover (a server with `server_no_context_takeover`, a client with `client_no_context_takeover`), window 2^N, N ≥ 9 | the message compressed **once** for every such connection with the same N, RSV1 set; a server queues the shared frames as they are (`Bytes` clones), a client masks them (one copy) |
/// | context takeover | compressed by the connection's own compressor, as [`send_text`](SendHalf::send_text) would: its context must see every message it sends |
/// | message under `threshold`, an 8-bit window, no deflate | the plain frames above |
///
/// Without context takeover each message is a deflate stream of its own, started
/// from a fresh context (RFC 7692 §7.1.1.1), so the bytes do not depend on the
/// connection, with one exception: the window. A peer inflates with the window it
/// allowed the sender (`server_max_window_bits` for a server's messages), and
/// distances past it are corrupt data, so the message is compressed with the
/// window each connection negotiated: one encoding per window size (2^9 to 2^15),
/// each made the first time a connection needs it and kept in this message, shared
/// by its clones and across threads. Browsers do not ask for a smaller server
/// window, so a broadcast to browsers compresses once. The first connection to need
/// an encoding also gives its level and memLevel; `PreparedMessage::compressed`
/// makes the encoding ahead of time, with a config of your choosing (on the
/// publisher's thread rather than the first subscriber's).
///
/// Broadcasts are framed at the size given at construction (1 MiB for
/// [`text`](Self::text) and [`binary`](Self::binary)), not at each connection's
/// [`Config::max_send_frame_size`], on servers; clients frame at their own.
#[derive(Clone, Debug)]
pub struct PreparedMessage {
    kind: MessageKind,
    payload: Bytes,
    /// The uncompressed server frames.
    frames: Frames,
    /// The frame size the compressed forms are split at.
    #[cfg(feature = "deflate")]
    max_frame_size: usize,
    /// The message compressed alone, one slot per window size (9..=15 bits), filled
    /// by the first connection that needs it; shared by every clone.
    #[cfg(feature = "deflate")]
    deflated: Arc<[std::sync::OnceLock<Deflated>; 7]>,
}

/// A message's server frames, as `poll_transmit` chunks: `true` marks a header whose
/// payload is the next chunk.
#[derive(Clone, Debug)]
struct Frames {
    chunks: Arc<[(Bytes, bool)]>,
    /// Their total length.
    len: usize,
}

/// A message compressed alone (without context takeover) with one window size.
#[cfg(feature = "deflate")]
#[derive(Debug)]
struct Deflated {
    /// The compressed payload, for clients (which mask a copy of it).
    payload: Bytes,
    /// Its server frames, RSV1 on the first.
    frames: Frames,
}

impl PreparedMessage {
    /// A text message, split into frames of at most 1 MiB (the default
    /// [`Config::max_send_frame_size`]).
    pub fn text(text: impl Into<Utf8Bytes>) -> Self {
        Self::new(
            MessageKind::Text,
            text.into().into_bytes(),
            Config::default().max_send_frame_size,
        )
    }

    /// A binary message, split into frames of at most 1 MiB.
    pub fn binary(data: impl Into<Bytes>) -> Self {
        Self::new(
            MessageKind::Binary,
            data.into(),
            Config::default().max_send_frame_size,
        )
    }

    /// A message split into frames of at most `max_frame_size` bytes (minimum 1).
    /// `payload` must be UTF-8 for [`MessageKind::Text`]; use [`text`](Self::text) to
    /// have that checked by the type.
    pub fn new(kind: MessageKind, payload: Bytes, max_frame_size: usize) -> Self {
        let max_frame_size = max_frame_size.max(1);
        Self {
            kind,
            frames: Frames::encode(kind.opcode(), 0, &payload, max_frame_size),
            payload,
            #[cfg(feature = "deflate")]
            max_frame_size,
            #[cfg(feature = "deflate")]
            deflated: Arc::default(),
        }
    }

    /// Compresses the message now, alone, with `config`'s window, level and memLevel,
    /// for the connections whose compressing side has no context takeover and that
    /// window (see [Compressed broadcast](Self#compressed-broadcast-feature-deflate)).
    /// Without this, the first such connection compresses it, with its own level.
    ///
    /// Does nothing if that window's encoding exists already, or if `config`'s window
    /// is 8 bits (sent uncompressed). A connection that negotiated another window
    /// still makes its own encoding when it needs one.
    #[cfg(feature = "deflate")]
    #[must_use]
    pub fn compressed(self, config: &crate::DeflateConfig) -> Self {
        if config.compress_window_bits >= 9 {
            self.deflated(config, config.compress_window_bits);
        }
        self
    }

    /// The message compressed alone with a window of `2^window_bits` (9 and up;
    /// above 15 means 15, as for a connection), made once.
    #[cfg(feature = "deflate")]
    fn deflated(&self, config: &crate::DeflateConfig, window_bits: u8) -> &Deflated {
        let bits = window_bits.clamp(9, 15);
        self.deflated[usize::from(bits - 9)].get_or_init(|| {
            let payload = crate::deflate::compress_alone(config, bits, &self.payload).freeze();
            Deflated {
                frames: Frames::encode(self.kind.opcode(), RSV1, &payload, self.max_frame_size),
                payload,
            }
        })
    }

    /// The message type.
    pub fn kind(&self) -> MessageKind {
        self.kind
    }

    /// The bytes a server connection puts on the wire for it uncompressed.
    pub fn encoded_len(&self) -> usize {
        self.frames.len
    }

    /// The bytes a server connection without context takeover and with a window of
    /// `2^window_bits` puts on the wire for it, if that encoding was made
    /// ([`compressed`](Self::compressed), or a first connection that needed it).
    #[cfg(feature = "deflate")]
    pub fn compressed_len(&self, window_bits: u8) -> Option<usize> {
        let slot = self
            .deflated
            .get(usize::from(window_bits.clamp(9, 15) - 9))?;
        Some(slot.get()?.frames.len)
    }
}

impl Frames {
    /// Server frames for one message: `payload` split at `max` bytes, `opcode` and
    /// `rsv` on the first frame, continuations after it.
    fn encode(opcode: OpCode, rsv: u8, payload: &Bytes, max: usize) -> Self {
        let mut chunks = Vec::new();
        let mut len = 0;
        let (mut opcode, mut rsv) = (opcode, rsv);
        let mut rest = payload.clone();
        loop {
            let piece = if rest.len() > max {
                rest.split_to(max)
            } else {
                core::mem::take(&mut rest)
            };
            let fin = rest.is_empty();
            let header = FrameHeader {
                fin,
                rsv,
                opcode,
                mask: None,
                payload_len: piece.len() as u64,
            };
            let n = header.encoded_len();
            len += n + piece.len();
            if piece.len() <= INLINE_PAYLOAD {
                let mut frame = BytesMut::with_capacity(n + piece.len());
                header.encode(&mut frame);
                frame.extend_from_slice(&piece);
                chunks.push((frame.freeze(), false));
            } else {
                let mut head = BytesMut::with_capacity(n);
                header.encode(&mut head);
                chunks.push((head.freeze(), true));
                chunks.push((piece, false));
            }
            if fin {
                break;
            }
            (opcode, rsv) = (OpCode::CONTINUATION, 0);
        }
        Self {
            chunks: chunks.into(),
            len,
        }
    }
}

/// The sending half of a WebSocket connection.
///
/// Issue commands ([`send_text`](Self::send_text), [`close`](Self::close), ...), hand
/// in every [`Signal`] from the receiving half, write out what
/// [`poll_transmit`](Self::poll_transmit) returns, keep time with
/// [`poll_timeout`](Self::poll_timeout) / [`handle_timeout`](Self::handle_timeout), and
/// close the transport when [`should_close_transport`](Self::should_close_transport)
/// says so.
pub struct SendHalf {
    role: Role,
    config: Config,
    state: State,
    random: Option<Box<dyn KeySource>>,
    out: Outgoing,
    /// The fragmented message being sent, if any.
    sending: Option<OutMessage>,
    /// Pings to answer, oldest first, at most [`MAX_PENDING_PONGS`].
    pending_pongs: VecDeque<Bytes>,
    /// A close frame is in the outgoing data stream.
    close_queued: bool,
    /// The connection failed (protocol error, timeout, lost transport).
    failed: bool,
    /// The transport will deliver no more bytes.
    eof: bool,
    /// A failure found by a timer, for the caller to collect.
    error: Option<Error>,
    timers: Timers,
    /// permessage-deflate's compressor, when negotiated.
    #[cfg(feature = "deflate")]
    compressor: Option<crate::deflate::Compressor>,
}

/// The fragmented message being sent.
#[derive(Debug)]
struct OutMessage {
    kind: MessageKind,
    utf8: Utf8Validator,
    /// Its pieces are compressed (permessage-deflate).
    compressed: bool,
}

/// RSV1: the first frame of a compressed message (RFC 7692 §6).
const RSV1: u8 = 0b100;

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
    /// The capacity `tail` had when it was last split off: asking for that much again
    /// once it is empty takes its buffer back from the start (see `reserve_tail`).
    tail_room: usize,
    /// The last chunk handed out ended inside a frame.
    mid_frame: bool,
    /// Bytes queued in all of the above.
    len: usize,
}

#[derive(Debug, Default)]
struct Timers {
    /// Some deadline waits to be armed at the next known time (the flags below say
    /// which): one check on the hot path, `poll_transmit`, instead of one per timer.
    arm: bool,
    /// When the next keepalive ping is due.
    keepalive: Option<Duration>,
    /// A keepalive ping is unanswered; fail if nothing arrives by then.
    pong_deadline: Option<Duration>,
    /// The closing handshake, or a client's wait for the server to close, ends by then.
    close: Option<Duration>,
    /// A close deadline should start at the next known time.
    close_pending: bool,
    /// The close deadline passed.
    close_expired: bool,
    /// The data message being received must be complete by then
    /// ([`Config::message_timeout`]).
    message: Option<Duration>,
    /// A message started: its deadline starts at the next known time.
    message_pending: bool,
    /// The connection fails if no frame arrives by then ([`Config::idle_timeout`]).
    idle: Option<Duration>,
    /// A frame arrived: the idle deadline restarts at the next known time.
    idle_pending: bool,
}

impl SendHalf {
    pub(crate) fn new(role: Role, mut config: Config, random: Option<Box<dyn KeySource>>) -> Self {
        config.max_send_frame_size = config.max_send_frame_size.max(1);
        let timers = Timers {
            // The keepalive and idle timers start at the first known time.
            arm: config.keepalive_interval.is_some() || config.idle_timeout.is_some(),
            ..Timers::default()
        };
        Self {
            #[cfg(feature = "deflate")]
            compressor: config.deflate.map(crate::deflate::Compressor::new),
            role,
            config,
            state: State::Open,
            random,
            out: Outgoing::default(),
            sending: None,
            pending_pongs: VecDeque::new(),
            close_queued: false,
            failed: false,
            eof: false,
            error: None,
            timers,
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

    /// Applies what the receiving half learned. Hand in every signal, in order.
    ///
    /// A deadline a signal starts (a message's assembly, the idle timer) is armed at
    /// the next [`poll_transmit`](Self::poll_transmit) or
    /// [`handle_timeout`](Self::handle_timeout), which say what time it is.
    pub fn handle_signal(&mut self, signal: Signal) {
        match signal.0 {
            // Any frame proves the peer alive.
            SignalKind::Heard => {
                self.timers.pong_deadline = None;
                if self.config.idle_timeout.is_some() {
                    self.timers.idle_pending = true;
                    self.timers.arm = true;
                }
            }
            SignalKind::MessageStarted => {
                self.timers.message = None;
                if self.config.message_timeout.is_some() {
                    self.timers.message_pending = true;
                    self.timers.arm = true;
                }
            }
            SignalKind::MessageDone => {
                self.timers.message = None;
                self.timers.message_pending = false;
            }
            SignalKind::Ping(payload) => {
                if self.state == State::Open {
                    if self.pending_pongs.len() == MAX_PENDING_PONGS {
                        self.pending_pongs.pop_front();
                    }
                    self.pending_pongs.push_back(payload);
                }
            }
            // §5.5.1: "If an endpoint receives a Close frame and did not previously send
            // a Close frame, the endpoint MUST send a Close frame in response."
            SignalKind::CloseReceived(frame) => {
                if self.state == State::Open {
                    // Echo the code (§5.5.1: "it typically echos the status code it
                    // received"), and the reason with it, so that the peer's logs
                    // show its own words (at most 123 bytes, as it sent them).
                    self.queue_close(
                        frame
                            .as_ref()
                            .map(|f| (f.code, f.reason.as_str().as_bytes())),
                    );
                } else {
                    self.timers.close = None;
                }
                // A client now waits for the server to close the transport.
                if self.role == Role::Client {
                    self.timers.close_pending = true;
                    self.timers.arm = true;
                }
                self.state = State::Closed;
                // Pings that came before the close still get their pongs: control
                // frames leave ahead of the close frame, which stays last.
            }
            SignalKind::Failed(error) => self.fail(error),
            SignalKind::Eof => self.eof = true,
        }
    }

    /// _Fail the WebSocket Connection_ (§7.1.7): send a close frame with the error's
    /// code (and reason) if it may be sent, and close the transport once it is out.
    fn fail(&mut self, error: Error) {
        if !self.close_queued && error.close_code().is_sendable() {
            self.sending = None;
            self.queue_close(Some((error.close_code(), error.close_reason().as_bytes())));
        }
        self.failed = true;
        self.state = State::Closed;
        self.pending_pongs.clear();
    }

    /// Tells the half the time; fires the timers that are due.
    ///
    /// Call it when [`poll_timeout`](Self::poll_timeout)'s deadline passes; calling it
    /// at other times is harmless. A timer that fails the connection (keepalive,
    /// message assembly, idle) leaves its error for [`poll_error`](Self::poll_error).
    pub fn handle_timeout(&mut self, now: Duration) {
        self.arm_timers(now);
        let t = &mut self.timers;
        if t.pong_deadline.is_some_and(|d| d <= now) {
            t.pong_deadline = None;
            // The peer is silent: nobody will read queued bytes, and no close frame.
            self.out = Outgoing::default();
            self.pending_pongs.clear();
            self.failed = true;
            self.state = State::Closed;
            self.error = Some(Error::KeepaliveTimeout);
            return;
        }
        if self.state == State::Open {
            let error = if t.message.is_some_and(|d| d <= now) {
                Some(Error::MessageTimeout)
            } else if t.idle.is_some_and(|d| d <= now) {
                Some(Error::IdleTimeout)
            } else {
                None
            };
            if let Some(error) = error {
                (t.message, t.idle) = (None, None);
                self.fail(error);
                self.error = Some(error);
                return;
            }
        }
        if t.close.is_some_and(|d| d <= now) {
            t.close = None;
            t.close_expired = true;
            self.state = State::Closed;
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
    pub fn send_text(&mut self, text: impl Into<Utf8Bytes>) -> Result<(), LocalError> {
        self.send_message(MessageKind::Text, text.into().into_bytes())
    }

    /// Queues a binary message, split into frames of at most
    /// [`Config::max_send_frame_size`]. A server sends `Bytes` without copying them.
    pub fn send_binary(&mut self, data: impl Into<Bytes>) -> Result<(), LocalError> {
        self.send_message(MessageKind::Binary, data.into())
    }

    /// Queues a binary message, copying `data` next to its frame header (a client
    /// masks it in the same pass).
    ///
    /// For small messages this is the fastest send: no reference count, no
    /// allocation beyond the shared output buffer. For large ones on a server, prefer
    /// [`send_binary`](Self::send_binary), which hands the caller's `Bytes` on without
    /// a copy.
    pub fn send_binary_slice(&mut self, data: &[u8]) -> Result<(), LocalError> {
        self.send_copied(MessageKind::Binary, data)
    }

    /// Queues a text message, copying `text` next to its frame header: the
    /// `&str` counterpart of [`send_binary_slice`](Self::send_binary_slice).
    pub fn send_text_str(&mut self, text: &str) -> Result<(), LocalError> {
        self.send_copied(MessageKind::Text, text.as_bytes())
    }

    fn send_copied(&mut self, kind: MessageKind, data: &[u8]) -> Result<(), LocalError> {
        #[cfg(feature = "deflate")]
        let plain = self
            .compressor
            .as_ref()
            .is_none_or(|c| !c.wants(data.len()));
        #[cfg(not(feature = "deflate"))]
        let plain = true;
        if !plain || data.len() > self.config.max_send_frame_size {
            // Compressed or split into frames: the general path, from a copy.
            return self.send_message(kind, Bytes::copy_from_slice(data));
        }
        self.check_can_send()?;
        if self.sending.is_some() {
            return Err(LocalError::MessageInProgress);
        }
        let mask = next_key(&mut self.random);
        let header = FrameHeader {
            fin: true,
            rsv: 0,
            opcode: kind.opcode(),
            mask,
            payload_len: data.len() as u64,
        };
        let out = &mut self.out;
        out.len += header.encoded_len() + data.len();
        out.reserve_tail(MAX_HEADER_LEN + data.len());
        header.encode(&mut out.tail);
        match mask {
            Some(key) => extend_masked(&mut out.tail, data, key, 0),
            None => out.tail.extend_from_slice(data),
        }
        Ok(())
    }

    /// Queues a message encoded once for many connections. A server queues the
    /// prepared frames as they are (no encoding, no copy); a client frames and masks
    /// the payload as for [`send_binary`](Self::send_binary). With permessage-deflate,
    /// a compressing side without context takeover sends the message compressed once
    /// for all such connections, and one with context takeover compresses it itself
    /// (see [`PreparedMessage`]).
    pub fn send_prepared(&mut self, message: &PreparedMessage) -> Result<(), LocalError> {
        self.check_can_send()?;
        if self.sending.is_some() {
            return Err(LocalError::MessageInProgress);
        }
        #[cfg(feature = "deflate")]
        if let Some(compressor) = &self.compressor {
            if compressor.wants(message.payload.len()) {
                let Some(bits) = compressor.shared_window() else {
                    // Context takeover: this connection's context must see the message.
                    return self.send_message(message.kind, message.payload.clone());
                };
                let deflated = message.deflated(compressor.config(), bits);
                if self.role == Role::Client {
                    let payload = deflated.payload.clone();
                    self.queue_data(message.kind.opcode(), RSV1, payload, true);
                } else {
                    self.queue_frames(&deflated.frames);
                }
                return Ok(());
            }
        }
        if self.role == Role::Client {
            return self.send_message(message.kind, message.payload.clone());
        }
        self.queue_frames(&message.frames);
        Ok(())
    }

    /// Queues a server's prepared frames after what is queued, as they are.
    fn queue_frames(&mut self, frames: &Frames) {
        let out = &mut self.out;
        if !out.tail.is_empty() {
            let chunk = out.split_tail();
            out.queue.push_back((chunk, false));
        }
        out.queue.extend(frames.chunks.iter().cloned());
        out.len += frames.len;
    }

    fn send_message(&mut self, kind: MessageKind, payload: Bytes) -> Result<(), LocalError> {
        self.check_can_send()?;
        if self.sending.is_some() {
            return Err(LocalError::MessageInProgress);
        }
        #[cfg(feature = "deflate")]
        if let Some(compressor) = &mut self.compressor {
            if compressor.wants(payload.len()) {
                let mut compressed = BytesMut::new();
                compressor.compress(&payload, true, &mut compressed);
                self.queue_data(kind.opcode(), RSV1, compressed.freeze(), true);
                return Ok(());
            }
        }
        self.queue_data(kind.opcode(), 0, payload, true);
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
    ) -> Result<(), LocalError> {
        self.check_can_send()?;
        let data = data.into();
        // A streamed message is compressed whole or not at all; its size is unknown,
        // so the threshold does not apply.
        #[cfg(feature = "deflate")]
        let compress = self
            .compressor
            .as_ref()
            .is_some_and(|c| c.wants(usize::MAX));
        #[cfg(not(feature = "deflate"))]
        let compress = false;
        let (opcode, mut utf8, compressed) = match self.sending.take() {
            None => (kind.opcode(), Utf8Validator::default(), compress),
            Some(m) if m.kind == kind => (OpCode::CONTINUATION, m.utf8, m.compressed),
            Some(m) => {
                self.sending = Some(m);
                return Err(LocalError::KindMismatch);
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
                    self.sending = Some(OutMessage {
                        kind,
                        utf8: before,
                        compressed,
                    });
                }
                return Err(LocalError::InvalidUtf8);
            }
        }
        let rsv = if compressed && opcode != OpCode::CONTINUATION {
            RSV1
        } else {
            0
        };
        #[cfg(feature = "deflate")]
        let data = match &mut self.compressor {
            Some(compressor) if compressed => {
                let mut out = BytesMut::new();
                compressor.compress(&data, fin, &mut out);
                out.freeze()
            }
            _ => data,
        };
        self.queue_data(opcode, rsv, data, fin);
        if !fin {
            self.sending = Some(OutMessage {
                kind,
                utf8,
                compressed,
            });
        }
        Ok(())
    }

    /// Queues a ping (payload at most 125 bytes).
    pub fn send_ping(&mut self, payload: impl Into<Bytes>) -> Result<(), LocalError> {
        self.send_control(OpCode::PING, payload.into())
    }

    /// Queues an unsolicited pong (payload at most 125 bytes), e.g. as a heartbeat.
    pub fn send_pong(&mut self, payload: impl Into<Bytes>) -> Result<(), LocalError> {
        self.send_control(OpCode::PONG, payload.into())
    }

    fn send_control(&mut self, opcode: OpCode, payload: Bytes) -> Result<(), LocalError> {
        self.check_can_send()?;
        if payload.len() > 125 {
            return Err(LocalError::ControlTooLong);
        }
        self.queue_control(opcode, &payload);
        Ok(())
    }

    /// Starts the closing handshake: queues a close frame after everything already
    /// queued, and waits up to [`Config::close_timeout`] for the peer's answer.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), LocalError> {
        self.check_can_send()?;
        if !code.is_sendable() {
            return Err(LocalError::InvalidCloseCode(code.0));
        }
        if reason.len() > MAX_REASON_LEN {
            return Err(LocalError::ReasonTooLong);
        }
        self.queue_close(Some((code, reason.as_bytes())));
        self.state = State::Closing;
        self.timers.close_pending = true;
        self.timers.arm = true;
        Ok(())
    }

    fn check_can_send(&self) -> Result<(), LocalError> {
        if self.state == State::Open {
            Ok(())
        } else {
            Err(LocalError::Closing)
        }
    }

    // --- outputs ------------------------------------------------------------------

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
                encode_control(&mut out.control, &mut self.random, OpCode::PONG, &payload);
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
            out.split_tail()
        } else {
            return None;
        };
        out.len -= chunk.len();
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
        let open = |deadline| {
            if self.state == State::Open {
                deadline
            } else {
                None
            }
        };
        [
            open(t.keepalive),
            open(t.message),
            open(t.idle),
            t.pong_deadline,
            t.close,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// A failure found by a timer ([`Error::KeepaliveTimeout`],
    /// [`Error::MessageTimeout`], [`Error::IdleTimeout`]), once.
    pub fn poll_error(&mut self) -> Option<Error> {
        self.error.take()
    }

    /// Frees the send buffers if they are empty, so an idle half holds only its
    /// fixed-size state.
    pub fn shrink_buffers(&mut self) {
        if self.out.len == 0 {
            self.out.control = BytesMut::new();
            self.out.tail = BytesMut::new();
            self.out.tail_room = 0;
        }
        #[cfg(feature = "deflate")]
        if let (Some(compressor), None) = (&mut self.compressor, &self.sending) {
            compressor.shrink();
        }
    }

    // --- internals ----------------------------------------------------------------

    #[inline]
    fn arm_timers(&mut self, now: Duration) {
        if self.timers.arm {
            self.arm_pending(now);
        }
    }

    #[cold]
    fn arm_pending(&mut self, now: Duration) {
        let t = &mut self.timers;
        t.arm = false;
        if t.close_pending {
            t.close_pending = false;
            t.close = Some(now + self.config.close_timeout);
        }
        if self.state != State::Open {
            return;
        }
        if let Some(interval) = self.config.keepalive_interval {
            if t.keepalive.is_none() {
                t.keepalive = Some(now + interval);
            }
        }
        if core::mem::take(&mut t.message_pending) {
            t.message = self.config.message_timeout.map(|limit| now + limit);
        }
        // The idle timer runs from the first known time, and restarts with each frame.
        if let Some(limit) = self.config.idle_timeout {
            if core::mem::take(&mut t.idle_pending) || t.idle.is_none() {
                t.idle = Some(now + limit);
            }
        }
    }

    /// Queues a data message or fragment, split at the configured frame size; `rsv`
    /// goes on the first frame only.
    #[inline]
    fn queue_data(&mut self, opcode: OpCode, rsv: u8, payload: Bytes, fin: bool) {
        let max = self.config.max_send_frame_size;
        if payload.len() <= max {
            // One frame: hand the `Bytes` on as it is. Moving it through the loop
            // below copies it with vector loads that straddle the caller's separate
            // stores of its fields, a store-forwarding stall.
            self.queue_data_frame(fin, opcode, rsv, payload);
            return;
        }
        let (mut opcode, mut rsv) = (opcode, rsv);
        let mut rest = payload;
        loop {
            let piece = if rest.len() > max {
                rest.split_to(max)
            } else {
                core::mem::take(&mut rest)
            };
            let last = rest.is_empty();
            self.queue_data_frame(fin && last, opcode, rsv, piece);
            if last {
                return;
            }
            (opcode, rsv) = (OpCode::CONTINUATION, 0);
        }
    }

    fn queue_data_frame(&mut self, fin: bool, opcode: OpCode, rsv: u8, payload: Bytes) {
        let mask = next_key(&mut self.random);
        let header = FrameHeader {
            fin,
            rsv,
            opcode,
            mask,
            payload_len: payload.len() as u64,
        };
        let out = &mut self.out;
        out.len += header.encoded_len() + payload.len();
        let inline = mask.is_some() || payload.len() <= INLINE_PAYLOAD;
        out.reserve_tail(MAX_HEADER_LEN + if inline { payload.len() } else { 0 });
        header.encode(&mut out.tail);
        match mask {
            Some(key) => extend_masked(&mut out.tail, &payload, key, 0),
            None if inline => out.tail.extend_from_slice(&payload),
            None => {
                let head = out.split_tail();
                out.queue.push_back((head, true));
                out.queue.push_back((payload, false));
            }
        }
    }

    fn queue_control(&mut self, opcode: OpCode, payload: &[u8]) {
        let before = self.out.control.len();
        encode_control(&mut self.out.control, &mut self.random, opcode, payload);
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
        self.queue_data_frame(
            true,
            OpCode::CLOSE,
            0,
            Bytes::copy_from_slice(&payload[..len]),
        );
        self.close_queued = true;
    }
}

impl Outgoing {
    /// Makes room for `additional` more bytes in `tail`.
    ///
    /// Once `tail` has been split off whole (by `poll_transmit`), it is left empty at
    /// the end of its buffer with little room. When the transport has written and
    /// dropped those bytes the buffer is unshared again, and asking for the room it had
    /// takes it back from the start. Without this, `BytesMut::reserve` grants each
    /// frame exactly the room it asks for past the old end (every small frame took the
    /// slow path) and, on reaching the end of the buffer, moves the frames already
    /// queued back to its start (a `memmove` of up to a whole batch), much of the cost
    /// of a small frame. If the caller still holds the bytes, `try_reclaim` does
    /// nothing and `reserve` allocates as usual.
    #[inline]
    fn reserve_tail(&mut self, additional: usize) {
        if self.tail.is_empty() && self.tail.capacity() < self.tail_room {
            // Best effort: failing only means the caller still holds the last chunk.
            let _ = self.tail.try_reclaim(self.tail_room);
        }
        self.tail.reserve(additional);
    }

    /// Splits off everything in `tail`, remembering the room it had.
    #[inline]
    fn split_tail(&mut self) -> Bytes {
        self.tail_room = self.tail.capacity();
        self.tail.split().freeze()
    }
}

/// The masking key for the next frame: a client draws one from its source; a server
/// has none.
#[inline]
fn next_key(source: &mut Option<Box<dyn KeySource>>) -> Option<MaskingKey> {
    Some(source.as_mut()?.next_key())
}

/// Encodes a whole control frame (at most 125 bytes of payload) into `buf`.
fn encode_control(
    buf: &mut BytesMut,
    random: &mut Option<Box<dyn KeySource>>,
    opcode: OpCode,
    payload: &[u8],
) {
    let mask = next_key(random);
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

impl fmt::Debug for SendHalf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendHalf")
            .field("role", &self.role)
            .field("state", &self.state)
            .field("buffered_amount", &self.buffered_amount())
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server() -> SendHalf {
        SendHalf::new(Role::Server, Config::default(), None)
    }

    /// Once the transport has dropped a batch, the next batch is written from the
    /// start of the same buffer (no new allocation, no `memmove` of queued frames); a
    /// batch the caller still holds is never written over.
    #[test]
    fn output_buffer_is_taken_back_once_dropped() {
        let mut send = server();
        let payload = [7u8; 100];
        let mut first = None;
        for round in 0..4 {
            for i in 0..50 {
                send.send_binary_slice(&payload).unwrap();
                if round > 0 && i == 0 {
                    // The whole buffer is available again from the first frame on.
                    assert!(send.out.tail.capacity() >= 50 * 102, "round {round}");
                }
            }
            let chunk = send.poll_transmit(Duration::ZERO).unwrap();
            assert_eq!(chunk.len(), 50 * 102);
            assert!(send.poll_transmit(Duration::ZERO).is_none());
            match first {
                None => first = Some(chunk.as_ptr()),
                Some(p) => assert_eq!(chunk.as_ptr(), p, "round {round}"),
            }
        }

        let held = send.poll_transmit(Duration::ZERO);
        assert!(held.is_none());
        send.send_binary_slice(&payload).unwrap();
        let held = send.poll_transmit(Duration::ZERO).unwrap();
        let copy = held.to_vec();
        for _ in 0..100 {
            send.send_binary_slice(&[9u8; 100]).unwrap();
        }
        let next = send.poll_transmit(Duration::ZERO).unwrap();
        assert_eq!(held, copy);
        assert_ne!(next.as_ptr(), held.as_ptr());
    }
}
