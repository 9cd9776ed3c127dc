//! The EventSource machine driven in memory with virtual time: a fake server writes
//! with the encoder, the "network" is a function call, the clock is a `Duration`.

mod common;

use common::Rng;
use core::time::Duration;
use tidings_sse::encode::{self, EventBuilder};
use tidings_sse::event_source::{
    Backoff, Cause, Config, Event, EventSource, ReadyState, Request, Warning,
};
use tidings_sse::{Error, MessageEvent};

const STREAM: Option<&[u8]> = Some(b"text/event-stream");

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// A source with zero jitter unless a config says otherwise.
fn source(config: Config) -> EventSource {
    EventSource::with_random_source(config, |buf: &mut [u8]| buf.fill(0))
}

fn no_backoff() -> Config {
    let mut config = Config::default();
    config.backoff = None;
    config
}

fn drain(source: &mut EventSource) -> Vec<Event> {
    std::iter::from_fn(|| source.poll_event()).collect()
}

/// Drains and expects exactly one `Connect`, returning its request.
fn expect_connect(source: &mut EventSource) -> Request {
    match &drain(source)[..] {
        [Event::Connect(request)] => request.clone(),
        other => panic!("expected one Connect, got {other:?}"),
    }
}

/// Opens a connection: answers the pending request with a good response.
fn open(source: &mut EventSource, now: Duration) -> Request {
    let request = expect_connect(source);
    source.handle_response(200, STREAM, now);
    assert_eq!(drain(source), [Event::Open]);
    assert_eq!(source.ready_state(), ReadyState::Open);
    request
}

fn message(event_type: &str, data: &str, id: &str) -> Event {
    Event::Message(MessageEvent::new(event_type, data, id))
}

fn reconnecting(cause: Cause) -> Event {
    Event::Error {
        ready_state: ReadyState::Connecting,
        cause,
    }
}

fn failed(cause: Cause) -> Event {
    Event::Error {
        ready_state: ReadyState::Closed,
        cause,
    }
}

/// Disconnects at `now`, and returns the delay the machine chose.
fn disconnect(source: &mut EventSource, now: Duration) -> Duration {
    source.handle_disconnect(now);
    assert_eq!(drain(source), [reconnecting(Cause::Disconnected)]);
    assert_eq!(source.ready_state(), ReadyState::Connecting);
    source.poll_timeout().expect("a reconnection is scheduled") - now
}

#[test]
fn first_request_headers() {
    let mut source = source(Config::default());
    assert_eq!(source.ready_state(), ReadyState::Connecting);
    let request = expect_connect(&mut source);
    let headers: Vec<_> = request.headers().collect();
    assert_eq!(
        headers,
        [
            ("Accept", "text/event-stream"),
            ("Cache-Control", "no-store")
        ]
    );
    assert_eq!(request.last_event_id(), None);
    assert_eq!(source.poll_timeout(), None);
}

#[test]
fn events_flow_and_last_event_id_is_sent_on_the_next_request() {
    let mut source = source(no_backoff());
    open(&mut source, secs(0));
    let mut body = Vec::new();
    EventBuilder::new()
        .id("1")
        .data("a")
        .encode(&mut body)
        .unwrap();
    EventBuilder::new()
        .event("e")
        .data("b")
        .encode(&mut body)
        .unwrap();
    source.handle_body(&body, secs(1));
    assert_eq!(
        drain(&mut source),
        [message("", "a", "1"), message("e", "b", "1")]
    );
    assert_eq!(source.last_event_id(), "1");

    let delay = disconnect(&mut source, secs(2));
    assert_eq!(delay, secs(3), "the default reconnection time");
    source.handle_timeout(secs(4));
    assert_eq!(drain(&mut source), [], "not yet due");
    source.handle_timeout(secs(5));
    let request = expect_connect(&mut source);
    assert_eq!(request.last_event_id(), Some("1"));
    assert!(request.headers().any(|h| h == ("Last-Event-ID", "1")));
}

#[test]
fn disconnect_mid_event_discards_the_partial_event() {
    let mut source = source(no_backoff());
    open(&mut source, secs(0));
    source.handle_body(b"id: 1\ndata: complete\n\nid: 2\ndata: part", secs(0));
    assert_eq!(drain(&mut source), [message("", "complete", "1")]);
    let delay = disconnect(&mut source, secs(1));
    source.handle_timeout(secs(1) + delay);
    // The id of the unfinished block never became the last event ID.
    assert_eq!(expect_connect(&mut source).last_event_id(), Some("1"));
    source.handle_response(200, STREAM, secs(5));
    assert_eq!(drain(&mut source), [Event::Open]);
    // The new stream does not continue the old partial line or block.
    source.handle_body(b"ial\n\ndata: fresh\n\n", secs(5));
    // ("ial" is an unknown field; the resumed stream keeps last event ID "1".)
    assert_eq!(drain(&mut source), [message("", "fresh", "1")]);
}

#[test]
fn id_only_block_sets_the_last_event_id() {
    let mut source = source(no_backoff());
    open(&mut source, secs(0));
    source.handle_body(b"id: 9\n\n", secs(0));
    assert_eq!(drain(&mut source), []);
    assert_eq!(source.last_event_id(), "9");
    source.handle_body(b"id\n\n", secs(0));
    assert_eq!(source.last_event_id(), "");
    let delay = disconnect(&mut source, secs(0));
    source.handle_timeout(delay);
    // An empty last event ID sends no header at all.
    let request = expect_connect(&mut source);
    assert_eq!(request.last_event_id(), None);
    assert_eq!(request.headers().count(), 2);
}

#[test]
fn retry_sets_the_reconnection_time_even_without_dispatch() {
    let mut source = source(no_backoff());
    open(&mut source, secs(0));
    // The block never ends: the retry still counts.
    source.handle_body(b"retry: 1500\ndata: never dispatched", secs(0));
    assert_eq!(drain(&mut source), []);
    assert_eq!(source.reconnection_time(), Duration::from_millis(1500));
    assert_eq!(
        disconnect(&mut source, secs(10)),
        Duration::from_millis(1500)
    );
    // And it survives reconnection.
    source.handle_timeout(secs(12));
    open(&mut source, secs(12));
    assert_eq!(
        disconnect(&mut source, secs(13)),
        Duration::from_millis(1500)
    );
}

#[test]
fn status_204_closes_for_good() {
    let mut source = source(Config::default());
    let _ = expect_connect(&mut source);
    source.handle_response(204, None, secs(0));
    assert_eq!(drain(&mut source), [failed(Cause::Status(204))]);
    assert_eq!(source.ready_state(), ReadyState::Closed);
    assert_eq!(source.poll_timeout(), None);
    // Late news changes nothing.
    source.handle_disconnect(secs(1));
    source.handle_timeout(secs(100));
    source.handle_body(b"data: x\n\n", secs(100));
    assert_eq!(drain(&mut source), []);
}

#[test]
fn other_statuses_and_wrong_content_types_fail_the_connection() {
    for (status, content_type, cause) in [
        (500, STREAM, Cause::Status(500)),
        (404, STREAM, Cause::Status(404)),
        (301, STREAM, Cause::Status(301)),
        (200, Some(&b"text/plain"[..]), Cause::ContentType),
        (200, Some(&b"application/json"[..]), Cause::ContentType),
        (200, None, Cause::ContentType),
    ] {
        let mut source = source(Config::default());
        let _ = expect_connect(&mut source);
        source.handle_response(status, content_type, secs(0));
        assert_eq!(drain(&mut source), [failed(cause)]);
        assert_eq!(source.ready_state(), ReadyState::Closed);
    }
    // Parameters do not matter.
    let mut source = source(Config::default());
    let _ = expect_connect(&mut source);
    source.handle_response(200, Some(b"text/event-stream; charset=utf-8"), secs(0));
    assert_eq!(drain(&mut source), [Event::Open]);
}

#[test]
fn network_error_before_the_response_reconnects() {
    let mut source = source(no_backoff());
    let _ = expect_connect(&mut source);
    assert_eq!(disconnect(&mut source, secs(0)), secs(3));
    source.handle_timeout(secs(3));
    let _ = expect_connect(&mut source);
    // A stray response to nobody's request is ignored while waiting.
    let delay = disconnect(&mut source, secs(3));
    source.handle_response(200, STREAM, secs(4));
    assert_eq!(drain(&mut source), []);
    assert_eq!(source.poll_timeout(), Some(secs(3) + delay));
}

/// A config with backoff on, a 1 s reconnection time, a 10 s cap, no jitter.
fn backoff_config() -> Config {
    let mut config = Config::default();
    config.reconnection_time = secs(1);
    let mut backoff = Backoff::default();
    backoff.max_delay = secs(10);
    backoff.jitter_percent = 0;
    config.backoff = Some(backoff);
    config
}

#[test]
fn failed_attempts_back_off_up_to_the_cap() {
    let mut source = source(backoff_config());
    let mut now = secs(0);
    let mut delays = Vec::new();
    for _ in 0..6 {
        let _ = expect_connect(&mut source);
        let delay = disconnect(&mut source, now);
        delays.push(delay.as_secs());
        now += delay;
        source.handle_timeout(now);
    }
    assert_eq!(delays, [1, 2, 4, 8, 10, 10]);
    // A failure the transport can name counts the same.
    let _ = expect_connect(&mut source);
    source.handle_error(Error::ConnectTimeout, now);
    assert_eq!(
        drain(&mut source),
        [reconnecting(Cause::Error(Error::ConnectTimeout))]
    );
    assert_eq!(source.poll_timeout(), Some(now + secs(10)));
}

/// Issue 14, point 4: a stream that opened with 200 and delivered events counts as
/// established however short it was: the wait is the server's `retry`, every time,
/// as a browser waits it; only failed attempts back off.
#[test]
fn established_streams_wait_the_reconnection_time_and_reset_the_failures() {
    let mut source = source(backoff_config());
    let mut now = secs(0);
    // Two failed attempts first: the count is at 2.
    for want in [1, 2] {
        let _ = expect_connect(&mut source);
        let delay = disconnect(&mut source, now);
        assert_eq!(delay, secs(want));
        now += delay;
        source.handle_timeout(now);
    }
    // Then streams that open, deliver an event with `retry: 100`, and end at once.
    let mut delays = Vec::new();
    for n in 0..5 {
        open(&mut source, now);
        let body = format!("retry: 100\nid: {n}\ndata: x\n\n");
        source.handle_body(body.as_bytes(), now);
        assert_eq!(drain(&mut source), [message("", "x", &n.to_string())]);
        let delay = disconnect(&mut source, now + Duration::from_millis(5));
        delays.push(delay.as_millis());
        now += Duration::from_millis(5) + delay;
        source.handle_timeout(now);
    }
    assert_eq!(delays, [100; 5]);
    // An attempt that fails after an established stream starts the doubling again.
    let _ = expect_connect(&mut source);
    assert_eq!(disconnect(&mut source, now), Duration::from_millis(200));
}

/// Issue 14, point 4: `retry: 0` from a server that closes after each event made a
/// client send 34,000 requests in 10 s. The floor holds it to 10 a second.
#[test]
fn retry_zero_cannot_make_the_client_spin() {
    let mut source = source(Config::default());
    let end = secs(10);
    let mut now = secs(0);
    let mut requests = 0;
    let mut warnings = Vec::new();
    while now < end && requests < 10_000 {
        let events = drain(&mut source);
        assert!(
            matches!(events.last(), Some(Event::Connect(_))),
            "{events:?}"
        );
        warnings.extend(
            events
                .into_iter()
                .filter(|e| matches!(e, Event::Warning(_))),
        );
        requests += 1;
        source.handle_response(200, STREAM, now);
        source.handle_body(b"retry: 0\ndata: x\n\n", now);
        source.handle_disconnect(now);
        warnings.extend(
            drain(&mut source)
                .into_iter()
                .filter(|e| matches!(e, Event::Warning(_))),
        );
        now = source.poll_timeout().unwrap();
        source.handle_timeout(now);
    }
    assert_eq!(requests, 100, "one request per 100 ms");
    assert_eq!(source.reconnection_time(), Duration::from_millis(100));
    // Logged once, not once per connection.
    assert_eq!(
        warnings,
        [Event::Warning(Warning::RetryClamped {
            requested: Duration::ZERO,
            used: Duration::from_millis(100)
        })]
    );
}

/// Issue 14, point 4: `retry: 10000000000` (four months) was obeyed silently.
#[test]
fn absurd_retry_is_capped_with_a_warning() {
    let mut source = source(no_backoff());
    open(&mut source, secs(0));
    source.handle_body(b"retry: 10000000000\n", secs(0));
    let capped = Event::Warning(Warning::RetryClamped {
        requested: Duration::from_millis(10_000_000_000),
        used: secs(600),
    });
    assert_eq!(drain(&mut source), [capped]);
    assert_eq!(source.reconnection_time(), secs(600));
    assert_eq!(disconnect(&mut source, secs(1)), secs(600));
    // A value within bounds is taken as is, without a warning.
    source.handle_timeout(secs(601));
    open(&mut source, secs(601));
    source.handle_body(b"retry: 599999\n", secs(601));
    assert_eq!(drain(&mut source), []);
    assert_eq!(source.reconnection_time(), Duration::from_millis(599_999));
    // The bounds are the application's to choose.
    let mut config = no_backoff();
    config.min_reconnection_time = Duration::ZERO;
    config.max_reconnection_time = Duration::MAX;
    let mut source = self::source(config);
    open(&mut source, secs(0));
    source.handle_body(b"retry: 0\nretry: 10000000000\n", secs(0));
    assert_eq!(drain(&mut source), []);
    assert_eq!(
        source.reconnection_time(),
        Duration::from_millis(10_000_000_000)
    );
}

/// Issue 14, point 4: an `id` of megabytes would be sent back as `Last-Event-ID` on
/// every reconnection.
#[test]
fn a_too_long_id_is_not_sent_back() {
    let mut config = no_backoff();
    config.max_last_event_id_len = 8;
    let mut source = source(config);
    open(&mut source, secs(0));
    source.handle_body(b"id: 123456789\ndata: x\n\n", secs(0));
    assert_eq!(drain(&mut source), [message("", "x", "123456789")]);
    let delay = disconnect(&mut source, secs(0));
    source.handle_timeout(delay);
    let warning = Event::Warning(Warning::LastEventIdNotSent { len: 9, limit: 8 });
    match &drain(&mut source)[..] {
        [w, Event::Connect(request)] if *w == warning => {
            assert_eq!(request.last_event_id(), None);
            assert_eq!(request.headers().count(), 2);
        }
        other => panic!("{other:?}"),
    }
    // The same ID again: no second warning.
    source.handle_disconnect(delay);
    let _ = drain(&mut source);
    source.handle_timeout(delay * 2);
    assert!(matches!(&drain(&mut source)[..], [Event::Connect(r)] if r.last_event_id().is_none()));
    // An ID within the limit is sent again.
    source.handle_response(200, STREAM, delay * 2);
    source.handle_body(b"id: 12345678\n\n", delay * 2);
    let _ = drain(&mut source);
    let _ = disconnect(&mut source, delay * 2);
    source.handle_timeout(delay * 3);
    assert_eq!(
        expect_connect(&mut source).last_event_id(),
        Some("12345678")
    );
}

/// Issue 14, point 5: a server that sends the head and then nothing held the client
/// forever.
#[test]
fn a_silent_stream_times_out_and_reconnects() {
    let mut source = source(no_backoff());
    open(&mut source, secs(0));
    assert_eq!(source.poll_timeout(), Some(secs(45)));
    // Body bytes, even a keep-alive comment, push the deadline back.
    source.handle_body(b":\n", secs(30));
    assert_eq!(source.poll_timeout(), Some(secs(75)));
    source.handle_timeout(secs(74));
    assert_eq!(source.ready_state(), ReadyState::Open);
    source.handle_timeout(secs(75));
    assert_eq!(
        drain(&mut source),
        [reconnecting(Cause::Error(Error::ReadTimeout))]
    );
    assert_eq!(source.poll_timeout(), Some(secs(78)));
    source.handle_timeout(secs(78));
    let _ = expect_connect(&mut source);
    // `None` waits forever.
    let mut config = no_backoff();
    config.read_timeout = None;
    let mut source = self::source(config);
    open(&mut source, secs(0));
    assert_eq!(source.poll_timeout(), None);
}

#[test]
fn futile_errors_fail_the_connection() {
    let mut source = source(Config::default());
    let _ = expect_connect(&mut source);
    source.handle_error(Error::TooManyRedirects { limit: 5 }, secs(0));
    assert_eq!(
        drain(&mut source),
        [failed(Cause::Error(Error::TooManyRedirects { limit: 5 }))]
    );
    assert_eq!(source.poll_timeout(), None);
}

#[test]
fn server_retry_is_a_floor_for_the_cap() {
    let mut config = Config::default();
    let mut backoff = Backoff::default();
    backoff.max_delay = secs(5);
    backoff.jitter_percent = 0;
    config.backoff = Some(backoff);
    let mut source = source(config);
    open(&mut source, secs(0));
    source.handle_body(b"retry: 20000\n", secs(0));
    // Never less than the reconnection time, whatever the cap.
    assert_eq!(disconnect(&mut source, secs(1)), secs(20));
}

#[test]
fn jitter_comes_from_the_injected_source_and_only_adds() {
    let mut config = Config::default();
    config.reconnection_time = secs(10);
    let mut backoff = Backoff::default();
    backoff.jitter_percent = 50;
    config.backoff = Some(backoff);
    let mut rng = Rng(7);
    let mut source = EventSource::with_random_source(config, move |buf: &mut [u8]| {
        for byte in buf {
            *byte = rng.next() as u8;
        }
    });
    let _ = expect_connect(&mut source);
    let delay = disconnect(&mut source, secs(0));
    assert!(delay > secs(10) && delay <= secs(15), "{delay:?}");

    // Same seed, same delay: runs are reproducible.
    let mut rng = Rng(7);
    let mut again = EventSource::with_random_source(config, move |buf: &mut [u8]| {
        for byte in buf {
            *byte = rng.next() as u8;
        }
    });
    let _ = expect_connect(&mut again);
    assert_eq!(disconnect(&mut again, secs(0)), delay);
}

#[test]
fn exceeding_a_limit_reconnects() {
    let mut config = no_backoff();
    config.parser.max_line_len = 16;
    let mut source = source(config);
    open(&mut source, secs(0));
    source.handle_body(b"data: ok\n\ndata: this line is far too long", secs(0));
    assert_eq!(
        drain(&mut source),
        [
            message("", "ok", ""),
            reconnecting(Cause::Error(Error::LineTooLong { limit: 16 }))
        ]
    );
    assert_eq!(source.poll_timeout(), Some(secs(3)));
}

#[test]
fn close_stops_everything_and_drops_unpolled_events() {
    let mut source = source(Config::default());
    open(&mut source, secs(0));
    source.handle_body(b"data: a\n\n", secs(0));
    source.close();
    assert_eq!(source.ready_state(), ReadyState::Closed);
    assert_eq!(drain(&mut source), []);
    source.handle_disconnect(secs(1));
    assert_eq!(source.poll_timeout(), None);
    assert_eq!(drain(&mut source), []);
}

#[test]
fn comments_reach_the_application_when_asked_for() {
    let mut config = no_backoff();
    config.parser.comments = true;
    let mut source = source(config);
    open(&mut source, secs(0));
    let mut body = Vec::new();
    encode::write_keep_alive(&mut body);
    encode::write_comment("hi", &mut body);
    source.handle_body(&body, secs(0));
    assert_eq!(
        drain(&mut source),
        [Event::Comment(String::new()), Event::Comment("hi".into())]
    );
}

#[test]
fn body_split_anywhere_gives_the_same_events() {
    let mut body = Vec::new();
    for i in 0..20 {
        let id = i.to_string();
        EventBuilder::new()
            .id(&id)
            .data("x\r\ny")
            .encode(&mut body)
            .unwrap();
    }
    let mut rng = Rng(99);
    let mut reference = None;
    for _ in 0..20 {
        let mut source = source(no_backoff());
        open(&mut source, secs(0));
        let mut rest = &body[..];
        while !rest.is_empty() {
            let n = 1 + rng.below(rest.len().min(40));
            source.handle_body(&rest[..n], secs(0));
            rest = &rest[n..];
        }
        let events = drain(&mut source);
        assert_eq!(events.len(), 20);
        assert_eq!(events[19], message("", "x\ny", "19"));
        match &reference {
            None => reference = Some(events),
            Some(reference) => assert_eq!(&events, reference),
        }
    }
}
