//! permessage-deflate (RFC 7692) through whole connections: both directions, every
//! receive mode, fragmented and streamed messages, control frames between
//! compressed fragments, the RSV1 rules, and the limit on the inflated size.
#![cfg(feature = "deflate")]

mod common;

use bytes::Bytes;
use common::{Pair, events, transmit};
use core::time::Duration;
use tidings_ws::{
    Chunk, CloseCode, Config, Connection, DeflateConfig, Error, Event, FrameHeader, MessageKind,
    OpCode, PreparedMessage, Role, State,
};

fn deflate(config: DeflateConfig) -> Config {
    let mut c = Config::default();
    c.deflate = Some(config);
    c
}

fn json(n: usize) -> String {
    (0..n)
        .map(|i| format!("{{\"id\":{i},\"symbol\":\"ABC\",\"price\":{}}}\n", i % 89))
        .collect()
}

/// The frames in `wire`, as (header, payload unmasked).
fn frames(mut wire: &[u8]) -> Vec<(FrameHeader, Vec<u8>)> {
    let mut out = Vec::new();
    while !wire.is_empty() {
        let Some((h, n)) = FrameHeader::decode(wire).unwrap() else {
            panic!("partial frame")
        };
        let len = h.payload_len as usize;
        let mut payload = wire[n..n + len].to_vec();
        if let Some(key) = h.mask {
            tidings_ws::mask::apply_mask(&mut payload, key, 0);
        }
        out.push((h, payload));
        wire = &wire[n + len..];
    }
    out
}

#[test]
fn messages_round_trip_compressed_both_ways_with_every_preset() {
    let text = json(200);
    for preset in [
        DeflateConfig::default(),
        DeflateConfig::low_memory(),
        DeflateConfig::default().negotiated(true, 15, true, 15),
        DeflateConfig::low_memory().negotiated(false, 9, false, 9),
    ] {
        let mut p = Pair::new(deflate(preset));
        for _ in 0..3 {
            p.client.send_text(text.clone()).unwrap();
            p.server.send_binary(Bytes::from(text.clone())).unwrap();
        }
        p.client.send_text("hi").unwrap(); // under the threshold
        let c2s = transmit(&mut p.client, p.now);
        let sent = frames(&c2s);
        assert_eq!(sent.len(), 4);
        assert!(sent[..3].iter().all(|(h, _)| h.rsv == 0b100));
        assert_eq!(sent[3].0.rsv, 0, "small messages go uncompressed");
        assert!(sent[0].1.len() < text.len() / 3, "{preset:?}");
        p.server.receive(&c2s);
        p.drive();
        let expected_text: Vec<Event> = (0..3)
            .map(|_| Event::Text(text.clone().into()))
            .chain([Event::Text("hi".into())])
            .collect();
        assert_eq!(p.server_events, expected_text, "{preset:?}");
        assert_eq!(
            p.client_events,
            vec![Event::Binary(Bytes::from(text.clone())); 3]
        );
        assert!(p.client_errors.is_empty() && p.server_errors.is_empty());
    }
}

#[test]
fn fragmented_and_streamed_compressed_messages_with_pings_between() {
    let text = json(500);
    let mut config = deflate(DeflateConfig::default());
    config.max_send_frame_size = 1000;
    let mut p = Pair::new(config);
    // Fragmented by the frame size limit: RSV1 on the first frame only.
    p.client.send_text(text.clone()).unwrap();
    let wire = transmit(&mut p.client, p.now);
    let sent = frames(&wire);
    assert!(sent.len() > 2);
    assert_eq!(sent[0].0.rsv, 0b100);
    assert!(sent[1..].iter().all(|(h, _)| h.rsv == 0));
    // Streamed in pieces, with a ping between two of them.
    p.client
        .send_fragment(MessageKind::Text, text[..5000].to_owned(), false)
        .unwrap();
    p.client.send_ping("between").unwrap();
    p.client
        .send_fragment(MessageKind::Text, text[5000..].to_owned(), true)
        .unwrap();
    p.server.receive(&wire);
    p.drive();
    assert_eq!(
        p.server_events,
        vec![
            Event::Text(text.clone().into()),
            Event::Ping(Bytes::from_static(b"between")),
            Event::Text(text.clone().into()),
        ]
    );
    assert!(p.server_errors.is_empty());
}

#[test]
fn chunk_mode_delivers_inflated_pieces() {
    let text = json(2000);
    let mut config = deflate(DeflateConfig::default());
    config.receive_chunks = true;
    config.max_send_frame_size = 4096;
    let mut p = Pair::new(config);
    p.client.send_text(text.clone()).unwrap();
    let wire = transmit(&mut p.client, p.now);
    // Byte by byte, to cross every boundary.
    let mut got = Vec::new();
    let mut chunks = Vec::new();
    for b in wire.chunks(7) {
        p.server.receive(b);
        let (ev, err) = events(&mut p.server);
        assert_eq!(err, None);
        for e in ev {
            let Event::Chunk(Chunk {
                kind,
                data,
                first,
                last,
            }) = e
            else {
                panic!("{e:?}")
            };
            assert_eq!(kind, MessageKind::Text);
            chunks.push((first, last));
            got.extend_from_slice(&data);
        }
    }
    assert_eq!(got, text.as_bytes());
    assert!(chunks.len() > 2);
    assert_eq!(chunks.first(), Some(&(true, false)));
    assert_eq!(chunks.last().map(|c| c.1), Some(true));
}

/// RFC 7692 §6.1: RSV1 only on the first frame of a data message, and only when
/// negotiated; everything else is a protocol error.
#[test]
fn rsv1_out_of_place_fails_with_1002() {
    let masked = |first: u8, payload: &[u8]| {
        let mut v = vec![first, 0x80 | payload.len() as u8, 0, 0, 0, 0];
        v.extend_from_slice(payload);
        v
    };
    let hello = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    let cases: Vec<(&str, Config, Vec<u8>)> = vec![
        (
            "not negotiated",
            Config::default(),
            masked(0xc1, &hello), // FIN, RSV1, text
        ),
        (
            "on a ping",
            deflate(DeflateConfig::default()),
            masked(0xc9, b""),
        ),
        (
            "on a continuation",
            deflate(DeflateConfig::default()),
            [masked(0x41, &hello[..3]), masked(0xc0, &hello[3..])].concat(),
        ),
        (
            "rsv2",
            deflate(DeflateConfig::default()),
            masked(0xa1, b"x"),
        ),
    ];
    for (name, config, wire) in cases {
        let mut server = Connection::server(config);
        server.receive(&wire);
        let (_, err) = events(&mut server);
        assert_eq!(err, Some(Error::ReservedBits), "{name}");
        assert_eq!(err.unwrap().close_code(), CloseCode::PROTOCOL_ERROR);
    }
    // The RFC's own example with the right bits passes.
    let mut server = Connection::server(deflate(DeflateConfig::default()));
    server.receive(&masked(0xc1, &hello));
    assert_eq!(
        events(&mut server),
        (vec![Event::Text("Hello".into())], None)
    );
}

#[test]
fn invalid_deflate_data_and_invalid_utf8_inside_fail_with_1007() {
    let mut server = Connection::server(deflate(DeflateConfig::default()));
    server.receive(&[0xc2, 0x84, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
    let (_, err) = events(&mut server);
    assert_eq!(err, Some(Error::InvalidCompressedData));
    assert_eq!(err.unwrap().close_code(), CloseCode::INVALID_PAYLOAD);

    // Valid deflate of invalid UTF-8 in a text message.
    let mut eager = DeflateConfig::default();
    eager.threshold = 0;
    let mut client = common::client(deflate(eager));
    client.send_binary(&b"ok \xff\xfe"[..]).unwrap();
    let mut wire = transmit(&mut client, Duration::ZERO);
    wire[0] = (wire[0] & 0xf0) | 0x1; // binary -> text
    let mut server = Connection::server(deflate(DeflateConfig::default()));
    server.receive(&wire);
    assert_eq!(events(&mut server).1, Some(Error::InvalidUtf8));
}

/// A deflate bomb: 1 GiB of zeros is about 1 MiB compressed (deflate's best ratio is
/// about 1:1032). The receiver stops at its message limit while inflating, answers
/// 1009, and never holds more than the limit.
#[test]
fn a_one_gib_bomb_is_refused_with_1009_at_the_limit() {
    let mut best = DeflateConfig::default();
    best.level = 9;
    let mut client = common::client(deflate(best));
    let zeros = Bytes::from(vec![0u8; 64 << 20]);
    for i in 0..16 {
        client
            .send_fragment(MessageKind::Binary, zeros.clone(), i == 15)
            .unwrap();
    }
    let wire = transmit(&mut client, Duration::ZERO);
    assert!(
        wire.len() < 2 << 20,
        "1 GiB compressed to {} bytes",
        wire.len()
    );

    let mut config = deflate(DeflateConfig::default());
    config.max_message_size = 16 << 20;
    let mut server = Connection::server(config);
    let mut failed = None;
    for piece in wire.chunks(64 << 10) {
        server.receive(piece);
        if let (_, Some(e)) = events(&mut server) {
            failed = Some(e);
            break;
        }
    }
    let Some(Error::MessageTooBig { len, limit }) = failed else {
        panic!("{failed:?}")
    };
    assert_eq!((len, limit), ((16 << 20) + 1, 16 << 20));
    assert_eq!(failed.unwrap().close_code(), CloseCode::MESSAGE_TOO_BIG);
    let close = frames(&transmit(&mut server, Duration::ZERO));
    assert_eq!(close[0].0.opcode, OpCode::CLOSE);
    assert_eq!(&close[0].1[..2], &1009u16.to_be_bytes());
    assert_ne!(server.state(), State::Open);
}

/// A server and a client that agreed on these RFC 7692 parameters
/// (`server_no_context_takeover`, `server_max_window_bits`, then the client's).
fn negotiated(server: (bool, u8), client: (bool, u8)) -> (Connection, Connection) {
    let agreed = |role| {
        deflate(
            DeflateConfig::default().negotiated_as(role, server.0, server.1, client.0, client.1),
        )
    };
    (
        common::server(agreed(Role::Server)),
        common::client(agreed(Role::Client)),
    )
}

/// What a connection hands the transport, chunk by chunk.
fn chunks(conn: &mut Connection) -> Vec<Bytes> {
    std::iter::from_fn(|| conn.poll_transmit(Duration::ZERO)).collect()
}

/// Text that only compresses with a window of more than 1 KiB: 1500 pseudo-random
/// characters, twice.
fn repeated_far_apart() -> String {
    let mut x = 0x2545_f491_4f6c_dd1d_u64;
    let block: String = (0..1500)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b'a' + (x % 26) as u8)
        })
        .collect();
    block.repeat(2)
}

/// Issue 16's compressed broadcast: to servers that negotiated
/// `server_no_context_takeover`, a prepared message is compressed once and every
/// connection queues the same bytes (the same memory, not a copy), whatever it sent
/// before; each client inflates the right message.
#[test]
fn broadcast_without_context_takeover_is_compressed_once_and_shared() {
    let text = json(25); // about 1 KiB
    let big = json(400); // compressed, still more than 512 B: header and payload apart
    let prepared = [
        PreparedMessage::text(text.clone()),
        PreparedMessage::text(big.clone()),
        // Fragmented at 100 B: RSV1 on the first frame only.
        PreparedMessage::new(MessageKind::Binary, Bytes::from(big.clone()), 100),
        PreparedMessage::text("short"), // under the threshold: plain
    ];
    let mut shared: Option<Vec<Bytes>> = None;
    for n in 0..5 {
        let (mut server, mut client) = negotiated((true, 15), (false, 15));
        // Each connection has its own history first, compressed by its own context.
        for _ in 0..n {
            server.send_text(json(n)).unwrap();
        }
        let before = chunks(&mut server);
        for m in &prepared {
            server.send_prepared(m).unwrap();
        }
        let sent = chunks(&mut server);
        match &shared {
            None => shared = Some(sent.clone()),
            Some(first) => {
                assert_eq!(&sent, first, "connection {n}: the same bytes");
                assert!(
                    sent.iter()
                        .zip(first)
                        .all(|(a, b)| a.as_ptr() == b.as_ptr()),
                    "connection {n}: the same memory"
                );
            }
        }
        let wire = [before.concat(), sent.concat()].concat();
        let expect_frames = frames(&sent.concat());
        assert_eq!(expect_frames[0].0.rsv, 0b100);
        assert!(expect_frames[0].1.len() < text.len() / 2);
        let fragmented: Vec<_> = expect_frames[2..expect_frames.len() - 1].to_vec();
        assert!(fragmented.len() > 2);
        assert_eq!(fragmented[0].0.rsv, 0b100);
        assert!(fragmented[1..].iter().all(|(h, _)| h.rsv == 0));
        assert_eq!(expect_frames.last().unwrap().0.rsv, 0, "short: plain");

        client.receive(&wire);
        let (got, err) = events(&mut client);
        assert_eq!(err, None);
        let expected: Vec<Event> = (0..n)
            .map(|_| Event::Text(json(n).into()))
            .chain([
                Event::Text(text.clone().into()),
                Event::Text(big.clone().into()),
                Event::Binary(Bytes::from(big.clone())),
                Event::Text("short".into()),
            ])
            .collect();
        assert_eq!(got, expected, "connection {n}");
    }
    let len = prepared[0].compressed_len(15).unwrap();
    assert!(len < prepared[0].encoded_len() / 2, "{len}");
    assert_eq!(prepared[0].compressed_len(12), None, "no other window used");
}

/// A connection that keeps its context compresses prepared messages itself, so that
/// its context sees every message it sends, interleaved with its other messages; the
/// shared encoding is neither made nor used.
#[test]
fn broadcast_with_context_takeover_compresses_per_connection() {
    let text = json(25);
    let prepared = PreparedMessage::text(text.clone());
    let mut p = Pair::new(deflate(DeflateConfig::default()));
    let mut expected = Vec::new();
    for i in 0..4 {
        p.server.send_prepared(&prepared).unwrap();
        p.server.send_text(json(20 + i)).unwrap();
        p.server.send_prepared(&prepared).unwrap();
        expected.extend([
            Event::Text(text.clone().into()),
            Event::Text(json(20 + i).into()),
            Event::Text(text.clone().into()),
        ]);
    }
    let bytes = transmit(&mut p.server, p.now);
    let wire = frames(&bytes);
    assert!(wire.iter().all(|(h, _)| h.rsv == 0b100));
    // The repeat is a few back-references into this connection's own context.
    assert!(wire[2].1.len() < wire[0].1.len() / 4, "{wire:?}");
    assert_eq!(prepared.compressed_len(15), None, "no shared encoding made");
    // The client's context stayed in step with the server's through all of it.
    p.client.receive(&bytes);
    assert_eq!(events(&mut p.client), (expected, None));

    // The same from a client, which compresses it itself too.
    p.client.send_prepared(&prepared).unwrap();
    p.client.send_text(json(30)).unwrap();
    p.client.send_prepared(&prepared).unwrap();
    let bytes = transmit(&mut p.client, p.now);
    let wire = frames(&bytes);
    assert!(wire[2].1.len() < wire[0].1.len() / 4, "{wire:?}");
    p.server.receive(&bytes);
    assert_eq!(
        events(&mut p.server),
        (
            vec![
                Event::Text(text.clone().into()),
                Event::Text(json(30).into()),
                Event::Text(text.into()),
            ],
            None
        )
    );
}

/// The window each server negotiated is the window its message is compressed with:
/// one encoding per window size, and none larger than what that client inflates
/// with (RFC 7692 §7.1.2.1: the sender uses at most the window it was allowed).
#[test]
fn broadcast_compresses_with_each_connections_window() {
    let text = repeated_far_apart();
    // Made ahead of time with the default 2^15 window.
    let prepared = PreparedMessage::text(text.clone()).compressed(&DeflateConfig::default());
    assert!(prepared.compressed_len(15).is_some());
    let mut wires = Vec::new();
    for bits in [15, 10, 9, 10, 8] {
        let (mut server, mut client) = negotiated((true, bits), (false, 15));
        server.send_prepared(&prepared).unwrap();
        let wire = transmit(&mut server, Duration::ZERO);
        client.receive(&wire);
        assert_eq!(
            events(&mut client),
            (vec![Event::Text(text.clone().into())], None),
            "{bits} bits"
        );
        wires.push((bits, wire));
    }
    let len = |bits: u8| wires.iter().find(|w| w.0 == bits).unwrap().1.len();
    // 2^15 finds the repeat; 2^10 and 2^9 cannot reach back 1500 bytes.
    assert!(len(15) < len(10) * 3 / 4, "{} vs {}", len(15), len(10));
    assert_eq!(wires[1].1, wires[3].1, "the 2^10 encoding, made once");
    assert_eq!(prepared.compressed_len(10), Some(len(10)));
    assert_eq!(prepared.compressed_len(9), Some(len(9)));
    let (h, _) = &frames(&wires[4].1)[0];
    assert_eq!(h.rsv, 0, "an 8-bit window sends it uncompressed");
    assert_eq!(prepared.compressed_len(14), None);

    // Sending the 2^15 encoding to the 2^10 client would not be caught here:
    // zlib-rs inflates with a 32 KiB window whatever it is told. C zlib (browsers,
    // Python `websockets`, Node `ws`) keeps only the 2^10 it was told, and refuses
    // the 2^15 stream with "invalid distance too far back" as soon as the stream
    // arrives in more than one piece; the sizes above show the 2^15 encoding does
    // reach back past 1 KiB.
}

/// A client without context takeover masks the shared encoding with its own key
/// (one copy, as for every client frame); the server inflates it.
#[test]
fn a_client_without_context_takeover_masks_the_shared_encoding() {
    let text = json(25);
    let prepared = PreparedMessage::text(text.clone());
    let (mut server, mut client) = negotiated((false, 15), (true, 12));
    client.send_prepared(&prepared).unwrap();
    client.send_prepared(&prepared).unwrap();
    let wire = transmit(&mut client, Duration::ZERO);
    let sent = frames(&wire);
    assert!(sent[0].0.mask.is_some());
    assert_eq!(sent[0].1, sent[1].1, "no context carried over");
    let len = prepared.compressed_len(12).unwrap();
    assert_eq!(len, sent[0].0.encoded_len() - 4 + sent[0].1.len());
    server.receive(&wire);
    assert_eq!(
        events(&mut server),
        (vec![Event::Text(text.clone().into()); 2], None)
    );
}

/// Continuation frames of a compressed message are inflated, however large and however
/// they arrive: a frame whose header starts a `receive` with the frame not all there
/// must not take the direct copy of uncompressed frames (found by the
/// `ws_deflate_roundtrip` fuzzer).
#[test]
fn large_continuations_of_a_compressed_message_are_inflated() {
    // Incompressible, so the compressed message is as large as the input.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let payload: Vec<u8> = (0..96 * 1024)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let mut config = deflate(DeflateConfig::default());
    config.max_send_frame_size = 16 * 1024;
    let mut client = Connection::client_with_random_source(config.clone(), |k: &mut [u8]| {
        k.copy_from_slice(&[5, 6, 7, 8])
    });
    client.send_binary(payload.clone()).unwrap();
    let wire = transmit(&mut client, Duration::ZERO);
    let mut server = Connection::server(config);
    // Each frame in two pieces: its header and 100 bytes, then the rest.
    let mut at = 0;
    let mut got = Vec::new();
    for (h, body) in frames(&wire) {
        let end = at + h.encoded_len() + body.len();
        let cut = (at + h.encoded_len() + 100).min(end);
        for piece in [&wire[at..cut], &wire[cut..end]] {
            server.receive(piece);
            let (events, error) = events(&mut server);
            assert_eq!(error, None);
            got.extend(events);
        }
        at = end;
    }
    assert!(frames(&wire).len() > 3);
    assert_eq!(got, vec![Event::Binary(payload.into())]);
}

mod broadcast_properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// Prepared and ordinary messages in any order, any window, with or without
        /// context takeover, on two servers with different histories: each client
        /// reads exactly what was sent, and without context takeover both servers
        /// put the same bytes on the wire for each prepared message.
        #[test]
        fn prepared_and_ordinary_sends_interleave(
            msgs in prop::collection::vec((any::<bool>(), "[a-c{}\":0-9]{0,300}"), 1..12),
            no_takeover in any::<bool>(),
            bits in 8u8..=15,
            threshold in 0usize..100,
        ) {
            let mut preset = DeflateConfig::default();
            preset.threshold = threshold;
            let agreed = |role| {
                deflate(preset.negotiated_as(role, no_takeover, bits, false, 15))
            };
            let mut ends: Vec<(Connection, Connection, Vec<Vec<u8>>)> = (0..2)
                .map(|i| {
                    let mut server = common::server(agreed(Role::Server));
                    // Different histories before the broadcast.
                    for _ in 0..i {
                        server.send_text(json(3)).unwrap();
                    }
                    (server, common::client(agreed(Role::Client)), Vec::new())
                })
                .collect();
            let prepared: Vec<PreparedMessage> =
                msgs.iter().map(|(_, m)| PreparedMessage::text(m.clone())).collect();
            for (server, client, sent) in &mut ends {
                client.receive(&transmit(server, Duration::ZERO));
                for ((as_prepared, text), m) in msgs.iter().zip(&prepared) {
                    if *as_prepared {
                        server.send_prepared(m).unwrap();
                    } else {
                        server.send_text(text.clone()).unwrap();
                    }
                    let wire = transmit(server, Duration::ZERO);
                    client.receive(&wire);
                    sent.push(wire);
                }
                let (got, err) = events(client);
                prop_assert_eq!(err, None);
                let texts: Vec<&str> = got
                    .iter()
                    .skip_while(|e| **e == Event::Text(json(3).into()))
                    .map(|e| match e {
                        Event::Text(t) => t.as_str(),
                        other => panic!("{other:?}"),
                    })
                    .collect();
                let expected: Vec<&str> = msgs.iter().map(|(_, m)| m.as_str()).collect();
                prop_assert_eq!(texts, expected);
            }
            if no_takeover {
                for (i, (as_prepared, _)) in msgs.iter().enumerate() {
                    if *as_prepared {
                        prop_assert_eq!(&ends[0].2[i], &ends[1].2[i]);
                    }
                }
            }
        }
    }
}
