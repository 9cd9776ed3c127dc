//! sse_encode: a server writing events, next to the Rust peers that have an encoder.
//!
//! 256 events shaped like the parse benchmark's (id, usually an event type, JSON
//! data) are appended to one reused buffer per iteration; throughput is in events.
//! Peers get their event values built before timing, so only encoding is measured.
//!
//! - `multi_line`: the data as generated (one to four lines). sse-stream is left out:
//!   it writes a multi-line value as one `data:` field, which ends the field early and
//!   loses the rest on every client (checked below, so the note stays true).
//! - `one_line`: the first line of each data only, where all three are correct.
//!
//! Before timing, every output is parsed back with a spec parser and compared with
//! the events it was given.

#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented `pub fn`"
)]

use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tidings_benches::sse::{self, Expected};
use tidings_sse::encode::EventBuilder;
use tidings_sse::parse::{Item, Parser};

const EVENTS: usize = 256;

fn tidings(events: &[Expected], out: &mut Vec<u8>) {
    for e in events {
        EventBuilder::new()
            .id(&e.id)
            .event(&e.event)
            .data(&e.data)
            .encode(out)
            .expect("tidings encode");
    }
}

/// sse-codec's encoder is `writeln!(dest, "{}", event)` into a `BytesMut`; this is
/// the same call into a `String`.
fn sse_codec(events: &[sse_codec::Event], out: &mut String) {
    for e in events {
        writeln!(out, "{e}").expect("sse-codec encode");
    }
}

fn sse_stream(events: &[sse_stream::Sse], out: &mut Vec<u8>) {
    for e in events {
        out.extend_from_slice(&bytes::Bytes::from(e.clone()));
    }
}

fn parse_back(wire: &[u8]) -> Vec<Expected> {
    let mut parser = Parser::new();
    parser
        .feed(wire)
        .filter_map(|i| match i.expect("parse back") {
            Item::Message(e) => Some(Expected {
                event: e.event_type().to_owned(),
                data: e.data().to_owned(),
                id: e.last_event_id().to_owned(),
            }),
            _ => None,
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    for one_line in [false, true] {
        let mut events = sse::events_to_encode(EVENTS);
        if one_line {
            for e in &mut events {
                e.data.truncate(e.data.find('\n').unwrap_or(e.data.len()));
            }
        }
        let codec_events: Vec<_> = events
            .iter()
            .map(|e| sse_codec::Event::message(&e.event, &e.data, Some(e.id.as_str())))
            .collect();
        let stream_events: Vec<_> = events
            .iter()
            .map(|e| {
                let s = sse_stream::Sse::default().id(&e.id).data(&e.data);
                if e.event == "message" {
                    s
                } else {
                    s.event(&e.event)
                }
            })
            .collect();

        let mut group = c.benchmark_group(format!(
            "sse_encode/{}",
            if one_line { "one_line" } else { "multi_line" }
        ));
        group.throughput(Throughput::Elements(events.len() as u64));

        let mut buf = Vec::new();
        tidings(&events, &mut buf);
        assert_eq!(parse_back(&buf), events, "tidings-sse");
        group.bench_function("tidings-sse", |b| {
            b.iter(|| {
                buf.clear();
                tidings(black_box(&events), &mut buf);
            })
        });

        let mut text = String::new();
        sse_codec(&codec_events, &mut text);
        assert_eq!(parse_back(text.as_bytes()), events, "sse-codec");
        group.bench_function("sse-codec", |b| {
            b.iter(|| {
                text.clear();
                sse_codec(black_box(&codec_events), &mut text);
            })
        });

        let mut buf = Vec::new();
        sse_stream(&stream_events, &mut buf);
        if one_line {
            assert_eq!(parse_back(&buf), events, "sse-stream");
            group.bench_function("sse-stream", |b| {
                b.iter(|| {
                    buf.clear();
                    sse_stream(black_box(&stream_events), &mut buf);
                })
            });
        } else {
            assert_ne!(
                parse_back(&buf),
                events,
                "sse-stream now encodes multi-line data"
            );
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = tidings_benches::criterion();
    targets = bench
}
criterion_main!(benches);
