//! Helpers shared by the integration tests; in `programs`, finding the programs
//! from outside Rust a test needs, or skipping it.
#![allow(dead_code, unreachable_pub)]

pub(crate) mod programs;

use tidings_sse::parse::{Config, Item, MessageEvent, Parser};
use tidings_sse::{Error, Status};

/// Everything a parser reports for `chunks`, in order, ending at the first error.
pub fn parse_chunks<'a>(
    config: Config,
    chunks: impl IntoIterator<Item = &'a [u8]>,
) -> Vec<Result<Item, Error>> {
    let mut parser = Parser::with_config(config);
    let mut out = Vec::new();
    for chunk in chunks {
        for item in parser.feed(chunk) {
            let failed = item.is_err();
            out.push(item);
            if failed {
                return out;
            }
        }
    }
    out
}

/// Like [`parse_chunks`], but through the low-level `Parser::parse` loop.
pub fn parse_low_level(config: Config, chunks: &[&[u8]]) -> Vec<Result<Item, Error>> {
    let mut parser = Parser::with_config(config);
    let mut out = Vec::new();
    for chunk in chunks {
        let mut rest = *chunk;
        loop {
            match parser.parse(rest) {
                Ok(Status::Complete((item, consumed))) => {
                    assert!(consumed > 0 && consumed <= rest.len());
                    rest = &rest[consumed..];
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

/// Splits `input` at the given cut points (sorted, deduplicated, clamped).
pub fn split_at<'a>(input: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| c.min(input.len())).collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut chunks = Vec::new();
    let mut start = 0;
    for cut in cuts {
        chunks.push(&input[start..cut]);
        start = cut;
    }
    chunks.push(&input[start..]);
    chunks
}

/// A tiny deterministic generator (xorshift64*), so split points are reproducible.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

pub fn message(event_type: &str, data: &str, id: &str) -> Item {
    Item::Message(MessageEvent::new(event_type, data, id))
}
