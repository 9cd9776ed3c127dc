//! Round-trip samples and their percentiles.
//!
//! Every round trip of the measured window is kept (a few million `u32` at most) and
//! sorted once: exact percentiles, no histogram buckets to tune.

use std::time::Duration;

/// Round-trip times, in nanoseconds (saturating at about 4.3 s).
#[derive(Debug, Default)]
pub(crate) struct Samples(Vec<u32>);

impl Samples {
    /// Records one round trip.
    pub(crate) fn push(&mut self, rtt: Duration) {
        self.0
            .push(u32::try_from(rtt.as_nanos()).unwrap_or(u32::MAX));
    }

    /// Takes the samples of another connection.
    pub(crate) fn merge(&mut self, other: Samples) {
        self.0.extend(other.0);
    }

    /// How many round trips were recorded.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// The `q`-quantile (0.5 for the median), by nearest rank; zero with no samples.
    pub(crate) fn quantile(&mut self, q: f64) -> Duration {
        if self.0.is_empty() {
            return Duration::ZERO;
        }
        self.0.sort_unstable();
        let rank = ((q * self.0.len() as f64).ceil() as usize).clamp(1, self.0.len());
        Duration::from_nanos(u64::from(self.0[rank - 1]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let mut s = Samples::default();
        for n in (1..=100).rev() {
            s.push(Duration::from_nanos(n));
        }
        assert_eq!(s.quantile(0.5), Duration::from_nanos(50));
        assert_eq!(s.quantile(0.99), Duration::from_nanos(99));
        assert_eq!(s.quantile(1.0), Duration::from_nanos(100));
        assert_eq!(Samples::default().quantile(0.5), Duration::ZERO);
    }
}
