//! Incremental UTF-8 validation, and the `Utf8Bytes` type it vouches for.
//!
//! RFC 6455 §8.1: "When an endpoint is to interpret a byte stream as UTF-8 but finds
//! that the byte stream is not, in fact, a valid UTF-8 stream, that endpoint MUST _Fail
//! the WebSocket Connection_." Autobahn's strict mode asks for this at the first bad
//! byte, not at the end of the message: a text message arrives in fragments, and a
//! fragment arrives in pieces, so validation runs on every piece as it lands. A code
//! point cut between two pieces is carried over in a four-byte buffer, never copied
//! anywhere else. The bulk of the work is `simdutf8`'s vectorised validator.

use core::fmt;

use bytes::Bytes;

/// A streaming UTF-8 validator that fails at the first byte that cannot be valid.
#[derive(Debug, Default, Clone)]
pub(crate) struct Utf8Validator {
    /// The start of a code point cut at the end of the previous piece.
    partial: [u8; 4],
    partial_len: u8,
}

/// The input is not, and cannot become, valid UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InvalidUtf8;

impl Utf8Validator {
    /// Validates the next piece of the stream.
    ///
    /// A piece that ends inside a code point is accepted if the bytes so far can still
    /// begin a valid one; [`finish`](Self::finish) then says whether the stream ended
    /// cleanly.
    pub(crate) fn feed(&mut self, mut input: &[u8]) -> Result<(), InvalidUtf8> {
        if self.partial_len > 0 {
            let have = usize::from(self.partial_len);
            let want = sequence_len(self.partial[0]);
            let take = (want - have).min(input.len());
            self.partial[have..have + take].copy_from_slice(&input[..take]);
            input = &input[take..];
            let have = have + take;
            match simdutf8::compat::from_utf8(&self.partial[..have]) {
                Ok(_) => self.partial_len = 0,
                Err(e) if e.error_len().is_none() && have < want => {
                    // Still a valid prefix, and the piece is used up.
                    self.partial_len = have as u8;
                    return Ok(());
                }
                Err(_) => return Err(InvalidUtf8),
            }
        }
        match simdutf8::compat::from_utf8(input) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_none() => {
                let tail = &input[e.valid_up_to()..];
                self.partial[..tail.len()].copy_from_slice(tail);
                self.partial_len = tail.len() as u8;
                Ok(())
            }
            Err(_) => Err(InvalidUtf8),
        }
    }

    /// The stream ends here: it is valid only if no code point was left unfinished.
    pub(crate) fn finish(&mut self) -> Result<(), InvalidUtf8> {
        let cut = self.partial_len != 0;
        self.partial_len = 0;
        if cut { Err(InvalidUtf8) } else { Ok(()) }
    }
}

/// The length of the sequence a valid lead byte starts (the validator only keeps lead
/// bytes that were accepted as the start of a multi-byte sequence).
fn sequence_len(lead: u8) -> usize {
    match lead {
        0xF0.. => 4,
        0xE0.. => 3,
        _ => 2,
    }
}

/// Bytes that are known to be valid UTF-8: the payload of a text message.
///
/// It derefs to `[u8]` and shares the receive buffer's memory like any [`Bytes`];
/// [`as_str`](Self::as_str) gives the text.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Utf8Bytes(Bytes);

impl Utf8Bytes {
    /// Wraps bytes whose validity the caller has established.
    pub(crate) fn from_validated(bytes: Bytes) -> Self {
        Self(bytes)
    }

    /// Checks `bytes` and wraps them.
    pub fn try_from_bytes(bytes: Bytes) -> Result<Self, Bytes> {
        match simdutf8::basic::from_utf8(&bytes) {
            Ok(_) => Ok(Self(bytes)),
            Err(_) => Err(bytes),
        }
    }

    /// A `'static` string, without copying.
    pub const fn from_static(s: &'static str) -> Self {
        Self(Bytes::from_static(s.as_bytes()))
    }

    /// The text.
    ///
    /// This checks the bytes again, at `simdutf8` speed (many GB/s), rather than
    /// trusting them through `unsafe`.
    /// [`RecvHalf::poll_event_ref`](crate::RecvHalf::poll_event_ref) lends text as
    /// `&str` without that second check.
    pub fn as_str(&self) -> &str {
        // Every constructor validated the bytes, so the empty fallback is unreachable.
        simdutf8::basic::from_utf8(&self.0).unwrap_or_default()
    }

    /// The underlying bytes.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    /// The underlying bytes, borrowed.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }
}

impl core::ops::Deref for Utf8Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl From<&str> for Utf8Bytes {
    fn from(s: &str) -> Self {
        Self(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl From<alloc::string::String> for Utf8Bytes {
    fn from(s: alloc::string::String) -> Self {
        Self(Bytes::from(s.into_bytes()))
    }
}

impl From<Utf8Bytes> for Bytes {
    fn from(s: Utf8Bytes) -> Self {
        s.0
    }
}

impl fmt::Debug for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for Utf8Bytes {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Utf8Bytes {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;

    use super::*;

    fn feed_split(bytes: &[u8], cuts: &[usize]) -> Result<(), InvalidUtf8> {
        let mut v = Utf8Validator::default();
        let mut at = 0;
        for &cut in cuts {
            v.feed(&bytes[at..cut])?;
            at = cut;
        }
        v.feed(&bytes[at..])?;
        v.finish()
    }

    /// Every split point (and every pair of split points) agrees with `core::str`.
    #[test]
    fn agrees_with_core_at_every_split() {
        let samples: &[&[u8]] = &[
            "κόσμε".as_bytes(),
            "a€𝄞b".as_bytes(),
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited", // surrogate
            b"\xf4\x90\x80\x80",                                               // > U+10FFFF
            b"\xc0\xaf",                                                       // overlong
            b"ab\xe2\x82",                                                     // truncated
            b"\xff",
            b"",
        ];
        for s in samples {
            let expect = core::str::from_utf8(s).is_ok();
            for i in 0..=s.len() {
                for j in i..=s.len() {
                    assert_eq!(feed_split(s, &[i, j]).is_ok(), expect, "{s:x?} cut {i},{j}");
                }
            }
        }
    }

    /// The error comes with the first piece that holds a bad byte, not at the end.
    #[test]
    fn fails_fast() {
        let mut v = Utf8Validator::default();
        assert!(v.feed("κόσμε".as_bytes()).is_ok());
        assert!(v.feed(b"\xce").is_ok());
        assert!(v.feed(b"\xff").is_err());

        // 0xF4 0x90 can never start a valid code point: fail on the second byte.
        let mut v = Utf8Validator::default();
        assert!(v.feed(b"\xf4").is_ok());
        assert!(v.feed(b"\x90").is_err());
    }

    #[test]
    fn utf8_bytes_round_trip() {
        let b = Utf8Bytes::from("hé");
        assert_eq!(b.as_str(), "hé");
        assert_eq!(b, "hé");
        assert!(Utf8Bytes::try_from_bytes(Bytes::from_static(b"\xff")).is_err());
        let v: Vec<u8> = b.to_vec();
        assert_eq!(v, "hé".as_bytes());
    }
}
