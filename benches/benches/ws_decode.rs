//! ws_decode: a server reading masked client messages, whole, next to the peers.
//!
//! Every implementation reads the same recorded stream of single-frame masked client
//! messages from an endless in-memory transport ([`Replay`], 64 KiB per read) and
//! returns each message as an owned payload: header parsing, unmasking, UTF-8
//! validation for text, and handing the message out. One iteration reads a batch
//! (64 KiB of payload, or one message for 1 MiB), so per-message figures are the
//! iteration time divided by the batch.
//!
//! `tidings-ws` is `RecvHalf::poll_event` (each message an owned `Bytes`, split off
//! the receive buffer); `tidings-ws ref` is `RecvHalf::poll_event_ref` (each message
//! a `&[u8]`/`&str` borrowed from the receive buffer until the next call).
//!
//! `limit: copy+mask` is the floor: one pass per message that copies the payload out
//! of the stream and unmasks it, with no checks (`+utf8`: then `simdutf8` over it,
//! for text); for large messages no decoder can beat it by much, since reading from
//! a transport is a copy, unmasking a pass and validation another.
//!
//! Before timing, each implementation's first batch is compared with the payload it
//! must produce.

#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented `pub fn`"
)]

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures::StreamExt;
use tidings_benches::{Duplex, Replay, Sink, WS_SIZES, run, ws};
use tidings_ws::{Config, Connection, Event, EventRef, RecvHalf};

/// One implementation: reads `n` messages, giving each payload to `out`.
trait Decoder {
    fn read(&mut self, n: usize, out: &mut dyn FnMut(&[u8]));
}

struct Tidings {
    recv: RecvHalf,
    input: Replay,
}

impl Tidings {
    fn new(input: Replay) -> Self {
        let (recv, _send) = Connection::server(Config::default()).into_split();
        Self { recv, input }
    }
}

impl Decoder for Tidings {
    #[inline]
    fn read(&mut self, n: usize, out: &mut dyn FnMut(&[u8])) {
        let mut got = 0;
        while got < n {
            match self.recv.poll_event().expect("tidings decode") {
                Some(Event::Binary(b)) => {
                    out(&b);
                    got += 1;
                }
                Some(Event::Text(t)) => {
                    out(t.as_bytes());
                    got += 1;
                }
                Some(other) => panic!("unexpected {other:?}"),
                None => self.recv.receive(self.input.next_chunk()),
            }
        }
    }
}

/// tidings' borrowed API: each message is a slice of the receive buffer.
struct TidingsRef(Tidings);

impl Decoder for TidingsRef {
    #[inline]
    fn read(&mut self, n: usize, out: &mut dyn FnMut(&[u8])) {
        let Tidings { recv, input } = &mut self.0;
        let mut got = 0;
        while got < n {
            match recv.poll_event_ref().expect("tidings decode") {
                Some(EventRef::Binary(b)) => {
                    out(b);
                    got += 1;
                }
                Some(EventRef::Text(t)) => {
                    out(t.as_bytes());
                    got += 1;
                }
                // A message whose frame straddled two reads comes out owned.
                Some(EventRef::Owned(Event::Binary(b))) => {
                    out(&b);
                    got += 1;
                }
                Some(EventRef::Owned(Event::Text(t))) => {
                    out(t.as_bytes());
                    got += 1;
                }
                Some(other) => panic!("unexpected {other:?}"),
                None => recv.receive(input.next_chunk()),
            }
        }
    }
}

/// The limit: what any decoder must at least do, one pass per message that copies the
/// payload out of the transport's bytes and unmasks it on the way (into a reused
/// buffer), with the frame headers read by position and no checks; for text, then
/// `simdutf8` over the result.
struct CopyAndMask {
    stream: Vec<u8>,
    at: usize,
    out: Vec<u8>,
    text: bool,
}

impl Decoder for CopyAndMask {
    #[inline]
    fn read(&mut self, n: usize, out: &mut dyn FnMut(&[u8])) {
        for _ in 0..n {
            if self.at == self.stream.len() {
                self.at = 0;
            }
            let head = &self.stream[self.at..];
            let (len, ext) = match head[1] & 0x7f {
                126 => (u16::from_be_bytes([head[2], head[3]]) as usize, 2),
                127 => (
                    u64::from_be_bytes(head[2..10].try_into().unwrap()) as usize,
                    8,
                ),
                len => (len as usize, 0),
            };
            let key: [u8; 4] = head[2 + ext..6 + ext].try_into().unwrap();
            let start = self.at + 6 + ext;
            self.out.resize(len, 0);
            ws::copy_and_mask(&mut self.out, &self.stream[start..start + len], key);
            if self.text {
                assert!(simdutf8::basic::from_utf8(&self.out).is_ok());
            }
            self.at = start + len;
            out(&self.out);
        }
    }
}

struct Tungstenite(tungstenite::WebSocket<Duplex>);

impl Decoder for Tungstenite {
    fn read(&mut self, n: usize, out: &mut dyn FnMut(&[u8])) {
        for _ in 0..n {
            match self.0.read().expect("tungstenite decode") {
                tungstenite::Message::Binary(b) => out(&b),
                tungstenite::Message::Text(t) => out(t.as_bytes()),
                other => panic!("unexpected {other:?}"),
            }
        }
    }
}

struct FastWebSockets(fastwebsockets::WebSocket<Duplex>);

impl Decoder for FastWebSockets {
    fn read(&mut self, n: usize, out: &mut dyn FnMut(&[u8])) {
        run(async {
            for _ in 0..n {
                let frame = self.0.read_frame().await.expect("fastwebsockets decode");
                assert!(frame.fin);
                out(&frame.payload);
            }
        })
    }
}

struct TokioWebSockets(tokio_websockets::WebSocketStream<Duplex>);

impl Decoder for TokioWebSockets {
    fn read(&mut self, n: usize, out: &mut dyn FnMut(&[u8])) {
        run(async {
            for _ in 0..n {
                let m = self
                    .0
                    .next()
                    .await
                    .unwrap()
                    .expect("tokio-websockets decode");
                out(m.as_payload());
            }
        })
    }
}

fn peers(stream: &[u8], text: bool) -> Vec<(&'static str, Box<dyn Decoder>)> {
    let replay = || Replay::new(stream.to_vec());
    let duplex = || Duplex::new(replay(), Sink::default());
    let mut fws =
        fastwebsockets::WebSocket::after_handshake(duplex(), fastwebsockets::Role::Server);
    fws.set_max_message_size(64 << 20);
    let tws = tokio_websockets::ServerBuilder::new()
        .limits(tokio_websockets::Limits::default().max_payload_len(Some(64 << 20)))
        .serve(duplex());
    let tung_config = tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(64 << 20))
        .max_frame_size(Some(64 << 20));
    vec![
        ("tidings-ws", Box::new(Tidings::new(replay()))),
        (
            "tidings-ws ref",
            Box::new(TidingsRef(Tidings::new(replay()))),
        ),
        (
            "tungstenite",
            Box::new(Tungstenite(tungstenite::WebSocket::from_raw_socket(
                duplex(),
                tungstenite::protocol::Role::Server,
                Some(tung_config),
            ))),
        ),
        ("fastwebsockets", Box::new(FastWebSockets(fws))),
        ("tokio-websockets", Box::new(TokioWebSockets(tws))),
        (
            if text {
                "limit: copy+mask+utf8"
            } else {
                "limit: copy+mask"
            },
            Box::new(CopyAndMask {
                stream: stream.to_vec(),
                at: 0,
                out: Vec::new(),
                text,
            }),
        ),
    ]
}

fn bench(c: &mut Criterion) {
    for text in [false, true] {
        let kind = if text { "text" } else { "binary" };
        let mut group = c.benchmark_group(format!("ws_decode/{kind}"));
        for len in WS_SIZES {
            let payload = ws::payload(len, text);
            let n = ws::batch(len);
            let stream = ws::client_stream(&payload, text, n);
            group.throughput(Throughput::Bytes((len * n) as u64));
            for (name, mut dec) in peers(&stream, text) {
                // The check: a whole batch, every message equal to the payload.
                let mut count = 0;
                dec.read(n, &mut |p| {
                    assert!(p == payload, "{name}: wrong payload at {len} B");
                    count += 1;
                });
                assert_eq!(count, n, "{name}");
                group.bench_function(BenchmarkId::new(name, len), |b| {
                    b.iter(|| {
                        dec.read(n, &mut |p| {
                            black_box(p);
                        })
                    })
                });
            }
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
