//! [`Hub`]: topics, subscriptions and their cursors, and what each subscription is
//! delivered next.
//!
//! A subscription is a cursor into one topic's history (see `topic.rs` for why there
//! are no per-subscriber queues). Delivering is reading at the cursor; a subscription
//! at the head waits, and the next event of its topic puts it on the ready list,
//! which the binding drains to wake the task that serves it. Every way of missing
//! events (a position from another epoch, one older than the history, a subscriber
//! that fell behind, events this hub never held) ends in an explicit
//! [`Discontinuity`], never in a silent skip.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use bytes::Bytes;

use crate::error::LocalError;
use crate::follower::{Follow, Followed, Follower, Tagging};
use crate::position::{Epoch, StreamPosition};
use crate::topic::{self, Segment, Topic};

/// Limits and policies of a [`Hub`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Config {
    /// The most events a topic keeps for recovery (default 1,024).
    pub history_events: usize,
    /// The most payload bytes a topic keeps (default 1 MiB; the newest event is kept
    /// whatever its size).
    pub history_bytes: usize,
    /// How long an event is kept (default `None`: as long as the other limits allow).
    pub history_age: Option<Duration>,
    /// How far (in events) a subscription may fall behind its topic's last event
    /// before the [`lag_policy`](Self::lag_policy) applies (default `None`: as far as
    /// the history reaches).
    pub max_lag: Option<u64>,
    /// What a subscription that fell behind gets (default [`LagPolicy::Skip`]).
    pub lag_policy: LagPolicy,
    /// The most topics (default 10,000). A topic exists while it has a subscription
    /// or a history.
    pub max_topics: usize,
    /// The longest topic name, in bytes (default 256).
    pub max_topic_len: usize,
    /// The most subscriptions (default 1,000,000).
    pub max_subscriptions: usize,
    /// Recovery from a broker (default `None`: the history in memory is all there
    /// is). With `Some(limit)`, a resumption this hub cannot serve from memory (older
    /// than its history, a gap it never held, another epoch, or beyond its last
    /// event) asks the broker first, up to `limit` events per read, with
    /// [`Hub::poll_fetch`]; see [`Fetch`].
    pub fetch_limit: Option<usize>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            history_events: 1024,
            history_bytes: 1 << 20,
            history_age: None,
            max_lag: None,
            lag_policy: LagPolicy::Skip,
            max_topics: 10_000,
            max_topic_len: 256,
            max_subscriptions: 1_000_000,
            fetch_limit: None,
        }
    }
}

/// What a subscription that fell behind gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LagPolicy {
    /// A [`Discontinuity`] with [`Reason::Lagged`], then delivery goes on from the
    /// oldest event within reach: the subscriber stays, and learns what it missed.
    Skip,
    /// [`Delivery::Dropped`]: the subscription ends, and the binding closes the
    /// connection (the client reconnects and resumes with a discontinuity).
    Drop,
}

/// Where a new subscription starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Since {
    /// With the next event published.
    Live,
    /// With the oldest event the history still holds.
    Earliest,
    /// After the event at this position: a client resuming (SSE `Last-Event-ID`, a
    /// WebSocket resume token). If the events after it cannot all be delivered, a
    /// [`Discontinuity`] comes first.
    After(StreamPosition),
    /// After a position that could not be read (a [`PositionError`](crate::PositionError)):
    /// the client had seen something, nobody knows what. A [`Discontinuity`] with
    /// [`Reason::Unknown`] comes first, then everything the history holds.
    Lost,
}

/// The handle of a subscription. Stale handles (ended subscriptions) are recognised:
/// a slot is never reused under the same handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SubscriptionId {
    index: u32,
    generation: u32,
}

/// What a subscription gets, from [`Hub::poll_delivery`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Delivery {
    /// The next event.
    Event(Event),
    /// Events were missed; delivery goes on after [`Discontinuity::resume`].
    Discontinuity(Discontinuity),
    /// The subscription fell behind under [`LagPolicy::Drop`] and is over; its handle
    /// is stale from now on.
    Dropped,
}

/// An event as delivered: its position (send it as the SSE `id` or with the
/// WebSocket message, so the client can resume after it) and its payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Where the event sits in its topic.
    pub position: StreamPosition,
    /// The payload, shared by every subscription (no copy per subscriber).
    pub payload: Bytes,
}

/// Events a subscription will not get, said explicitly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Discontinuity {
    /// Why.
    pub reason: Reason,
    /// The position the subscription was at (the client's, for a resumption), if
    /// it was readable.
    pub from: Option<StreamPosition>,
    /// The position delivery goes on after: the next event is the one after it.
    /// Saving it as the client's position is right: what lies between `from` and
    /// `resume` is gone for good.
    pub resume: StreamPosition,
}

/// Why a [`Discontinuity`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// The position belongs to another epoch: the history it was in was lost.
    EpochChanged,
    /// The position is older than the oldest event the history still holds.
    Expired,
    /// This hub never held the events after the position (it joined the topic
    /// later, or its broker skipped them).
    Gap,
    /// The subscription fell behind (see [`Config::max_lag`]) under
    /// [`LagPolicy::Skip`].
    Lagged,
    /// The position was unreadable ([`Since::Lost`]), or lies beyond the topic's last
    /// event (a history this hub does not know under the same epoch).
    Unknown,
    /// The events may still be in the broker, but reading them failed
    /// ([`Hub::handle_fetch_failed`]).
    Unavailable,
}

/// A read this hub asks of its broker, from [`Hub::poll_fetch`]: up to `limit`
/// events of `topic` after offset `after`, in order, together with the position of
/// the broker's last event of the topic, read at the same instant (Redis: a script
/// with `XRANGE` and `XREVRANGE ... COUNT 1`; JetStream: a consumer from a start
/// sequence and the stream's state). Answer with [`Hub::handle_fetched`] or
/// [`Hub::handle_fetch_failed`].
///
/// There is at most one fetch in flight per topic: every subscription that resumes
/// while it is in flight, from a position it covers, is served by its answer, so a
/// thousand clients reconnecting at once after a node went down cost the broker one
/// read, not a thousand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fetch {
    /// The topic to read.
    pub topic: String,
    /// The offset to read after (exclusive).
    pub after: u64,
    /// The most events to return.
    pub limit: usize,
}

#[derive(Debug)]
struct Subscription {
    topic: String,
    /// The history the cursor is in.
    epoch: Epoch,
    /// The offset of the last event delivered (or skipped).
    cursor: u64,
    /// A discontinuity to deliver before anything else.
    pending: Option<Discontinuity>,
    /// Waiting for a fetch from the broker, to resume after this position.
    fetching: Option<StreamPosition>,
    /// Events read from the broker, older than the history, that it reads first.
    segment: Option<Segment>,
    /// On its topic's waiting list.
    waiting: bool,
    /// On the hub's ready list.
    ready: bool,
}

#[derive(Debug, Default)]
struct Slot {
    generation: u32,
    subscription: Option<Subscription>,
}

/// A sans-IO fan-out core: topics with offsets and epochs, a bounded history per
/// topic, and subscriptions that resume from a position or learn, explicitly, what
/// they missed.
///
/// # Call protocol
///
/// * **Inputs:** [`publish`](Self::publish) an event (this hub numbers it), or
///   [`handle_event`](Self::handle_event) an event a broker numbered;
///   [`handle_fetched`](Self::handle_fetched) or
///   [`handle_fetch_failed`](Self::handle_fetch_failed) the broker's answer to a
///   [`Fetch`].
/// * **Commands:** [`subscribe`](Self::subscribe) from a [`Since`],
///   [`unsubscribe`](Self::unsubscribe).
/// * **Outputs:** [`poll_ready`](Self::poll_ready) names the subscriptions that have
///   something to deliver; for each, drain [`poll_delivery`](Self::poll_delivery)
///   until `None` (the subscription then waits for its topic's next event) or until
///   the connection cannot take more (the subscription keeps its place: poll it
///   again when the connection can, whether or not `poll_ready` names it).
///   With [`Config::fetch_limit`], [`poll_fetch`](Self::poll_fetch) names the reads
///   to make from the broker (after subscribing, and after polling deliveries: a
///   subscription reading fetched events asks for the next piece).
/// * **Getters:** [`position`](Self::position), counts.
///
/// Time is a value the caller passes in (`now`, since an epoch of its choosing); it
/// only matters with [`Config::history_age`].
///
/// ```
/// use bytes::Bytes;
/// use core::time::Duration;
/// use tidings_hub::{Config, Delivery, Hub, Since};
///
/// let mut hub = Hub::new(Config::default(), 0x5eed);
/// let now = Duration::ZERO;
/// let first = hub.publish("news", Bytes::from_static(b"one"), now)?;
/// hub.publish("news", Bytes::from_static(b"two"), now)?;
///
/// // A client that saw "one" comes back: it gets "two", then waits.
/// let sub = hub.subscribe("news", Since::After(first), now)?;
/// assert_eq!(hub.poll_ready(), Some(sub));
/// let Some(Delivery::Event(event)) = hub.poll_delivery(sub, now) else { panic!() };
/// assert_eq!(&event.payload[..], b"two");
/// assert_eq!(hub.poll_delivery(sub, now), None);
///
/// // The next event makes it ready again.
/// hub.publish("news", Bytes::from_static(b"three"), now)?;
/// assert_eq!(hub.poll_ready(), Some(sub));
/// # Ok::<(), tidings_hub::LocalError>(())
/// ```
#[derive(Debug)]
pub struct Hub {
    config: Config,
    topics: BTreeMap<String, Topic>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    live: usize,
    ready: VecDeque<SubscriptionId>,
    seed: u64,
    epochs_drawn: u64,
    /// Topics with subscriptions waiting for a fetch and none in flight (possibly
    /// stale: checked when polled).
    fetches: VecDeque<String>,
    /// Topics followed on the broker. A followed topic is kept even with no
    /// subscription and no history: its follower goes on, and a new subscription
    /// must find it at the broker's position, not in a new epoch of this hub's.
    followers: BTreeMap<String, Follower>,
}

impl Hub {
    /// A hub with `config`. `seed` makes the epochs of the topics it creates: it must
    /// differ each time a hub starts with an empty history (draw it from the OS), or
    /// positions from before a restart would be taken for positions after it.
    #[must_use]
    pub fn new(config: Config, seed: u64) -> Self {
        Self {
            config,
            topics: BTreeMap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            live: 0,
            ready: VecDeque::new(),
            seed,
            epochs_drawn: 0,
            fetches: VecDeque::new(),
            followers: BTreeMap::new(),
        }
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The position of `topic`'s last event, if the topic exists (offset 0: none yet).
    #[must_use]
    pub fn position(&self, topic: &str) -> Option<StreamPosition> {
        self.topics.get(topic).map(Topic::position)
    }

    /// How many events `topic` keeps.
    #[must_use]
    pub fn history_len(&self, topic: &str) -> usize {
        self.topics.get(topic).map_or(0, Topic::history_len)
    }

    /// How many topics exist.
    #[must_use]
    pub fn topics(&self) -> usize {
        self.topics.len()
    }

    /// How many subscriptions are live.
    #[must_use]
    pub fn subscriptions(&self) -> usize {
        self.live
    }

    /// Publishes `payload` to `topic` (created if needed, with a new epoch), and
    /// returns its position.
    ///
    /// # Errors
    ///
    /// [`LocalError::InvalidTopic`], [`LocalError::TooManyTopics`].
    pub fn publish(
        &mut self,
        topic: &str,
        payload: Bytes,
        now: Duration,
    ) -> Result<StreamPosition, LocalError> {
        let epoch = self.draw_epoch();
        let topic_state = topic_entry(&mut self.topics, &self.config, topic, || {
            Topic::new(epoch, 0)
        })?;
        let offset = topic_state.append(payload, now, &self.config);
        let position = StreamPosition::new(topic_state.epoch, offset);
        self.wake(topic);
        Ok(position)
    }

    /// Takes an event a broker numbered: `position` is its place in the broker's
    /// history of `topic`. Returns whether it was new.
    ///
    /// An event of another epoch starts the history again (the broker's was lost);
    /// an event past the next offset starts it again after a gap (this hub missed
    /// events: subscriptions behind the gap get a [`Reason::Gap`] discontinuity); an
    /// event at or before the last offset is a duplicate and is ignored.
    ///
    /// # Errors
    ///
    /// [`LocalError::InvalidTopic`], [`LocalError::TooManyTopics`].
    pub fn handle_event(
        &mut self,
        topic: &str,
        position: StreamPosition,
        payload: Bytes,
        now: Duration,
    ) -> Result<bool, LocalError> {
        if position.offset == 0 {
            return Ok(false);
        }
        let before = position.offset - 1;
        let create = || Topic::new(position.epoch, before);
        let topic_state = topic_entry(&mut self.topics, &self.config, topic, create)?;
        if topic_state.epoch != position.epoch || topic_state.last < before {
            topic_state.restart(position.epoch, before);
        } else if topic_state.last > before {
            return Ok(false);
        }
        topic_state.append(payload, now, &self.config);
        self.wake(topic);
        Ok(true)
    }

    /// Takes the position of the broker's last event of `topic` (created if needed),
    /// learnt when this node starts following the topic, or again after it lost
    /// the broker for a while: subscribe only once the topic's head is known, so
    /// that positions are taken in the broker's epoch.
    ///
    /// A head of another epoch starts the history again there (the broker's was
    /// lost, or this hub knew nothing yet); a head past the last event starts it
    /// again after a gap (subscriptions behind it fetch the gap, with
    /// [`Config::fetch_limit`], or get a [`Reason::Gap`] discontinuity); an older
    /// head is ignored.
    ///
    /// # Errors
    ///
    /// [`LocalError::InvalidTopic`], [`LocalError::TooManyTopics`].
    pub fn handle_head(&mut self, topic: &str, head: StreamPosition) -> Result<(), LocalError> {
        let create = || Topic::new(head.epoch, head.offset);
        let state = topic_entry(&mut self.topics, &self.config, topic, create)?;
        if state.epoch != head.epoch || state.last < head.offset {
            state.restart(head.epoch, head.offset);
            self.wake(topic);
        }
        Ok(())
    }

    /// Whether this hub takes `topic` as a name: check a name before it reaches a
    /// broker (its keys, its subjects) as well as this hub.
    ///
    /// # Errors
    ///
    /// [`LocalError::InvalidTopic`].
    pub fn check_topic(&self, topic: &str) -> Result<(), LocalError> {
        if topic::valid_name(topic, self.config.max_topic_len) {
            Ok(())
        } else {
            Err(LocalError::InvalidTopic)
        }
    }

    /// Starts following `topic` on a broker whose events are tagged as `tagging`
    /// says, if this hub does not yet (a topic is followed for as long as the hub
    /// lives, and kept meanwhile). Then drive the follower: [`poll_follow`](Self::poll_follow)
    /// names the next read, [`handle_followed`](Self::handle_followed) takes its
    /// answer. Subscribe once the first head is taken.
    ///
    /// # Errors
    ///
    /// [`LocalError::InvalidTopic`]; [`LocalError::TooManyTopics`] beyond
    /// [`Config::max_topics`] followed topics.
    pub fn follow(&mut self, topic: &str, tagging: Tagging) -> Result<(), LocalError> {
        if self.followers.contains_key(topic) {
            return Ok(());
        }
        if self.followers.len() >= self.config.max_topics {
            return Err(LocalError::TooManyTopics);
        }
        self.check_topic(topic)?;
        self.followers.insert(topic.into(), Follower::new(tagging));
        Ok(())
    }

    /// The next read `topic`'s follower asks of the broker; `None` if the topic is
    /// not followed. See [`Follow`].
    #[must_use]
    pub fn poll_follow(&self, topic: &str) -> Option<Follow> {
        self.followers.get(topic).map(Follower::next)
    }

    /// Takes the broker's answer to [`poll_follow`](Self::poll_follow) for `topic`.
    /// A head is taken as with [`handle_head`](Self::handle_head) (after a loss, at
    /// offset 0 of the new history: subscribers of the old one resume from its
    /// beginning, after an [`Reason::EpochChanged`] discontinuity), events as with
    /// [`handle_event`](Self::handle_event) until one of another epoch; an epoch
    /// that changed or vanished means the history was lost. An answer for a topic
    /// not followed is ignored.
    ///
    /// # Errors
    ///
    /// [`LocalError::TooManyTopics`] for a head this hub has no room for (the
    /// follower cannot go on).
    pub fn handle_followed(
        &mut self,
        topic: &str,
        answer: Followed,
        now: Duration,
    ) -> Result<(), LocalError> {
        let Some(follower) = self.followers.get_mut(topic) else {
            return Ok(());
        };
        match answer {
            Followed::Head(head) => {
                let head = follower.head(head);
                return self.handle_head(topic, head);
            }
            Followed::Events(events) => {
                for (epoch, offset, payload) in events {
                    let Some(follower) = self.followers.get_mut(topic) else {
                        break;
                    };
                    let Some(position) = follower.event(epoch, offset) else {
                        break;
                    };
                    // Only a name or a limit is refused, and a followed topic has
                    // passed both.
                    let _ = self.handle_event(topic, position, payload, now);
                }
            }
            Followed::Nothing => follower.nothing(),
            Followed::Epoch(epoch) => follower.epoch(epoch),
            Followed::Failed => follower.failed(),
        }
        Ok(())
    }

    /// Subscribes to `topic` (created if needed) from `since`. The subscription is on
    /// the ready list at once if it has something to deliver.
    ///
    /// # Errors
    ///
    /// [`LocalError::InvalidTopic`], [`LocalError::TooManyTopics`],
    /// [`LocalError::TooManySubscriptions`].
    pub fn subscribe(
        &mut self,
        topic: &str,
        since: Since,
        now: Duration,
    ) -> Result<SubscriptionId, LocalError> {
        if self.live >= self.config.max_subscriptions {
            return Err(LocalError::TooManySubscriptions);
        }
        let epoch = self.draw_epoch();
        let state = topic_entry(&mut self.topics, &self.config, topic, || {
            Topic::new(epoch, 0)
        })?;
        state.trim(now, &self.config);
        let earliest = StreamPosition::new(state.epoch, state.first() - 1);
        let missed = |reason, from| {
            Some(Discontinuity {
                reason,
                from,
                resume: earliest,
            })
        };
        let recovers = self.config.fetch_limit.is_some();
        let (cursor, pending, fetching) = match since {
            Since::Live => (state.last, None, None),
            Since::Earliest => (earliest.offset, None, None),
            Since::Lost => (earliest.offset, missed(Reason::Unknown, None), None),
            Since::After(from) => {
                let reason = if from.epoch != state.epoch {
                    Some(Reason::EpochChanged)
                } else if from.offset > state.last {
                    Some(Reason::Unknown)
                } else if from.offset < earliest.offset {
                    let gap = from.offset.saturating_add(1) < state.continuous_from;
                    Some(if gap { Reason::Gap } else { Reason::Expired })
                } else {
                    None
                };
                match reason {
                    // The broker may know better: ask it before giving up.
                    Some(_) if recovers => (earliest.offset, None, Some(from)),
                    Some(reason) => (earliest.offset, missed(reason, Some(from)), None),
                    None => (from.offset, None, None),
                }
            }
        };
        state.subscriptions += 1;
        let has_more = pending.is_some() || cursor < state.last;
        let subscription = Subscription {
            topic: topic.into(),
            epoch: state.epoch,
            cursor,
            pending,
            fetching,
            segment: None,
            waiting: false,
            ready: false,
        };
        if fetching.is_some() {
            let id = self.insert(subscription);
            self.wait_for_fetch(id);
            return Ok(id);
        }
        let id = self.insert(subscription);
        if has_more {
            self.make_ready(id);
        } else {
            self.park(id);
        }
        Ok(id)
    }

    /// Ends a subscription. Its topic goes too if nothing is left of it.
    ///
    /// # Errors
    ///
    /// [`LocalError::UnknownSubscription`] for a stale handle.
    pub fn unsubscribe(&mut self, id: SubscriptionId) -> Result<(), LocalError> {
        let subscription = self.remove(id).ok_or(LocalError::UnknownSubscription)?;
        if let Some(topic) = self.topics.get_mut(&subscription.topic) {
            topic.subscriptions -= 1;
            if subscription.waiting {
                topic.waiting.retain(|waiting| *waiting != id);
            }
            if subscription.fetching.is_some() {
                topic.fetch_waiters.retain(|waiting| *waiting != id);
            }
            if topic.is_idle() && !self.followers.contains_key(&subscription.topic) {
                self.topics.remove(&subscription.topic);
            }
        }
        Ok(())
    }

    /// The next read to ask of the broker, if a subscription waits for one (only
    /// with [`Config::fetch_limit`]). See [`Fetch`].
    pub fn poll_fetch(&mut self) -> Option<Fetch> {
        let limit = self.config.fetch_limit?.max(1);
        while let Some(name) = self.fetches.pop_front() {
            let Some(topic) = self.topics.get_mut(&name) else {
                continue;
            };
            topic.fetch_queued = false;
            if topic.fetch_in_flight.is_some() {
                continue;
            }
            let slots = &self.slots;
            topic
                .fetch_waiters
                .retain(|id| lookup(slots, *id).is_some_and(|s| s.fetching.is_some()));
            let after = topic
                .fetch_waiters
                .iter()
                .filter_map(|id| lookup(slots, *id)?.fetching)
                .map(|from| from.offset)
                .min();
            if let Some(after) = after {
                topic.fetch_in_flight = Some(after);
                return Some(Fetch {
                    topic: name,
                    after,
                    limit,
                });
            }
        }
        None
    }

    /// Takes the broker's answer to the [`Fetch`] in flight for `topic`: `head` is
    /// the position of the broker's last event of the topic, `events` the events
    /// after [`Fetch::after`] (offset and payload, in order, at most
    /// [`Fetch::limit`]; more are ignored), both read at the same instant.
    ///
    /// Each subscription waiting for it resumes: exactly, from the events; or with a
    /// [`Discontinuity`] when the broker no longer holds them ([`Reason::Expired`])
    /// or its position is beyond the broker's last event ([`Reason::Unknown`]). A
    /// position of another epoch than the head's gets a [`Reason::EpochChanged`]
    /// discontinuity at once, then waits for a fetch of the head's epoch from its
    /// beginning. Those that resume from before
    /// [`Fetch::after`], or past what a full answer covers, wait for the next fetch.
    /// A topic that holds no history yet in another epoch takes `head` as its
    /// position. An answer when no fetch is in flight is ignored.
    pub fn handle_fetched<I>(&mut self, topic: &str, head: StreamPosition, events: I, now: Duration)
    where
        I: IntoIterator<Item = (u64, Bytes)>,
    {
        let Some(limit) = self.config.fetch_limit.map(|limit| limit.max(1)) else {
            return;
        };
        let Some(state) = self.topics.get_mut(topic) else {
            return;
        };
        let Some(after) = state.fetch_in_flight.take() else {
            return;
        };
        // The run of events after `after`, without a hole, up to the head.
        let mut first = None;
        let mut payloads = Vec::new();
        let mut answered = 0;
        for (offset, payload) in events.into_iter().take(limit) {
            answered += 1;
            if offset <= after || offset > head.offset {
                continue;
            }
            match first {
                None => first = Some(offset),
                Some(first) if Some(offset) == first.checked_add(payloads.len() as u64) => {}
                Some(_) => break,
            }
            payloads.push(payload);
        }
        let full = answered >= limit;
        let segment = first.map(|first| Segment::new(first, payloads));
        state.trim(now, &self.config);
        if state.history_len() == 0 && state.epoch != head.epoch {
            // A topic this hub knows nothing of yet (its epoch is one this hub drew):
            // the broker's is the one.
            state.restart(head.epoch, head.offset);
        }
        let earliest = StreamPosition::new(state.epoch, state.first() - 1);
        let mut again = Vec::new();
        for id in core::mem::take(&mut state.fetch_waiters) {
            let Some(subscription) = lookup_mut(&mut self.slots, id) else {
                continue;
            };
            let Some(from) = subscription.fetching else {
                continue;
            };
            if from.epoch != head.epoch {
                // Another history: said at once, then all the broker holds of the
                // new one, with the next fetch.
                let resume = StreamPosition::new(head.epoch, 0);
                subscription.pending = Some(Discontinuity {
                    reason: Reason::EpochChanged,
                    from: Some(from),
                    resume,
                });
                subscription.fetching = Some(resume);
                (subscription.epoch, subscription.cursor) = (resume.epoch, 0);
                if !subscription.ready {
                    subscription.ready = true;
                    self.ready.push_back(id);
                }
                again.push(id);
                continue;
            }
            // (reason, resume, segment) for this subscription.
            let resumed = if from.offset > head.offset {
                Err(Reason::Unknown)
            } else if from.offset < after {
                again.push(id);
                continue;
            } else if from.offset == head.offset {
                Ok((None, from, None))
            } else {
                match &segment {
                    Some(segment) if from.offset < segment.first().saturating_sub(1) => {
                        let resume = StreamPosition::new(head.epoch, segment.first() - 1);
                        Ok((Some(Reason::Expired), resume, Some(segment.clone())))
                    }
                    Some(segment) if from.offset < segment.last() => {
                        Ok((None, from, Some(segment.clone())))
                    }
                    _ if full => {
                        again.push(id);
                        continue;
                    }
                    _ => Err(Reason::Expired),
                }
            };
            let (reason, resume, segment) = match resumed {
                Ok(resumed) => resumed,
                Err(reason) => (Some(reason), earliest, None),
            };
            subscription.fetching = None;
            subscription.epoch = resume.epoch;
            subscription.cursor = resume.offset;
            subscription.segment = segment;
            pend(&mut subscription.pending, reason, from, resume);
            if !subscription.ready {
                subscription.ready = true;
                self.ready.push_back(id);
            }
        }
        if !again.is_empty() {
            state.fetch_waiters = again;
            state.fetch_queued = true;
            self.fetches.push_back(topic.into());
        }
    }

    /// The [`Fetch`] in flight for `topic` failed (the broker could not be read):
    /// every subscription waiting for a fetch of it gets a [`Reason::Unavailable`]
    /// discontinuity and goes on from the history in memory.
    pub fn handle_fetch_failed(&mut self, topic: &str) {
        let Some(state) = self.topics.get_mut(topic) else {
            return;
        };
        if state.fetch_in_flight.take().is_none() {
            return;
        }
        let earliest = StreamPosition::new(state.epoch, state.first() - 1);
        for id in core::mem::take(&mut state.fetch_waiters) {
            let Some(subscription) = lookup_mut(&mut self.slots, id) else {
                continue;
            };
            let Some(from) = subscription.fetching.take() else {
                continue;
            };
            subscription.epoch = earliest.epoch;
            subscription.cursor = earliest.offset;
            pend(
                &mut subscription.pending,
                Some(Reason::Unavailable),
                from,
                earliest,
            );
            if !subscription.ready {
                subscription.ready = true;
                self.ready.push_back(id);
            }
        }
    }

    /// The next subscription with something to deliver, once per wake-up. Stale
    /// handles are skipped.
    pub fn poll_ready(&mut self) -> Option<SubscriptionId> {
        while let Some(id) = self.ready.pop_front() {
            if let Some(subscription) = self.get_mut(id) {
                subscription.ready = false;
                return Some(id);
            }
        }
        None
    }

    /// What `id` gets next; `None` when it is at the head of its topic (it waits for
    /// the next event, and `poll_ready` names it then) or the handle is stale.
    pub fn poll_delivery(&mut self, id: SubscriptionId, now: Duration) -> Option<Delivery> {
        let delivery = self.next_delivery(id, now);
        if delivery == Some(Delivery::Dropped) {
            self.unsubscribe(id).ok()?;
        }
        delivery
    }

    /// [`poll_delivery`](Self::poll_delivery) but for ending a dropped subscription.
    fn next_delivery(&mut self, id: SubscriptionId, now: Duration) -> Option<Delivery> {
        let config = &self.config;
        let slot = self.slots.get_mut(usize::try_from(id.index).ok()?)?;
        if slot.generation != id.generation {
            return None;
        }
        let subscription = slot.subscription.as_mut()?;
        if let Some(discontinuity) = subscription.pending.take() {
            return Some(Delivery::Discontinuity(discontinuity));
        }
        if subscription.fetching.is_some() {
            return None;
        }
        let topic = self.topics.get_mut(&subscription.topic)?;
        topic.trim(now, config);
        let recovers = config.fetch_limit.is_some();
        let next = subscription.cursor.saturating_add(1);
        let in_history = subscription.epoch == topic.epoch && next >= topic.first();
        if let Some(segment) = subscription.segment.as_ref().filter(|_| !in_history) {
            if let Some(payload) = segment.get(next) {
                subscription.cursor = next;
                return Some(Delivery::Event(Event {
                    position: StreamPosition::new(subscription.epoch, next),
                    payload: payload.clone(),
                }));
            }
        }
        // Past the segment (if any): the history serves from here, or the broker
        // again.
        let from_segment = subscription.segment.take().is_some();
        let from = StreamPosition::new(subscription.epoch, subscription.cursor);
        let earliest = topic.first() - 1;
        let reach = config
            .max_lag
            .map_or(earliest, |lag| earliest.max(topic.last.saturating_sub(lag)));
        let reason = if subscription.epoch != topic.epoch {
            Some(Reason::EpochChanged)
        } else if subscription.cursor > topic.last {
            // With a broker, a cursor ahead of this hub is one the broker confirmed:
            // the events are on their way.
            (!recovers).then_some(Reason::Unknown)
        } else if subscription.cursor < reach {
            let gap = next < topic.continuous_from;
            Some(if gap { Reason::Gap } else { Reason::Lagged })
        } else {
            None
        };
        if recovers
            && (reason == Some(Reason::Gap) || (from_segment && reason == Some(Reason::Lagged)))
        {
            // Events this hub never held (or past the fetched segment): the broker
            // may have them.
            subscription.fetching = Some(from);
            if subscription.waiting {
                subscription.waiting = false;
                topic.waiting.retain(|waiting| *waiting != id);
            }
            topic.fetch_waiters.push(id);
            if topic.fetch_in_flight.is_none() && !topic.fetch_queued {
                topic.fetch_queued = true;
                self.fetches.push_back(subscription.topic.clone());
            }
            return None;
        }
        if let Some(reason) = reason {
            if reason == Reason::Lagged && config.lag_policy == LagPolicy::Drop {
                return Some(Delivery::Dropped);
            }
            let resume_at = if reason == Reason::Lagged {
                reach
            } else {
                earliest
            };
            subscription.epoch = topic.epoch;
            subscription.cursor = resume_at;
            let resume = StreamPosition::new(topic.epoch, resume_at);
            return Some(Delivery::Discontinuity(Discontinuity {
                reason,
                from: Some(from),
                resume,
            }));
        }
        match (subscription.cursor.checked_add(1)).and_then(|next| topic.get(next)) {
            Some(entry) => {
                subscription.cursor = entry.offset;
                Some(Delivery::Event(Event {
                    position: StreamPosition::new(topic.epoch, entry.offset),
                    payload: entry.payload.clone(),
                }))
            }
            None => {
                if !subscription.waiting {
                    subscription.waiting = true;
                    topic.waiting.push(id);
                }
                None
            }
        }
    }

    /// A new epoch: the seed and a counter, mixed (SplitMix64), so that the topics of
    /// one hub never share an epoch by construction and hubs with other seeds almost
    /// never do.
    fn draw_epoch(&mut self) -> Epoch {
        self.epochs_drawn += 1;
        let mut z = self
            .seed
            .wrapping_add(self.epochs_drawn.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Epoch(z ^ (z >> 31))
    }

    /// Moves `topic`'s waiting subscriptions to the ready list.
    fn wake(&mut self, topic: &str) {
        let Some(state) = self.topics.get_mut(topic) else {
            return;
        };
        for id in core::mem::take(&mut state.waiting) {
            let Some(slot) = self.slots.get_mut(id.index as usize) else {
                continue;
            };
            if let Some(subscription) = slot.subscription.as_mut() {
                if slot.generation == id.generation {
                    subscription.waiting = false;
                    if !subscription.ready {
                        subscription.ready = true;
                        self.ready.push_back(id);
                    }
                }
            }
        }
    }

    /// Puts `id` (whose `fetching` is set) on its topic's fetch list, and the topic
    /// on the hub's if no fetch of it is in flight or queued.
    fn wait_for_fetch(&mut self, id: SubscriptionId) {
        let Some(subscription) = lookup(&self.slots, id) else {
            return;
        };
        let Some(topic) = self.topics.get_mut(&subscription.topic) else {
            return;
        };
        topic.fetch_waiters.push(id);
        if topic.fetch_in_flight.is_none() && !topic.fetch_queued {
            topic.fetch_queued = true;
            self.fetches.push_back(subscription.topic.clone());
        }
    }

    fn make_ready(&mut self, id: SubscriptionId) {
        if let Some(subscription) = self.get_mut(id) {
            if !subscription.ready {
                subscription.ready = true;
                self.ready.push_back(id);
            }
        }
    }

    fn park(&mut self, id: SubscriptionId) {
        let Some(subscription) = self.get_mut(id) else {
            return;
        };
        subscription.waiting = true;
        let topic = subscription.topic.clone();
        if let Some(state) = self.topics.get_mut(&topic) {
            state.waiting.push(id);
        }
    }

    fn get_mut(&mut self, id: SubscriptionId) -> Option<&mut Subscription> {
        let slot = self.slots.get_mut(id.index as usize)?;
        (slot.generation == id.generation)
            .then_some(slot.subscription.as_mut())
            .flatten()
    }

    fn insert(&mut self, subscription: Subscription) -> SubscriptionId {
        self.live += 1;
        let index = self.free.pop().unwrap_or_else(|| {
            self.slots.push(Slot::default());
            u32::try_from(self.slots.len() - 1).expect("max_subscriptions fits in u32")
        });
        let slot = &mut self.slots[index as usize];
        slot.subscription = Some(subscription);
        SubscriptionId {
            index,
            generation: slot.generation,
        }
    }

    fn remove(&mut self, id: SubscriptionId) -> Option<Subscription> {
        let slot = self.slots.get_mut(id.index as usize)?;
        if slot.generation != id.generation {
            return None;
        }
        let subscription = slot.subscription.take()?;
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(id.index);
        self.live -= 1;
        Some(subscription)
    }
}

/// Records a discontinuity (`reason`, from `from`, resuming after `resume`) to
/// deliver next. One not yet delivered (an epoch change said before a fetch of the
/// new epoch) stays, with its resume moved on: one discontinuity covers both.
fn pend(
    pending: &mut Option<Discontinuity>,
    reason: Option<Reason>,
    from: StreamPosition,
    resume: StreamPosition,
) {
    match (pending.as_mut(), reason) {
        (Some(pending), Some(_)) => pending.resume = resume,
        (Some(_), None) => {}
        (None, reason) => {
            *pending = reason.map(|reason| Discontinuity {
                reason,
                from: Some(from),
                resume,
            });
        }
    }
}

fn lookup(slots: &[Slot], id: SubscriptionId) -> Option<&Subscription> {
    let slot = slots.get(usize::try_from(id.index).ok()?)?;
    (slot.generation == id.generation)
        .then_some(slot.subscription.as_ref())
        .flatten()
}

fn lookup_mut(slots: &mut [Slot], id: SubscriptionId) -> Option<&mut Subscription> {
    let slot = slots.get_mut(usize::try_from(id.index).ok()?)?;
    (slot.generation == id.generation)
        .then_some(slot.subscription.as_mut())
        .flatten()
}

/// `name`'s state in `topics`, made with `create` if the topic does not exist.
fn topic_entry<'a>(
    topics: &'a mut BTreeMap<String, Topic>,
    config: &Config,
    name: &str,
    create: impl FnOnce() -> Topic,
) -> Result<&'a mut Topic, LocalError> {
    if !topics.contains_key(name) {
        if !topic::valid_name(name, config.max_topic_len) {
            return Err(LocalError::InvalidTopic);
        }
        if topics.len() >= config.max_topics {
            return Err(LocalError::TooManyTopics);
        }
        topics.insert(name.into(), create());
    }
    Ok(topics.get_mut(name).expect("inserted above"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    const NOW: Duration = Duration::ZERO;

    fn hub(config: Config) -> Hub {
        Hub::new(config, 7)
    }

    fn history(events: usize) -> Config {
        Config {
            history_events: events,
            ..Config::default()
        }
    }

    fn publish(hub: &mut Hub, topic: &str, n: u64) -> Vec<StreamPosition> {
        (0..n)
            .map(|i| {
                let payload = Bytes::from(format!("{topic}-{i}"));
                hub.publish(topic, payload, NOW).unwrap()
            })
            .collect()
    }

    /// Everything `id` gets until it waits.
    fn drain(hub: &mut Hub, id: SubscriptionId) -> Vec<Delivery> {
        core::iter::from_fn(|| hub.poll_delivery(id, NOW)).collect()
    }

    fn offsets(deliveries: &[Delivery]) -> Vec<u64> {
        deliveries
            .iter()
            .filter_map(|delivery| match delivery {
                Delivery::Event(event) => Some(event.position.offset),
                _ => None,
            })
            .collect()
    }

    fn discontinuity(delivery: &Delivery) -> Discontinuity {
        match delivery {
            Delivery::Discontinuity(discontinuity) => *discontinuity,
            other => panic!("expected a discontinuity, got {other:?}"),
        }
    }

    #[test]
    fn resuming_after_a_position_delivers_exactly_what_followed() {
        let mut hub = hub(Config::default());
        let positions = publish(&mut hub, "t", 5);
        assert_eq!(positions[0].offset, 1, "offsets count from 1");
        let id = hub.subscribe("t", Since::After(positions[1]), NOW).unwrap();
        let got = drain(&mut hub, id);
        assert_eq!(offsets(&got), [3, 4, 5]);
        let Delivery::Event(event) = &got[0] else {
            panic!()
        };
        assert_eq!(&event.payload[..], b"t-2");
        assert_eq!(event.position, positions[2]);
    }

    #[test]
    fn live_and_earliest() {
        let mut hub = hub(history(3));
        publish(&mut hub, "t", 5);
        let live = hub.subscribe("t", Since::Live, NOW).unwrap();
        let earliest = hub.subscribe("t", Since::Earliest, NOW).unwrap();
        assert_eq!(drain(&mut hub, live), []);
        assert_eq!(offsets(&drain(&mut hub, earliest)), [3, 4, 5]);
    }

    #[test]
    fn a_position_from_another_epoch_is_never_resumed_from() {
        let mut hub = hub(Config::default());
        let positions = publish(&mut hub, "t", 3);
        let stale = StreamPosition::new(Epoch(positions[0].epoch.0 ^ 1), 1);
        let id = hub.subscribe("t", Since::After(stale), NOW).unwrap();
        let got = drain(&mut hub, id);
        let gap = discontinuity(&got[0]);
        assert_eq!(gap.reason, Reason::EpochChanged);
        assert_eq!(gap.from, Some(stale));
        assert_eq!(gap.resume, StreamPosition::new(positions[0].epoch, 0));
        assert_eq!(offsets(&got), [1, 2, 3], "then all the history holds");
    }

    #[test]
    fn a_position_older_than_the_history_expired() {
        let mut hub = hub(history(2));
        let positions = publish(&mut hub, "t", 5);
        let id = hub.subscribe("t", Since::After(positions[0]), NOW).unwrap();
        let got = drain(&mut hub, id);
        let gap = discontinuity(&got[0]);
        assert_eq!(gap.reason, Reason::Expired);
        assert_eq!(gap.resume.offset, 3);
        assert_eq!(offsets(&got), [4, 5]);
        // Resuming from the oldest position still kept is exact.
        let exact = hub.subscribe("t", Since::After(positions[2]), NOW).unwrap();
        assert_eq!(offsets(&drain(&mut hub, exact)), [4, 5]);
    }

    #[test]
    fn a_position_beyond_the_last_event_or_unreadable_is_unknown() {
        let mut hub = hub(Config::default());
        let positions = publish(&mut hub, "t", 2);
        let future = StreamPosition::new(positions[0].epoch, 9);
        let id = hub.subscribe("t", Since::After(future), NOW).unwrap();
        let got = drain(&mut hub, id);
        assert_eq!(discontinuity(&got[0]).reason, Reason::Unknown);
        assert_eq!(offsets(&got), [1, 2]);
        let lost = hub.subscribe("t", Since::Lost, NOW).unwrap();
        let got = drain(&mut hub, lost);
        assert_eq!(discontinuity(&got[0]).from, None);
        assert_eq!(offsets(&got), [1, 2]);
    }

    #[test]
    fn a_subscriber_that_falls_behind_skips_with_a_discontinuity() {
        let mut hub = hub(history(4));
        let id = hub.subscribe("t", Since::Live, NOW).unwrap();
        let positions = publish(&mut hub, "t", 10);
        let got = drain(&mut hub, id);
        let gap = discontinuity(&got[0]);
        assert_eq!(gap.reason, Reason::Lagged);
        assert_eq!(gap.from, Some(StreamPosition::new(positions[0].epoch, 0)));
        assert_eq!(gap.resume.offset, 6);
        assert_eq!(offsets(&got), [7, 8, 9, 10]);
    }

    #[test]
    fn max_lag_applies_within_the_history() {
        let mut hub = hub(Config {
            max_lag: Some(2),
            ..Config::default()
        });
        let id = hub.subscribe("t", Since::Live, NOW).unwrap();
        publish(&mut hub, "t", 2);
        assert_eq!(
            offsets(&drain(&mut hub, id)),
            [1, 2],
            "at the limit: no skip"
        );
        publish(&mut hub, "t", 5);
        let got = drain(&mut hub, id);
        assert_eq!(discontinuity(&got[0]).reason, Reason::Lagged);
        assert_eq!(offsets(&got), [6, 7]);
        assert_eq!(hub.history_len("t"), 7, "the history is not cut by max_lag");
    }

    #[test]
    fn under_the_drop_policy_a_laggard_is_dropped() {
        let mut hub = hub(Config {
            history_events: 2,
            lag_policy: LagPolicy::Drop,
            ..Config::default()
        });
        let slow = hub.subscribe("t", Since::Live, NOW).unwrap();
        let fast = hub.subscribe("t", Since::Live, NOW).unwrap();
        publish(&mut hub, "t", 1);
        assert_eq!(offsets(&drain(&mut hub, fast)), [1]);
        publish(&mut hub, "t", 2);
        assert_eq!(drain(&mut hub, slow), [Delivery::Dropped]);
        assert_eq!(hub.poll_delivery(slow, NOW), None, "the handle is stale");
        assert_eq!(hub.unsubscribe(slow), Err(LocalError::UnknownSubscription));
        assert_eq!(offsets(&drain(&mut hub, fast)), [2, 3]);
        assert_eq!(hub.subscriptions(), 1);
    }

    #[test]
    fn a_subscriber_is_ready_once_per_wake_up() {
        let mut hub = hub(Config::default());
        let id = hub.subscribe("t", Since::Live, NOW).unwrap();
        assert_eq!(hub.poll_ready(), None, "nothing to deliver yet");
        publish(&mut hub, "t", 3);
        assert_eq!(hub.poll_ready(), Some(id));
        assert_eq!(hub.poll_ready(), None, "three events, one wake-up");
        // Not drained to the head: it keeps its place, and is not woken again.
        hub.poll_delivery(id, NOW);
        publish(&mut hub, "t", 1);
        assert_eq!(hub.poll_ready(), None);
        assert_eq!(offsets(&drain(&mut hub, id)), [2, 3, 4]);
        publish(&mut hub, "t", 1);
        assert_eq!(hub.poll_ready(), Some(id));
        // An ended subscription is never named.
        hub.unsubscribe(id).unwrap();
        publish(&mut hub, "t", 1);
        assert_eq!(hub.poll_ready(), None);
    }

    #[test]
    fn broker_events_ignore_duplicates_and_make_gaps_explicit() {
        let mut hub = hub(Config::default());
        let epoch = Epoch(0xabc);
        let at = |offset| StreamPosition::new(epoch, offset);
        let payload = || Bytes::from_static(b"x");
        // A node that joins a topic at offset 41 of the broker's history.
        assert_eq!(hub.handle_event("t", at(41), payload(), NOW), Ok(true));
        assert_eq!(hub.handle_event("t", at(41), payload(), NOW), Ok(false));
        assert_eq!(hub.handle_event("t", at(42), payload(), NOW), Ok(true));
        assert_eq!(hub.position("t"), Some(at(42)));
        // Before 41 it never held anything: a gap, not an expiry.
        let early = hub.subscribe("t", Since::After(at(30)), NOW).unwrap();
        let got = drain(&mut hub, early);
        assert_eq!(discontinuity(&got[0]).reason, Reason::Gap);
        assert_eq!(offsets(&got), [41, 42]);
        // The broker skips 43..=49 (this node was disconnected): a waiting
        // subscriber learns it.
        assert_eq!(hub.handle_event("t", at(50), payload(), NOW), Ok(true));
        let got = drain(&mut hub, early);
        let gap = discontinuity(&got[0]);
        assert_eq!(
            (gap.reason, gap.from, gap.resume),
            (Reason::Gap, Some(at(42)), at(49))
        );
        assert_eq!(offsets(&got), [50]);
        // The broker lost the stream: a new epoch.
        let next = StreamPosition::new(Epoch(0xdef), 1);
        assert_eq!(hub.handle_event("t", next, payload(), NOW), Ok(true));
        let got = drain(&mut hub, early);
        assert_eq!(discontinuity(&got[0]).reason, Reason::EpochChanged);
        assert_eq!(offsets(&got), [1]);
    }

    #[test]
    fn the_history_expires_by_age() {
        let mut hub = hub(Config {
            history_age: Some(Duration::from_secs(60)),
            ..Config::default()
        });
        let first = hub.publish("t", Bytes::new(), Duration::ZERO).unwrap();
        hub.publish("t", Bytes::new(), Duration::from_secs(50))
            .unwrap();
        let later = Duration::from_secs(100);
        let id = hub.subscribe("t", Since::After(first), later).unwrap();
        let got: Vec<_> = core::iter::from_fn(|| hub.poll_delivery(id, later)).collect();
        assert_eq!(offsets(&got), [2]);
        let id = hub
            .subscribe("t", Since::Earliest, Duration::from_secs(200))
            .unwrap();
        assert_eq!(hub.poll_delivery(id, Duration::from_secs(200)), None);
    }

    #[test]
    fn limits_and_idle_topics() {
        let mut hub = hub(Config {
            max_topics: 2,
            max_subscriptions: 2,
            max_topic_len: 8,
            ..Config::default()
        });
        let payload = Bytes::new();
        assert_eq!(
            hub.publish("", payload.clone(), NOW),
            Err(LocalError::InvalidTopic)
        );
        assert_eq!(
            hub.publish("a\nb", payload.clone(), NOW),
            Err(LocalError::InvalidTopic)
        );
        assert_eq!(
            hub.publish("123456789", payload.clone(), NOW),
            Err(LocalError::InvalidTopic)
        );
        let a = hub.subscribe("a", Since::Live, NOW).unwrap();
        hub.publish("b", payload.clone(), NOW).unwrap();
        assert_eq!(
            hub.publish("c", payload, NOW),
            Err(LocalError::TooManyTopics)
        );
        hub.subscribe("b", Since::Live, NOW).unwrap();
        assert_eq!(
            hub.subscribe("b", Since::Live, NOW),
            Err(LocalError::TooManySubscriptions)
        );
        // A topic with neither subscription nor history goes with its last
        // subscription; one with history stays for recovery.
        hub.unsubscribe(a).unwrap();
        assert_eq!((hub.topics(), hub.position("a")), (1, None));
        let again = hub.subscribe("a", Since::Live, NOW).unwrap();
        assert_ne!(again, a, "a handle is not reused");
    }

    #[test]
    fn topics_get_distinct_epochs() {
        let mut hub = hub(Config::default());
        let a = hub.publish("a", Bytes::new(), NOW).unwrap();
        let b = hub.publish("b", Bytes::new(), NOW).unwrap();
        assert_ne!(a.epoch, b.epoch);
        let mut other = Hub::new(Config::default(), 8);
        assert_ne!(
            other.publish("a", Bytes::new(), NOW).unwrap().epoch,
            a.epoch
        );
    }

    /// A hub in front of a broker that holds `1..=last` of epoch 0xe, of which
    /// the hub has seen the last `history`.
    fn brokered(history: usize, limit: usize, last: u64) -> (Hub, Vec<(u64, Bytes)>) {
        let mut hub = hub(Config {
            history_events: history,
            fetch_limit: Some(limit),
            ..Config::default()
        });
        let broker: Vec<_> = (1..=last)
            .map(|offset| (offset, Bytes::from(format!("e{offset}"))))
            .collect();
        for (offset, payload) in &broker[broker.len().saturating_sub(history)..] {
            let at = StreamPosition::new(E, *offset);
            hub.handle_event("t", at, payload.clone(), NOW).unwrap();
        }
        (hub, broker)
    }

    const E: Epoch = Epoch(0xe);

    /// Answers `fetch` from `broker` (all of it still held).
    fn answer(hub: &mut Hub, fetch: &Fetch, broker: &[(u64, Bytes)]) {
        let head = StreamPosition::new(E, broker.last().map_or(0, |event| event.0));
        let events = broker
            .iter()
            .filter(|event| event.0 > fetch.after)
            .take(fetch.limit)
            .cloned();
        hub.handle_fetched(&fetch.topic, head, events, NOW);
    }

    #[test]
    fn a_resume_older_than_the_history_is_fetched_from_the_broker() {
        let (mut hub, broker) = brokered(2, 100, 6);
        let id = hub
            .subscribe("t", Since::After(StreamPosition::new(E, 1)), NOW)
            .unwrap();
        assert_eq!(hub.poll_ready(), None, "nothing until the broker answers");
        assert_eq!(hub.poll_delivery(id, NOW), None);
        let fetch = hub.poll_fetch().unwrap();
        assert_eq!(
            fetch,
            Fetch {
                topic: "t".into(),
                after: 1,
                limit: 100
            }
        );
        assert_eq!(hub.poll_fetch(), None, "one fetch");
        answer(&mut hub, &fetch, &broker);
        assert_eq!(hub.poll_ready(), Some(id));
        let got = drain(&mut hub, id);
        assert_eq!(offsets(&got), [2, 3, 4, 5, 6], "no gap, no duplicate");
        let Delivery::Event(event) = &got[0] else {
            panic!("{got:?}")
        };
        assert_eq!(&event.payload[..], b"e2");
        // And then live.
        hub.handle_event("t", StreamPosition::new(E, 7), Bytes::new(), NOW)
            .unwrap();
        assert_eq!(offsets(&drain(&mut hub, id)), [7]);
    }

    #[test]
    fn simultaneous_resumes_share_one_fetch() {
        let (mut hub, broker) = brokered(2, 100, 20);
        let ids: Vec<_> = [4, 1, 9]
            .map(|offset| {
                hub.subscribe("t", Since::After(StreamPosition::new(E, offset)), NOW)
                    .unwrap()
            })
            .into();
        let fetch = hub.poll_fetch().unwrap();
        assert_eq!(fetch.after, 1, "from the oldest position");
        // Resumes while it is in flight: one it covers, one from further back.
        let covered = hub
            .subscribe("t", Since::After(StreamPosition::new(E, 12)), NOW)
            .unwrap();
        let older = hub
            .subscribe("t", Since::After(StreamPosition::new(E, 0)), NOW)
            .unwrap();
        assert_eq!(hub.poll_fetch(), None, "one fetch in flight per topic");
        answer(&mut hub, &fetch, &broker);
        for (id, from) in ids.iter().zip([4, 1, 9]).chain([(&covered, 12)]) {
            let expected: Vec<u64> = (from + 1..=20).collect();
            assert_eq!(offsets(&drain(&mut hub, *id)), expected);
        }
        assert_eq!(hub.poll_delivery(older, NOW), None);
        let again = hub.poll_fetch().unwrap();
        assert_eq!(again.after, 0);
        answer(&mut hub, &again, &broker);
        assert_eq!(
            offsets(&drain(&mut hub, older)),
            (1..=20).collect::<Vec<_>>()
        );
    }

    #[test]
    fn long_recoveries_are_read_in_pieces_up_to_the_history() {
        let (mut hub, broker) = brokered(3, 4, 30);
        let id = hub
            .subscribe("t", Since::After(StreamPosition::new(E, 2)), NOW)
            .unwrap();
        let mut got = Vec::new();
        let mut fetches = 0;
        loop {
            got.extend(drain(&mut hub, id));
            let Some(fetch) = hub.poll_fetch() else { break };
            assert_eq!(fetch.limit, 4);
            fetches += 1;
            answer(&mut hub, &fetch, &broker);
        }
        assert_eq!(offsets(&got), (3..=30).collect::<Vec<_>>());
        assert_eq!(got.len(), 28, "no discontinuity");
        assert_eq!(fetches, 7, "25 events before the history, 4 at a time");
    }

    #[test]
    fn what_the_broker_no_longer_holds_is_a_discontinuity() {
        let (mut hub, broker) = brokered(2, 100, 10);
        let at = |offset| StreamPosition::new(E, offset);
        let expired = hub.subscribe("t", Since::After(at(2)), NOW).unwrap();
        let other_epoch = StreamPosition::new(Epoch(0xf), 3);
        let stale = hub.subscribe("t", Since::After(other_epoch), NOW).unwrap();
        let beyond = hub.subscribe("t", Since::After(at(50)), NOW).unwrap();
        let fetch = hub.poll_fetch().unwrap();
        // The broker trimmed everything before 6.
        answer(&mut hub, &fetch, &broker[5..]);
        let got = drain(&mut hub, expired);
        let gap = discontinuity(&got[0]);
        assert_eq!(
            (gap.reason, gap.from, gap.resume),
            (Reason::Expired, Some(at(2)), at(5))
        );
        assert_eq!(offsets(&got), [6, 7, 8, 9, 10]);
        // Another epoch: said at once, then the new one from its beginning.
        let got = drain(&mut hub, stale);
        let gap = discontinuity(&got[0]);
        assert_eq!((gap.reason, gap.resume), (Reason::EpochChanged, at(0)));
        assert_eq!(got.len(), 1);
        let fetch = hub.poll_fetch().unwrap();
        assert_eq!(fetch.after, 0);
        answer(&mut hub, &fetch, &broker[5..]);
        let got = drain(&mut hub, stale);
        assert_eq!(discontinuity(&got[0]).reason, Reason::Expired);
        assert_eq!(offsets(&got), [6, 7, 8, 9, 10]);
        let got = drain(&mut hub, beyond);
        assert_eq!(discontinuity(&got[0]).reason, Reason::Unknown);
        assert_eq!(offsets(&got), [9, 10]);
        // A broker that cannot be read.
        let unread = hub.subscribe("t", Since::After(at(1)), NOW).unwrap();
        hub.poll_fetch().unwrap();
        hub.handle_fetch_failed("t");
        let got = drain(&mut hub, unread);
        assert_eq!(discontinuity(&got[0]).reason, Reason::Unavailable);
        assert_eq!(offsets(&got), [9, 10]);
    }

    #[test]
    fn a_node_that_just_joined_or_lags_the_broker_waits_for_it() {
        // A fresh node: the topic is unknown; the client saw 3 of 5.
        let mut hub = hub(Config {
            fetch_limit: Some(100),
            ..Config::default()
        });
        let broker: Vec<_> = (1..=5).map(|offset| (offset, Bytes::new())).collect();
        let fresh = hub
            .subscribe("t", Since::After(StreamPosition::new(E, 3)), NOW)
            .unwrap();
        // And a client that saw 7, ahead of what this node has read so far.
        let ahead = hub
            .subscribe("t", Since::After(StreamPosition::new(E, 7)), NOW)
            .unwrap();
        let fetch = hub.poll_fetch().unwrap();
        answer(&mut hub, &fetch, &broker);
        assert_eq!(hub.position("t"), Some(StreamPosition::new(E, 5)));
        assert_eq!(offsets(&drain(&mut hub, fresh)), [4, 5]);
        assert_eq!(
            discontinuity(&drain(&mut hub, ahead)[0]).reason,
            Reason::Unknown
        );
        // Now the broker is at 7 and the node at 5: the client that saw 7 waits.
        let mut broker = broker;
        broker.extend((6..=7).map(|offset| (offset, Bytes::new())));
        let ahead = hub
            .subscribe("t", Since::After(StreamPosition::new(E, 7)), NOW)
            .unwrap();
        let fetch = hub.poll_fetch().unwrap();
        answer(&mut hub, &fetch, &broker);
        assert_eq!(drain(&mut hub, ahead), []);
        for offset in 6..=8 {
            let at = StreamPosition::new(E, offset);
            hub.handle_event("t", at, Bytes::new(), NOW).unwrap();
        }
        assert_eq!(offsets(&drain(&mut hub, ahead)), [8]);
        assert_eq!(offsets(&drain(&mut hub, fresh)), [6, 7, 8]);
    }

    #[test]
    fn a_gap_in_what_the_node_read_is_fetched() {
        let (mut hub, mut broker) = brokered(10, 100, 3);
        let id = hub.subscribe("t", Since::Live, NOW).unwrap();
        // The node's reader missed 4..=6 (a reconnection to the broker).
        broker.extend((4..=7).map(|offset| (offset, Bytes::from(format!("e{offset}")))));
        hub.handle_event("t", StreamPosition::new(E, 7), Bytes::from("e7"), NOW)
            .unwrap();
        assert_eq!(drain(&mut hub, id), []);
        let fetch = hub.poll_fetch().unwrap();
        assert_eq!(fetch.after, 3);
        answer(&mut hub, &fetch, &broker);
        assert_eq!(offsets(&drain(&mut hub, id)), [4, 5, 6, 7]);
    }

    #[test]
    fn ended_subscriptions_and_stray_answers_are_harmless() {
        let (mut hub, broker) = brokered(2, 100, 6);
        let id = hub
            .subscribe("t", Since::After(StreamPosition::new(E, 1)), NOW)
            .unwrap();
        hub.unsubscribe(id).unwrap();
        assert_eq!(hub.poll_fetch(), None, "nobody waits any more");
        let stray = Fetch {
            topic: "t".into(),
            after: 0,
            limit: 100,
        };
        answer(&mut hub, &stray, &broker);
        hub.handle_fetch_failed("t");
        hub.handle_fetch_failed("nope");
        assert_eq!(hub.poll_ready(), None);
        assert_eq!(hub.subscriptions(), 0);
    }

    #[test]
    fn the_head_of_the_broker_sets_the_epoch_before_anyone_subscribes() {
        let mut hub = hub(Config {
            fetch_limit: Some(8),
            ..Config::default()
        });
        let head = StreamPosition::new(E, 40);
        hub.handle_head("t", head).unwrap();
        assert_eq!(hub.position("t"), Some(head));
        let live = hub.subscribe("t", Since::Live, NOW).unwrap();
        let exact = hub.subscribe("t", Since::After(head), NOW).unwrap();
        hub.handle_head("t", StreamPosition::new(E, 39)).unwrap();
        assert_eq!(hub.position("t"), Some(head), "an older head is ignored");
        hub.handle_event("t", StreamPosition::new(E, 41), Bytes::new(), NOW)
            .unwrap();
        assert_eq!(offsets(&drain(&mut hub, live)), [41]);
        assert_eq!(offsets(&drain(&mut hub, exact)), [41]);
        // The broker lost the topic.
        hub.handle_head("t", StreamPosition::new(Epoch(0xf), 0))
            .unwrap();
        assert_eq!(hub.poll_ready(), Some(live));
        let got = drain(&mut hub, live);
        assert_eq!(discontinuity(&got[0]).reason, Reason::EpochChanged);
        assert_eq!(hub.handle_head("", head), Err(LocalError::InvalidTopic));
    }

    #[test]
    fn answers_at_the_end_of_the_offsets_are_harmless() {
        let mut hub = hub(Config {
            fetch_limit: Some(4),
            ..Config::default()
        });
        let top = StreamPosition::new(E, u64::MAX);
        hub.handle_head("t", StreamPosition::new(E, u64::MAX - 1))
            .unwrap();
        let id = hub
            .subscribe("t", Since::After(StreamPosition::new(E, u64::MAX - 3)), NOW)
            .unwrap();
        let fetch = hub.poll_fetch().unwrap();
        let events = [u64::MAX - 2, u64::MAX - 1, u64::MAX, u64::MAX, 0, 5];
        let events = events.map(|offset| (offset, Bytes::new()));
        hub.handle_fetched(&fetch.topic, top, events, NOW);
        let got = drain(&mut hub, id);
        // Up to the node's head; the last one comes from the node's follower.
        assert_eq!(offsets(&got), [u64::MAX - 2, u64::MAX - 1]);
        hub.handle_event("t", top, Bytes::new(), NOW).unwrap();
        assert_eq!(offsets(&drain(&mut hub, id)), [u64::MAX]);
    }

    #[test]
    fn the_topic_check_is_the_hubs_own() {
        let hub = hub(Config {
            max_topic_len: 4,
            ..Config::default()
        });
        assert_eq!(hub.check_topic("news"), Ok(()));
        for name in ["", "sport", "a\nb"] {
            assert_eq!(hub.check_topic(name), Err(LocalError::InvalidTopic));
        }
    }

    #[test]
    fn following_checks_the_name_and_counts_followed_topics() {
        let mut hub = hub(Config {
            max_topics: 1,
            ..Config::default()
        });
        assert_eq!(
            hub.follow("", Tagging::PerEvent),
            Err(LocalError::InvalidTopic)
        );
        assert_eq!(hub.poll_follow("t"), None, "not followed");
        hub.follow("t", Tagging::PerEvent).unwrap();
        hub.follow("t", Tagging::PerEvent).unwrap();
        assert_eq!(hub.poll_follow("t"), Some(Follow::ReadHead));
        assert_eq!(
            hub.follow("u", Tagging::PerEvent),
            Err(LocalError::TooManyTopics)
        );
        let answer = Followed::Head(StreamPosition::new(E, 1));
        assert_eq!(hub.handle_followed("u", answer, NOW), Ok(()), "ignored");
        assert_eq!(hub.position("u"), None);
    }

    #[test]
    fn a_followed_topic_is_kept_at_the_brokers_position() {
        let mut hub = hub(Config {
            fetch_limit: Some(8),
            ..Config::default()
        });
        hub.follow("t", Tagging::PerEvent).unwrap();
        let head = StreamPosition::new(E, 40);
        hub.handle_followed("t", Followed::Head(head), NOW).unwrap();
        assert_eq!(hub.position("t"), Some(head));
        let id = hub.subscribe("t", Since::Live, NOW).unwrap();
        hub.unsubscribe(id).unwrap();
        assert_eq!(hub.position("t"), Some(head), "no subscription, no history");
        let id = hub.subscribe("t", Since::After(head), NOW).unwrap();
        let events = vec![(Some(E), 41, Bytes::from("e41"))];
        hub.handle_followed("t", Followed::Events(events), NOW)
            .unwrap();
        assert_eq!(offsets(&drain(&mut hub, id)), [41]);
        assert_eq!(hub.poll_fetch(), None, "resumed from memory");
    }

    #[test]
    fn a_loss_read_by_the_follower_resumes_subscribers_from_the_new_beginning() {
        let mut hub = hub(Config {
            fetch_limit: Some(8),
            ..Config::default()
        });
        hub.follow("t", Tagging::PerEvent).unwrap();
        hub.handle_followed("t", Followed::Head(StreamPosition::new(E, 3)), NOW)
            .unwrap();
        let id = hub.subscribe("t", Since::Live, NOW).unwrap();
        // The stream was lost and made again: its first event says so.
        let events = vec![
            (Some(E), 4, Bytes::from("e4")),
            (Some(Epoch(0xf)), 1, Bytes::from("f1")),
            (Some(Epoch(0xf)), 2, Bytes::from("f2")),
        ];
        hub.handle_followed("t", Followed::Events(events), NOW)
            .unwrap();
        assert_eq!(offsets(&drain(&mut hub, id)), [4], "nothing after the loss");
        assert_eq!(hub.poll_follow("t"), Some(Follow::ReadHead));
        let new = StreamPosition::new(Epoch(0xf), 2);
        hub.handle_followed("t", Followed::Head(new), NOW).unwrap();
        assert_eq!(
            hub.poll_follow("t"),
            Some(Follow::ReadAfter(StreamPosition::new(new.epoch, 0)))
        );
        let got = drain(&mut hub, id);
        let gap = discontinuity(&got[0]);
        assert_eq!(gap.reason, Reason::EpochChanged);
        assert_eq!(
            gap.resume,
            StreamPosition::new(new.epoch, 0),
            "the new history from its beginning"
        );
        let events = vec![(None, 1, Bytes::from("f1")), (None, 2, Bytes::from("f2"))];
        hub.handle_followed("t", Followed::Events(events), NOW)
            .unwrap();
        assert_eq!(offsets(&drain(&mut hub, id)), [1, 2]);
    }

    #[test]
    fn a_followers_checks_and_failures_change_no_history() {
        let mut hub = hub(Config::default());
        hub.follow("t", Tagging::FromHead).unwrap();
        hub.handle_followed("t", Followed::Failed, NOW).unwrap();
        assert_eq!(hub.poll_follow("t"), Some(Follow::ReadHead));
        let head = StreamPosition::new(E, 5);
        hub.handle_followed("t", Followed::Head(head), NOW).unwrap();
        hub.handle_followed("t", Followed::Nothing, NOW).unwrap();
        assert_eq!(hub.poll_follow("t"), Some(Follow::CheckEpoch(E)));
        hub.handle_followed("t", Followed::Epoch(Some(E)), NOW)
            .unwrap();
        assert_eq!(hub.poll_follow("t"), Some(Follow::ReadAfter(head)));
        hub.handle_followed("t", Followed::Failed, NOW).unwrap();
        assert_eq!(hub.poll_follow("t"), Some(Follow::ReadHead), "untagged");
        assert_eq!(hub.position("t"), Some(head));
    }
}
