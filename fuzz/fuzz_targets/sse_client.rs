//! The SSE client machine fed an arbitrary response, in arbitrary pieces, must report
//! exactly what it reports for the same bytes in one piece (errors included), never
//! panic, and keep its invariants: one request per connection, nothing after CLOSED.
//!
//! Input layout: byte 0 picks the limits (head size, header count, parser line and
//! event limits, comments), bytes 1..8 are piece lengths used in turn, the rest is
//! what the server sends on the first connection. A redirect ends the comparison: the
//! next hop's bytes would depend on when the caller connects, which is its business.
#![no_main]

use core::time::Duration;

use libfuzzer_sys::fuzz_target;
use tidings_sse::client::Config;
use tidings_sse::{Client, Event, ReadyState};

const HEAD_LIMITS: [usize; 4] = [16 * 1024, 0, 40, 200];
const LINE_LIMITS: [usize; 4] = [16 << 20, 1, 16, 1024];

/// Feeds `pieces` to a fresh client, connecting when asked, until the first redirect;
/// returns every event after the first `Connect`.
fn run<'a>(config: &Config, pieces: impl IntoIterator<Item = &'a [u8]>) -> Vec<Event> {
    let now = Duration::ZERO;
    let mut client =
        Client::with_random_source("http://h/", config.clone(), |b: &mut [u8]| b.fill(0), now)
            .expect("a valid URL and config");
    assert!(matches!(client.poll_event(), Some(Event::Connect(_))));
    client.handle_connected();
    assert!(client.poll_transmit().is_some());
    assert!(client.poll_transmit().is_none());
    let mut events = Vec::new();
    for piece in pieces {
        client.handle_bytes(piece, now);
        while let Some(event) = client.poll_event() {
            let redirect = matches!(event, Event::Connect(_));
            events.push(event);
            if redirect {
                return events;
            }
        }
    }
    client.handle_disconnect(now);
    events.extend(std::iter::from_fn(|| client.poll_event()));
    if client.ready_state() == ReadyState::Closed {
        assert_eq!(client.poll_timeout(), None);
        client.handle_timeout(Duration::MAX);
        assert!(client.poll_event().is_none());
    }
    events
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let (lengths, response) = rest.split_at(rest.len().min(7));
    let mut config = Config::default();
    config.max_head_size = HEAD_LIMITS[usize::from(selector) & 3];
    config.max_headers = usize::from(selector >> 2 & 3) * 3;
    config.event_source.parser.max_line_len = LINE_LIMITS[usize::from(selector >> 4) & 3];
    config.event_source.parser.max_event_size = LINE_LIMITS[usize::from(selector >> 6) & 1];
    config.event_source.parser.comments = selector & 0x80 != 0;

    let whole = run(&config, [response]);
    let mut pieces = Vec::new();
    let mut left = response;
    let mut turn = 0;
    while !left.is_empty() {
        let len = lengths
            .get(turn % lengths.len().max(1))
            .map_or(1, |&l| usize::from(l));
        turn += 1;
        let (piece, tail) = left.split_at(len.clamp(1, left.len()));
        pieces.push(piece);
        left = tail;
    }
    assert_eq!(run(&config, pieces), whole);
});
