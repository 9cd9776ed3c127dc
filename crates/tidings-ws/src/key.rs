//! Where a client's masking keys come from.
//!
//! RFC 6455 §5.3: "The masking key needs to be unpredictable; thus, the masking key
//! MUST be derived from a strong source of entropy." The source is a trait so that tests
//! and fuzzers can make client output byte-exact (as quinn's `rng_seed` does), and so
//! that `no_std` users can plug in their platform's generator. The same trait, with the
//! same name and shape, is the randomness source of every tidings protocol crate.

use crate::frame::MaskingKey;

/// A source of unpredictable bytes. Any `FnMut(&mut [u8])` is one, which makes
/// tests deterministic.
///
/// A client connection draws each frame's 4-byte masking key from it:
///
/// ```
/// use tidings_ws::{Config, Connection};
/// let fixed = |key: &mut [u8]| key.copy_from_slice(&[0x37, 0xfa, 0x21, 0x3d]);
/// let client = Connection::client_with_random_source(Config::default(), fixed);
/// # let _ = client;
/// ```
pub trait RandomSource {
    /// Fills `buf` with random bytes.
    fn fill(&mut self, buf: &mut [u8]);
}

impl<F: FnMut(&mut [u8])> RandomSource for F {
    fn fill(&mut self, buf: &mut [u8]) {
        self(buf);
    }
}

/// What a client's sending half holds: its [`RandomSource`], drawing one masking key
/// per frame.
///
/// A `Box<dyn RandomSource>` would make each key a call through the vtable with a
/// slice to fill and then read back; behind this trait the four-byte `fill` is
/// inlined into the one virtual call, so a fixed test key or [`OsRandom`]'s buffer
/// costs what a plain function returning a key would.
pub(crate) trait KeySource: Send {
    /// The masking key for the next frame (§5.3: a fresh key for each frame).
    fn next_key(&mut self) -> MaskingKey;
}

impl<R: RandomSource + Send> KeySource for R {
    #[inline]
    fn next_key(&mut self) -> MaskingKey {
        let mut key = [0; 4];
        self.fill(&mut key);
        MaskingKey(key)
    }
}

/// The operating system's generator (`getrandom`), feature `std`.
///
/// Bytes are fetched 256 at a time, so that a client's frame does not cost a system
/// call: one fetch covers 64 masking keys.
#[cfg(feature = "std")]
#[derive(Debug)]
pub struct OsRandom {
    buf: [u8; 256],
    pos: usize,
}

#[cfg(feature = "std")]
impl OsRandom {
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
impl Default for OsRandom {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(feature = "std")]
impl RandomSource for OsRandom {
    fn fill(&mut self, mut buf: &mut [u8]) {
        while !buf.is_empty() {
            if self.pos == self.buf.len() {
                self.refill();
            }
            let n = buf.len().min(self.buf.len() - self.pos);
            let (now, rest) = buf.split_at_mut(n);
            now.copy_from_slice(&self.buf[self.pos..self.pos + n]);
            self.pos += n;
            buf = rest;
        }
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use alloc::collections::BTreeSet;
    use alloc::vec::Vec;

    use super::*;

    #[test]
    fn os_keys_vary() {
        let mut src = OsRandom::new();
        let keys: Vec<[u8; 4]> = (0..200)
            .map(|_| {
                let mut key = [0; 4];
                src.fill(&mut key);
                key
            })
            .collect();
        let distinct: BTreeSet<_> = keys.iter().collect();
        // 200 draws from 2^32 collide with probability ~5e-6.
        assert!(distinct.len() >= 199, "keys repeat: {}", distinct.len());
    }

    /// Requests of any size, across refills, are filled whole and never repeat the
    /// buffer: 600 bytes asked for in odd pieces hold no 8-byte window twice.
    #[test]
    fn os_fill_any_size() {
        let mut src = OsRandom::new();
        let mut all = Vec::new();
        for len in [0, 1, 3, 255, 2, 300, 39] {
            let mut buf = alloc::vec![0u8; len];
            src.fill(&mut buf);
            all.extend_from_slice(&buf);
        }
        assert_eq!(all.len(), 600);
        let windows: BTreeSet<_> = all.windows(8).collect();
        assert_eq!(windows.len(), all.len() - 7);
    }
}
