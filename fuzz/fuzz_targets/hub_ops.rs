//! The hub driven by arbitrary operations, positions parsed from arbitrary text
//! included: it never panics, keeps its history within the limits, and what a
//! subscription gets is in order, or a discontinuity says where it resumes.
//!
//! Input layout: byte 0 picks the config (history length, max lag, lag policy,
//! recovery from a broker); then each operation is one byte (its kind in the low 3
//! bits, an argument in the high 5), and a subscription from a position takes a
//! length byte and that many bytes of text to parse. With recovery, the broker's
//! answers to fetches are made up from the argument: another head, holes, failures;
//! so are the answers to a follower's reads (a broker event with bit 2 of the
//! argument set: the topic is followed, and its next read answered).
#![no_main]

use std::time::Duration;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use tidings_hub::{
    Config, Delivery, Epoch, Follow, Followed, Hub, LagPolicy, Since, StreamPosition, Tagging,
};

const TOPICS: [&str; 3] = ["a", "b", "c"];

fuzz_target!(|data: &[u8]| {
    let Some((&setup, mut ops)) = data.split_first() else {
        return;
    };
    let mut config = Config::default();
    config.history_events = usize::from(setup & 7) + 1;
    config.history_bytes = 64;
    config.max_lag = (setup & 0x18 != 0).then_some(u64::from((setup >> 3) & 3));
    config.lag_policy = if setup & 0x80 != 0 {
        LagPolicy::Drop
    } else {
        LagPolicy::Skip
    };
    // Recovery from a broker when the max-lag bits are 3 (a lag of 3 is tested
    // without it too, with another history length).
    let recovers = setup & 0x18 == 0x18 && setup & 1 == 0;
    config.fetch_limit = recovers.then_some(usize::from(setup >> 5 & 3) + 1);
    config.max_topics = 2;
    config.max_subscriptions = 16;
    let history = config.history_events;
    let mut hub = Hub::new(config, u64::from(setup));
    let mut subs = Vec::new();
    let mut now = Duration::ZERO;
    while let Some((&op, rest)) = ops.split_first() {
        ops = rest;
        let arg = usize::from(op >> 3);
        let topic = TOPICS[arg % 3];
        match op & 7 {
            0 => {
                let _ = hub.publish(topic, Bytes::from(vec![0; arg]), now);
            }
            1 | 2 => {
                let since = match (op & 7, arg % 4) {
                    (1, 0) => Since::Live,
                    (1, 1) => Since::Earliest,
                    (1, _) => Since::Lost,
                    _ => {
                        let Some((&len, rest)) = ops.split_first() else {
                            return;
                        };
                        let len = usize::from(len).min(rest.len());
                        let (text, rest) = rest.split_at(len);
                        ops = rest;
                        match std::str::from_utf8(text).map(StreamPosition::parse) {
                            Ok(Ok(position)) => {
                                assert_eq!(position.to_string().as_bytes(), text);
                                Since::After(position)
                            }
                            _ => Since::Lost,
                        }
                    }
                };
                if let Ok(id) = hub.subscribe(topic, since, now) {
                    subs.push((id, topic, None::<StreamPosition>));
                }
            }
            3 | 4 if !subs.is_empty() => {
                let index = arg % subs.len();
                let (id, topic, mut after) = subs[index];
                for _ in 0..=(op & 1) * 8 {
                    match hub.poll_delivery(id, now) {
                        Some(Delivery::Event(event)) => {
                            if let Some(after) = after {
                                assert_eq!(event.position.epoch, after.epoch);
                                assert_eq!(event.position.offset, after.offset + 1);
                            }
                            after = Some(event.position);
                        }
                        Some(Delivery::Discontinuity(gap)) => after = Some(gap.resume),
                        Some(Delivery::Dropped) => {
                            subs.remove(index);
                            break;
                        }
                        Some(_) => unreachable!("a new kind of delivery"),
                        None => {
                            // With recovery, None may be a wait for the broker.
                            if after.is_some() && !recovers {
                                assert_eq!(after, hub.position(topic));
                            }
                            break;
                        }
                    }
                }
                if let Some(sub) = subs.get_mut(index).filter(|sub| sub.0 == id) {
                    sub.2 = after;
                }
            }
            5 if !subs.is_empty() => {
                let (id, _, _) = subs.remove(arg % subs.len());
                hub.unsubscribe(id).unwrap();
            }
            6 if arg & 4 != 0 => {
                let tagging = if arg & 1 != 0 {
                    Tagging::FromHead
                } else {
                    Tagging::PerEvent
                };
                let _ = hub.follow(topic, tagging);
                let current = hub
                    .position(topic)
                    .unwrap_or(StreamPosition::new(Epoch(0), 0));
                let other = |epoch: Epoch| {
                    if arg & 16 != 0 {
                        Epoch(epoch.0.wrapping_add(1))
                    } else {
                        epoch
                    }
                };
                let answer = match hub.poll_follow(topic) {
                    None => continue, // not followed: nothing changed
                    Some(Follow::ReadHead) => Followed::Head(StreamPosition::new(
                        other(current.epoch),
                        current.offset + (arg as u64 & 2),
                    )),
                    Some(Follow::ReadAfter(after)) if arg & 8 != 0 => {
                        let tag = (tagging == Tagging::PerEvent).then_some(other(after.epoch));
                        let offsets = after.offset + 1..=after.offset + 1 + (arg as u64 & 2);
                        Followed::Events(offsets.map(|at| (tag, at, Bytes::new())).collect())
                    }
                    Some(Follow::ReadAfter(_)) if arg & 2 != 0 => Followed::Nothing,
                    Some(Follow::ReadAfter(_)) => Followed::Failed,
                    Some(Follow::CheckEpoch(epoch)) => {
                        Followed::Epoch((arg & 8 == 0).then_some(other(epoch)))
                    }
                };
                let _ = hub.handle_followed(topic, answer, now);
            }
            6 => {
                let current = hub
                    .position(topic)
                    .unwrap_or(StreamPosition::new(Epoch(0), 0));
                let epoch = if arg & 16 != 0 {
                    Epoch(current.epoch.0 + 1)
                } else {
                    current.epoch
                };
                let position = StreamPosition::new(epoch, current.offset + (arg as u64 & 3));
                if arg & 8 != 0 {
                    // A follower (re)attaching: the broker's head.
                    let _ = hub.handle_head(topic, position);
                } else {
                    let _ = hub.handle_event(topic, position, Bytes::new(), now);
                }
            }
            7 if !recovers || arg & 1 == 0 => now += Duration::from_secs(arg as u64 >> 1),
            7 => {
                if let Some(fetch) = hub.poll_fetch() {
                    let current = hub
                        .position(fetch.topic.as_str())
                        .unwrap_or(StreamPosition::new(Epoch(0), 0));
                    if arg & 2 != 0 {
                        hub.handle_fetch_failed(&fetch.topic);
                    } else {
                        // A head near the hub's, in its epoch or the next; events
                        // after `after`, with a hole or not.
                        let epoch = Epoch(current.epoch.0.wrapping_add(u64::from(arg & 4 != 0)));
                        let head = StreamPosition::new(epoch, current.offset + (arg as u64 >> 3));
                        let hole = arg & 8 != 0;
                        let events = (fetch.after + 1..=head.offset)
                            .filter(|offset| !(hole && offset % 3 == 0))
                            .map(|offset| (offset, Bytes::new()))
                            .take(fetch.limit + 1);
                        hub.handle_fetched(&fetch.topic, head, events, now);
                    }
                }
            }
            _ => {}
        }
        for topic in TOPICS {
            assert!(hub.history_len(topic) <= history);
        }
        while hub.poll_ready().is_some() {}
    }
});
