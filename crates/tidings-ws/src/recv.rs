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

/// Signals not yet taken, folded so that they stay bounded whatever the peer sends.
#[derive(Debug, Default)]
struct Signals {
    heard: bool,
    pings: VecDeque<Bytes>,
    close: Option<Option<CloseCode>>,
    failed: Option<Error>,
    eof: bool,
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
            config,
            read: BytesMut::new(),
            frame: None,
            message: InMessage::default(),
            input_done: false,
            eof: false,
            signals: Signals::default(),
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
            self.read.extend_from_slice(bytes);
        }
    }

    /// The receive buffer, for reading from the transport without a copy (e.g. with
    /// tokio's `read_buf`). Only append to it; then call
    /// [`poll_event`](Self::poll_event).
    pub fn read_buffer(&mut self) -> &mut BytesMut {
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
        if self.read.is_empty() && self.frame.is_none() {
            self.read = BytesMut::new();
        }
        if self.message.kind.is_none() {
            self.message.buf = BytesMut::new();
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
        if !self.read.is_empty() || self.read.capacity() != 0 {
            self.read = BytesMut::new();
        }
        if self.message.kind.take().is_some() || self.message.buf.capacity() != 0 {
            self.message.buf = BytesMut::new();
        }
    }

    pub(crate) fn buffered_input(&self) -> usize {
        self.read.len()
    }

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
