//! The SSE parser fed arbitrary chunks must report exactly what a one-chunk parse of
//! the same bytes reports (errors included), never panic, and respect its limits.
//!
//! Input layout: byte 0 picks the config (comments, line and event limits), bytes 1..8
//! are chunk lengths used in turn, the rest is the stream.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tidings_sse::parse::{Config, Item, Parser};
use tidings_sse::{Error, Status};

const LIMITS: [usize; 8] = [usize::MAX, 0, 1, 5, 16, 64, 1024, 1 << 20];

fn one_chunk(config: Config, stream: &[u8]) -> Vec<Result<Item, Error>> {
    let mut parser = Parser::with_config(config);
    let mut out = Vec::new();
    for item in parser.feed(stream) {
        let failed = item.is_err();
        out.push(item);
        if failed {
            break;
        }
    }
    out
}

fn chunked(config: Config, stream: &[u8], lengths: &[u8]) -> Vec<Result<Item, Error>> {
    let mut parser = Parser::with_config(config);
    let mut out = Vec::new();
    let mut rest = stream;
    let mut turn = 0;
    while !rest.is_empty() {
        let len = lengths
            .get(turn % lengths.len().max(1))
            .map_or(1, |&l| usize::from(l));
        turn += 1;
        let (mut chunk, tail) = rest.split_at(len.clamp(1, rest.len()));
        rest = tail;
        // The low-level entry point, to cover both.
        loop {
            match parser.parse(chunk) {
                Ok(Status::Complete((item, consumed))) => {
                    assert!(consumed >= 1 && consumed <= chunk.len());
                    chunk = &chunk[consumed..];
                    out.push(Ok(item));
                }
                Ok(Status::Partial) => break,
                Err(error) => {
                    out.push(Err(error));
                    return out;
                }
            }
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let (lengths, stream) = rest.split_at(rest.len().min(7));
    let mut config = Config::default();
    config.comments = selector & 1 == 1;
    config.max_line_len = LIMITS[usize::from(selector >> 1) & 7];
    config.max_event_size = LIMITS[usize::from(selector >> 4) & 7];

    let whole = one_chunk(config, stream);
    assert_eq!(chunked(config, stream, lengths), whole);
    for item in &whole {
        match item {
            Ok(Item::Message(event)) => assert!(event.data().len() < config.max_event_size),
            Ok(Item::Comment(text)) => assert!(text.len() <= config.max_line_len.saturating_mul(3)),
            _ => {}
        }
    }
});
