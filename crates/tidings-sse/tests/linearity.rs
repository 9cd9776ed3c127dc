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
