//! The most reported SSE parser bug, across languages: a long line arriving in many
//! small chunks gets re-scanned from its start on every chunk, which is quadratic.
//! Here an 8 MiB `data:` line in 1460-byte chunks (one TCP segment each) must cost
//! about what it costs in one chunk. The bound is a ratio of two timings taken in
//! the same process, best of several runs, so it holds on slow and busy machines.
//! (A deterministic version, counting the bytes handed to `memchr`, is a unit test in
//! `src/parse.rs`; the exact figure belongs to the benchmarks.)

use std::time::{Duration, Instant};
use tidings_sse::parse::{Item, Parser};

const LINE: usize = 8 << 20;
const SEGMENT: usize = 1460;
/// Generous: a re-scanning parser is about 5700 / 2 times slower on this input.
const MAX_RATIO: f64 = 4.0;

fn parse(chunks: &[&[u8]]) -> usize {
    let mut parser = Parser::new();
    let mut data_len = 0;
    for chunk in chunks {
        for item in parser.feed(chunk) {
            if let Item::Message(event) = item.expect("within the default limits") {
                data_len += event.data().len();
            }
        }
    }
    data_len
}

fn best_of(runs: usize, chunks: &[&[u8]]) -> Duration {
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            assert_eq!(parse(chunks), LINE);
            start.elapsed()
        })
        .min()
        .unwrap()
}

#[test]
fn an_8_mib_line_in_1460_byte_chunks_costs_what_one_chunk_costs() {
    let mut input = b"data: ".to_vec();
    input.resize(6 + LINE, b'x');
    input.extend_from_slice(b"\n\n");
    let segments: Vec<&[u8]> = input.chunks(SEGMENT).collect();

    let whole = best_of(7, &[&input]);
    let chunked = best_of(7, &segments);
    let ratio = chunked.as_secs_f64() / whole.as_secs_f64().max(1e-9);
    println!(
        "8 MiB line: one chunk {whole:?}, {} chunks of {SEGMENT} bytes {chunked:?}, ratio {ratio:.2}",
        segments.len()
    );
    assert!(
        ratio <= MAX_RATIO,
        "chunked parsing is {ratio:.1}x one-chunk parsing"
    );
}

/// The client's response head, fed one byte per read (a slow or hostile server): a
/// parser that re-parses from byte 0 on every read does `n²/2` work. Sixteen times the
/// head must cost about sixteen times as much, not 256 (the bound leaves room for a
/// busy machine and for cache effects).
#[test]
fn a_head_fed_one_byte_at_a_time_costs_linear_time() {
    use tidings_sse::client::Config;
    use tidings_sse::{Client, Event, ReadyState};

    fn head(len: usize) -> Vec<u8> {
        let mut head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n".to_vec();
        while head.len() < len {
            head.extend_from_slice(format!("X-Padding: {}\r\n", "a".repeat(2000)).as_bytes());
        }
        head.extend_from_slice(b"\r\n");
        head
    }
    fn feed(head: &[u8]) -> Duration {
        let mut config = Config::default();
        config.max_head_size = 1 << 20;
        config.max_headers = 1 << 14;
        let now = Duration::ZERO;
        let mut client =
            Client::with_random_source("http://h/", config, |b: &mut [u8]| b.fill(0), now).unwrap();
        assert!(matches!(client.poll_event(), Some(Event::Connect(_))));
        client.handle_connected();
        let start = Instant::now();
        for byte in head.chunks(1) {
            client.handle_bytes(byte, now);
        }
        let elapsed = start.elapsed();
        assert_eq!(client.ready_state(), ReadyState::Open);
        elapsed
    }
    let (small, large) = (head(8 << 10), head(128 << 10));
    let best = |head: &[u8]| (0..7).map(|_| feed(head)).min().unwrap();
    let (t_small, t_large) = (best(&small), best(&large));
    let ratio = t_large.as_secs_f64() / t_small.as_secs_f64().max(1e-9);
    println!("head one byte at a time: 8 KiB {t_small:?}, 128 KiB {t_large:?}, ratio {ratio:.2}");
    assert!(ratio <= 96.0, "16x the head costs {ratio:.1}x the time");
}
