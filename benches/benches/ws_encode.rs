//! ws_encode: writing whole binary messages, as a server (unmasked) and as a client
//! (masked), next to the peers and to the limits.
//!
//! One iteration sends a batch of messages (64 KiB of payload, or one 1 MiB message)
//! and flushes them to a transport that counts the bytes it is given ([`Sink`]): what a
//! vectored write to a socket would be handed, without a destination copy that no
//! implementation makes on a real socket either. The payload is a refcounted `Bytes`
//! each implementation can take without a copy if it wants to.
//!
//! `tidings-ws` is `send_binary(Bytes)` (a server hands payloads over 512 bytes on
//! without a copy); `tidings-ws slice` is `send_binary_slice(&[u8])` (always copied
//! next to the header, no reference count).
//!
//! Limits in the same group: `memcpy` of the batch's payload (server) and one-pass
//! copy-and-mask (client), into a buffer placed away from 4K aliasing.
//!
//! Before timing, each implementation's output for one batch is read back by a
//! reference reader and compared with the payload.

#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented `pub fn`"
)]

use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures::SinkExt;
use tidings_benches::{Duplex, Replay, Sink, Unaliased, WS_SIZES, run, ws};
use tidings_ws::{Config, Connection, SendHalf};

trait Encoder {
    /// Sends `n` copies of `payload` and flushes.
    fn send(&mut self, payload: &Bytes, n: usize);
    /// The transport, to read back what was written.
    fn sink(&mut self) -> &mut Sink;
}

struct Tidings {
    send: SendHalf,
    sink: Sink,
}

impl Encoder for Tidings {
    #[inline]
    fn send(&mut self, payload: &Bytes, n: usize) {
        for _ in 0..n {
            self.send
                .send_binary(payload.clone())
                .expect("tidings send");
        }
        while let Some(chunk) = self.send.poll_transmit(Duration::ZERO) {
            self.sink.put(&chunk);
        }
    }

    fn sink(&mut self) -> &mut Sink {
        &mut self.sink
    }
}

/// tidings' copying API: `send_binary_slice(&[u8])`, no reference count.
struct TidingsSlice(Tidings);

impl Encoder for TidingsSlice {
    #[inline]
    fn send(&mut self, payload: &Bytes, n: usize) {
        let Tidings { send, sink } = &mut self.0;
        for _ in 0..n {
            send.send_binary_slice(payload).expect("tidings send");
        }
        while let Some(chunk) = send.poll_transmit(Duration::ZERO) {
            sink.put(&chunk);
        }
    }

    fn sink(&mut self) -> &mut Sink {
        &mut self.0.sink
    }
}

struct Tungstenite(tungstenite::WebSocket<Duplex>);

impl Encoder for Tungstenite {
    fn send(&mut self, payload: &Bytes, n: usize) {
        for _ in 0..n {
            self.0
                .write(tungstenite::Message::Binary(payload.clone()))
                .expect("tungstenite write");
        }
        self.0.flush().expect("tungstenite flush");
    }

    fn sink(&mut self) -> &mut Sink {
        &mut self.0.get_mut().output
    }
}

/// fastwebsockets only gives its stream back by value: wrap it so the check can take
/// it out and put it back.
struct FastSink(
    Option<fastwebsockets::WebSocket<Duplex>>,
    fastwebsockets::Role,
    Sink,
);

impl Encoder for FastSink {
    fn send(&mut self, payload: &Bytes, n: usize) {
        let ws = self.0.as_mut().unwrap();
        run(async {
            for _ in 0..n {
                let frame =
                    fastwebsockets::Frame::binary(fastwebsockets::Payload::Borrowed(payload));
                ws.write_frame(frame).await.expect("fastwebsockets write");
            }
            ws.flush().await.expect("fastwebsockets flush");
        })
    }

    fn sink(&mut self) -> &mut Sink {
        let duplex = self.0.take().unwrap().into_inner();
        self.2 = duplex.output;
        let fresh = Duplex::new(duplex.input, Sink::default());
        self.0 = Some(fastwebsockets::WebSocket::after_handshake(fresh, self.1));
        &mut self.2
    }
}

struct TokioWebSockets(tokio_websockets::WebSocketStream<Duplex>);

impl Encoder for TokioWebSockets {
    fn send(&mut self, payload: &Bytes, n: usize) {
        run(async {
            for _ in 0..n {
                self.0
                    .feed(tokio_websockets::Message::binary(payload.clone()))
                    .await
                    .expect("tokio-websockets write");
            }
            self.0.flush().await.expect("tokio-websockets flush");
        })
    }

    fn sink(&mut self) -> &mut Sink {
        &mut self.0.get_mut().output
    }
}

fn peers(client: bool) -> Vec<(&'static str, Box<dyn Encoder>)> {
    let duplex = || Duplex::new(Replay::new(vec![0]), Sink::recording());
    let config = Config::default();
    let conn = if client {
        Connection::client_with_random_source(config, |k: &mut [u8]| k.copy_from_slice(&ws::KEY))
    } else {
        Connection::server(config)
    };
    let (_recv, send) = conn.into_split();
    let conn2 = if client {
        Connection::client_with_random_source(Config::default(), |k: &mut [u8]| {
            k.copy_from_slice(&ws::KEY)
        })
    } else {
        Connection::server(Config::default())
    };
    let (_recv2, send2) = conn2.into_split();
    let (tung_role, fws_role) = if client {
        (
            tungstenite::protocol::Role::Client,
            fastwebsockets::Role::Client,
        )
    } else {
        (
            tungstenite::protocol::Role::Server,
            fastwebsockets::Role::Server,
        )
    };
    let tws = if client {
        tokio_websockets::ClientBuilder::new().take_over(duplex())
    } else {
        tokio_websockets::ServerBuilder::new().serve(duplex())
    };
    vec![
        (
            "tidings-ws",
            Box::new(Tidings {
                send,
                sink: Sink::recording(),
            }),
        ),
        (
            "tidings-ws slice",
            Box::new(TidingsSlice(Tidings {
                send: send2,
                sink: Sink::recording(),
            })),
        ),
        (
            "tungstenite",
            Box::new(Tungstenite(tungstenite::WebSocket::from_raw_socket(
                duplex(),
                tung_role,
                None,
            ))),
        ),
        (
            "fastwebsockets",
            Box::new(FastSink(
                Some(fastwebsockets::WebSocket::after_handshake(
                    duplex(),
                    fws_role,
                )),
                fws_role,
                Sink::default(),
            )),
        ),
        ("tokio-websockets", Box::new(TokioWebSockets(tws))),
    ]
}

fn bench(c: &mut Criterion) {
    for client in [false, true] {
        let role = if client { "client_masked" } else { "server" };
        let mut group = c.benchmark_group(format!("ws_encode/{role}"));
        for len in WS_SIZES {
            let payload = Bytes::from(ws::payload(len, false));
            let n = ws::batch(len);
            group.throughput(Throughput::Bytes((len * n) as u64));

            // The limit: one pass over the batch's payload into a placed buffer.
            let mut dst = Unaliased::after(&payload, len);
            let limit = if client {
                "limit: copy+mask"
            } else {
                "limit: memcpy"
            };
            group.bench_function(BenchmarkId::new(limit, len), |b| {
                b.iter(|| {
                    for _ in 0..n {
                        let d = dst.as_mut_slice();
                        if client {
                            ws::copy_and_mask(d, &payload, ws::KEY);
                        } else {
                            d.copy_from_slice(&payload);
                        }
                        black_box(d);
                    }
                })
            });

            for (name, mut enc) in peers(client) {
                // The check: one batch, read back.
                enc.send(&payload, n);
                let wire = enc.sink().record.take().expect("recording sink");
                ws::assert_frames(name, &wire, &payload, false, n, client);
                group.bench_function(BenchmarkId::new(name, len), |b| {
                    b.iter(|| enc.send(black_box(&payload), n))
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
