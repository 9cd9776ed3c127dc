//! The `text/event-stream` push parser (WHATWG HTML, §9.2.6 "Event stream interpretation").
//!
//! # Why it is built this way
//!
//! The parser is fed whatever chunks the network delivers and hands back [`Item`]s as
//! soon as their last line ends. Three decisions carry the design:
//!
//! * **Lines are found on bytes, text is decoded per field value.** The spec decodes
//!   the whole stream as UTF-8 (with U+FFFD replacement) and then splits lines on CR,
//!   LF and CRLF. Both line terminators and the `:` separator are ASCII, and a UTF-8
//!   decoder that meets an ASCII byte inside a multi-byte sequence replaces the
//!   sequence and starts again at that byte, so splitting the *bytes* first and
//!   decoding each value afterwards gives exactly the same strings. A sequence split
//!   across chunks is never decoded half-way: a line is only decoded once complete.
//! * **Every byte is scanned once.** `memchr2` finds the next CR/LF; a line that ends
//!   inside the chunk is interpreted straight from the caller's slice; only the tail of
//!   a chunk that has no line ending yet is copied into the line buffer, and it is never
//!   searched again (the next chunk is searched, not the buffer). The field name is
//!   recognised from the line's first six bytes, so there is no second search for the
//!   colon either. An 8 MiB line fed in 1460-byte pieces costs one scan plus one copy,
//!   where re-scanning parsers go quadratic. `tests` below pins this by counting.
//! * **One allocation per event, not per line.** The data buffer is sized for the
//!   whole event when its first `data` line arrives; at dispatch the event type and
//!   the last event ID are appended to it and the buffer *becomes* the event
//!   ([`MessageEvent`] holds one `String` and two lengths). The event type and ID
//!   buffers are reused from event to event and never allocate once warm.
//!
//! Memory is bounded by [`Config::max_line_len`] (the line buffer) and
//! [`Config::max_event_size`] (the data buffer); going past either is an [`Error`],
//! after which the parser keeps answering with that error.

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::mem;
use core::time::Duration;

use crate::{Error, Status};

/// The UTF-8 byte order mark. "The UTF-8 decode algorithm strips one leading UTF-8
/// Byte Order Mark (BOM), if any" (§9.2.5, via Encoding's "UTF-8 decode").
const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// A `data` value at least this long that spans chunks is handed over to the data
/// buffer instead of being copied into it.
const OWN_LINE_MIN: usize = 4096;

/// Spare room kept in a carried `data` value for the LF, event type and last event
/// ID that the event appends to it.
const DATA_SLACK: usize = 128;

/// `Parser::bom` once the start of the stream has been decided.
const BOM_DONE: u8 = u8::MAX;

/// The line buffer keeps its capacity between lines up to this size; past it, the
/// memory goes back after the line, so one huge line does not pin it for good.
const KEEP_LINE_CAPACITY: usize = 64 << 10;

/// Limits and options of a [`Parser`].
///
/// Built with [`Config::default`] and adjusted field by field; the struct is
/// `#[non_exhaustive]` so that new options can be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// The longest line accepted, in bytes, without its line ending. Default 16 MiB.
    ///
    /// Single-line `data:` payloads are the norm, so this is in practice the limit on
    /// one event's payload too. The partial line buffer never holds more than this.
    pub max_line_len: usize,
    /// The largest data buffer of one event, in bytes of UTF-8 after decoding
    /// (including the LF between `data` lines). Default 16 MiB.
    pub max_event_size: usize,
    /// Whether comment lines (`: text`) come out as [`Item::Comment`]. Default `false`:
    /// the spec ignores them; turn this on to see keep-alives.
    pub comments: bool,
}

impl Config {
    /// The default line length limit: 16 MiB, like tungstenite's frame limit.
    pub const DEFAULT_MAX_LINE_LEN: usize = 16 << 20;
    /// The default event size limit: 16 MiB.
    pub const DEFAULT_MAX_EVENT_SIZE: usize = 16 << 20;
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_line_len: Self::DEFAULT_MAX_LINE_LEN,
            max_event_size: Self::DEFAULT_MAX_EVENT_SIZE,
            comments: false,
        }
    }
}

/// What the parser hands back, one at a time, as soon as the line that completes it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Item {
    /// A blank line dispatched an event ("dispatch the event", §9.2.6).
    Message(MessageEvent),
    /// A `retry` line set the event stream's reconnection time. Reported when its line
    /// is processed, even if the block it belongs to never dispatches.
    Retry(Duration),
    /// A comment line, without the colon and one leading space. Only with
    /// [`Config::comments`].
    Comment(String),
}

/// A dispatched event: the spec's `MessageEvent`, with its `type`, `data` and
/// `lastEventId` attributes.
#[derive(Clone, PartialEq, Eq)]
pub struct MessageEvent {
    /// The data, then the event type (empty for `"message"`), then the last event ID:
    /// one allocation for the whole event.
    text: String,
    data_len: usize,
    type_len: usize,
}

impl MessageEvent {
    /// An event as a parser would dispatch it. An `event_type` of `""` or
    /// `"message"` both mean the default type.
    #[must_use]
    pub fn new(event_type: &str, data: &str, last_event_id: &str) -> Self {
        let event_type = if event_type == "message" {
            ""
        } else {
            event_type
        };
        let mut text = String::with_capacity(data.len() + event_type.len() + last_event_id.len());
        text.push_str(data);
        text.push_str(event_type);
        text.push_str(last_event_id);
        Self {
            text,
            data_len: data.len(),
            type_len: event_type.len(),
        }
    }

    /// The event's type: the last `event` field of its block, or `"message"`.
    #[must_use]
    pub fn event_type(&self) -> &str {
        let end = self.data_len + self.type_len;
        match self.text.get(self.data_len..end) {
            Some("") | None => "message",
            Some(event_type) => event_type,
        }
    }

    /// The `data` lines of the block, joined with LF.
    #[must_use]
    pub fn data(&self) -> &str {
        self.text.get(..self.data_len).unwrap_or_default()
    }

    /// Takes the data without copying it.
    #[must_use]
    pub fn into_data(mut self) -> String {
        self.text.truncate(self.data_len);
        self.text
    }

    /// The last event ID string when the event was dispatched: the most recent `id`
    /// field seen on the stream, in this block or an earlier one (`""` when none, or
    /// after an empty `id`).
    #[must_use]
    pub fn last_event_id(&self) -> &str {
        let start = self.data_len + self.type_len;
        self.text.get(start..).unwrap_or_default()
    }
}

/// A dispatched event borrowed from the [`Parser`], from [`Parser::parse_ref`]: the
/// same attributes as [`MessageEvent`], without an allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageEventRef<'a> {
    event_type: &'a str,
    data: &'a str,
    last_event_id: &'a str,
}

impl<'a> MessageEventRef<'a> {
    /// The event's type: the last `event` field of its block, or `"message"`.
    #[must_use]
    pub fn event_type(&self) -> &'a str {
        self.event_type
    }

    /// The `data` lines of the block, joined with LF.
    #[must_use]
    pub fn data(&self) -> &'a str {
        self.data
    }

    /// The last event ID string when the event was dispatched.
    #[must_use]
    pub fn last_event_id(&self) -> &'a str {
        self.last_event_id
    }
}

/// What [`Parser::parse_ref`] hands back: a dispatched event, borrowed, or any other
/// item, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ItemRef<'a> {
    /// A blank line dispatched an event.
    Message(MessageEventRef<'a>),
    /// Any other item, as [`Parser::parse`] returns it.
    Owned(Item),
}

impl fmt::Debug for MessageEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageEvent")
            .field("event_type", &self.event_type())
            .field("data", &self.data())
            .field("last_event_id", &self.last_event_id())
            .finish()
    }
}

/// The incremental event stream parser. See the [module docs](self) for how it works.
///
/// Feed it with [`Parser::parse`] (one item at a time, httparse style) or
/// [`Parser::feed`] (an iterator over one chunk). At the end of the stream, drop it:
/// "any pending data must be discarded", so an unterminated block is never dispatched.
///
/// ```
/// use tidings_sse::parse::{Item, Parser};
///
/// let mut parser = Parser::new();
/// let mut events = Vec::new();
/// for chunk in [&b"data: hel"[..], b"lo\r", b"\nid: 7\n\n"] {
///     for item in parser.feed(chunk) {
///         if let Item::Message(event) = item? {
///             events.push(event);
///         }
///     }
/// }
/// assert_eq!(events.len(), 1);
/// assert_eq!(events[0].data(), "hello");
/// assert_eq!(events[0].last_event_id(), "7");
/// # Ok::<(), tidings_sse::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Parser {
    config: Config,
    /// The start of a line whose end has not arrived yet.
    line: Vec<u8>,
    /// When `line` holds the value of a `data` field (its `data:` prefix dropped),
    /// the length of that prefix; 0 otherwise. A long data line is then never copied
    /// twice: the buffer becomes the data buffer when the line ends.
    line_prefix: usize,
    /// The previous chunk ended in CR: an LF opening the next chunk belongs to it.
    after_cr: bool,
    /// How many BOM bytes matched so far at the start of the stream, or `BOM_DONE`.
    bom: u8,
    /// The spec's "data buffer".
    data: String,
    /// The spec's "event type buffer".
    event_type: String,
    /// The spec's "last event ID buffer".
    id_buffer: String,
    /// An `id` field was processed since the last dispatch.
    id_dirty: bool,
    /// The "last event ID string", as set by the most recent dispatch. Always equal
    /// to `id_buffer` except between an `id` line and the end of its block.
    last_event_id: String,
    /// Set by the first error; every later call returns it.
    error: Option<Error>,
    /// The call in progress is `parse_ref`: dispatch leaves the event in the buffers.
    lend: bool,
    /// An event is lent out of `data` and `event_type`; clear them at the next call.
    lent: bool,
    /// Bytes handed to `memchr2`, to prove that nothing is scanned twice.
    #[cfg(test)]
    scanned: usize,
}

impl Default for Parser {
    fn default() -> Self {
        Self::new()
    }
}

impl Parser {
    /// A parser with the default [`Config`].
    #[must_use]
    pub fn new() -> Self {
        Self::with_config(Config::default())
    }

    /// A parser with the given limits and options.
    #[must_use]
    pub fn with_config(config: Config) -> Self {
        Self {
            config,
            line: Vec::new(),
            line_prefix: 0,
            after_cr: false,
            bom: 0,
            data: String::new(),
            event_type: String::new(),
            id_buffer: String::new(),
            id_dirty: false,
            last_event_id: String::new(),
            error: None,
            lend: false,
            lent: false,
            #[cfg(test)]
            scanned: 0,
        }
    }

    /// A parser for a reconnected stream whose last event ID buffer starts at
    /// `last_event_id`, so that events of the new stream that carry no `id` keep the
    /// one the client resumed from (as Chromium does; see `docs/sse.md`).
    #[must_use]
    pub fn resume(config: Config, last_event_id: &str) -> Self {
        let mut parser = Self::with_config(config);
        parser.id_buffer.push_str(last_event_id);
        parser.last_event_id.push_str(last_event_id);
        parser
    }

    /// The limits and options in force.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The last event ID string: the last event ID buffer as of the most recent blank
    /// line (even one that dispatched nothing). This is what a client sends back as
    /// `Last-Event-ID`; an `id` in a block that has not ended yet does not count.
    #[must_use]
    pub fn last_event_id(&self) -> &str {
        &self.last_event_id
    }

    /// Parses `input`, the next bytes of the stream, up to the first complete item.
    ///
    /// * `Ok(Status::Complete((item, n)))`: `item` is complete and `n` bytes of `input`
    ///   were consumed; call again with `&input[n..]`.
    /// * `Ok(Status::Partial)`: all of `input` was consumed (a partial line is kept)
    ///   and nothing is complete yet; call again with the next chunk.
    /// * `Err(error)`: a limit was exceeded. The parser is spent: every later call
    ///   returns the same error.
    ///
    /// However the stream is split, the items are the same.
    pub fn parse(&mut self, input: &[u8]) -> Result<Status<(Item, usize)>, Error> {
        self.release_lent();
        self.lend = false;
        match self.step(input)? {
            Status::Complete((n, Some(item))) => Ok(Status::Complete((item, n))),
            // `None` means "an event was lent", which only `parse_ref` asks for.
            Status::Complete((_, None)) | Status::Partial => Ok(Status::Partial),
        }
    }

    /// Like [`parse`](Self::parse), but a dispatched event comes out borrowed from the
    /// parser's own buffers, which are reused from event to event: no allocation per
    /// event. The borrow ends at the next call.
    ///
    /// ```
    /// use tidings_sse::parse::{ItemRef, Parser};
    /// use tidings_sse::Status;
    ///
    /// let mut parser = Parser::new();
    /// let mut input = &b"event: note\ndata: a\ndata: b\n\nretry: 10\n"[..];
    /// while let Status::Complete((item, n)) = parser.parse_ref(input)? {
    ///     input = &input[n..];
    ///     if let ItemRef::Message(event) = item {
    ///         assert_eq!((event.event_type(), event.data()), ("note", "a\nb"));
    ///     }
    /// }
    /// # Ok::<(), tidings_sse::Error>(())
    /// ```
    pub fn parse_ref(&mut self, input: &[u8]) -> Result<Status<(ItemRef<'_>, usize)>, Error> {
        self.release_lent();
        self.lend = true;
        let step = self.step(input);
        self.lend = false;
        Ok(match step? {
            Status::Partial => Status::Partial,
            Status::Complete((n, Some(item))) => Status::Complete((ItemRef::Owned(item), n)),
            Status::Complete((n, None)) => Status::Complete((
                ItemRef::Message(MessageEventRef {
                    event_type: match self.event_type.as_str() {
                        "" | "message" => "message",
                        other => other,
                    },
                    data: &self.data,
                    last_event_id: &self.last_event_id,
                }),
                n,
            )),
        })
    }

    /// Clears the buffers an event was lent from.
    fn release_lent(&mut self) {
        if mem::take(&mut self.lent) {
            if self.data.capacity() > KEEP_LINE_CAPACITY {
                self.data = String::new();
            } else {
                self.data.clear();
            }
            self.event_type.clear();
        }
    }

    /// One step of `parse`/`parse_ref`: `Complete((n, None))` means an event was lent.
    fn step(&mut self, input: &[u8]) -> Result<Status<(usize, Option<Item>)>, Error> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let mut pos = 0;
        if self.bom != BOM_DONE {
            pos = self.skip_bom(input);
            if self.bom != BOM_DONE {
                return Ok(Status::Partial);
            }
        }
        // end-of-line = ( cr lf / cr / lf ): a CR that ended the last chunk already
        // ended its line; an LF right after it is the second half of a CRLF.
        if self.after_cr && pos < input.len() {
            self.after_cr = false;
            if input[pos] == b'\n' {
                pos += 1;
            }
        }
        while pos < input.len() {
            let rest = &input[pos..];
            // Every event ends with a blank line: look at the first byte before
            // paying for a `memchr2` call (a third of all lines in typical streams).
            let found = match rest.first() {
                Some(b'\r' | b'\n') => Some(0),
                _ => memchr::memchr2(b'\r', b'\n', rest),
            };
            let Some(end) = found else {
                self.count_scanned(rest.len());
                // No line ending in sight: keep the tail, and never search it again.
                if self.line_prefix + self.line.len() + rest.len() > self.config.max_line_len {
                    return Err(self.fail(Error::LineTooLong {
                        limit: self.config.max_line_len,
                    }));
                }
                let mut tail = rest;
                if self.line.is_empty() && self.line_prefix == 0 {
                    // The start of a `data` line that spans chunks: keep only its value.
                    if let Some(value) = data_value_start(rest) {
                        self.line_prefix = rest.len() - value.len();
                        tail = value;
                    }
                }
                if self.line_prefix != 0 {
                    // Room for the LF, event type and ID that the data buffer gets
                    // later, so that they never make a long value move.
                    self.line.reserve(tail.len() + DATA_SLACK);
                }
                self.line.extend_from_slice(tail);
                return Ok(Status::Partial);
            };
            self.count_scanned(end + 1);
            let mut next = pos + end + 1;
            if rest[end] == b'\r' {
                match input.get(next) {
                    Some(b'\n') => next += 1,
                    Some(_) => {}
                    // Whether an LF follows is the next chunk's business.
                    None => self.after_cr = true,
                }
            }
            let result = if self.line_prefix != 0 {
                // The end of a `data` line whose value is in `line`.
                let mut value = mem::take(&mut self.line);
                let prefix = mem::take(&mut self.line_prefix);
                value.reserve(end + DATA_SLACK);
                value.extend_from_slice(&rest[..end]);
                if prefix + value.len() > self.config.max_line_len {
                    Err(Error::LineTooLong {
                        limit: self.config.max_line_len,
                    })
                } else if value.len() >= OWN_LINE_MIN && self.data.is_empty() {
                    // A long first line: the buffer becomes the data buffer.
                    self.append_data_owned(value).map(|()| None)
                } else {
                    let result = self.append_data(&value).map(|()| None);
                    if value.capacity() <= KEEP_LINE_CAPACITY {
                        value.clear();
                        self.line = value;
                    }
                    result
                }
            } else if self.line.is_empty() {
                // The common case: the whole line is in `input`; borrow it.
                self.process_line(&rest[..end])
            } else {
                // Complete the carried line. Take the buffer out so that
                // `process_line` can borrow `self` mutably, then put it back to
                // keep its capacity, unless one huge line inflated it.
                let mut line = mem::take(&mut self.line);
                line.extend_from_slice(&rest[..end]);
                let result = self.process_line(&line);
                if line.capacity() <= KEEP_LINE_CAPACITY {
                    line.clear();
                    self.line = line;
                }
                result
            };
            pos = next;
            match result {
                Ok(Some(item)) => return Ok(Status::Complete((pos, Some(item)))),
                Ok(None) if self.lent => return Ok(Status::Complete((pos, None))),
                Ok(None) => {}
                Err(error) => return Err(self.fail(error)),
            }
        }
        Ok(Status::Partial)
    }

    /// Parses one chunk, yielding its items in order. Run the iterator to its end:
    /// bytes it has not reached when dropped are lost.
    #[must_use = "the chunk is only parsed as the iterator is advanced"]
    pub fn feed<'p, 'i>(&'p mut self, input: &'i [u8]) -> Feed<'p, 'i> {
        Feed {
            parser: self,
            rest: input,
            done: false,
        }
    }

    /// Matches the optional BOM at the very start of the stream. Returns how many
    /// bytes of `input` it consumed. A mismatch hands the bytes matched so far back
    /// to the line buffer: they were ordinary content after all.
    fn skip_bom(&mut self, input: &[u8]) -> usize {
        let mut pos = 0;
        while let Some(&expected) = BOM.get(usize::from(self.bom)) {
            let Some(&byte) = input.get(pos) else {
                return pos;
            };
            if byte != expected {
                self.line.extend_from_slice(&BOM[..usize::from(self.bom)]);
                break;
            }
            self.bom += 1;
            pos += 1;
        }
        self.bom = BOM_DONE;
        pos
    }

    /// Interprets one complete line, without its line ending (§9.2.6).
    fn process_line(&mut self, line: &[u8]) -> Result<Option<Item>, Error> {
        if line.len() > self.config.max_line_len {
            return Err(Error::LineTooLong {
                limit: self.config.max_line_len,
            });
        }
        // "If the line is empty (a blank line): Dispatch the event, as defined below."
        let Some(&first) = line.first() else {
            return Ok(self.dispatch());
        };
        // The field name is whatever precedes the first colon (or the whole line), and
        // "field names must be compared literally, with no case folding performed".
        // Only four names mean anything, so looking at the first six bytes decides:
        // any other line is an unknown field, which "is ignored".
        match first {
            // "If the line starts with a U+003A COLON character (:): Ignore the line."
            b':' if self.config.comments => {
                let text = decode(strip_space(&line[1..])).into_owned();
                Ok(Some(Item::Comment(text)))
            }
            b'd' => {
                if let Some(value) = field_value(line, b"data") {
                    self.append_data(value)?;
                }
                Ok(None)
            }
            b'e' => {
                if let Some(value) = field_value(line, b"event") {
                    // "Set the event type buffer to the field value."
                    self.event_type.clear();
                    self.event_type.push_str(&decode(value));
                }
                Ok(None)
            }
            b'i' => {
                if let Some(value) = field_value(line, b"id") {
                    // "If the field value does not contain U+0000 NULL, then set the
                    // last event ID buffer to the field value. Otherwise, ignore the
                    // field."
                    if memchr::memchr(0, value).is_none() {
                        self.id_buffer.clear();
                        self.id_buffer.push_str(&decode(value));
                        self.id_dirty = true;
                    }
                }
                Ok(None)
            }
            b'r' => Ok(field_value(line, b"retry").and_then(retry)),
            _ => Ok(None),
        }
    }

    /// "Append the field value to the data buffer, then append a single U+000A LINE
    /// FEED (LF) character to the data buffer."
    fn append_data(&mut self, value: &[u8]) -> Result<(), Error> {
        let value = decode(value);
        let new_len = self.data.len().saturating_add(value.len() + 1);
        if new_len > self.config.max_event_size {
            return Err(Error::EventTooLarge {
                limit: self.config.max_event_size,
            });
        }
        if self.data.is_empty() {
            // The first line of an event: allocate once for the whole event as it
            // will most likely be (one line, with the type and ID already known).
            // Later lines grow the buffer geometrically, so many lines stay linear.
            let extra = self.event_type.len() + self.id_buffer.len();
            self.data.reserve_exact(value.len() + 1 + extra);
        }
        self.data.push_str(&value);
        self.data.push('\n');
        Ok(())
    }

    /// `append_data` for a value the parser owns: when it is the event's first line,
    /// the buffer itself becomes the data buffer, without a copy.
    fn append_data_owned(&mut self, value: Vec<u8>) -> Result<(), Error> {
        if value.len() >= self.config.max_event_size {
            return self.append_data(&value);
        }
        match String::from_utf8(value) {
            Ok(mut text) => {
                text.push('\n');
                self.data = text;
                Ok(())
            }
            Err(e) => self.append_data(e.as_bytes()),
        }
    }

    /// "Dispatch the event" (§9.2.6), the steps that do not belong to the DOM.
    fn dispatch(&mut self) -> Option<Item> {
        // 1. "Set the last event ID string of the event source to the value of the
        //    last event ID buffer. The buffer does not get reset, so the last event ID
        //    string of the event source remains set to this value until the next time
        //    it is set by the server."
        if mem::take(&mut self.id_dirty) && self.last_event_id != self.id_buffer {
            self.last_event_id.clone_from(&self.id_buffer);
        }
        // 2. "If the data buffer is an empty string, set the data buffer and the event
        //    type buffer to the empty string and return."
        if self.data.is_empty() {
            self.event_type.clear();
            return None;
        }
        if self.lend {
            // `parse_ref`: the event stays in the buffers, which the next call
            // clears (step 7, deferred); "remove the last character" (step 3).
            self.data.pop();
            self.lent = true;
            return None;
        }
        // 7. "Set the data buffer and the event type buffer to the empty string."
        //    The data buffer moves into the event, without a copy. (Taken first and
        //    edited as a local: cheaper than editing it in place and moving it.)
        let mut text = mem::take(&mut self.data);
        // 3. "If the data buffer's last character is a U+000A LINE FEED (LF)
        //    character, then remove the last character from the data buffer."
        //    (It always is: every `data` line appends one.)
        text.pop();
        // 5.-6. The type is "message" unless the event type buffer says otherwise;
        //    its `lastEventId` is the last event ID string. Both go after the data,
        //    into the capacity reserved by `append_data`.
        let data_len = text.len();
        let event_type = match self.event_type.as_str() {
            "message" => "",
            other => other,
        };
        let type_len = event_type.len();
        if type_len != 0 {
            text.push_str(event_type);
        }
        if !self.last_event_id.is_empty() {
            text.push_str(&self.last_event_id);
        }
        self.event_type.clear();
        Some(Item::Message(MessageEvent {
            text,
            data_len,
            type_len,
        }))
    }

    /// Records `error` so that every later call returns it, and frees the buffers.
    fn fail(&mut self, error: Error) -> Error {
        self.error = Some(error);
        self.lent = false;
        self.line = Vec::new();
        self.line_prefix = 0;
        self.data = String::new();
        error
    }

    #[cfg(test)]
    fn count_scanned(&mut self, n: usize) {
        self.scanned += n;
    }

    #[cfg(not(test))]
    #[inline(always)]
    fn count_scanned(&mut self, _n: usize) {}
}

/// The items of one chunk, from [`Parser::feed`].
#[derive(Debug)]
#[must_use = "the chunk is only parsed as the iterator is advanced"]
pub struct Feed<'p, 'i> {
    parser: &'p mut Parser,
    rest: &'i [u8],
    done: bool,
}

impl Iterator for Feed<'_, '_> {
    type Item = Result<Item, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.parser.parse(self.rest) {
            Ok(Status::Complete((item, consumed))) => {
                self.rest = self.rest.get(consumed..).unwrap_or_default();
                Some(Ok(item))
            }
            Ok(Status::Partial) => {
                self.done = true;
                None
            }
            Err(error) => {
                self.done = true;
                Some(Err(error))
            }
        }
    }
}

/// If `line` is the field `name`, its value: what follows the colon with one leading
/// space removed, or `""` for a line that is just the name.
///
/// "If the line contains a U+003A COLON character (:): Collect the characters on the
/// line before the first U+003A COLON character (:), and let field be that string.
/// Collect the characters on the line after the first U+003A COLON character (:), and
/// let value be that string. If value starts with a U+0020 SPACE character, remove it
/// from value. Otherwise, the string is not empty but does not contain a U+003A COLON
/// character (:): [...] using the whole line as the field name, and the empty string
/// as the field value."
fn field_value<'l>(line: &'l [u8], name: &[u8]) -> Option<&'l [u8]> {
    let rest = line.strip_prefix(name)?;
    match rest.split_first() {
        None => Some(&[]),
        Some((b':', value)) => Some(strip_space(value)),
        Some(_) => None,
    }
}

/// If `chunk` starts a `data` line and says enough to know where its value starts
/// (`data:` and the byte after it), that value's start.
fn data_value_start(chunk: &[u8]) -> Option<&[u8]> {
    let rest = chunk.strip_prefix(b"data:")?;
    match rest.first()? {
        b' ' => Some(&rest[1..]),
        _ => Some(rest),
    }
}

fn strip_space(value: &[u8]) -> &[u8] {
    value.strip_prefix(b" ").unwrap_or(value)
}

/// UTF-8 decode with replacement (Encoding's "UTF-8 decode without BOM"). Rust's lossy
/// decoding replaces maximal subparts exactly as the Encoding standard does.
fn decode(bytes: &[u8]) -> Cow<'_, str> {
    match simdutf8::basic::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// "If the field value consists of only ASCII digits, then interpret the field value as
/// an integer in base ten, and set the event stream's reconnection time to that
/// integer. Otherwise, ignore the field."
///
/// An empty value is not a number and is ignored (as in browsers). Values past
/// `u64::MAX` milliseconds saturate: they are integers, just not representable.
fn retry(value: &[u8]) -> Option<Item> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let millis = value.iter().fold(0u64, |acc, digit| {
        acc.saturating_mul(10)
            .saturating_add(u64::from(digit - b'0'))
    });
    Some(Item::Retry(Duration::from_millis(millis)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn parse_chunks(parser: &mut Parser, chunks: &[&[u8]]) -> Vec<Result<Item, Error>> {
        let mut out = Vec::new();
        for chunk in chunks {
            out.extend(parser.feed(chunk));
        }
        out
    }

    fn message(event_type: &str, data: &str, id: &str) -> Result<Item, Error> {
        Ok(Item::Message(MessageEvent::new(event_type, data, id)))
    }

    /// The heart of the linearity promise: every byte goes through `memchr2` exactly
    /// once, however the line is split. Counting is deterministic, unlike timing.
    #[test]
    fn every_byte_is_scanned_once() {
        let mut input = b"data: ".to_vec();
        input.resize(8 << 20, b'x');
        input.extend_from_slice(b"\n\n");
        let config = Config {
            max_line_len: 9 << 20,
            ..Config::default()
        };

        let mut whole = Parser::with_config(config);
        let one: Vec<_> = whole.feed(&input).collect();
        assert_eq!(whole.scanned, input.len());

        let mut chunked = Parser::with_config(config);
        let chunks: Vec<&[u8]> = input.chunks(1460).collect();
        let many = parse_chunks(&mut chunked, &chunks);
        assert_eq!(chunked.scanned, input.len());
        assert_eq!(one, many);
        assert_eq!(one.len(), 1);
    }

    #[test]
    fn cr_at_end_of_chunk_then_lf_is_one_line_ending() {
        let mut parser = Parser::new();
        let out = parse_chunks(&mut parser, &[b"data: a\r", b"\n", b"\r", b"\n"]);
        assert_eq!(out, vec![message("", "a", "")]);
    }

    #[test]
    fn bom_split_across_chunks_is_stripped_once() {
        let mut parser = Parser::new();
        let chunks: [&[u8]; 4] = [
            b"\xEF",
            b"\xBB",
            b"\xBFdata: x\n\n",
            b"\xEF\xBB\xBFdata: y\n\n",
        ];
        let out = parse_chunks(&mut parser, &chunks);
        // The second BOM is not at the start of the stream: it makes the field name
        // "\u{FEFF}data", an unknown field.
        assert_eq!(out, vec![message("", "x", "")]);
    }

    #[test]
    fn partial_bom_is_content() {
        let mut parser = Parser::new();
        let out = parse_chunks(&mut parser, &[b"\xEF\xBB", b"\n:\n", b"data:z\n\n"]);
        assert_eq!(out, vec![message("", "z", "")]);
    }

    #[test]
    fn line_limit_is_enforced_while_buffering() {
        let config = Config {
            max_line_len: 8,
            ..Config::default()
        };
        let mut parser = Parser::with_config(config);
        assert_eq!(parse_chunks(&mut parser, &[b"data: 12"]), vec![]);
        let over = Error::LineTooLong { limit: 8 };
        assert_eq!(parse_chunks(&mut parser, &[b"3"]), vec![Err(over)]);
        // Spent: the same error again, and memory released.
        assert_eq!(parser.parse(b"\n\n"), Err(over));
        assert_eq!(parser.line.capacity(), 0);
    }

    #[test]
    fn event_limit_counts_decoded_bytes() {
        let config = Config {
            max_event_size: 6,
            ..Config::default()
        };
        let mut parser = Parser::with_config(config);
        // "ab\n" + "cd\n" = 6 bytes: at the limit, fine.
        let out = parse_chunks(&mut parser, &[b"data:ab\ndata:cd\n\n"]);
        assert_eq!(out, vec![message("", "ab\ncd", "")]);
        // One invalid byte decodes to three bytes of U+FFFD: "\u{FFFD}ab\n" is 6.
        let out = parse_chunks(&mut parser, &[b"data:\xFFab\n\ndata:\xFFabc\n"]);
        assert_eq!(
            out,
            vec![
                message("", "\u{FFFD}ab", ""),
                Err(Error::EventTooLarge { limit: 6 })
            ]
        );
    }

    #[test]
    fn retry_values() {
        let mut parser = Parser::new();
        let out = parse_chunks(
            &mut parser,
            &[b"retry: 10\nretry:\nretry: 1x\nretry: -1\nretry 5\nretry:99999999999999999999999\n"],
        );
        assert_eq!(
            out,
            vec![
                Ok(Item::Retry(Duration::from_millis(10))),
                Ok(Item::Retry(Duration::from_millis(u64::MAX))),
            ]
        );
    }

    #[test]
    fn id_commits_at_the_blank_line_only() {
        let mut parser = Parser::new();
        let _ = parse_chunks(&mut parser, &[b"id: 1\n\nid: 2\ndata: x\n"]);
        assert_eq!(parser.last_event_id(), "1");
        let _ = parse_chunks(&mut parser, &[b"\n"]);
        assert_eq!(parser.last_event_id(), "2");
    }

    #[test]
    fn resume_keeps_the_last_event_id() {
        let mut parser = Parser::resume(Config::default(), "41");
        let out = parse_chunks(&mut parser, &[b"data: x\n\n"]);
        assert_eq!(out, vec![message("", "x", "41")]);
    }

    #[test]
    fn comments_are_opt_in() {
        let mut parser = Parser::new();
        assert_eq!(parse_chunks(&mut parser, &[b": hi\n"]), vec![]);
        let config = Config {
            comments: true,
            ..Config::default()
        };
        let mut parser = Parser::with_config(config);
        let out = parse_chunks(&mut parser, &[b": hi\n:\n::x\n"]);
        assert_eq!(
            out,
            vec![
                Ok(Item::Comment("hi".into())),
                Ok(Item::Comment("".into())),
                Ok(Item::Comment(":x".into())),
            ]
        );
    }
}
