//! One topic: its epoch, the offset of its last event, and its bounded history.
//!
//! The history is the only buffer of the hub. Subscribers do not get queues of their
//! own: each holds a cursor (the offset it last received) into its topic's history,
//! so a publish costs the same for one subscriber or ten thousand (an append, and a
//! wake-up for those waiting at the head), the payload is stored once, and the memory
//! of a topic is bounded by [`Config`]'s history limits whatever its subscribers do.
//! A subscriber whose cursor falls out of the history has lagged; the hub's lag
//! policy decides what it gets then.
//!
//! # Invariants
//!
//! * The history holds the events `first()..=last` without a hole, in order; it is
//!   empty when `first() == last + 1`.
//! * `continuous_from <= first()`: the topic has held every event of this epoch from
//!   `continuous_from` on. Below it lie events this hub never saw (it was created
//!   or resynchronised later, or the broker skipped them): missing them is a gap,
//!   not lag.

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::time::Duration;

use bytes::Bytes;

use crate::hub::{Config, SubscriptionId};
use crate::position::{Epoch, StreamPosition};

/// An event kept in a topic's history.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) offset: u64,
    pub(crate) at: Duration,
    pub(crate) payload: Bytes,
}

#[derive(Debug)]
pub(crate) struct Topic {
    pub(crate) epoch: Epoch,
    /// The offset of the last event (0: none yet in this epoch).
    pub(crate) last: u64,
    /// The lowest offset from which this hub has seen every event of the epoch.
    pub(crate) continuous_from: u64,
    history: VecDeque<Entry>,
    /// Payload bytes in `history`.
    bytes: usize,
    /// Subscriptions at the head, to be woken by the next event (possibly stale).
    pub(crate) waiting: Vec<SubscriptionId>,
    /// Live subscriptions to this topic.
    pub(crate) subscriptions: usize,
    /// Subscriptions waiting for a fetch from the broker (possibly stale).
    pub(crate) fetch_waiters: Vec<SubscriptionId>,
    /// The `after` of the fetch in flight.
    pub(crate) fetch_in_flight: Option<u64>,
    /// On the hub's list of topics to fetch for.
    pub(crate) fetch_queued: bool,
}

/// Events read from the broker, older than a topic's history: `first` and the ones
/// after it, without a hole. Shared by every subscription the fetch served, and freed
/// when the last of them has read past it.
#[derive(Clone, Debug)]
pub(crate) struct Segment {
    first: u64,
    payloads: Arc<[Bytes]>,
}

impl Segment {
    pub(crate) fn new(first: u64, payloads: Vec<Bytes>) -> Self {
        Self {
            first,
            payloads: payloads.into(),
        }
    }

    /// The offset of the oldest event (the segment is never empty).
    pub(crate) fn first(&self) -> u64 {
        self.first
    }

    /// The offset of the newest event.
    pub(crate) fn last(&self) -> u64 {
        self.first
            .saturating_add((self.payloads.len() as u64).saturating_sub(1))
    }

    /// The payload at `offset`, if held.
    pub(crate) fn get(&self, offset: u64) -> Option<&Bytes> {
        let index = offset.checked_sub(self.first)?;
        self.payloads.get(usize::try_from(index).ok()?)
    }
}

impl Topic {
    /// A topic whose history begins at `epoch`, after offset `last`.
    pub(crate) fn new(epoch: Epoch, last: u64) -> Self {
        Self {
            epoch,
            last,
            continuous_from: last.saturating_add(1),
            history: VecDeque::new(),
            bytes: 0,
            waiting: Vec::new(),
            subscriptions: 0,
            fetch_waiters: Vec::new(),
            fetch_in_flight: None,
            fetch_queued: false,
        }
    }

    /// The offset of the oldest event kept (`last + 1` when none is).
    pub(crate) fn first(&self) -> u64 {
        self.history
            .front()
            .map_or(self.last.saturating_add(1), |entry| entry.offset)
    }

    /// The position of the last event.
    pub(crate) fn position(&self) -> StreamPosition {
        StreamPosition::new(self.epoch, self.last)
    }

    pub(crate) fn history_len(&self) -> usize {
        self.history.len()
    }

    /// The event at `offset`, if kept.
    pub(crate) fn get(&self, offset: u64) -> Option<&Entry> {
        let index = offset.checked_sub(self.first())?;
        self.history.get(usize::try_from(index).ok()?)
    }

    /// Appends the next event, then trims the history to the limits.
    pub(crate) fn append(&mut self, payload: Bytes, now: Duration, config: &Config) -> u64 {
        // 2^64 events: publish would have to run for millennia; a broker's numbering
        // never asks for one past u64::MAX (`handle_event` takes offsets up to it).
        self.last = self.last.saturating_add(1);
        self.bytes += payload.len();
        self.history.push_back(Entry {
            offset: self.last,
            at: now,
            payload,
        });
        self.trim(now, config);
        self.last
    }

    /// Starts the history again at `epoch` after offset `last`: what was kept is
    /// dropped, and nothing before `last + 1` is continuous any more.
    pub(crate) fn restart(&mut self, epoch: Epoch, last: u64) {
        self.epoch = epoch;
        self.last = last;
        self.continuous_from = last.saturating_add(1);
        self.history.clear();
        self.bytes = 0;
    }

    /// Drops the oldest events beyond [`Config::history_events`] or
    /// [`Config::history_bytes`] (the newest event stays, whatever its size), and
    /// those older than [`Config::history_age`].
    pub(crate) fn trim(&mut self, now: Duration, config: &Config) {
        while let Some(front) = self.history.front() {
            let over = self.history.len() > config.history_events
                || (self.bytes > config.history_bytes && self.history.len() > 1);
            let expired = config
                .history_age
                .is_some_and(|age| now.saturating_sub(front.at) > age);
            if !over && !expired {
                break;
            }
            self.bytes -= front.payload.len();
            self.history.pop_front();
        }
    }

    /// Whether the topic holds nothing worth keeping: no subscription, no history.
    pub(crate) fn is_idle(&self) -> bool {
        self.subscriptions == 0 && self.history.is_empty()
    }
}

/// Whether `name` is a topic name: 1 to `max_len` bytes, no control character (a
/// name travels in URLs, logs and broker keys).
pub(crate) fn valid_name(name: &str, max_len: usize) -> bool {
    !name.is_empty() && name.len() <= max_len && !name.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(events: usize, bytes: usize, age: Option<u64>) -> Config {
        Config {
            history_events: events,
            history_bytes: bytes,
            history_age: age.map(Duration::from_secs),
            ..Config::default()
        }
    }

    fn offsets(topic: &Topic) -> alloc::vec::Vec<u64> {
        topic.history.iter().map(|entry| entry.offset).collect()
    }

    #[test]
    fn history_keeps_the_newest_events_within_every_limit() {
        let by_count = config(3, usize::MAX, None);
        let mut topic = Topic::new(Epoch(1), 0);
        for _ in 0..5 {
            topic.append(Bytes::from_static(b"x"), Duration::ZERO, &by_count);
        }
        assert_eq!(offsets(&topic), [3, 4, 5]);
        assert_eq!((topic.first(), topic.last), (3, 5));

        let by_bytes = config(100, 10, None);
        let mut topic = Topic::new(Epoch(1), 0);
        for len in [4, 4, 4, 20] {
            topic.append(Bytes::from(alloc::vec![0; len]), Duration::ZERO, &by_bytes);
        }
        assert_eq!(offsets(&topic), [4], "an event over the limit alone stays");

        let by_age = config(100, usize::MAX, Some(10));
        let mut topic = Topic::new(Epoch(1), 0);
        for at in [0, 5, 12] {
            topic.append(Bytes::new(), Duration::from_secs(at), &by_age);
        }
        assert_eq!(offsets(&topic), [2, 3]);
        topic.trim(Duration::from_secs(30), &by_age);
        assert_eq!(offsets(&topic), [] as [u64; 0]);
        assert_eq!(topic.first(), 4);
    }

    #[test]
    fn restart_forgets_the_history_and_its_continuity() {
        let config = Config::default();
        let mut topic = Topic::new(Epoch(1), 0);
        topic.append(Bytes::new(), Duration::ZERO, &config);
        topic.restart(Epoch(2), 40);
        assert_eq!((topic.epoch, topic.last, topic.first()), (Epoch(2), 40, 41));
        assert_eq!(topic.continuous_from, 41);
        assert!(topic.get(40).is_none());
    }

    #[test]
    fn names() {
        assert!(valid_name("prices/EURUSD", 64));
        assert!(valid_name("é", 64));
        for bad in ["", "a\nb", "a\0", "\u{7f}"] {
            assert!(!valid_name(bad, 64), "{bad:?}");
        }
        assert!(!valid_name("abcd", 3));
    }
}
