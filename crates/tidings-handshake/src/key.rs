//! `Sec-WebSocket-Key` and `Sec-WebSocket-Accept` (RFC 6455 §4.1, §4.2.2),
//! and the injectable randomness the client key comes from.
//!
//! Both values are fixed-size base64 text, so they are stored inline as byte
//! arrays: no allocation, `Copy`, and comparing an accept value is comparing
//! 28 bytes. The random source is a trait rather than a hard-wired OS call so
//! that tests (and deterministic simulations) can produce byte-exact requests,
//! the way quinn takes an `rng_seed`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use core::fmt;
use sha1::{Digest as _, Sha1};

/// RFC 6455 §1.3: "the server has to take the value [of the key] and
/// concatenate this with the Globally Unique Identifier (GUID, \[RFC4122\])
/// "258EAFA5-E914-47DA-95CA-C5AB0DC85B11" in string form".
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The `Sec-WebSocket-Version` this crate speaks (RFC 6455 §4.1, item 9).
pub const VERSION: &str = "13";

/// A `Sec-WebSocket-Key`: "a nonce consisting of a randomly selected 16-byte
/// value that has been base64-encoded" (RFC 6455 §4.1, item 7).
///
/// Always the 24-character canonical base64 text of 16 bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SecWebSocketKey([u8; 24]);

impl SecWebSocketKey {
    /// The key for these 16 nonce bytes.
    #[must_use]
    pub fn from_nonce(nonce: [u8; 16]) -> Self {
        let mut text = [0u8; 24];
        // 16 bytes always encode to exactly 24 characters.
        let _ = STANDARD.encode_slice(nonce, &mut text);
        Self(text)
    }

    /// A fresh key from `source`.
    pub fn generate(source: &mut impl RandomSource) -> Self {
        let mut nonce = [0u8; 16];
        source.fill(&mut nonce);
        Self::from_nonce(nonce)
    }

    /// Parses a received key: the value, OWS trimmed, must be base64 that
    /// "when decoded, is 16 bytes in length" (RFC 6455 §4.2.1, item 5).
    /// Only the canonical form (padding `==`, zero trailing bits) is accepted.
    #[must_use]
    pub fn parse(value: &[u8]) -> Option<Self> {
        let value = crate::head::trim_ows(value);
        let text: [u8; 24] = value.try_into().ok()?;
        let mut nonce = [0u8; 18];
        match STANDARD.decode_slice(text, &mut nonce) {
            Ok(16) => Some(Self(text)),
            _ => None,
        }
    }

    /// The key as sent on the wire.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // Base64 output is ASCII.
        core::str::from_utf8(&self.0).unwrap_or("")
    }

    /// The `Sec-WebSocket-Accept` a server must answer with (RFC 6455 §4.2.2,
    /// item 5.4): "the base64-encoded SHA-1 of the concatenation of the
    /// |Sec-WebSocket-Key| (as a string, not base64-decoded) with the string
    /// "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"".
    #[must_use]
    pub fn accept(&self) -> SecWebSocketAccept {
        let mut sha = Sha1::new();
        sha.update(self.0);
        sha.update(GUID.as_bytes());
        let digest = sha.finalize();
        let mut text = [0u8; 28];
        // 20 bytes always encode to exactly 28 characters.
        let _ = STANDARD.encode_slice(digest, &mut text);
        SecWebSocketAccept(text)
    }
}

impl fmt::Debug for SecWebSocketKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SecWebSocketKey")
            .field(&self.as_str())
            .finish()
    }
}

impl fmt::Display for SecWebSocketKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `Sec-WebSocket-Accept` value: 28 characters of base64.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SecWebSocketAccept([u8; 28]);

impl SecWebSocketAccept {
    /// The value as sent on the wire.
    #[must_use]
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.0).unwrap_or("")
    }

    /// `true` if a received header value (OWS trimmed) is exactly this one.
    #[must_use]
    pub fn matches(&self, value: &[u8]) -> bool {
        crate::head::trim_ows(value) == self.0
    }
}

impl fmt::Debug for SecWebSocketAccept {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SecWebSocketAccept")
            .field(&self.as_str())
            .finish()
    }
}

impl fmt::Display for SecWebSocketAccept {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A source of unpredictable bytes. Any `FnMut(&mut [u8])` is one, which makes
/// tests deterministic.
///
/// The client's key nonce comes from one: RFC 6455 §4.1 asks for a nonce
/// "randomly selected" for each connection. Under `std`,
/// [`ClientBuilder::send_request`] uses [`OsRandom`]; tests inject a fixed
/// source to get byte-exact requests.
///
/// [`ClientBuilder::send_request`]: crate::ClientBuilder::send_request
pub trait RandomSource {
    /// Fills `buf` with random bytes.
    fn fill(&mut self, buf: &mut [u8]);
}

impl<F: FnMut(&mut [u8])> RandomSource for F {
    fn fill(&mut self, buf: &mut [u8]) {
        self(buf);
    }
}

/// The operating system's generator (`getrandom`), feature `std`.
///
/// A handshake draws 16 bytes once per connection, so nothing is buffered.
///
/// # Panics
///
/// [`fill`](RandomSource::fill) panics if the operating system has no
/// generator to read, which no `std` target lacks: a key nonce that is not
/// random would break RFC 6455 §4.1 silently, so the failure is loud instead.
#[cfg(feature = "std")]
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandom;

#[cfg(feature = "std")]
impl RandomSource for OsRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        if let Err(e) = getrandom::fill(buf) {
            panic!("the operating system's random generator failed: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6455 §1.3 and §4.2.2: the sample nonce and its accept value.
    #[test]
    fn rfc6455_section_1_3_sample() {
        let key = SecWebSocketKey::parse(b"dGhlIHNhbXBsZSBub25jZQ==").unwrap();
        assert_eq!(key.accept().as_str(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(SecWebSocketKey::from_nonce(*b"the sample nonce"), key);
        assert!(key.accept().matches(b" s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\t"));
        assert!(!key.accept().matches(b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo"));
    }

    #[test]
    fn keys_must_decode_to_sixteen_bytes() {
        assert!(SecWebSocketKey::parse(b" dGhlIHNhbXBsZSBub25jZQ== ").is_some());
        // 15, 17 and 18 bytes; non-canonical trailing bits; not base64; empty.
        for bad in [
            &b"dGhlIHNhbXBsZSBub25j"[..],
            b"dGhlIHNhbXBsZSBub25jZXM=",
            b"dGhlIHNhbXBsZSBub25jZXMh",
            b"dGhlIHNhbXBsZSBub25jZR==",
            b"dGhlIHNhbXBsZSBub25jZQ!!",
            b"",
        ] {
            assert_eq!(
                SecWebSocketKey::parse(bad),
                None,
                "{:?}",
                core::str::from_utf8(bad)
            );
        }
    }

    #[test]
    fn closures_are_random_sources() {
        let mut zero = |buf: &mut [u8]| buf.fill(0);
        assert_eq!(
            SecWebSocketKey::generate(&mut zero).as_str(),
            "AAAAAAAAAAAAAAAAAAAAAA=="
        );
    }
}
