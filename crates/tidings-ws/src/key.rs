//! Where client masking keys come from.
//!
//! RFC 6455 §5.3: "The masking key needs to be unpredictable; thus, the masking key
//! MUST be derived from a strong source of entropy." The source is a trait so that tests
//! and fuzzers can make client output byte-exact (as quinn's `rng_seed` does), and so
//! that `no_std` users can plug in their platform's generator.

use crate::frame::MaskingKey;

/// A source of masking keys for a client connection.
///
/// Any `FnMut() -> [u8; 4] + Send` closure is one:
///
/// ```
/// use tidings_ws::{Config, Connection};
/// let fixed = || [0x37, 0xfa, 0x21, 0x3d];
/// let client = Connection::client_with_mask_source(Config::default(), fixed);
/// # let _ = client;
/// ```
pub trait MaskSource: Send {
    /// The key for the next frame.
    fn next_key(&mut self) -> MaskingKey;
}

impl<F: FnMut() -> [u8; 4] + Send> MaskSource for F {
    fn next_key(&mut self) -> MaskingKey {
        MaskingKey(self())
    }
}

/// Keys from the operating system's CSPRNG, fetched 64 at a time so that a frame does
/// not cost a system call.
#[cfg(feature = "std")]
#[derive(Debug)]
pub struct OsMaskSource {
    buf: [u8; 256],
    pos: usize,
}

#[cfg(feature = "std")]
impl OsMaskSource {
    /// A source that asks the OS for randomness on first use.
    pub fn new() -> Self {
        Self {
            buf: [0; 256],
            pos: 256,
        }
    }

    fn refill(&mut self) {
        if getrandom::fill(&mut self.buf).is_err() {
            // getrandom only fails where the OS has no generator at all, which std
            // targets do not. Rather than panic inside a send, stir the old buffer with
            // a position-dependent constant (SplitMix64's) so keys never repeat.
            for (i, chunk) in self.buf.chunks_exact_mut(8).enumerate() {
                let mut z = u64::from_ne_bytes(chunk.try_into().unwrap_or_default())
                    .wrapping_add(0x9E37_79B9_7F4A_7C15u64.wrapping_mul(i as u64 + 1));
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                chunk.copy_from_slice(&(z ^ (z >> 31)).to_ne_bytes());
            }
        }
        self.pos = 0;
    }
}

#[cfg(feature = "std")]
impl Default for OsMaskSource {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(feature = "std")]
impl MaskSource for OsMaskSource {
    fn next_key(&mut self) -> MaskingKey {
        if self.pos + 4 > self.buf.len() {
            self.refill();
        }
        let key = [
            self.buf[self.pos],
            self.buf[self.pos + 1],
            self.buf[self.pos + 2],
            self.buf[self.pos + 3],
        ];
        self.pos += 4;
        MaskingKey(key)
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;

    #[test]
    fn os_keys_vary() {
        let mut src = OsMaskSource::new();
        let keys: alloc::vec::Vec<_> = (0..200).map(|_| src.next_key()).collect();
        let distinct: alloc::collections::BTreeSet<_> = keys.iter().map(|k| k.0).collect();
        // 200 draws from 2^32 collide with probability ~5e-6.
        assert!(distinct.len() >= 199, "keys repeat: {}", distinct.len());
    }
}
