//! The response: its head, found in linear time and parsed once, and its body framing.
//!
//! # Why it is built this way
//!
//! A head can arrive one byte per read (a slow or hostile server does exactly that).
//! A parser that runs `httparse` over everything received so far on every read does
//! `n²/2` work for an `n`-byte head, and one that allocates its header array per read
//! allocates `n` times. Here:
//!
//! * [`HeadParser::parse`] copies each new byte into one buffer, reused from response
//!   to response, and looks for line ends with `memchr` in the new bytes only,
//!   remembering how long the current line is. Nothing is scanned twice, so the work
//!   is linear in the head, however it is split (`tests` below pins this by counting).
//! * Only when the blank line that ends the head is in does `httparse` run, once,
//!   over the whole head, with its header slots on the stack (the head's line count,
//!   known by then, sizes them; past 32 fields they go on the heap, once).
//! * The limits (bytes, fields) are checked as bytes arrive, so a head over them is
//!   refused as soon as it is over, never buffered.
//!
//! What the client needs from the head is a handful of values (status,
//! `Content-Type`, `Location`, the framing); [`Head`] holds them, so no parsed header
//! outlives the parse.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use super::chunked;
use crate::{Error, Status, head};

/// Header slots kept on the stack; a head with more fields (up to
/// [`Config::max_headers`](super::Config::max_headers)) gets them from the heap.
const STACK_HEADERS: usize = 32;

/// The head buffer keeps its capacity between responses up to this size.
const KEEP_CAPACITY: usize = 4096;

/// Finds the end of a response head in the bytes it is fed, then parses it.
#[derive(Debug, Default)]
pub(crate) struct HeadParser {
    /// The current head's bytes so far.
    buf: Vec<u8>,
    /// Bytes of the current line so far, not counting its LF.
    line_len: usize,
    /// The last byte taken (to see a CR before an LF that starts a new input).
    last: u8,
    /// Lines ended so far in the current head: the status line, then the fields.
    lines: usize,
    /// Head bytes of this connection so far, interim (1xx) heads included.
    taken: usize,
    /// Bytes handed to `memchr`, to prove that nothing is scanned twice.
    #[cfg(test)]
    scanned: usize,
}

/// The limits a head is held to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) max_size: usize,
    pub(crate) max_headers: usize,
}

/// What the client needs of a response head.
#[derive(Debug)]
pub(crate) struct Head {
    pub(crate) status: u16,
    /// `Content-Type` names `text/event-stream`.
    pub(crate) event_stream: bool,
    /// `Location`, read only for a redirect status (`None` if absent or not UTF-8).
    pub(crate) location: Option<String>,
    /// How the body ends, or why it cannot be known.
    pub(crate) framing: Result<Framing, Error>,
}

impl HeadParser {
    /// Starts over for a new connection.
    pub(crate) fn reset(&mut self) {
        self.next_head();
        self.taken = 0;
    }

    /// Forgets the head just parsed (an interim `1xx` response): the next bytes start
    /// another head on the same connection, within the same byte budget.
    pub(crate) fn next_head(&mut self) {
        if self.buf.capacity() > KEEP_CAPACITY {
            self.buf = Vec::new();
        } else {
            self.buf.clear();
        }
        self.line_len = 0;
        self.last = 0;
        self.lines = 0;
    }

    /// Takes the bytes of `input` that belong to the head.
    ///
    /// * `Ok(Status::Complete((head, n)))`: the head ended after `n` bytes of `input`;
    ///   the rest is the body (or the next head, after a `1xx`).
    /// * `Ok(Status::Partial)`: all of `input` was taken; give it the bytes that
    ///   follow.
    /// * `Err(error)`: over a limit, or not an HTTP/1.x response head.
    pub(crate) fn parse(
        &mut self,
        input: &[u8],
        limits: Limits,
    ) -> Result<Status<(Head, usize)>, Error> {
        let mut pos = 0;
        while let Some(found) = memchr::memchr(b'\n', &input[pos..]) {
            self.count_scanned(found + 1);
            let lf = pos + found;
            // The line is what was carried over plus `input[pos..lf]`; it is empty
            // (the end of the head) if that is nothing, or a lone CR.
            let before = if lf > pos { input[lf - 1] } else { self.last };
            let line_len = self.line_len + (lf - pos);
            pos = lf + 1;
            self.line_len = 0;
            self.last = b'\n';
            // Limits in byte order, so that however the head is split, the same one
            // is reported: the size up to this line end, then the line count.
            if self.taken.saturating_add(pos) > limits.max_size {
                return Err(Error::HeadTooLarge {
                    limit: limits.max_size,
                });
            }
            if line_len == 0 || (line_len == 1 && before == b'\r') {
                self.take(&input[..pos], limits)?;
                let head = self.parse_head(limits)?;
                return Ok(Status::Complete((head, pos)));
            }
            self.lines += 1;
            // The status line, then one field per line.
            if self.lines > limits.max_headers.saturating_add(1) {
                return Err(Error::TooManyHeaders {
                    limit: limits.max_headers,
                });
            }
        }
        let rest = &input[pos..];
        self.count_scanned(rest.len());
        self.line_len += rest.len();
        if let Some(&last) = rest.last() {
            self.last = last;
        }
        self.take(input, limits)?;
        Ok(Status::Partial)
    }

    /// Appends head bytes, within the size limit.
    fn take(&mut self, bytes: &[u8], limits: Limits) -> Result<(), Error> {
        self.taken = self.taken.saturating_add(bytes.len());
        if self.taken > limits.max_size {
            return Err(Error::HeadTooLarge {
                limit: limits.max_size,
            });
        }
        self.buf.extend_from_slice(bytes);
        Ok(())
    }

    /// Parses the complete head in `buf`, once.
    fn parse_head(&self, limits: Limits) -> Result<Head, Error> {
        // Every line but the status line and the blank one may be a field.
        let fields = self.lines.saturating_sub(1).min(limits.max_headers);
        let mut stack = [httparse::EMPTY_HEADER; STACK_HEADERS];
        let mut heap;
        let slots = if fields <= STACK_HEADERS {
            &mut stack[..fields]
        } else {
            heap = vec![httparse::EMPTY_HEADER; fields];
            &mut heap[..]
        };
        let mut response = httparse::Response::new(slots);
        // A head httparse finds incomplete although its blank line is in (it skips
        // leading blank lines) is no head either.
        let Ok(httparse::Status::Complete(_)) = response.parse(&self.buf) else {
            return Err(Error::InvalidResponseHead);
        };
        let status = response.code.ok_or(Error::InvalidResponseHead)?;
        let headers = &*response.headers;
        let find = |name: &str| {
            headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(name))
                .map(|h| h.value)
        };
        let event_stream = find("content-type").is_some_and(head::is_event_stream);
        let location = if is_redirect(status) {
            find("location")
                .and_then(|v| core::str::from_utf8(v).ok())
                .map(String::from)
        } else {
            None
        };
        Ok(Head {
            status,
            event_stream,
            location,
            framing: framing(headers),
        })
    }

    #[cfg(test)]
    fn count_scanned(&mut self, n: usize) {
        self.scanned += n;
    }

    #[cfg(not(test))]
    #[inline(always)]
    fn count_scanned(&mut self, _n: usize) {}
}

/// The statuses a client follows (RFC 9110 §15.4): 301, 302, 303, 307 and 308. (300 and
/// 304 have no single target, 305 and 306 are obsolete.)
pub(crate) fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// How a response body ends (RFC 9112 §6.3).
#[derive(Debug)]
pub(crate) enum Framing {
    /// Rule 4: `Transfer-Encoding` ending in `chunked`.
    Chunked(chunked::Decoder),
    /// Rule 6: `Content-Length`; the bytes left.
    Length(u64),
    /// Rules 4 and 8: until the connection closes.
    Close,
}

/// The framing the response's fields announce.
fn framing(headers: &[httparse::Header<'_>]) -> Result<Framing, Error> {
    let values = |name: &'static str| {
        // Comma-separated lists, possibly spread over several fields.
        headers
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
            .flat_map(|h| h.value.split(|&b| b == b','))
            .map(<[u8]>::trim_ascii)
    };
    // "If a Transfer-Encoding header field is present and the chunked transfer coding
    // is the final encoding, the message body length is determined by reading and
    // decoding the chunked data until the transfer coding indicates the data is
    // complete." "If a Transfer-Encoding header field is present in a response and
    // the chunked transfer coding is not the final encoding, the message body length
    // is determined by reading the connection until it is closed by the server."
    // (Transfer-Encoding overrides Content-Length.)
    if let Some(last) = values("transfer-encoding").next_back() {
        return Ok(if last.eq_ignore_ascii_case(b"chunked") {
            Framing::Chunked(chunked::Decoder::new())
        } else {
            Framing::Close
        });
    }
    // Content-Length = 1*DIGIT. "If a message is received without Transfer-Encoding
    // and with an invalid Content-Length header field, then the message framing is
    // invalid"; a list of identical values is one value.
    let mut length = None;
    for value in values("content-length") {
        let valid = !value.is_empty() && value.iter().all(u8::is_ascii_digit);
        let n = core::str::from_utf8(value)
            .ok()
            .filter(|_| valid)
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or(Error::InvalidContentLength)?;
        if length.is_some_and(|l| l != n) {
            return Err(Error::InvalidContentLength);
        }
        length = Some(n);
    }
    // "Otherwise, this is a response message without a declared message body length,
    // so the message body length is determined by the number of octets received
    // prior to the server closing the connection."
    Ok(length.map_or(Framing::Close, Framing::Length))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_size: 64 << 10,
        max_headers: 1000,
    };

    fn parse_split(input: &[u8], split: usize) -> Result<Option<(Head, usize)>, Error> {
        let mut parser = HeadParser::default();
        let mut offset = 0;
        for piece in input.chunks(split.max(1)) {
            if let Status::Complete((head, n)) = parser.parse(piece, LIMITS)? {
                return Ok(Some((head, offset + n)));
            }
            offset += piece.len();
        }
        Ok(None)
    }

    /// The linearity promise: every byte goes through `memchr` once, however the head
    /// is split, here a 16 KiB head fed one byte at a time.
    #[test]
    fn every_head_byte_is_scanned_once() {
        let mut input = b"HTTP/1.1 200 OK\r\n".to_vec();
        while input.len() < 16 << 10 {
            input.extend_from_slice(b"X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
        }
        input.extend_from_slice(b"\r\ndata: body");
        let head_len = input.len() - b"data: body".len();
        for split in [1, 7, 1460, input.len()] {
            let mut parser = HeadParser::default();
            let mut done = None;
            let mut offset = 0;
            for piece in input.chunks(split) {
                if let Status::Complete((head, n)) = parser.parse(piece, LIMITS).unwrap() {
                    done = Some((head.status, offset + n));
                    break;
                }
                offset += piece.len();
            }
            assert_eq!(done, Some((200, head_len)), "split {split}");
            assert_eq!(parser.scanned, head_len, "split {split}");
        }
    }

    #[test]
    fn line_ends() {
        for (wire, used) in [
            (&b"HTTP/1.1 200 OK\r\n\r\nbody"[..], 19),
            (b"HTTP/1.1 200 OK\n\nbody", 17),
            (b"HTTP/1.1 200 OK\r\nA: b\n\r\nbody", 24),
        ] {
            for split in 1..wire.len() {
                let (head, n) = parse_split(wire, split).unwrap().unwrap();
                assert_eq!((head.status, n), (200, used), "{wire:?} split {split}");
            }
        }
        // A CR that ends one input and the LF that starts the next are one line end.
        let mut parser = HeadParser::default();
        let partial = parser.parse(b"HTTP/1.1 204 No\r\n\r", LIMITS).unwrap();
        assert!(!partial.is_complete());
        let Status::Complete((head, 1)) = parser.parse(b"\nx", LIMITS).unwrap() else {
            panic!("incomplete");
        };
        assert_eq!(head.status, 204);
    }

    #[test]
    fn limits_are_checked_as_bytes_arrive() {
        let limits = Limits {
            max_size: 40,
            max_headers: 2,
        };
        let mut parser = HeadParser::default();
        let long = [b'a'; 41];
        assert_eq!(
            parser.parse(&long, limits).unwrap_err(),
            Error::HeadTooLarge { limit: 40 }
        );
        let mut parser = HeadParser::default();
        let fields = b"HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n";
        assert_eq!(
            parser
                .parse(
                    fields,
                    Limits {
                        max_size: 1000,
                        ..limits
                    }
                )
                .unwrap_err(),
            Error::TooManyHeaders { limit: 2 }
        );
        let mut parser = HeadParser::default();
        let ok = b"HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n\r\n";
        assert!(parser.parse(ok, limits).unwrap().is_complete());
    }

    #[test]
    fn malformed_heads() {
        for wire in [
            &b"HTTP/1.1 2000 OK\r\n\r\n"[..],
            b"HTTP/2 200 OK\r\n\r\n",
            b"ICY 200 OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\n folded: x\r\n\r\n",
            b"\r\n\r\n",
        ] {
            assert_eq!(
                parse_split(wire, wire.len()).unwrap_err(),
                Error::InvalidResponseHead,
                "{wire:?}"
            );
        }
    }

    /// RFC 9112 §6.3, one row per rule a response can meet.
    #[test]
    fn rfc9112_6_3_framing() {
        let framing_of = |fields: &str| {
            let wire = alloc::format!("HTTP/1.1 200 OK\r\n{fields}\r\n");
            let (head, _) = parse_split(wire.as_bytes(), wire.len()).unwrap().unwrap();
            match head.framing {
                Ok(Framing::Chunked(_)) => Ok("chunked"),
                Ok(Framing::Length(n)) => Ok(if n == 5 { "length 5" } else { "length ?" }),
                Ok(Framing::Close) => Ok("close"),
                Err(e) => Err(e),
            }
        };
        let rows: &[(&str, &str, Result<&str, Error>)] = &[
            ("rule 8: neither", "", Ok("close")),
            (
                "rule 4: chunked last",
                "Transfer-Encoding: gzip, chunked\r\n",
                Ok("chunked"),
            ),
            (
                "rule 4: chunked last, split fields",
                "Transfer-Encoding: gzip\r\nTransfer-Encoding: Chunked\r\n",
                Ok("chunked"),
            ),
            (
                "rule 4: chunked not last",
                "Transfer-Encoding: chunked, gzip\r\n",
                Ok("close"),
            ),
            (
                "rule 3: TE overrides CL",
                "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
                Ok("chunked"),
            ),
            ("rule 6: length", "Content-Length: 5\r\n", Ok("length 5")),
            (
                "rule 5: identical list",
                "Content-Length: 5, 5\r\nContent-Length: 5\r\n",
                Ok("length 5"),
            ),
            (
                "rule 5: differing values",
                "Content-Length: 5\r\nContent-Length: 6\r\n",
                Err(Error::InvalidContentLength),
            ),
            (
                "rule 5: not digits",
                "Content-Length: +5\r\n",
                Err(Error::InvalidContentLength),
            ),
            (
                "rule 5: empty",
                "Content-Length: \r\n",
                Err(Error::InvalidContentLength),
            ),
            (
                "rule 5: overflow",
                "Content-Length: 99999999999999999999\r\n",
                Err(Error::InvalidContentLength),
            ),
        ];
        for (name, fields, want) in rows {
            assert_eq!(framing_of(fields), *want, "{name}");
        }
    }

    #[test]
    fn values_the_client_needs() {
        let wire = b"HTTP/1.1 302 Found\r\nlocation: /next\r\ncontent-type: text/html\r\n\r\n";
        let (head, _) = parse_split(wire, 3).unwrap().unwrap();
        assert_eq!(
            (head.status, head.event_stream, head.location.as_deref()),
            (302, false, Some("/next"))
        );
        let wire = b"HTTP/1.1 200 OK\r\nLocation: /ignored\r\nContent-Type: text/event-stream;charset=utf-8\r\n\r\n";
        let (head, _) = parse_split(wire, 5).unwrap().unwrap();
        assert_eq!(
            (head.status, head.event_stream, head.location),
            (200, true, None)
        );
        // Many fields: header slots come from the heap, the values are the same.
        let mut wire = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..100 {
            wire.extend_from_slice(alloc::format!("X-{i}: {i}\r\n").as_bytes());
        }
        wire.extend_from_slice(b"Content-Type: text/event-stream\r\n\r\n");
        let (head, _) = parse_split(&wire, 64).unwrap().unwrap();
        assert!(head.event_stream);
    }
}
