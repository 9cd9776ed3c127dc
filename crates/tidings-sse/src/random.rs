//! Where the reconnection jitter comes from.
//!
//! The source is a trait so that tests make every delay exact (as quinn's `rng_seed`
//! does), and so that `no_std` users can plug in their platform's generator. The same
//! trait, with the same name and shape, is the randomness source of every tidings
//! protocol crate.

/// A source of unpredictable bytes. Any `FnMut(&mut [u8])` is one, which makes
/// tests deterministic.
///
/// ```
/// use tidings_sse::event_source::{Config, EventSource};
/// let no_jitter = |buf: &mut [u8]| buf.fill(0);
/// let source = EventSource::with_random_source(Config::default(), no_jitter);
/// # let _ = source;
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

/// The operating system's generator (`getrandom`), feature `std`.
///
/// If it fails, the jitter is zero: it spreads load, it guards no secret.
#[cfg(feature = "std")]
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandom;

#[cfg(feature = "std")]
impl RandomSource for OsRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        if getrandom::fill(buf).is_err() {
            buf.fill(0);
        }
    }
}
