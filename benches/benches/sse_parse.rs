//! sse_parse: a client parsing a realistic event stream, next to the Rust peers.
//!
//! The stream (about 256 KiB: ids, event types, one- to four-line JSON data, comments;
//! see `tidings_benches::sse`) is delivered in 4 KiB chunks, LF or CRLF. Each
//! implementation parses the whole stream per iteration, from a fresh parser, and
//! hands out every event with its type, data and id. The peers take their input as a
//! stream of refcounted `Bytes` chunks (or, for sse-codec, an `AsyncRead`), as they
//! would from an HTTP client; tidings takes the same chunks as slices.
//!
//! `tidings-sse` is `Parser::feed` (each event an owned `MessageEvent`, one
//! allocation); `tidings-sse ref` is `Parser::parse_ref` (each event borrowed from
//! the parser's reused buffers).
//!
//! `limit: memchr2` finds every CR and LF of the same chunks: no parser can do less.
//!
//! `long_line`: one event whose data line is 8 MiB, in 1460-byte chunks (a TCP
//! segment's payload) and in one chunk. A parser that re-scans its buffer when a chunk
//! brings no line ending goes quadratic here; the target is chunked <= 1.5x one chunk.
//!
//! Before timing, every implementation's events are compared with the generator's.

#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented `pub fn`"
)]

use std::hint::black_box;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use eventsource_stream::Eventsource;
use futures::StreamExt;
use tidings_benches::sse::{self, Expected};
use tidings_benches::{ChunkReader, run};
use tidings_sse::Status;
use tidings_sse::parse::{Item, ItemRef, Parser};

const CHUNK: usize = 4096;

type ParseFn = fn(&[Bytes], &mut dyn FnMut(&str, &str, &str));

fn tidings(chunks: &[Bytes], out: &mut dyn FnMut(&str, &str, &str)) {
    let mut parser = Parser::new();
    for chunk in chunks {
        for item in parser.feed(chunk) {
            if let Item::Message(e) = item.expect("tidings parse") {
                out(e.event_type(), e.data(), e.last_event_id());
            }
        }
    }
}

fn tidings_ref(chunks: &[Bytes], out: &mut dyn FnMut(&str, &str, &str)) {
    let mut parser = Parser::new();
    for chunk in chunks {
        let mut rest = &chunk[..];
        while let Status::Complete((item, n)) = parser.parse_ref(rest).expect("tidings parse") {
            rest = &rest[n..];
            if let ItemRef::Message(e) = item {
                out(e.event_type(), e.data(), e.last_event_id());
            }
        }
    }
}

fn eventsource_stream(chunks: &[Bytes], out: &mut dyn FnMut(&str, &str, &str)) {
    let input = futures::stream::iter(chunks.iter().cloned().map(Ok::<_, std::io::Error>));
    let mut events = input.eventsource();
    run(async {
        while let Some(e) = events.next().await {
            let e = e.expect("eventsource-stream parse");
            out(&e.event, &e.data, &e.id);
        }
    })
}

fn sse_stream(chunks: &[Bytes], out: &mut dyn FnMut(&str, &str, &str)) {
    let input = futures::stream::iter(chunks.iter().cloned().map(Ok::<_, std::io::Error>));
    let mut events = sse_stream::SseStream::from_bytes_stream(input);
    run(async {
        while let Some(e) = events.next().await {
            let e = e.expect("sse-stream parse");
            if let Some(data) = &e.data {
                out(
                    e.event.as_deref().unwrap_or("message"),
                    data,
                    e.id.as_deref().unwrap_or(""),
                );
            }
        }
    })
}

fn sse_codec(chunks: &[Bytes], out: &mut dyn FnMut(&str, &str, &str)) {
    // The same bytes as the chunks, read 4 KiB at a time.
    let _ = chunks;
    let joined = JOINED.with(|j| j.borrow().clone());
    let mut events = sse_codec::decode_stream(ChunkReader::new(&joined, CHUNK));
    run(async {
        while let Some(e) = events.next().await {
            if let sse_codec::Event::Message { id, event, data } = e.expect("sse-codec parse") {
                out(&event, &data, id.as_deref().unwrap_or(""));
            }
        }
    })
}

thread_local! {
    /// The stream sse-codec reads (it takes an `AsyncRead`, not chunks).
    static JOINED: std::cell::RefCell<Bytes> = const { std::cell::RefCell::new(Bytes::new()) };
}

fn check(name: &str, f: ParseFn, chunks: &[Bytes], expected: &[Expected]) {
    let mut got = Vec::new();
    f(chunks, &mut |event, data, id| {
        got.push(Expected {
            event: event.to_owned(),
            data: data.to_owned(),
            id: id.to_owned(),
        })
    });
    assert_eq!(got.len(), expected.len(), "{name}: event count");
    for (g, e) in got.iter().zip(expected) {
        assert_eq!(g, e, "{name}");
    }
}

fn split(bytes: &[u8], size: usize) -> Vec<Bytes> {
    bytes.chunks(size).map(Bytes::copy_from_slice).collect()
}

fn bench(c: &mut Criterion) {
    let impls: [(&str, ParseFn); 5] = [
        ("tidings-sse", tidings),
        ("tidings-sse ref", tidings_ref),
        ("eventsource-stream", eventsource_stream),
        ("sse-stream", sse_stream),
        ("sse-codec", sse_codec),
    ];
    for crlf in [false, true] {
        let stream = sse::realistic(256 * 1024, crlf);
        let chunks = split(&stream.bytes, CHUNK);
        JOINED.with(|j| *j.borrow_mut() = Bytes::from(stream.bytes.clone()));
        let mut group =
            c.benchmark_group(format!("sse_parse/{}", if crlf { "crlf" } else { "lf" }));
        group.throughput(Throughput::Bytes(stream.bytes.len() as u64));
        let lines = stream.bytes.iter().filter(|&&b| b == b'\n').count();
        let scan = |chunks: &[Bytes]| {
            chunks
                .iter()
                .map(|c| memchr::memchr2_iter(b'\r', b'\n', c).count())
                .sum::<usize>()
        };
        assert_eq!(scan(&chunks), lines * if crlf { 2 } else { 1 });
        group.bench_function("limit: memchr2", |b| b.iter(|| scan(black_box(&chunks))));
        for (name, f) in impls {
            check(name, f, &chunks, &stream.events);
            group.bench_function(name, |b| {
                b.iter(|| {
                    f(black_box(&chunks), &mut |e, d, i| {
                        black_box((e, d, i));
                    })
                })
            });
        }
        group.finish();
    }

    let long = sse::long_line(8 << 20);
    let mut group = c.benchmark_group("sse_parse/long_line");
    group.throughput(Throughput::Bytes(long.bytes.len() as u64));
    group.sample_size(10);
    for size in [1460, long.bytes.len()] {
        let chunks = split(&long.bytes, size);
        check("tidings-sse", tidings, &chunks, &long.events);
        group.bench_function(BenchmarkId::new("tidings-sse", size), |b| {
            b.iter(|| {
                tidings(black_box(&chunks), &mut |e, d, i| {
                    black_box((e, d, i));
                })
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = tidings_benches::criterion();
    targets = bench
}
criterion_main!(benches);
