//! An incremental decoder for `Transfer-Encoding: chunked` response bodies
//! (RFC 9112, §7.1).
//!
//! The event stream client needs exactly this much HTTP/1.1 body framing and no more,
//! so it is written here rather than pulling in an HTTP client. It is a byte-at-a-time
//! state machine for the framing lines (a few bytes per chunk) and passes chunk data
//! through as slices of the caller's input, so:
//!
//! * any split of the input gives the same output (there is no lookahead: every
//!   state change is decided by the byte in hand);
//! * nothing is buffered: data goes straight to the callback, sizes are accumulated
//!   in a `u64`;
//! * memory and work are bounded: a size line (with its ignored extensions) or a
//!   trailer line longer than [`MAX_LINE`] bytes, and trailers over [`MAX_TRAILERS`]
//!   bytes in total, are errors;
//! * malformed input is a [`ChunkedError`], never a panic.
//!
//! ```text
//! chunked-body   = *chunk last-chunk trailer-section CRLF
//! chunk          = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
//! chunk-size     = 1*HEXDIG
//! last-chunk     = 1*("0") [ chunk-ext ] CRLF
//! trailer-section = *( field-line CRLF )
//! ```
//!
//! Line ends may be CRLF or a bare LF ("a recipient MAY recognize a single LF as a
//! line terminator", RFC 9112 §2.2); a CR not followed by LF is an error.

use core::fmt;

/// The longest size line (digits plus extensions) or trailer line accepted.
pub(crate) const MAX_LINE: usize = 4096;
/// The most trailer bytes accepted in total.
pub(crate) const MAX_TRAILERS: usize = 16 * 1024;

/// Why a chunked body could not be decoded (inside [`Error::Chunked`](crate::Error::Chunked)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
// Word-sized like the other payloads of `Error`, so that `Error` stays a pair of
// words: the parser's hot functions return `Result<_, Error>` in registers.
#[repr(usize)]
pub enum ChunkedError {
    /// A chunk size is missing or has a byte that is not a hex digit.
    InvalidSize,
    /// A chunk size does not fit in 64 bits.
    SizeOverflow,
    /// A size line (with its extensions) or a trailer line is longer than 4 KiB, or
    /// the trailers are longer than 16 KiB in total.
    LineTooLong,
    /// A line does not end where it must (after chunk data, or a CR without LF).
    InvalidLineEnd,
}

impl fmt::Display for ChunkedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InvalidSize => "invalid chunk size",
            Self::SizeOverflow => "chunk size too large",
            Self::LineTooLong => "chunk size or trailer line too long",
            Self::InvalidLineEnd => "invalid line end in chunked body",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// In `chunk-size`; `digits` seen so far.
    Size { digits: u8 },
    /// In `chunk-ext` (ignored) up to the line end.
    Extension,
    /// After the CR of the size line.
    SizeLf,
    /// In `chunk-data`.
    Data { remaining: u64 },
    /// After chunk data: expecting CR or LF.
    DataCr,
    /// After chunk data and CR: expecting LF.
    DataLf,
    /// In the trailer section, on a line `len` bytes long so far.
    Trailer { len: usize },
    /// After a CR in the trailer section, on a line `len` bytes long.
    TrailerLf { len: usize },
    /// The final CRLF was read.
    Done,
}

/// The decoder. Feed it with [`Decoder::decode`] until it reports the end.
#[derive(Debug, Clone)]
pub(crate) struct Decoder {
    state: State,
    /// The chunk size being read.
    size: u64,
    /// Bytes in the current size line (digits and extensions).
    line: usize,
    /// Trailer bytes so far.
    trailers: usize,
}

impl Decoder {
    /// A decoder at the start of a body.
    pub(crate) fn new() -> Self {
        Self {
            state: State::Size { digits: 0 },
            size: 0,
            line: 0,
            trailers: 0,
        }
    }

    /// Decodes `input`, passing chunk data to `data` in order. Returns `Ok(Some(n))`
    /// when the body ended after `n` bytes of `input` (the rest is not part of it),
    /// `Ok(None)` when all of `input` was taken and more is needed.
    pub(crate) fn decode(
        &mut self,
        input: &[u8],
        mut data: impl FnMut(&[u8]),
    ) -> Result<Option<usize>, ChunkedError> {
        let mut i = 0;
        while i < input.len() {
            if let State::Data { remaining } = self.state {
                // Pass as much data through as this input holds, in one slice.
                let available = input.len() - i;
                let take = usize::try_from(remaining).map_or(available, |r| r.min(available));
                data(&input[i..i + take]);
                i += take;
                let remaining = remaining - take as u64;
                self.state = if remaining == 0 {
                    State::DataCr
                } else {
                    State::Data { remaining }
                };
                continue;
            }
            let byte = input[i];
            i += 1;
            self.step(byte)?;
            if self.state == State::Done {
                return Ok(Some(i));
            }
        }
        Ok(None)
    }

    /// `true` once the whole body was read.
    #[cfg(test)]
    pub(crate) fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// One framing byte.
    fn step(&mut self, byte: u8) -> Result<(), ChunkedError> {
        self.state = match self.state {
            State::Size { digits } => {
                self.count_line()?;
                if let Some(value) = hex(byte) {
                    // chunk-size = 1*HEXDIG; leading zeros are allowed, so only a
                    // value about to lose bits overflows.
                    if self.size > u64::MAX >> 4 {
                        return Err(ChunkedError::SizeOverflow);
                    }
                    self.size = (self.size << 4) | u64::from(value);
                    State::Size {
                        digits: digits.saturating_add(1),
                    }
                } else if digits == 0 {
                    return Err(ChunkedError::InvalidSize);
                } else {
                    match byte {
                        // chunk-ext = *( BWS ";" BWS chunk-ext-name [ ... ] ): ignored.
                        b';' | b' ' | b'\t' => State::Extension,
                        b'\r' => State::SizeLf,
                        b'\n' => self.size_line_end(),
                        _ => return Err(ChunkedError::InvalidSize),
                    }
                }
            }
            State::Extension => {
                self.count_line()?;
                match byte {
                    b'\r' => State::SizeLf,
                    b'\n' => self.size_line_end(),
                    _ => State::Extension,
                }
            }
            State::SizeLf => match byte {
                b'\n' => self.size_line_end(),
                _ => return Err(ChunkedError::InvalidLineEnd),
            },
            // chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
            State::DataCr => match byte {
                b'\r' => State::DataLf,
                b'\n' => State::Size { digits: 0 },
                _ => return Err(ChunkedError::InvalidLineEnd),
            },
            State::DataLf => match byte {
                b'\n' => State::Size { digits: 0 },
                _ => return Err(ChunkedError::InvalidLineEnd),
            },
            // trailer-section = *( field-line CRLF ), then the final CRLF. Trailer
            // fields are skipped, not parsed: nothing here needs them.
            State::Trailer { len } | State::TrailerLf { len } => {
                let after_cr = matches!(self.state, State::TrailerLf { .. });
                match byte {
                    b'\n' if len == 0 => State::Done,
                    b'\n' => State::Trailer { len: 0 },
                    _ if after_cr => return Err(ChunkedError::InvalidLineEnd),
                    b'\r' => State::TrailerLf { len },
                    _ => {
                        self.trailers += 1;
                        if len >= MAX_LINE || self.trailers > MAX_TRAILERS {
                            return Err(ChunkedError::LineTooLong);
                        }
                        State::Trailer { len: len + 1 }
                    }
                }
            }
            // `decode` handles data and stops at `Done`.
            State::Data { .. } | State::Done => self.state,
        };
        Ok(())
    }

    /// Counts one byte of the size line against [`MAX_LINE`].
    fn count_line(&mut self) -> Result<(), ChunkedError> {
        self.line += 1;
        if self.line > MAX_LINE {
            return Err(ChunkedError::LineTooLong);
        }
        Ok(())
    }

    /// The size line ended: data follows, or the trailers after `last-chunk`.
    fn size_line_end(&mut self) -> State {
        let size = core::mem::take(&mut self.size);
        self.line = 0;
        if size == 0 {
            State::Trailer { len: 0 }
        } else {
            State::Data { remaining: size }
        }
    }
}

/// HEXDIG, case-insensitive.
fn hex(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::vec;
    use alloc::vec::Vec;

    /// Decodes `input` in pieces of `split` bytes: (data, bytes of input used).
    fn decode_split(input: &[u8], split: usize) -> Result<(Vec<u8>, Option<usize>), ChunkedError> {
        let mut decoder = Decoder::new();
        let mut out = Vec::new();
        let mut offset = 0;
        for piece in input.chunks(split.max(1)) {
            if let Some(n) = decoder.decode(piece, |d| out.extend_from_slice(d))? {
                assert!(decoder.is_done());
                return Ok((out, Some(offset + n)));
            }
            offset += piece.len();
        }
        Ok((out, None))
    }

    /// A named vector: (name, wire, decoded data, bytes used when complete).
    type Vector = (&'static str, &'static [u8], &'static [u8], Option<usize>);

    const VECTORS: &[Vector] = &[
        (
            "rfc9112-7.1 simple",
            b"5\r\nhello\r\n0\r\n\r\n",
            b"hello",
            Some(15),
        ),
        (
            "two chunks",
            b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
            b"abcde",
            Some(20),
        ),
        (
            "upper hex",
            b"A\r\n0123456789\r\n0\r\n\r\n",
            b"0123456789",
            Some(20),
        ),
        (
            "leading zeros",
            b"0005\r\nhello\r\n000\r\n\r\n",
            b"hello",
            Some(20),
        ),
        (
            "7.1.1 extensions ignored",
            b"5;name=value;x=\"q\"\r\nhello\r\n0;last\r\n\r\n",
            b"hello",
            Some(37),
        ),
        (
            "BWS before extension",
            b"5 ;a\r\nhello\r\n0\r\n\r\n",
            b"hello",
            Some(18),
        ),
        (
            "7.1.2 trailers skipped",
            b"2\r\nhi\r\n0\r\nExpires: never\r\nX: y\r\n\r\n",
            b"hi",
            Some(34),
        ),
        ("bare LF line ends", b"2\nhi\n0\n\n", b"hi", Some(8)),
        ("after the end", b"0\r\n\r\nHTTP/1.1", b"", Some(5)),
        ("partial", b"10\r\nabc", b"abc", None),
        ("empty", b"", b"", None),
    ];

    #[test]
    fn vectors_at_every_split() {
        for (name, wire, data, used) in VECTORS {
            for split in 1..=wire.len().max(1) {
                let got = decode_split(wire, split).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(got, (data.to_vec(), *used), "{name}, split {split}");
            }
        }
    }

    #[test]
    fn malformed() {
        let cases: &[(&str, &[u8], ChunkedError)] = &[
            ("no digits", b"\r\n", ChunkedError::InvalidSize),
            ("not hex", b"g\r\n", ChunkedError::InvalidSize),
            ("sign", b"-1\r\n", ChunkedError::InvalidSize),
            ("0x prefix", b"0x5\r\n", ChunkedError::InvalidSize),
            ("space first", b" 5\r\n", ChunkedError::InvalidSize),
            (
                "overflow",
                b"10000000000000000\r\n",
                ChunkedError::SizeOverflow,
            ),
            ("CR without LF", b"5\rx", ChunkedError::InvalidLineEnd),
            (
                "data too long",
                b"2\r\nabc\r\n",
                ChunkedError::InvalidLineEnd,
            ),
            (
                "CR then junk after data",
                b"2\r\nab\rx",
                ChunkedError::InvalidLineEnd,
            ),
            (
                "trailer CR junk",
                b"0\r\nX: y\rz",
                ChunkedError::InvalidLineEnd,
            ),
        ];
        for (name, wire, error) in cases {
            for split in 1..=wire.len() {
                assert_eq!(
                    decode_split(wire, split),
                    Err(*error),
                    "{name}, split {split}"
                );
            }
        }
        // Sixteen digits are fine (leading zeros too): u64::MAX.
        let mut decoder = Decoder::new();
        assert_eq!(decoder.decode(b"ffffffffffffffff\r\nab", |_| {}), Ok(None));
        let mut zeros = vec![b'0'; 100];
        zeros.extend_from_slice(b"1\r\nx\r\n0\r\n\r\n");
        assert_eq!(decode_split(&zeros, 7).unwrap().0, b"x");
    }

    #[test]
    fn lines_are_bounded() {
        let mut long_ext = b"1;".to_vec();
        long_ext.resize(MAX_LINE + 10, b'a');
        assert_eq!(decode_split(&long_ext, 100), Err(ChunkedError::LineTooLong));
        let mut long_trailer = b"0\r\n".to_vec();
        long_trailer.resize(MAX_LINE + 10, b'a');
        assert_eq!(
            decode_split(&long_trailer, 100),
            Err(ChunkedError::LineTooLong)
        );
        let mut many_trailers = b"0\r\n".to_vec();
        for _ in 0..2000 {
            many_trailers.extend_from_slice(b"X-Some-Header: v\r\n");
        }
        assert_eq!(
            decode_split(&many_trailers, 512),
            Err(ChunkedError::LineTooLong)
        );
    }

    #[test]
    fn pseudo_random_bodies_and_splits() {
        // A deterministic generator: chunk sizes 1..300, splits 1..50.
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move |m: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % m
        };
        for _ in 0..50 {
            let mut wire = Vec::new();
            let mut expected = Vec::new();
            for _ in 0..next(10) {
                let size = 1 + next(300) as usize;
                let chunk: Vec<u8> = (0..size).map(|_| next(256) as u8).collect();
                wire.extend_from_slice(format!("{size:x}\r\n").as_bytes());
                wire.extend_from_slice(&chunk);
                wire.extend_from_slice(b"\r\n");
                expected.extend_from_slice(&chunk);
            }
            wire.extend_from_slice(b"0\r\n\r\n");
            let split = 1 + next(50) as usize;
            let (data, used) = decode_split(&wire, split).unwrap();
            assert_eq!((data, used), (expected, Some(wire.len())));
        }
    }
}
