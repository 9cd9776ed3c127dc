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
    OpCode, State,
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

#[test]
fn prepared_messages_go_uncompressed_and_are_still_understood() {
    let text = json(100);
    let prepared = tidings_ws::PreparedMessage::text(text.clone());
    let mut p = Pair::new(deflate(DeflateConfig::default()));
    p.server.send_prepared(&prepared).unwrap();
    p.client.send_prepared(&prepared).unwrap();
    p.drive();
    assert_eq!(p.client_events, vec![Event::Text(text.clone().into())]);
    assert_eq!(p.server_events, vec![Event::Text(text.into())]);
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
