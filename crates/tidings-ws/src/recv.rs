//! The receiving half of a connection: bytes in, events out (RFC 6455 §5, §8).
//!
//! This half owns everything that input decides: the read buffer, the frame being
//! received, message reassembly and UTF-8 validation. It never writes. What the sending
//! half must act on (a ping to answer, a close to echo, a failure to report with a
//! close frame, proof that the peer is alive, a message started or finished for the
//! assembly deadline, the end of the transport) is recorded as [`Signal`]s:
//! [`Connection`](crate::Connection) applies them at once, and after
//! [`Connection::into_split`](crate::Connection::into_split) the caller carries them to
//! the [`SendHalf`](crate::SendHalf), so a reader task and a writer task share no
//! state and take no lock.
//!
//! A data frame takes one of four ways, chosen by where its bytes are; all of them
//! apply the same header rules (`check_header`), and every whole message becomes its
//! event in one place (`message_event`):
//!
//! 1. *whole in the read buffer* (`whole_message`, the fast path of both
//!    `poll_event`s): an unfragmented, uncompressed message whose bytes are all here
//!    is checked, unmasked and validated in place and split off (or lent, by
//!    `poll_event_ref`), with none of the per-frame state;
//! 2. *in place* (`data_frame`): any other uncompressed frame, unmasked and validated
//!    in the read buffer as its bytes arrive; a fragmented message is gathered in the
//!    message buffer, and in chunk mode each piece is handed out as it comes;
//! 3. *direct* (`receive_direct`, `direct_frame`): a large frame whose header
//!    `receive` finds with the frame not all there is copied into the message buffer
//!    as it arrives, unmasked on the way;
//! 4. *compressed* (`compressed_data_frame`): a frame of a permessage-deflate message,
//!    unmasked and inflated into the message buffer as it arrives.
//!
//! Invariants (see also the connection module):
//! - frames are parsed lazily, one per `poll_event` step, so decoded events never queue
//!   up; memory is the read buffer plus one message's fragments, both bounded by
//!   [`Config`];
//! - each payload byte is unmasked and (for text) validated once, as soon as it
//!   arrives: in place in the read buffer (`InFrame::checked` remembers how far that
//!   went), or, for a large frame that does not arrive whole, on its way into the
//!   message buffer (a *direct* frame: no second pass, and the read buffer never
//!   holds it, so it is never moved when that buffer compacts);
//! - after a close frame or a failure, input is dropped.

use alloc::collections::VecDeque;
use core::fmt;

use bytes::{Buf, Bytes, BytesMut};

use crate::close::{CloseCode, CloseFrame};
use crate::config::Config;
use crate::connection::{Chunk, Event, MAX_PENDING_PONGS, MessageKind, Role};
use crate::error::Error;
use crate::frame::{FrameHeader, MaskingKey, OpCode};
use crate::mask::{apply_mask, apply_mask_inline, extend_masked};
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
    /// A frame arrived: the peer is alive (clears a keepalive deadline, restarts the
    /// idle timer).
    Heard,
    /// A data message started since the last signal and is still being received:
    /// its assembly deadline starts now.
    MessageStarted,
    /// No data message is being received any more.
    MessageDone,
    /// A ping to answer with this payload.
    Ping(Bytes),
    /// The peer's close frame, to echo (`None` if it carried no code).
    CloseReceived(Option<CloseFrame>),
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
    /// A message that [`RecvHalf::receive`] completed (a direct frame's last
    /// bytes): the next event, before anything in `read`.
    ready: Option<Event>,
    /// permessage-deflate's inflater, when negotiated.
    #[cfg(feature = "deflate")]
    inflater: Option<crate::deflate::Decompressor>,
}

/// The frame being received.
#[derive(Clone, Copy, Debug)]
struct InFrame {
    header: FrameHeader,
    /// Payload bytes already taken off the read buffer (chunk mode, or a direct frame).
    taken: u64,
    /// Bytes at the front of `read`, past `taken`, already unmasked and validated.
    checked: usize,
    /// The payload goes straight into the message buffer as it arrives (a large
    /// frame that did not arrive whole): see [`RecvHalf::direct_frame`].
    direct: bool,
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
    /// `receive` found invalid UTF-8 while copying a direct frame; the next
    /// `poll_event` reports it.
    invalid_utf8: bool,
    /// The message is compressed (RSV1 on its first frame, RFC 7692 §6.1).
    #[cfg(feature = "deflate")]
    compressed: bool,
    /// Bytes this compressed message inflated to so far, checked against the limit.
    #[cfg(feature = "deflate")]
    inflated: u64,
}

/// A whole data message as its event: the one place one is built, whichever way the
/// message came (whole in the read buffer, reassembled, copied as it arrived, or
/// inflated). Text was validated on the way in.
#[inline(always)]
fn message_event(kind: MessageKind, data: Bytes) -> Event {
    match kind {
        MessageKind::Text => Event::Text(Utf8Bytes::from_validated(data)),
        MessageKind::Binary => Event::Binary(data),
    }
}

impl InMessage {
    /// The message's last byte arrived: its whole payload `data` becomes its event,
    /// and no message is in progress any more.
    #[inline]
    fn finish(&mut self, kind: MessageKind, data: Bytes) -> Event {
        self.kind = None;
        message_event(kind, data)
    }

    /// The next piece of the message, in [`Config::receive_chunks`] mode; `last` ends
    /// the message.
    fn chunk(&mut self, kind: MessageKind, data: Bytes, last: bool) -> Event {
        let first = !self.delivered;
        self.delivered = true;
        if last {
            self.kind = None;
        }
        Event::Chunk(Chunk {
            kind,
            data,
            first,
            last,
        })
    }

    /// At the message's last byte: text must not end inside a code point (§8.1).
    fn finish_utf8(&mut self, kind: MessageKind) -> Result<(), Error> {
        match kind {
            MessageKind::Text => self.utf8.finish().map_err(|_| Error::InvalidUtf8),
            MessageKind::Binary => Ok(()),
        }
    }

    /// Appends a direct frame's payload bytes (at `offset` in the frame), unmasked on
    /// the way; text is validated while in cache, a failure noted for `poll_event`.
    fn take_masked(&mut self, payload: &[u8], mask: Option<MaskingKey>, offset: u64) {
        let text = self.kind == Some(MessageKind::Text);
        // Text goes in L1-sized blocks, each validated right after it is copied.
        let block = if text { FUSE_BLOCK } else { usize::MAX };
        let mut offset = offset as usize;
        for piece in payload.chunks(block) {
            let before = self.buf.len();
            match mask {
                Some(key) => extend_masked(&mut self.buf, piece, key, offset),
                None => self.buf.extend_from_slice(piece),
            }
            offset = offset.wrapping_add(piece.len());
            if text && !self.invalid_utf8 && self.utf8.feed(&self.buf[before..]).is_err() {
                self.invalid_utf8 = true;
            }
        }
    }
}

/// Signals not yet taken, folded so that they stay bounded whatever the peer sends.
#[derive(Debug, Default)]
struct Signals {
    /// Whether `heard` is worth telling (a keepalive or idle timer is configured).
    heard_matters: bool,
    heard: bool,
    /// A data message started since the last `poll_signal`.
    message_started: bool,
    /// What the sending half was last told: a message is in progress.
    message_told: bool,
    pings: VecDeque<Bytes>,
    close: Option<Option<CloseFrame>>,
    failed: Option<Error>,
    eof: bool,
}

/// Text payloads longer than this are unmasked and validated in blocks of this size,
/// each while it is in L1 cache.
const FUSE_BLOCK: usize = 4096;

/// A data frame at least this long whose header [`RecvHalf::receive`] finds with the
/// frame not all there becomes a direct frame: its payload is copied into the message
/// buffer, unmasked on the way, as it arrives.
/// The fuzzers' inputs are a few KiB, so under them it is small enough that they
/// reach this path all the time.
const DIRECT_MIN: usize = if cfg!(fuzzing) { 16 } else { 8 * 1024 };

/// A direct frame reserves at most this much of the message buffer ahead of its
/// bytes; past it the buffer grows as they arrive, so a header alone cannot make the
/// connection allocate a whole `max_frame_size`.
const DIRECT_RESERVE: usize = 1024 * 1024;

/// Validates a whole payload and lends it as `&str`: short ones inline
/// ([`crate::short_text`]), the rest with `simdutf8`.
#[inline(always)]
fn validate_utf8(bytes: &[u8]) -> Result<&str, ()> {
    if bytes.len() < crate::short_text::SHORT {
        crate::short_text::from_utf8(bytes).ok_or(())
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

/// How an accepted header changes the message being received.
#[derive(Clone, Copy)]
struct HeaderVerdict {
    /// The frame starts a message of this kind (a first data frame).
    starts: Option<MessageKind>,
    /// The message it starts is compressed (RSV1, RFC 7692 §6.1).
    compressed: bool,
}

/// How far processing of the current frame got.
enum Step {
    Event(Event),
    /// The frame was consumed without an event; look at the next one.
    Continue,
    /// More bytes are needed.
    Starved,
}

impl Step {
    /// No event: on to the next frame if this one is `complete`, else wait for bytes.
    fn next(complete: bool) -> Self {
        if complete {
            Self::Continue
        } else {
            Self::Starved
        }
    }
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
            signals: Signals {
                heard_matters: config.keepalive_interval.is_some() || config.idle_timeout.is_some(),
                ..Signals::default()
            },
            lent: 0,
            ready: None,
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
    ///
    /// The rest of a large frame that did not arrive whole is copied straight into
    /// its message, unmasked (and, for text, validated) on the way: each payload byte
    /// is touched once.
    pub fn receive(&mut self, mut bytes: &[u8]) {
        if self.input_done {
            return;
        }
        self.release_lent();
        if self.read.is_empty() && self.ready.is_none() {
            bytes = self.receive_direct(bytes);
        }
        self.read.extend_from_slice(bytes);
    }

    /// The part of [`receive`](Self::receive) that bypasses `read`: continues the
    /// direct frame in progress (completing its message into `ready`), then starts
    /// the next frame as a direct one if it is large, acceptable and not all here.
    /// Returns what is left for `read`. Only called with `read` empty, so the order
    /// of the input is kept.
    fn receive_direct<'b>(&mut self, mut bytes: &'b [u8]) -> &'b [u8] {
        if let Some(frame) = self.frame.as_mut().filter(|f| f.direct) {
            let remaining = frame.header.payload_len - frame.taken;
            let n = bytes
                .len()
                .min(usize::try_from(remaining).unwrap_or(usize::MAX));
            let (payload, rest) = bytes.split_at(n);
            self.message
                .take_masked(payload, frame.header.mask, frame.taken);
            frame.taken += n as u64;
            bytes = rest;
            if frame.taken < frame.header.payload_len || !self.complete_direct() {
                return bytes;
            }
        }
        if self.frame.is_some() || self.config.receive_chunks {
            return bytes;
        }
        let Ok(Some((header, header_len))) = FrameHeader::decode(bytes) else {
            return bytes;
        };
        let payload = &bytes[header_len..];
        let large =
            header.payload_len >= DIRECT_MIN as u64 && header.payload_len > payload.len() as u64;
        if !large || header.rsv != 0 || header.opcode.is_control() {
            return bytes;
        }
        // A header the rules refuse stays in `read`, where `poll_event` reports it.
        let Ok(verdict) = self.check_header(&header) else {
            return bytes;
        };
        // A continuation of a compressed message must be inflated, not copied.
        #[cfg(feature = "deflate")]
        if verdict.starts.is_none() && self.message.compressed {
            return bytes;
        }
        self.apply_header(&header, verdict);
        self.signals.heard = true;
        let len = usize::try_from(header.payload_len).unwrap_or(usize::MAX);
        self.message.buf.reserve(len.min(DIRECT_RESERVE));
        self.message.take_masked(payload, header.mask, 0);
        self.frame = Some(InFrame {
            header,
            taken: payload.len() as u64,
            checked: 0,
            direct: true,
        });
        &[]
    }

    /// The direct frame's payload is all in: ends the frame, and the message if the
    /// frame was its last, into `ready`. `false` if UTF-8 failed, which
    /// `poll_event` then reports.
    fn complete_direct(&mut self) -> bool {
        let Some(frame) = self.frame else {
            return false;
        };
        let message = &mut self.message;
        let kind = message.kind.unwrap_or(MessageKind::Binary);
        if message.invalid_utf8 || (frame.header.fin && message.finish_utf8(kind).is_err()) {
            message.invalid_utf8 = true;
            return false;
        }
        self.frame = None;
        if frame.header.fin {
            let data = message.buf.split().freeze();
            self.ready = Some(message.finish(kind, data));
        }
        true
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
        if let Some(event) = self.ready.take() {
            return Ok(Some(event));
        }
        // The common case first: a whole single-frame message in the buffer.
        if let Some((kind, start, end)) = self.whole_message(0, true)? {
            self.read.advance(start);
            let data = self.read.split_to(end - start).freeze();
            return Ok(Some(message_event(kind, data)));
        }
        while !self.input_done {
            let frame = match self.frame {
                Some(frame) => frame,
                None => match FrameHeader::decode(&self.read) {
                    Ok(Some((header, len))) => {
                        if let Err(e) = self.accept_header(&header) {
                            return Err(self.fail(e));
                        }
                        self.read.advance(len);
                        self.signals.heard = true;
                        let frame = InFrame {
                            header,
                            taken: 0,
                            checked: 0,
                            direct: false,
                        };
                        self.frame = Some(frame);
                        frame
                    }
                    Ok(None) => return self.starved(),
                    Err(e) => return Err(self.fail(e.into())),
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
        if let Some(event) = self.ready.take() {
            return Ok(Some(EventRef::Owned(event)));
        }
        // The previous borrowed message stays in `read` (as `lent`) while messages
        // follow it there: the buffer advances once per batch, not once per message.
        // Text is validated here, once, by the conversion to `&str` itself.
        let Some((kind, start, end)) = self.whole_message(self.lent, false)? else {
            self.release_lent();
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

    /// The fast path of both `poll_event`s: if `read[base..]` starts with a whole,
    /// unfragmented, uncompressed data message, checks it, unmasks and validates it in
    /// place (text only with `validate`: the caller then validates it), and returns
    /// its kind and where its payload lies in `read`. Anything
    /// else (control frames, fragments, partial frames, chunk mode) is left to the
    /// general path, untouched.
    ///
    /// Always inlined: each caller gets its own copy, with `validate` a constant and
    /// the result in registers; for small messages this is most of the work.
    #[inline(always)]
    fn whole_message(
        &mut self,
        base: usize,
        validate: bool,
    ) -> Result<Option<(MessageKind, usize, usize)>, Error> {
        if self.input_done
            || self.frame.is_some()
            || self.message.kind.is_some()
            || self.config.receive_chunks
        {
            return Ok(None);
        }
        let Ok(Some((header, header_len))) = FrameHeader::decode(&self.read[base..]) else {
            return Ok(None);
        };
        let start = base + header_len;
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
                    apply_mask_inline(payload, key, 0);
                }
                true
            }
            (MessageKind::Text, key) if !validate => {
                if let Some(key) = key {
                    apply_mask_inline(payload, key, 0);
                }
                true
            }
            (MessageKind::Text, key) if payload.len() <= FUSE_BLOCK => {
                if let Some(key) = key {
                    apply_mask(payload, key, 0);
                }
                if payload.len() < crate::short_text::SHORT {
                    crate::short_text::is_valid(payload)
                } else {
                    simdutf8::basic::from_utf8(payload).is_ok()
                }
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
        // Whether a message is being assembled is folded to its latest state: a
        // message that started and ended between two calls is not reported at all, so
        // whole messages cost nothing here and a flood of frames makes no signals. (A
        // `message_started` left set while none is assembled only ever announces a
        // message that starts later, which is then true.)
        let assembling = self.message.kind.is_some();
        let s = &mut self.signals;
        // A frame heard matters only to the keepalive and idle timers.
        let kind = if core::mem::take(&mut s.heard) && s.heard_matters {
            SignalKind::Heard
        } else if let Some(payload) = s.pings.pop_front() {
            SignalKind::Ping(payload)
        } else if let Some(frame) = s.close.take() {
            SignalKind::CloseReceived(frame)
        } else if let Some(error) = s.failed.take() {
            SignalKind::Failed(error)
        } else if core::mem::take(&mut s.eof) {
            SignalKind::Eof
        } else if assembling && (core::mem::take(&mut s.message_started) || !s.message_told) {
            s.message_told = true;
            SignalKind::MessageStarted
        } else if !assembling && s.message_told {
            s.message_told = false;
            SignalKind::MessageDone
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
        self.ready = None;
        if !self.read.is_empty() || self.read.capacity() != 0 {
            self.read = BytesMut::new();
        }
        if self.message.kind.take().is_some() || self.message.buf.capacity() != 0 {
            self.message.buf = BytesMut::new();
        }
    }

    /// How many more bytes the frame being received needs before it is whole, when
    /// those bytes will be buffered whole anyway (an uncompressed data frame in
    /// whole-message mode); 0 otherwise.
    ///
    /// A transport can read that much at once instead of in small reads: the memory
    /// is already bounded by [`Config::max_frame_size`], since the frame's header was
    /// accepted. Known once [`poll_event`](Self::poll_event) has parsed the header
    /// (it returned `None` waiting for the payload).
    ///
    /// ```
    /// use tidings_ws::{Config, Connection};
    ///
    /// let (mut rx, _tx) = Connection::client(Config::default()).into_split();
    /// // An unmasked binary frame announcing 300 bytes, of which 100 arrived.
    /// rx.receive(&[0x82, 126, 0x01, 0x2c]);
    /// rx.receive(&[0u8; 100]);
    /// assert_eq!(rx.poll_event()?, None);
    /// assert_eq!(rx.frame_bytes_wanted(), 200);
    /// # Ok::<(), tidings_ws::Error>(())
    /// ```
    pub fn frame_bytes_wanted(&self) -> usize {
        let Some(frame) = &self.frame else {
            return 0;
        };
        #[cfg(feature = "deflate")]
        if self.message.compressed {
            return 0;
        }
        if self.config.receive_chunks || frame.header.opcode.is_control() {
            return 0;
        }
        let remaining = frame.header.payload_len - frame.taken;
        (remaining as usize).saturating_sub(self.read.len() - self.lent)
    }

    pub(crate) fn buffered_input(&self) -> usize {
        self.read.len() - self.lent
    }

    /// Applies the §5 rules a header can be judged by, and the limits.
    fn accept_header(&mut self, h: &FrameHeader) -> Result<(), Error> {
        let verdict = self.check_header(h)?;
        self.apply_header(h, verdict);
        Ok(())
    }

    /// Judges a header by the §5 rules and the limits, changing nothing.
    fn check_header(&self, h: &FrameHeader) -> Result<HeaderVerdict, Error> {
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
            return Ok(HeaderVerdict {
                starts: None,
                compressed: false,
            });
        }
        if h.payload_len > self.config.max_frame_size as u64 {
            return Err(Error::FrameTooBig {
                len: h.payload_len,
                limit: self.config.max_frame_size,
            });
        }
        let starts = match h.opcode {
            OpCode::CONTINUATION if self.message.kind.is_none() => {
                return Err(Error::UnexpectedContinuation);
            }
            OpCode::CONTINUATION => None,
            _ if self.message.kind.is_some() => return Err(Error::ExpectedContinuation),
            OpCode::TEXT => Some(MessageKind::Text),
            _ => Some(MessageKind::Binary),
        };
        let so_far = if starts.is_some() {
            0
        } else {
            self.message.len
        };
        let len = so_far + h.payload_len;
        if len > self.config.max_message_size as u64 {
            return Err(Error::MessageTooBig {
                len,
                limit: self.config.max_message_size,
            });
        }
        Ok(HeaderVerdict { starts, compressed })
    }

    /// Records a header that [`check_header`](Self::check_header) accepted.
    fn apply_header(&mut self, h: &FrameHeader, verdict: HeaderVerdict) {
        if h.opcode.is_control() {
            return;
        }
        if let Some(kind) = verdict.starts {
            self.signals.message_started = true;
            self.message.kind = Some(kind);
            self.message.len = 0;
            self.message.delivered = false;
            self.message.invalid_utf8 = false;
            #[cfg(feature = "deflate")]
            {
                self.message.compressed = verdict.compressed;
                self.message.inflated = 0;
            }
        }
        #[cfg(not(feature = "deflate"))]
        let _ = verdict.compressed;
        self.message.len += h.payload_len;
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
        // The reason is at most 123 bytes by construction (a control payload is at
        // most 125), so the echo is bounded too.
        self.signals.close = Some(frame.clone());
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
        if frame.direct {
            return self.direct_frame(frame, remaining, available);
        }

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
        if last {
            self.message.finish_utf8(kind)?;
        }

        if self.config.receive_chunks {
            if available == 0 && !last {
                self.frame = if complete { None } else { Some(frame) };
                return Ok(Step::next(complete));
            }
            let data = self.read.split_to(available).freeze();
            frame.taken += available as u64;
            frame.checked = 0;
            self.frame = if complete { None } else { Some(frame) };
            return Ok(Step::Event(self.message.chunk(kind, data, last)));
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
        Ok(Step::Event(self.message.finish(kind, data)))
    }

    /// A direct frame: a large frame whose header [`receive`](Self::receive) found
    /// with the frame not all there. Rather than wait for all of it in `read` (to be
    /// unmasked in a second pass, and moved whenever the read buffer compacts), its
    /// payload is copied into the message buffer as it arrives, unmasked on the way,
    /// and validated while still in cache. Bytes handed to `receive` go there
    /// directly; bytes appended to [`read_buffer`](Self::read_buffer) meanwhile come
    /// through here.
    ///
    /// Only `receive` starts direct frames: a caller that reads into `read_buffer`
    /// already put the bytes where they can be unmasked in place, and for it a copy
    /// into another buffer would be one pass too many.
    fn direct_frame(
        &mut self,
        mut frame: InFrame,
        remaining: usize,
        available: usize,
    ) -> Result<Step, Error> {
        let offset = frame.taken;
        self.message
            .take_masked(&self.read[..available], frame.header.mask, offset);
        self.read.advance(available);
        frame.taken += available as u64;
        self.frame = Some(frame);
        if self.message.invalid_utf8 {
            return Err(Error::InvalidUtf8);
        }
        if available < remaining {
            return Ok(Step::Starved);
        }
        if !self.complete_direct() {
            return Err(Error::InvalidUtf8);
        }
        Ok(self.ready.take().map_or(Step::Continue, Step::Event))
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
        if last {
            message.finish_utf8(kind)?;
        }

        if self.config.receive_chunks {
            if message.buf.is_empty() && !last {
                return Ok(Step::next(complete));
            }
            let data = message.buf.split().freeze();
            return Ok(Step::Event(message.chunk(kind, data, last)));
        }
        if !last {
            return Ok(Step::next(complete));
        }
        let data = message.buf.split().freeze();
        Ok(Step::Event(message.finish(kind, data)))
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
