//! Properties of the hub under any sequence of publishes, subscriptions, polls and
//! unsubscriptions: what a subscriber gets is a gapless, duplicate-free run of the
//! events published, except where a discontinuity says exactly where it resumes;
//! drained subscribers are at the head; the history stays within its limits.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use proptest::prelude::*;
use tidings_hub::{Config, Delivery, Epoch, Hub, LagPolicy, Since, StreamPosition, SubscriptionId};

const TOPICS: [&str; 2] = ["a", "b"];
const NOW: Duration = Duration::ZERO;

#[derive(Clone, Debug)]
enum Op {
    Publish(usize),
    Subscribe(usize, u8, u64),
    Poll(usize, u8),
    Unsubscribe(usize),
    /// A broker event: topic, whether the broker lost its history (a new epoch;
    /// epochs never repeat), offset step past the last event (0: a duplicate, more
    /// than 1: a gap).
    Broker(usize, bool, u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..2usize).prop_map(Op::Publish),
        2 => (0..2usize, 0..4u8, 0..40u64).prop_map(|(t, k, o)| Op::Subscribe(t, k, o)),
        4 => (0..8usize, 1..6u8).prop_map(|(s, n)| Op::Poll(s, n)),
        1 => (0..8usize).prop_map(Op::Unsubscribe),
    ]
}

fn broker_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..2usize, prop::bool::weighted(0.1), 0..3u8).prop_map(|(t, e, s)| Op::Broker(t, e, s)),
        2 => (0..2usize, 0..4u8, 0..40u64).prop_map(|(t, k, o)| Op::Subscribe(t, k, o)),
        4 => (0..8usize, 1..6u8).prop_map(|(s, n)| Op::Poll(s, n)),
        1 => (0..8usize).prop_map(Op::Unsubscribe),
    ]
}

struct Subscriber {
    id: SubscriptionId,
    topic: &'static str,
    /// The position the next event must follow, when known.
    after: Option<StreamPosition>,
    /// Its last poll found nothing: the next event must wake it.
    parked: bool,
}

/// The broker's copy of each topic: its epoch and every event of it from `floor` on
/// (what it has not trimmed).
type Broker = HashMap<&'static str, (Epoch, u64, Vec<(u64, Bytes)>)>;

/// Answers every fetch the hub asks for from `broker`.
fn serve(hub: &mut Hub, broker: &Broker) {
    while let Some(fetch) = hub.poll_fetch() {
        let Some((epoch, _, events)) = TOPICS
            .iter()
            .find(|topic| **topic == fetch.topic)
            .and_then(|topic| broker.get(topic))
        else {
            hub.handle_fetch_failed(&fetch.topic);
            continue;
        };
        let head = StreamPosition::new(*epoch, events.last().map_or(0, |event| event.0));
        let answer = events
            .iter()
            .filter(|event| event.0 > fetch.after)
            .take(fetch.limit)
            .cloned();
        hub.handle_fetched(&fetch.topic, head, answer, NOW);
    }
}

fn run(config: Config, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let history_events = config.history_events;
    let recovers = config.fetch_limit.is_some();
    let mut broker: Broker = HashMap::new();
    let mut hub = Hub::new(config, 1);
    let mut published: HashMap<(&str, StreamPosition), Bytes> = HashMap::new();
    let mut seen: Vec<StreamPosition> = Vec::new();
    let mut subscribers: Vec<Subscriber> = Vec::new();
    let mut counter = 0u64;
    // Broker epochs, counted far from the hub's own (drawn from its seed).
    let mut epochs = 1u64 << 40;
    for op in ops {
        match op {
            Op::Publish(t) => {
                counter += 1;
                let payload = Bytes::from(counter.to_string());
                let position = hub.publish(TOPICS[t], payload.clone(), NOW).unwrap();
                published.insert((TOPICS[t], position), payload);
            }
            Op::Broker(t, lost, step) => {
                let current = hub.position(TOPICS[t]);
                let position = match current {
                    Some(current) if !lost => {
                        StreamPosition::new(current.epoch, current.offset + u64::from(step))
                    }
                    _ => {
                        epochs += 1;
                        StreamPosition::new(Epoch(epochs), u64::from(step) + 1)
                    }
                };
                // The broker holds what this hub skips over; it trims to 8.
                let copy = broker
                    .entry(TOPICS[t])
                    .or_insert((position.epoch, 0, Vec::new()));
                if copy.0 != position.epoch {
                    *copy = (position.epoch, 0, Vec::new());
                }
                let last = copy.2.last().map_or(0, |event| event.0);
                for offset in last + 1..=position.offset {
                    counter += 1;
                    let payload = Bytes::from(counter.to_string());
                    copy.2.push((offset, payload.clone()));
                    let at = StreamPosition::new(position.epoch, offset);
                    published.insert((TOPICS[t], at), payload);
                }
                let excess = copy.2.len().saturating_sub(8);
                copy.2.drain(..excess);
                let payload = published
                    .get(&(TOPICS[t], position))
                    .cloned()
                    .unwrap_or_default();
                hub.handle_event(TOPICS[t], position, payload, NOW).unwrap();
            }
            Op::Subscribe(t, kind, pick) => {
                let topic = TOPICS[t];
                let (since, after) = match kind {
                    0 => (Since::Live, None),
                    1 => (Since::Earliest, None),
                    2 => (Since::Lost, None),
                    _ => {
                        let position = seen
                            .get(pick as usize % seen.len().max(1))
                            .copied()
                            .unwrap_or(StreamPosition::new(Epoch(pick), pick));
                        (Since::After(position), Some(position))
                    }
                };
                let id = hub.subscribe(topic, since, NOW).unwrap();
                // From the earliest event of an empty history is from its head.
                let after = match since {
                    Since::Earliest if hub.history_len(topic) == 0 => hub.position(topic),
                    Since::Live => hub.position(topic),
                    _ => after,
                };
                subscribers.push(Subscriber {
                    id,
                    topic,
                    after,
                    parked: false,
                });
            }
            Op::Poll(s, n) => {
                let Some(subscriber) = subscribers.get_mut(s) else {
                    continue;
                };
                let mut drained = false;
                for _ in 0..n {
                    if recovers {
                        serve(&mut hub, &broker);
                    }
                    let delivery = match hub.poll_delivery(subscriber.id, NOW) {
                        // Waiting for the broker, perhaps: answer and look again.
                        None if recovers => {
                            serve(&mut hub, &broker);
                            hub.poll_delivery(subscriber.id, NOW)
                        }
                        delivery => delivery,
                    };
                    match delivery {
                        None => {
                            drained = true;
                            subscriber.parked = true;
                            break;
                        }
                        Some(Delivery::Event(event)) => {
                            subscriber.parked = false;
                            if let Some(after) = subscriber.after {
                                prop_assert_eq!(event.position.epoch, after.epoch);
                                prop_assert_eq!(event.position.offset, after.offset + 1);
                            }
                            let expected = published.get(&(subscriber.topic, event.position));
                            prop_assert_eq!(Some(&event.payload), expected);
                            subscriber.after = Some(event.position);
                            seen.push(event.position);
                        }
                        Some(Delivery::Discontinuity(gap)) => {
                            subscriber.parked = false;
                            subscriber.after = Some(gap.resume);
                        }
                        Some(Delivery::Dropped) => {
                            subscribers.remove(s);
                            break;
                        }
                        Some(other) => prop_assert!(false, "unexpected {:?}", other),
                    }
                }
                if drained {
                    let subscriber = &subscribers[s];
                    // At the head: everything was delivered or said to be missed.
                    prop_assert_eq!(subscriber.after, hub.position(subscriber.topic));
                }
            }
            Op::Unsubscribe(s) => {
                if s < subscribers.len() {
                    let subscriber = subscribers.remove(s);
                    hub.unsubscribe(subscriber.id).unwrap();
                }
            }
        }
        for topic in TOPICS {
            prop_assert!(hub.history_len(topic) <= history_events);
        }
        prop_assert_eq!(hub.subscriptions(), subscribers.len());
    }
    // A parked subscription whose topic moved on is named by poll_ready.
    serve(&mut hub, &broker);
    let mut ready = Vec::new();
    while let Some(id) = hub.poll_ready() {
        ready.push(id);
    }
    for subscriber in &subscribers {
        if subscriber.parked && subscriber.after != hub.position(subscriber.topic) {
            prop_assert!(
                ready.contains(&subscriber.id),
                "a parked subscription was not woken"
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn published_events_arrive_in_order_or_with_a_discontinuity(
        ops in prop::collection::vec(op(), 1..200),
        history in 1..6usize,
        max_lag in prop::option::of(1..4u64),
        drop in any::<bool>(),
    ) {
        let mut config = Config::default();
        config.history_events = history;
        config.max_lag = max_lag;
        config.lag_policy = if drop { LagPolicy::Drop } else { LagPolicy::Skip };
        run(config, ops)?;
    }

    #[test]
    fn broker_events_arrive_in_order_or_with_a_discontinuity(
        ops in prop::collection::vec(broker_op(), 1..200),
        history in 1..6usize,
    ) {
        let mut config = Config::default();
        config.history_events = history;
        run(config, ops)?;
    }

    #[test]
    fn with_recovery_from_the_broker_the_same_holds(
        ops in prop::collection::vec(broker_op(), 1..200),
        history in 1..6usize,
        limit in 1..5usize,
    ) {
        let mut config = Config::default();
        config.history_events = history;
        config.fetch_limit = Some(limit);
        run(config, ops)?;
    }
}
