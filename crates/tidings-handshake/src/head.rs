//! HTTP/1.1 head plumbing shared by both sides: finding the end of a head in
//! a byte stream, owning a parsed head, and the small RFC 9110 grammars
//! (tokens, comma lists, field values) the handshake leans on.
//!
//! Why it is built this way:
//!
//! * **Linear incremental parsing.** [`HeadReader`] searches every received
//!   byte once for LF, remembering its place in a tiny line state machine
//!   between calls. Only when it has seen the blank line that ends the head
//!   does it hand the whole head to httparse, once. Feeding one byte at a time
//!   therefore costs the same as feeding the head in one piece.
//! * **The head is copied once and then owned.** The reader keeps the head's
//!   bytes in one `Vec`; when the head is complete that `Vec` moves into the
//!   parsed value and every header is recorded as a pair of ranges into it.
//!   The parsed request can outlive the caller's read buffer, and it costs two
//!   allocations however many headers there are.
//! * **Bytes after the head are never touched**: they may already be
//!   WebSocket frames, or the body of a plain HTTP request.

use alloc::vec::Vec;
use core::ops::Range;

use bytes::BufMut;

use crate::error::LocalError;

/// Limits on an incoming head. Exceeding either is a 431 on the server side.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest head, request line and blank line included, in bytes.
    /// Default: [`Limits::DEFAULT_MAX_HEAD_SIZE`].
    pub max_head_size: usize,
    /// Most header fields. Default: [`Limits::DEFAULT_MAX_HEADERS`].
    pub max_headers: usize,
}

impl Limits {
    /// 16 KiB, like Node.js: roomy enough for big cookies.
    pub const DEFAULT_MAX_HEAD_SIZE: usize = 16 * 1024;
    /// 64 header fields; browsers send fewer than 20.
    pub const DEFAULT_MAX_HEADERS: usize = 64;
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_head_size: Self::DEFAULT_MAX_HEAD_SIZE,
            max_headers: Self::DEFAULT_MAX_HEADERS,
        }
    }
}

/// One header field, as two ranges into the owning head's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Field {
    pub(crate) name: Range<usize>,
    pub(crate) value: Range<usize>,
}

/// Owned bytes of a head plus the position of each header field in them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct OwnedHeaders {
    pub(crate) buf: Vec<u8>,
    pub(crate) fields: Vec<Field>,
}

impl OwnedHeaders {
    pub(crate) fn view(&self) -> Headers<'_> {
        Headers {
            buf: &self.buf,
            fields: &self.fields,
        }
    }

    /// Text at `range`; empty if it is not UTF-8 (ranges we record for
    /// names, methods and targets are ASCII by construction).
    pub(crate) fn str(&self, range: &Range<usize>) -> &str {
        self.buf
            .get(range.clone())
            .and_then(|b| core::str::from_utf8(b).ok())
            .unwrap_or("")
    }

    /// Appends `bytes` and returns where they went.
    #[cfg(feature = "http")]
    pub(crate) fn push(&mut self, bytes: &[u8]) -> Range<usize> {
        let start = self.buf.len();
        self.buf.extend_from_slice(bytes);
        start..self.buf.len()
    }
}

/// The fields httparse found, as ranges into `whole`, the parsed buffer.
pub(crate) fn fields(whole: &[u8], headers: &[httparse::Header<'_>]) -> Vec<Field> {
    headers
        .iter()
        .map(|h| Field {
            name: offset(whole, h.name.as_bytes()),
            value: offset(whole, h.value),
        })
        .collect()
}

/// How many `httparse::Header` slots to offer: the limit, but never more than
/// a head of `max_head_size` bytes could hold (a field takes at least `a:\n`),
/// so a huge configured limit cannot turn into a huge allocation.
pub(crate) fn header_slots(limits: &Limits) -> usize {
    limits.max_headers.min(limits.max_head_size / 3 + 1)
}

/// Where `part` (a sub-slice httparse returned) lies inside `whole`.
///
/// Address arithmetic, no `unsafe`: a slice that is not inside `whole` (an
/// empty slice may point anywhere) maps to the empty range `0..0`.
pub(crate) fn offset(whole: &[u8], part: &[u8]) -> Range<usize> {
    let (w, p) = (whole.as_ptr() as usize, part.as_ptr() as usize);
    if p >= w && p - w + part.len() <= whole.len() {
        p - w..p - w + part.len()
    } else {
        0..0
    }
}

/// A borrowed view of a head's header fields, in the order received.
///
/// Names are ASCII (httparse only accepts tokens); values are bytes, since
/// RFC 9110 allows obsolete non-ASCII text in them.
#[derive(Debug, Clone, Copy)]
pub struct Headers<'a> {
    buf: &'a [u8],
    fields: &'a [Field],
}

impl<'a> Headers<'a> {
    /// Number of header fields.
    #[must_use]
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// `true` if there are no header fields.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// All fields as `(name, value)`, in the order received.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &'a [u8])> + 'a {
        let buf = self.buf;
        self.fields.iter().map(move |f| {
            let name = buf
                .get(f.name.clone())
                .and_then(|b| core::str::from_utf8(b).ok());
            (name.unwrap_or(""), buf.get(f.value.clone()).unwrap_or(&[]))
        })
    }

    /// The value of the first field named `name` (ASCII case-insensitive).
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&'a [u8]> {
        self.get_all(name).next()
    }

    /// The values of every field named `name` (ASCII case-insensitive).
    pub fn get_all<'n>(&self, name: &'n str) -> impl Iterator<Item = &'a [u8]> + 'n
    where
        'a: 'n,
    {
        // Names are tokens, so they are compared as bytes: making each one a
        // `&str` at every lookup would cost more than the lookup.
        let buf = self.buf;
        self.fields
            .iter()
            .filter(move |f| {
                buf.get(f.name.clone())
                    .is_some_and(|n| n.eq_ignore_ascii_case(name.as_bytes()))
            })
            .map(move |f| buf.get(f.value.clone()).unwrap_or(&[]))
    }

    /// The first field named `name` as text, if present and UTF-8.
    #[must_use]
    pub fn get_str(&self, name: &str) -> Option<&'a str> {
        self.get(name).and_then(|v| core::str::from_utf8(v).ok())
    }

    /// A field that must appear at most once (`Host`, `Sec-WebSocket-Key`...).
    pub(crate) fn single(&self, name: &str) -> Single<'a> {
        let mut all = self.get_all(name);
        match (all.next(), all.next()) {
            (None, _) => Single::Absent,
            (Some(v), None) => Single::One(v),
            (Some(_), Some(_)) => Single::Many,
        }
    }

    /// `true` if some field named `name` lists `token` (RFC 9110 §5.6.1
    /// comma list, ASCII case-insensitive), e.g. `Connection: keep-alive, Upgrade`.
    #[must_use]
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.get_all(name)
            .any(|v| list(v).any(|t| t.eq_ignore_ascii_case(token.as_bytes())))
    }
}

/// How often a field appears, and its value if once.
pub(crate) enum Single<'a> {
    Absent,
    One(&'a [u8]),
    Many,
}

/// Finds the end of a head in a byte stream, one line at a time, and keeps
/// the head's bytes.
///
/// The head ends at the first empty line (`CRLF CRLF`; a bare `LF` is
/// accepted as httparse does) after some content: empty lines before the
/// start line are skipped, as RFC 9112 §2.2 asks of a robust parser.
#[derive(Debug, Default)]
pub(crate) struct HeadReader {
    /// Head bytes received so far.
    pub(crate) buf: Vec<u8>,
    /// Bytes since the last LF, in the current line.
    line_len: usize,
    /// The current line is only a CR so far.
    line_is_cr: bool,
    /// Something other than an empty line was seen.
    seen_content: bool,
}

/// What [`HeadReader::read`] found.
pub(crate) enum Read {
    /// All input consumed, no end yet.
    Partial,
    /// The head ends after `consumed` bytes of this input.
    Complete { consumed: usize },
    /// The head would exceed the size limit.
    TooLarge,
}

impl HeadReader {
    /// Scans `input` (new bytes only) for the end of the head, copying head
    /// bytes into `self.buf`. The search for LF looks at each byte once, and
    /// a line is judged only when its LF is found, so a head fed in pieces
    /// costs what it costs in one.
    pub(crate) fn read(&mut self, input: &[u8], max: usize) -> Read {
        // The head may grow by `room` bytes: if its end is not among them and
        // more bytes came, it is too large.
        let room = max.saturating_sub(self.buf.len());
        let window = &input[..input.len().min(room)];
        let mut line_start = 0;
        while let Some(lf) = window[line_start..].iter().position(|&b| b == b'\n') {
            let lf = line_start + lf;
            self.take_line(&window[line_start..lf]);
            let blank = self.line_len == 0 || (self.line_len == 1 && self.line_is_cr);
            if blank && self.seen_content {
                self.buf.extend_from_slice(&input[..=lf]);
                return Read::Complete { consumed: lf + 1 };
            }
            self.line_len = 0;
            self.line_is_cr = false;
            line_start = lf + 1;
        }
        if input.len() > room {
            return Read::TooLarge;
        }
        self.take_line(&window[line_start..]);
        self.buf.extend_from_slice(input);
        Read::Partial
    }

    /// Takes more of the current line (bytes before its LF, if any).
    fn take_line(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.line_is_cr = self.line_len == 0 && bytes == b"\r";
        self.line_len += bytes.len();
        // Only the leading CRs of the first lines are looked at again.
        if !self.seen_content {
            self.seen_content = bytes.iter().any(|&b| b != b'\r');
        }
    }

    /// Keeps scanning after httparse judged a "complete" head partial (it
    /// does not happen with httparse 1.x, but costs nothing to handle).
    pub(crate) fn resume(&mut self) {
        self.line_len = 0;
        self.line_is_cr = false;
    }
}

/// `tchar` from RFC 9110 §5.6.2:
///
/// ```text
/// tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
///         "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
/// ```
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// `token = 1*tchar`
pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

/// `OWS = *( SP / HTAB )`, trimmed from both ends.
pub(crate) fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// The elements of an RFC 9110 §5.6.1 list (`#element`), OWS trimmed and
/// empty elements skipped ("a recipient MUST accept empty list elements").
pub(crate) fn list(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(trim_ows)
        .filter(|e| !e.is_empty())
}

/// A header value we are asked to send: `field-value` (RFC 9110 §5.5) allows
/// VCHAR, obs-text, SP and HTAB; CR, LF, NUL and the other controls would let
/// a value smuggle in extra header lines, so they are refused.
pub(crate) fn check_value(value: &[u8]) -> Result<(), LocalError> {
    if value
        .iter()
        .all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f))
    {
        Ok(())
    } else {
        Err(LocalError::HeaderValue)
    }
}

/// Checks an extra header the caller wants to send, refusing the names in
/// `reserved` (headers the handshake writes itself).
pub(crate) fn check_extra(name: &str, value: &[u8], reserved: &[&str]) -> Result<(), LocalError> {
    if !is_token(name.as_bytes()) {
        return Err(LocalError::HeaderName);
    }
    if reserved.iter().any(|r| r.eq_ignore_ascii_case(name)) {
        return Err(LocalError::ReservedHeader);
    }
    check_value(value)
}

/// Writes `name: value\r\n`.
pub(crate) fn put_field(buf: &mut impl BufMut, name: &str, value: &[u8]) {
    buf.put_slice(name.as_bytes());
    buf.put_slice(b": ");
    buf.put_slice(value);
    buf.put_slice(b"\r\n");
}

/// Writes `n` in decimal.
pub(crate) fn put_decimal(buf: &mut impl BufMut, mut n: usize) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.put_slice(&digits[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end_of(input: &[u8]) -> Option<usize> {
        match HeadReader::default().read(input, usize::MAX) {
            Read::Complete { consumed } => Some(consumed),
            _ => None,
        }
    }

    #[test]
    fn head_ends_at_first_blank_line() {
        assert_eq!(end_of(b"GET / HTTP/1.1\r\nA: b\r\n\r\nrest"), Some(24));
        assert_eq!(end_of(b"GET / HTTP/1.1\nA: b\n\nrest"), Some(21));
        assert_eq!(end_of(b"GET / HTTP/1.1\r\nA: b\r\n"), None);
        // Leading empty lines do not end an empty head (RFC 9112 §2.2).
        assert_eq!(end_of(b"\r\n\r\nGET / HTTP/1.1\r\n\r\n"), Some(22));
    }

    #[test]
    fn head_size_limit_is_exact() {
        let head = b"GET / HTTP/1.1\r\n\r\n";
        let mut r = HeadReader::default();
        assert!(matches!(r.read(head, head.len()), Read::Complete { .. }));
        let mut r = HeadReader::default();
        assert!(matches!(r.read(head, head.len() - 1), Read::TooLarge));
    }

    /// The definition, one byte at a time: the head ends after the first LF
    /// that closes an empty line (or a lone CR) once some byte other than CR
    /// and LF was seen; it is too large if a byte at index `max` or later
    /// comes before that end.
    fn oracle(input: &[u8], max: usize) -> Option<Result<usize, ()>> {
        let (mut line_len, mut line_is_cr, mut seen_content) = (0, false, false);
        for (i, &b) in input.iter().enumerate() {
            if i >= max {
                return Some(Err(()));
            }
            match b {
                b'\n' if (line_len == 0 || line_len == 1 && line_is_cr) && seen_content => {
                    return Some(Ok(i + 1));
                }
                b'\n' => (line_len, line_is_cr) = (0, false),
                b'\r' => (line_len, line_is_cr) = (line_len + 1, line_len == 0),
                _ => (line_len, line_is_cr, seen_content) = (line_len + 1, false, true),
            }
        }
        None
    }

    proptest::proptest! {
        /// However the input is cut, the reader finds the oracle's end, and
        /// keeps exactly the head's bytes.
        #[test]
        fn the_reader_agrees_with_the_byte_at_a_time_definition(
            input in proptest::collection::vec(proptest::sample::select(&b"\r\n\r\na:"[..]), 0..40),
            cuts in proptest::collection::vec(0usize..40, 0..4),
            max in 0usize..45,
        ) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(input.len())).collect();
            cuts.sort_unstable();
            let mut reader = HeadReader::default();
            let mut start = 0;
            let mut found = None;
            for end in cuts.into_iter().chain([input.len()]) {
                match reader.read(&input[start..end], max) {
                    Read::Partial => start = end,
                    Read::Complete { consumed } => {
                        found = Some(Ok(start + consumed));
                        break;
                    }
                    Read::TooLarge => {
                        found = Some(Err(()));
                        break;
                    }
                }
            }
            let expected = oracle(&input, max);
            proptest::prop_assert_eq!(found, expected);
            if let Some(Ok(end)) = expected {
                proptest::prop_assert_eq!(&reader.buf[..], &input[..end]);
            }
        }
    }

    #[test]
    fn lists_trim_ows_and_skip_empty_elements() {
        let v: Vec<&[u8]> = list(b" ,keep-alive ,\tUpgrade,, ").collect();
        assert_eq!(v, [&b"keep-alive"[..], b"Upgrade"]);
    }

    #[test]
    fn values_with_line_breaks_are_refused() {
        assert!(check_value(b"a\tb c").is_ok());
        assert_eq!(check_value(b"a\r\nX: y"), Err(LocalError::HeaderValue));
        assert_eq!(check_value(b"a\0"), Err(LocalError::HeaderValue));
        assert_eq!(check_extra("X y", b"", &[]), Err(LocalError::HeaderName));
        assert_eq!(
            check_extra("upgrade", b"", &["Upgrade"]),
            Err(LocalError::ReservedHeader)
        );
    }

    #[test]
    fn decimals() {
        for n in [0usize, 7, 10, 431, usize::MAX] {
            let mut v = Vec::new();
            put_decimal(&mut v, n);
            assert_eq!(v, alloc::format!("{n}").into_bytes());
        }
    }
}
