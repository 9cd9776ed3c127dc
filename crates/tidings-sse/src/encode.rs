//! The server side: writing `text/event-stream` bytes.
//!
//! # Why it is built this way
//!
//! Writing SSE looks trivial and is where servers most often corrupt their own
//! stream: a payload with an embedded newline written as one `data:` line ends the
//! field early (and a `\r` alone ends it too, for every spec-following client); an
//! `event` or `id` with a line break smuggles extra fields into the block; an `id`
//! with a NUL is silently dropped by clients. So the encoder
//!
//! * splits data on **CR, LF and CRLF**, exactly the line endings the parser
//!   recognises, into one `data:` line each, so `parse(encode(x)) == x` with line
//!   endings normalised to LF;
//! * refuses `event` and `id` values that cannot survive the trip, with a
//!   [`LocalError`] and before writing a single byte, so the caller's buffer never
//!   holds half an event;
//! * always writes `field: value` (one space, which the parser removes), so a value
//!   that itself starts with a space keeps it.
//!
//! Bytes are appended to a caller-owned [`BufMut`]. It must be able to grow
//! (`Vec<u8>`, `BytesMut`): `bytes` panics when a fixed-size buffer is full.
//!
//! [`EventBuilder`] borrows its fields, for a server that encodes as it goes;
//! [`ServerSentEvent`] owns them, for events that travel through channels and
//! streams before they are written.

use alloc::string::String;
use bytes::BufMut;
use core::time::Duration;

use crate::LocalError;

/// One event to write, built field by field and written with [`EventBuilder::encode`].
///
/// ```
/// use tidings_sse::encode::EventBuilder;
///
/// let mut buf = Vec::new();
/// EventBuilder::new()
///     .event("update")
///     .id("42")
///     .data("first line\nsecond line")
///     .encode(&mut buf)?;
/// assert_eq!(
///     buf,
///     b"event: update\nid: 42\ndata: first line\ndata: second line\n\n"
/// );
/// # Ok::<(), tidings_sse::LocalError>(())
/// ```
///
/// Without [`data`](EventBuilder::data) the block still sets `id` and `retry` on the
/// client, but dispatches nothing ("If the data buffer is an empty string, [...]
/// return").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[must_use = "an EventBuilder does nothing until encoded"]
pub struct EventBuilder<'a> {
    event: Option<&'a str>,
    id: Option<&'a str>,
    retry: Option<Duration>,
    data: Option<&'a str>,
}

impl<'a> EventBuilder<'a> {
    /// An event with no fields yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The event's data. Line breaks (CR, LF or CRLF) become separate `data:` lines,
    /// which the client joins with LF.
    pub fn data(mut self, data: &'a str) -> Self {
        self.data = Some(data);
        self
    }

    /// The event type (`event:`). Empty means the default, `"message"`, and writes
    /// nothing. Must not contain CR or LF.
    pub fn event(mut self, event: &'a str) -> Self {
        self.event = Some(event);
        self
    }

    /// The event ID (`id:`), which the client sends back as `Last-Event-ID` when it
    /// reconnects. An empty ID resets the client's last event ID. Must not contain CR,
    /// LF or U+0000 NULL.
    pub fn id(mut self, id: &'a str) -> Self {
        self.id = Some(id);
        self
    }

    /// The reconnection time the client should wait (`retry:`), in whole
    /// milliseconds (anything finer is truncated).
    pub fn retry(mut self, retry: Duration) -> Self {
        self.retry = Some(retry);
        self
    }

    /// Appends the event, ended by a blank line, to `buf`.
    ///
    /// # Errors
    ///
    /// [`LocalError::InvalidEventType`] or [`LocalError::InvalidId`], in which case
    /// nothing was written.
    pub fn encode(&self, buf: &mut impl BufMut) -> Result<(), LocalError> {
        // Check everything first: a refused event leaves no trace in `buf`.
        if let Some(event) = self.event {
            if has_line_break(event.as_bytes()) {
                return Err(LocalError::InvalidEventType);
            }
        }
        if let Some(id) = self.id {
            if has_line_break_or_nul(id.as_bytes()) {
                return Err(LocalError::InvalidId);
            }
        }
        if let Some(event) = self.event.filter(|event| !event.is_empty()) {
            write_field(buf, b"event: ", event.as_bytes());
        }
        if let Some(id) = self.id {
            write_field(buf, b"id: ", id.as_bytes());
        }
        if let Some(retry) = self.retry {
            write_retry_field(buf, retry);
        }
        if let Some(data) = self.data {
            write_lines(buf, b"data: ", data.as_bytes());
        }
        buf.put_u8(b'\n');
        Ok(())
    }
}

/// One thing for a server to send, owned: an event, or a comment.
///
/// The owned form of [`EventBuilder`], so that it can travel through channels and
/// streams; encoding is the builder's.
///
/// ```
/// use core::time::Duration;
/// use tidings_sse::ServerSentEvent;
///
/// let event = ServerSentEvent::data("hello\nworld")
///     .event("greeting")
///     .id("7")
///     .retry(Duration::from_secs(1));
/// let mut wire = Vec::new();
/// event.encode(&mut wire)?;
/// assert_eq!(wire, b"event: greeting\nid: 7\nretry: 1000\ndata: hello\ndata: world\n\n");
/// # Ok::<(), tidings_sse::LocalError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use = "a ServerSentEvent does nothing until sent"]
pub struct ServerSentEvent {
    comment: Option<String>,
    event: Option<String>,
    id: Option<String>,
    retry: Option<Duration>,
    data: Option<String>,
}

impl ServerSentEvent {
    /// An event carrying `data` (line breaks become several `data:` lines).
    pub fn data(data: impl Into<String>) -> Self {
        Self {
            data: Some(data.into()),
            ..Self::default()
        }
    }

    /// A block with no data: it only sets the `id` and/or `retry` given next, and
    /// dispatches nothing on the client.
    pub fn empty() -> Self {
        Self::default()
    }

    /// A comment (`: text`): clients ignore it. Any event fields set on it are
    /// ignored.
    pub fn comment(text: impl Into<String>) -> Self {
        Self {
            comment: Some(text.into()),
            ..Self::default()
        }
    }

    /// The event type; must not contain CR or LF.
    pub fn event(mut self, event: impl Into<String>) -> Self {
        self.event = Some(event.into());
        self
    }

    /// The event ID, sent back as `Last-Event-ID` on reconnection; must not contain
    /// CR, LF or NUL.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// The reconnection time the client should use from now on.
    pub fn retry(mut self, retry: Duration) -> Self {
        self.retry = Some(retry);
        self
    }

    /// Appends the wire form to `buf`.
    ///
    /// # Errors
    ///
    /// [`LocalError::InvalidEventType`] or [`LocalError::InvalidId`]; nothing was
    /// written then.
    pub fn encode(&self, buf: &mut impl BufMut) -> Result<(), LocalError> {
        if let Some(comment) = &self.comment {
            write_comment(comment, buf);
            return Ok(());
        }
        EventBuilder {
            event: self.event.as_deref(),
            id: self.id.as_deref(),
            retry: self.retry,
            data: self.data.as_deref(),
        }
        .encode(buf)
    }
}

/// Appends a comment (`: text`), one comment line per line of `text`. Clients ignore
/// comments; they are for humans reading the stream, and for keeping it alive.
///
/// ```
/// let mut buf = Vec::new();
/// tidings_sse::encode::write_comment("hello\nworld", &mut buf);
/// assert_eq!(buf, b": hello\n: world\n");
/// ```
pub fn write_comment(text: &str, buf: &mut impl BufMut) {
    write_lines(buf, b": ", text.as_bytes());
}

/// A keep-alive: an empty comment line, the smallest thing that travels through
/// proxies and keeps idle-timeouts away without reaching the application.
pub const KEEP_ALIVE: &[u8] = b":\n";

/// Appends a [`KEEP_ALIVE`].
pub fn write_keep_alive(buf: &mut impl BufMut) {
    buf.put_slice(KEEP_ALIVE);
}

/// Appends a block that only sets the client's reconnection time: `retry: N` and a
/// blank line (which dispatches nothing, as the data buffer is empty).
///
/// ```
/// use core::time::Duration;
///
/// let mut buf = Vec::new();
/// tidings_sse::encode::write_retry(Duration::from_secs(5), &mut buf);
/// assert_eq!(buf, b"retry: 5000\n\n");
/// ```
pub fn write_retry(retry: Duration, buf: &mut impl BufMut) {
    write_retry_field(buf, retry);
    buf.put_u8(b'\n');
}

/// Below this length a plain loop beats a `memchr` call's set-up (event types and
/// IDs are short).
const SHORT: usize = 32;

/// `true` if `bytes` contains CR or LF: either would end the field's line early.
#[inline]
fn has_line_break(bytes: &[u8]) -> bool {
    if bytes.len() < SHORT {
        short_has(bytes, |w| has_byte(w, b'\r') | has_byte(w, b'\n'))
    } else {
        memchr::memchr2(b'\r', b'\n', bytes).is_some()
    }
}

/// `true` if `bytes` contains CR, LF or NUL (what an `id` may not hold).
#[inline]
fn has_line_break_or_nul(bytes: &[u8]) -> bool {
    if bytes.len() < SHORT {
        short_has(bytes, |w| {
            has_byte(w, b'\r') | has_byte(w, b'\n') | has_byte(w, 0)
        })
    } else {
        memchr::memchr3(b'\r', b'\n', 0, bytes).is_some()
    }
}

/// `found(word)` over words covering all of `bytes` (fewer than [`SHORT`]), eight
/// bytes at a time, for a byte test that is true of a word if true of any of its
/// bytes.
///
/// Event types and IDs are a few bytes long and vary from one event to the next: a
/// byte loop that stops at the first hit is mispredicted at its end, and was a tenth
/// of the cost of a one-line event. Here the words overlap instead: 8 to 31 bytes are
/// whole words plus the last eight bytes; 4 to 7 bytes the first four and the last
/// four (each repeated to fill a word); fewer than four, one byte at a time.
#[inline(always)]
fn short_has(bytes: &[u8], found: impl Fn(u64) -> bool) -> bool {
    let n = bytes.len();
    if n >= 8 {
        let mut any = found(word8(&bytes[n - 8..]));
        for chunk in bytes.chunks_exact(8) {
            any |= found(word8(chunk));
        }
        any
    } else if n >= 4 {
        found(word4(&bytes[..4])) | found(word4(&bytes[n - 4..]))
    } else {
        bytes
            .iter()
            .fold(false, |any, &b| any | found(u64::from(b) * LOW_BITS))
    }
}

/// `0x01` in every byte.
const LOW_BITS: u64 = u64::from_ne_bytes([1; 8]);

/// The first eight bytes of `b` (at least eight long) as a word.
#[inline(always)]
fn word8(b: &[u8]) -> u64 {
    u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

/// The first four bytes of `b` (at least four long), twice, as a word.
#[inline(always)]
fn word4(b: &[u8]) -> u64 {
    u64::from_le_bytes([b[0], b[1], b[2], b[3], b[0], b[1], b[2], b[3]])
}

/// `true` if some byte of `word` is `byte`: the "has a zero byte" test of
/// `word ^ byte-in-every-lane` (exact as a yes/no answer).
#[inline(always)]
fn has_byte(word: u64, byte: u8) -> bool {
    let x = word ^ (u64::from(byte) * LOW_BITS);
    x.wrapping_sub(LOW_BITS) & !x & (LOW_BITS << 7) != 0
}

/// `name: value\n`, or `name:\n` for an empty value (no trailing space). `prefix` is
/// the name followed by `": "`; with the prefix `": "` this writes comment lines.
///
/// Always inlined, so that `prefix` is a constant at each call and its copy a few
/// stores instead of a `memcpy` call (half the calls of an event).
#[inline(always)]
fn write_field(buf: &mut impl BufMut, prefix: &[u8], value: &[u8]) {
    if value.is_empty() {
        // The prefix without its space, then the line ending.
        buf.put_slice(&prefix[..prefix.len() - 1]);
        buf.put_u8(b'\n');
    } else {
        buf.put_slice(prefix);
        buf.put_slice(value);
        buf.put_u8(b'\n');
    }
}

/// Writes one `name: line` per line of `text`, splitting on CR, LF and CRLF, the
/// `end-of-line` of the ABNF. An empty `text` is one empty line.
#[inline(always)]
fn write_lines(buf: &mut impl BufMut, prefix: &[u8], text: &[u8]) {
    let mut rest = text;
    loop {
        let Some(end) = memchr::memchr2(b'\r', b'\n', rest) else {
            write_field(buf, prefix, rest);
            return;
        };
        write_field(buf, prefix, &rest[..end]);
        // A CR immediately followed by LF is one line ending, not two.
        let skip = if rest[end] == b'\r' && rest.get(end + 1) == Some(&b'\n') {
            2
        } else {
            1
        };
        rest = &rest[end + skip..];
    }
}

/// `retry: <milliseconds>\n`.
fn write_retry_field(buf: &mut impl BufMut, retry: Duration) {
    buf.put_slice(b"retry: ");
    // u128 has at most 39 decimal digits.
    let mut digits = [0u8; 39];
    let mut n = retry.as_millis();
    let mut start = digits.len();
    loop {
        start -= 1;
        // `n % 10` is below 10, so the cast cannot truncate.
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.put_slice(&digits[start..]);
    buf.put_u8(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn encode(builder: EventBuilder<'_>) -> Result<Vec<u8>, LocalError> {
        let mut buf = Vec::new();
        builder.encode(&mut buf).map(|()| buf)
    }

    #[test]
    fn data_is_split_on_every_line_ending() {
        let out = encode(EventBuilder::new().data("a\rb\nc\r\nd\n\re")).unwrap();
        assert_eq!(
            out,
            b"data: a\ndata: b\ndata: c\ndata: d\ndata:\ndata: e\n\n"
        );
        let out = encode(EventBuilder::new().data("")).unwrap();
        assert_eq!(out, b"data:\n\n");
        let out = encode(EventBuilder::new().data("x\n")).unwrap();
        assert_eq!(out, b"data: x\ndata:\n\n");
    }

    #[test]
    fn leading_space_survives() {
        let out = encode(EventBuilder::new().data(" x").id(" 1")).unwrap();
        assert_eq!(out, b"id:  1\ndata:  x\n\n");
    }

    #[test]
    fn refused_fields_write_nothing() {
        let mut buf = Vec::new();
        let bad_event = EventBuilder::new().data("x").event("a\nb");
        assert_eq!(
            bad_event.encode(&mut buf),
            Err(LocalError::InvalidEventType)
        );
        let bad_event = EventBuilder::new().event("a\rb");
        assert_eq!(
            bad_event.encode(&mut buf),
            Err(LocalError::InvalidEventType)
        );
        for id in ["a\nb", "a\rb", "a\0b"] {
            let bad_id = EventBuilder::new().data("x").id(id);
            assert_eq!(bad_id.encode(&mut buf), Err(LocalError::InvalidId));
        }
        assert!(buf.is_empty());
    }

    #[test]
    fn retry_is_whole_milliseconds() {
        let out = encode(EventBuilder::new().retry(Duration::from_micros(1500))).unwrap();
        assert_eq!(out, b"retry: 1\n\n");
        let mut buf = Vec::new();
        write_retry(Duration::MAX, &mut buf);
        assert_eq!(buf, b"retry: 18446744073709551615999\n\n");
        buf.clear();
        write_retry(Duration::ZERO, &mut buf);
        assert_eq!(buf, b"retry: 0\n\n");
    }

    /// The word-at-a-time checks against a plain loop, at every short length and
    /// every position of each forbidden byte, and with every byte value once.
    #[test]
    fn short_checks_match_a_byte_loop() {
        for len in 0..SHORT + 8 {
            for at in 0..=len {
                for bad in [b'\r', b'\n', 0, b'a', 0x80, 0xff, 0x0b, 0x8d] {
                    let mut v: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
                    if at < len {
                        v[at] = bad;
                    }
                    let lb = v.iter().any(|&b| b == b'\r' || b == b'\n');
                    let lbn = v.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0);
                    assert_eq!(has_line_break(&v), lb, "{v:?}");
                    assert_eq!(has_line_break_or_nul(&v), lbn, "{v:?}");
                }
            }
        }
        for b in 0..=255u8 {
            for len in [1, 3, 5, 9, 17] {
                let v = alloc::vec![b; len];
                assert_eq!(has_line_break(&v), b == b'\r' || b == b'\n', "{b} {len}");
                assert_eq!(has_line_break_or_nul(&v), matches!(b, b'\r' | b'\n' | 0));
            }
        }
    }

    #[test]
    fn server_sent_event_encoding_is_the_builders() {
        let mut wire = Vec::new();
        ServerSentEvent::comment("hi")
            .id("ignored")
            .encode(&mut wire)
            .unwrap();
        ServerSentEvent::empty()
            .retry(Duration::from_millis(5))
            .encode(&mut wire)
            .unwrap();
        ServerSentEvent::data("x").encode(&mut wire).unwrap();
        assert_eq!(wire, b": hi\nretry: 5\n\ndata: x\n\n");
        let bad = ServerSentEvent::data("x").id("a\nb").encode(&mut wire);
        assert_eq!(bad, Err(LocalError::InvalidId));
        let bad = ServerSentEvent::data("x").event("a\rb").encode(&mut wire);
        assert_eq!(bad, Err(LocalError::InvalidEventType));
        assert_eq!(wire, b": hi\nretry: 5\n\ndata: x\n\n");
    }

    #[test]
    fn comments_and_keep_alives() {
        let mut buf = Vec::new();
        write_comment("", &mut buf);
        write_comment("a\r\nb", &mut buf);
        write_keep_alive(&mut buf);
        assert_eq!(buf, b":\n: a\n: b\n:\n");
    }
}
