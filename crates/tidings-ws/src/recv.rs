//! The receiving half of a connection: bytes in, events out (RFC 6455 §5, §8).
//!
//! This half owns everything that input decides: the read buffer, the frame being
//! received, message reassembly and UTF-8 validation. It never writes. What the sending
//! half must act on (a ping to answer, a close to echo, a failure to report with a
//! close frame, proof that the peer is alive, the end of the transport) is recorded as
//! [`Signal`]s: [`Connection`](crate::Connection) applies them at once, and after
//! [`Connection::into_split`](crate::Connection::into_split) the caller carries them to
//! the [`SendHalf`](crate::SendHalf), so a reader task and a writer task share no
//! state and take no lock.
//!
//! Invariants (see also the connection module):
//! - frames are parsed lazily, one per `poll_event` step, so decoded events never queue
//!   up; memory is the read buffer plus one message's fragments, both bounded by
//!   [`Config`];
//! - each payload byte is unmasked and (for text) validated once, in place, as soon as it
//!   arrives; `InFrame::checked` remembers how far that went;
//! - after a close frame or a failure, input is dropped.

use alloc::collections::VecDeque;
use core::fmt;

use bytes::{Buf, Bytes, BytesMut};

use crate::close::{CloseCode, CloseFrame};
use crate::config::Config;
use crate::connection::{Chunk, Event, MAX_PENDING_PONGS, MessageKind, Role};
use crate::error::Error;
use crate::frame::{FrameHeader, HeaderError, OpCode, Status};
use crate::mask::apply_mask;
use crate::utf8::{Utf8Bytes, Utf8Validator};

/// Something the receiving half learned that the sending half must act on.
///
/// Opaque on purpose: take each one from [`RecvHalf::poll_signal`] and hand it, in
/// order, to [`SendHalf::handle_signal`](crate::SendHalf::handle_signal).
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use = "a signal must be handed to the SendHalf"]
pub struct Signal(pub(crate) SignalKind);

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SignalKind {
    /// A frame arrived: the peer is alive (clears a keepalive deadline).
    Heard,
    /// A ping to answer with this payload.
    Ping(Bytes),
    /// The peer's close frame, with its code if it had one.
    CloseReceived(Option<CloseCode>),
    /// The connection failed while receiving.
    Failed(Error),
    /// The transport will deliver no more bytes.
    Eof,
}

/// The receiving half of a WebSocket connection.
///
/// Hand in bytes with [`receive`](Self::receive) (or append to
/// [`read_buffer`](Self::read_buffer)) and [`handle_eof`](Self::handle_eof); drain
/// [`poll_event`](Self::poll_event); pass every [`poll_signal`](Self::poll_signal) to the
/// sending half.
pub struct RecvHalf {
    role: Role,
    config: Config,
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
    signals: Signals,
    /// Bytes at the front of `read` that belong to a message handed out borrowed by
    /// [`RecvHalf::poll_event_ref`]; dropped at the next call that touches `read`.
    lent: usize,
    /// permessage-deflate's inflater, when negotiated.
    #[cfg(feature = "deflate")]
    inflater: Option<crate::deflate::Decompressor>,
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
    /// The message is compressed (RSV1 on its first frame, RFC 7692 §6.1).
    #[cfg(feature = "deflate")]
    compressed: bool,
    /// Bytes this compressed message inflated to so far, checked against the limit.
    #[cfg(feature = "deflate")]
    inflated: u64,
}

/// Signals not yet taken, folded so that they stay bounded whatever the peer sends.
#[derive(Debug, Default)]
struct Signals {
    heard: bool,
    pings: VecDeque<Bytes>,
    close: Option<Option<CloseCode>>,
    failed: Option<Error>,
    eof: bool,
}

/// Text payloads longer than this are unmasked and validated in blocks of this size,
/// each while it is in L1 cache.
const FUSE_BLOCK: usize = 4096;

/// Validates a whole payload: `core`'s validator for short ones (its ASCII fast path
/// beats `simdutf8`'s dispatch below a few dozen bytes), `simdutf8` for the rest.
#[inline]
fn validate_utf8(bytes: &[u8]) -> Result<&str, ()> {
    if bytes.len() < 64 {
        core::str::from_utf8(bytes).map_err(|_| ())
    } else {
        simdutf8::basic::from_utf8(bytes).map_err(|_| ())
    }
}

/// An event from [`RecvHalf::poll_event_ref`]: a whole message borrowed from the
/// receive buffer, or any other event, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventRef<'a> {
    /// A whole text message, validated as UTF-8.
    Text(&'a str),
    /// A whole binary message.
    Binary(&'a [u8]),
    /// Anything else, exactly as [`RecvHalf::poll_event`] returns it (a message that
    /// arrived in several frames, a chunk, a control frame).
    Owned(Event),
}

/// How far processing of the current frame got.
enum Step {
    Event(Event),
    /// The frame was consumed without an event; look at the next one.
    Continue,
    /// More bytes are needed.
    Starved,
}

impl RecvHalf {
    pub(crate) fn new(role: Role, config: Config) -> Self {
        Self {
            role,
            read: BytesMut::new(),
            frame: None,
            message: InMessage::default(),
            input_done: false,
            eof: false,
            signals: Signals::default(),
            lent: 0,
            #[cfg(feature = "deflate")]
            inflater: config.deflate.map(crate::deflate::Decompressor::new),
            config,
        }
    }

    /// Client or server.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Hands in bytes from the transport. Call [`poll_event`](Self::poll_event) next.
    ///
    /// Bytes after a close frame, or after a failure, are dropped.
    pub fn receive(&mut self, bytes: &[u8]) {
        if !self.input_done {
            self.release_lent();
            self.read.extend_from_slice(bytes);
        }
    }

    /// The receive buffer, for reading from the transport without a copy (e.g. with
    /// tokio's `read_buf`). Only append to it; then call
    /// [`poll_event`](Self::poll_event).
    pub fn read_buffer(&mut self) -> &mut BytesMut {
        self.release_lent();
        &mut self.read
    }

    /// Whether input is finished: a close frame arrived, or the connection failed.
    /// Reading from the transport can stop.
    pub fn is_done(&self) -> bool {
        self.input_done
    }

    /// The transport will deliver no more bytes (a read returned 0).
    pub fn handle_eof(&mut self) {
        self.eof = true;
        self.signals.eof = true;
    }

    /// The next event, or `None` when the buffered input holds no complete one.
    ///
    /// An `Err` means the connection failed; input is ignored from then on, later calls
    /// return `Ok(None)`, and a signal tells the sending half to send the close frame
    /// carrying [`Error::close_code`].
    pub fn poll_event(&mut self) -> Result<Option<Event>, Error> {
        if self.input_done {
            // Bytes appended through `read_buffer` after the end are dropped here.
            self.end_input();
        }
        self.release_lent();
        // The common case first: a whole single-frame message in the buffer.
        if let Some((kind, start, end)) = self.whole_message(true)? {
            self.read.advance(start);
            let data = self.read.split_to(end - start).freeze();
            return Ok(Some(match kind {
                MessageKind::Text => Event::Text(Utf8Bytes::from_validated(data)),
                MessageKind::Binary => Event::Binary(data),
            }));
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
                        self.signals.heard = true;
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

    /// Like [`poll_event`](Self::poll_event), but a whole single-frame message comes
    /// out borrowed from the receive buffer, with no reference counting and no
    /// allocation: the fastest way to consume small messages.
    ///
    /// The borrow ends at the next call on this half; the message's bytes are dropped
    /// then. Messages that arrived in several frames, control frames and
    /// [`Config::receive_chunks`] mode come out owned, as [`EventRef::Owned`].
    ///
    /// ```
    /// use tidings_ws::{Config, Connection, EventRef};
    ///
    /// let (mut rx, _tx) = Connection::server(Config::default()).into_split();
    /// // A masked client text frame, "Hello" (RFC 6455 §5.7).
    /// rx.receive(&[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    /// assert_eq!(rx.poll_event_ref()?, Some(EventRef::Text("Hello")));
    /// assert_eq!(rx.poll_event_ref()?, None);
    /// # Ok::<(), tidings_ws::Error>(())
    /// ```
    pub fn poll_event_ref(&mut self) -> Result<Option<EventRef<'_>>, Error> {
        if self.input_done {
            self.end_input();
        }
        self.release_lent();
        // Text is validated here, once, by the conversion to `&str` itself.
        let Some((kind, start, end)) = self.whole_message(false)? else {
            return self.poll_event().map(|event| event.map(EventRef::Owned));
        };
        self.lent = end;
        let payload = &self.read[start..end];
        Ok(Some(match kind {
            MessageKind::Binary => EventRef::Binary(payload),
            MessageKind::Text => match validate_utf8(payload) {
                Ok(text) => EventRef::Text(text),
                Err(_) => {
                    // `fail`, except for the receive buffer, which `payload` still
                    // borrows: the next call frees it (`input_done` is set).
                    self.input_done = true;
                    self.frame = None;
                    self.lent = 0;
                    self.signals.pings.clear();
                    self.signals.failed = Some(Error::InvalidUtf8);
                    return Err(Error::InvalidUtf8);
                }
            },
        }))
    }

    /// Drops the bytes of a message lent out by `poll_event_ref`.
    #[inline]
    fn release_lent(&mut self) {
        if self.lent != 0 {
            self.read.advance(core::mem::take(&mut self.lent));
        }
    }

    /// The fast path of both `poll_event`s: if `read` starts with a whole,
    /// unfragmented, uncompressed data message, checks it, unmasks and validates it in
    /// place (text only with `validate`: the caller then validates it), and returns
    /// its kind and where its payload lies in `read`. Anything
    /// else (control frames, fragments, partial frames, chunk mode) is left to the
    /// general path, untouched.
    #[inline]
    fn whole_message(
        &mut self,
        validate: bool,
    ) -> Result<Option<(MessageKind, usize, usize)>, Error> {
        if self.input_done
            || self.frame.is_some()
            || self.message.kind.is_some()
            || self.config.receive_chunks
        {
            return Ok(None);
        }
        let Ok(Status::Complete((header, start))) = FrameHeader::decode(&self.read) else {
            return Ok(None);
        };
        let kind = match header.opcode {
            OpCode::TEXT => MessageKind::Text,
            OpCode::BINARY => MessageKind::Binary,
            _ => return Ok(None),
        };
        let available = (self.read.len() - start) as u64;
        if !header.fin || header.rsv != 0 || header.payload_len > available {
            return Ok(None);
        }
        // The rules `accept_header` would apply to this frame: masking by role and
        // the limits. A frame that breaks one takes the general path, which reports
        // the exact error.
        let masked_ok = match self.role {
            Role::Server => header.mask.is_some(),
            Role::Client => header.mask.is_none(),
        };
        let limit = self.config.max_frame_size.min(self.config.max_message_size) as u64;
        if !masked_ok || header.payload_len > limit {
            return Ok(None);
        }
        let end = start + header.payload_len as usize;
        let payload = &mut self.read[start..end];
        let valid = match (kind, header.mask) {
            (MessageKind::Binary, key) => {
                if let Some(key) = key {
                    apply_mask(payload, key, 0);
                }
                true
            }
            (MessageKind::Text, key) if !validate => {
                if let Some(key) = key {
                    apply_mask(payload, key, 0);
                }
                true
            }
            (MessageKind::Text, key) if payload.len() <= FUSE_BLOCK => {
                if let Some(key) = key {
                    apply_mask(payload, key, 0);
                }
                validate_utf8(payload).is_ok()
            }
            (MessageKind::Text, key) => {
                // Unmask and validate block by block, so that each block is still
                // in L1 cache when it is validated (one trip through memory, not two).
                let mut utf8 = Utf8Validator::default();
                let mut valid = true;
                for (i, block) in payload.chunks_mut(FUSE_BLOCK).enumerate() {
                    if let Some(key) = key {
                        apply_mask(block, key, i * FUSE_BLOCK);
                    }
                    if utf8.feed(block).is_err() {
                        valid = false;
                        break;
                    }
                }
                valid && utf8.finish().is_ok()
            }
        };
        if !valid {
            return Err(self.fail(Error::InvalidUtf8));
        }
        self.signals.heard = true;
        Ok(Some((kind, start, end)))
    }

    /// The next signal for the sending half, in the order they must be applied.
    pub fn poll_signal(&mut self) -> Option<Signal> {
        let s = &mut self.signals;
        let kind = if core::mem::take(&mut s.heard) {
            SignalKind::Heard
        } else if let Some(payload) = s.pings.pop_front() {
            SignalKind::Ping(payload)
        } else if let Some(code) = s.close.take() {
            SignalKind::CloseReceived(code)
        } else if let Some(error) = s.failed.take() {
            SignalKind::Failed(error)
        } else if core::mem::take(&mut s.eof) {
            SignalKind::Eof
        } else {
            return None;
        };
        Some(Signal(kind))
    }

    /// Frees the buffers if they are empty, so an idle half holds only fixed-size state.
    pub fn shrink_buffers(&mut self) {
        self.release_lent();
        if self.read.is_empty() && self.frame.is_none() {
            self.read = BytesMut::new();
        }
        if self.message.kind.is_none() {
            self.message.buf = BytesMut::new();
            #[cfg(feature = "deflate")]
            if let Some(inflater) = &mut self.inflater {
                inflater.shrink();
            }
        }
    }

    /// Stops reading: the sending half gave up on the connection (a timeout).
    pub(crate) fn stop(&mut self) {
        self.end_input();
    }

    /// Input is over (close frame, failure, timeout): nothing buffered will be read,
    /// so the memory goes now.
    fn end_input(&mut self) {
        self.input_done = true;
        self.frame = None;
        self.lent = 0;
        if !self.read.is_empty() || self.read.capacity() != 0 {
            self.read = BytesMut::new();
        }
        if self.message.kind.take().is_some() || self.message.buf.capacity() != 0 {
            self.message.buf = BytesMut::new();
        }
    }

    pub(crate) fn buffered_input(&self) -> usize {
        self.read.len() - self.lent
    }

    /// Applies the §5 rules a header can be judged by, and the limits.
    fn accept_header(&mut self, h: &FrameHeader) -> Result<(), Error> {
        // RFC 7692 §6.1: with permessage-deflate, RSV1 marks the first frame of a
        // compressed data message, and only that.
        #[cfg(feature = "deflate")]
        let compressed = h.rsv == 0b100
            && self.inflater.is_some()
            && !h.opcode.is_control()
            && h.opcode != OpCode::CONTINUATION;
        #[cfg(not(feature = "deflate"))]
        let compressed = false;
        if h.rsv != 0 && !compressed {
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
            #[cfg(feature = "deflate")]
            {
                self.message.compressed = compressed;
                self.message.inflated = 0;
            }
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
                if self.config.auto_pong {
                    let pings = &mut self.signals.pings;
                    if pings.len() == MAX_PENDING_PONGS {
                        pings.pop_front();
                    }
                    pings.push_back(payload.clone());
                }
                Event::Ping(payload)
            }
            OpCode::PONG => Event::Pong(payload),
            _ => self.close_frame(payload)?,
        }))
    }

    /// Parses the peer's close frame (§5.5.1, §7.4); answering it is the sending half's.
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
        self.end_input();
        self.signals.close = Some(frame.as_ref().map(|f| f.code));
        Ok(Event::Close(frame))
    }

    fn data_frame(&mut self, mut frame: InFrame) -> Result<Step, Error> {
        #[cfg(feature = "deflate")]
        if self.message.compressed {
            return self.compressed_data_frame(frame);
        }
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

    /// A frame of a compressed message: unmasked and inflated as it arrives, so the
    /// compressed bytes are not kept; the message limit bounds the inflated size
    /// while inflating (a deflate bomb stops at the limit).
    #[cfg(feature = "deflate")]
    fn compressed_data_frame(&mut self, mut frame: InFrame) -> Result<Step, Error> {
        use crate::deflate::InflateError;
        let h = frame.header;
        let kind = self.message.kind.unwrap_or(MessageKind::Binary);
        let remaining = (h.payload_len - frame.taken) as usize;
        let available = self.read.len().min(remaining);
        let complete = available == remaining;
        let last = complete && h.fin;
        if available == 0 && !complete {
            self.frame = Some(frame);
            return Ok(Step::Starved);
        }
        let mut piece = self.read.split_to(available);
        if let Some(key) = h.mask {
            apply_mask(&mut piece, key, frame.taken as usize);
        }
        frame.taken += available as u64;
        self.frame = if complete { None } else { Some(frame) };

        let limit = self.config.max_message_size;
        let Some(inflater) = self.inflater.as_mut() else {
            return Err(Error::ReservedBits);
        };
        let message = &mut self.message;
        let before = message.buf.len();
        let mut inflated = inflater.decompress(&piece, &mut message.buf, message.inflated, limit);
        if last && inflated.is_ok() {
            let so_far = message.inflated + (message.buf.len() - before) as u64;
            inflated = inflater.finish(&mut message.buf, so_far, limit);
        }
        message.inflated += (message.buf.len() - before) as u64;
        // What inflated before a failure is checked first, so the error is the one
        // at the earliest byte however the input was split.
        if kind == MessageKind::Text {
            message
                .utf8
                .feed(&message.buf[before..])
                .map_err(|_| Error::InvalidUtf8)?;
        }
        match inflated {
            Ok(()) => {}
            Err(InflateError::Invalid) => return Err(Error::InvalidCompressedData),
            Err(InflateError::TooBig { len }) => return Err(Error::MessageTooBig { len, limit }),
        }
        if last && kind == MessageKind::Text {
            message.utf8.finish().map_err(|_| Error::InvalidUtf8)?;
        }

        if self.config.receive_chunks {
            if message.buf.is_empty() && !last {
                return Ok(if complete {
                    Step::Continue
                } else {
                    Step::Starved
                });
            }
            let first = !message.delivered;
            message.delivered = true;
            if last {
                message.kind = None;
            }
            return Ok(Step::Event(Event::Chunk(Chunk {
                kind,
                data: message.buf.split().freeze(),
                first,
                last,
            })));
        }
        if !last {
            return Ok(if complete {
                Step::Continue
            } else {
                Step::Starved
            });
        }
        message.kind = None;
        let data = message.buf.split().freeze();
        Ok(Step::Event(match kind {
            MessageKind::Text => Event::Text(Utf8Bytes::from_validated(data)),
            MessageKind::Binary => Event::Binary(data),
        }))
    }

    /// No complete event in the buffer: wait, unless the transport is gone.
    fn starved(&mut self) -> Result<Option<Event>, Error> {
        if self.eof && !self.input_done {
            return Err(self.fail(Error::UnexpectedEof));
        }
        Ok(None)
    }

    /// _Fail the WebSocket Connection_ (§7.1.7): stop reading and tell the sending half,
    /// which sends the close frame (when the code may be sent) and closes the transport.
    fn fail(&mut self, error: Error) -> Error {
        self.end_input();
        self.signals.pings.clear();
        self.signals.failed = Some(error);
        error
    }
}

impl fmt::Debug for RecvHalf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvHalf")
            .field("role", &self.role)
            .field("buffered_input", &self.read.len())
            .field("done", &self.input_done)
            .field("eof", &self.eof)
            .finish_non_exhaustive()
    }
}
