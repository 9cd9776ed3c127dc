//! RFC 6455 §5.7 examples as named vectors, checked both ways through `Connection`:
//! decoding the bytes gives the event, and sending the value gives the bytes (the
//! client with the RFC's masking key `37 fa 21 3d`).

mod common;

use bytes::Bytes;
use common::{KEY, client, events, server, transmit};
use core::time::Duration;
use tidings_ws::{CloseCode, Config, Connection, Error, Event, MessageKind};

const NOW: Duration = Duration::ZERO;

/// Which side sends, the bytes on the wire, and the event the receiver sees.
struct Vector {
    name: &'static str,
    masked: bool,
    wire: &'static [u8],
    event: fn() -> Event,
    send: fn(&mut Connection),
}

const VECTORS: &[Vector] = &[
    Vector {
        name: "5.7 a single-frame unmasked text message",
        masked: false,
        wire: &[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f],
        event: || Event::Text("Hello".into()),
        send: |c| c.send_text("Hello").unwrap(),
    },
    Vector {
        name: "5.7 a single-frame masked text message",
        masked: true,
        wire: &[
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ],
        event: || Event::Text("Hello".into()),
        send: |c| c.send_text("Hello").unwrap(),
    },
    Vector {
        name: "5.7 a fragmented unmasked text message",
        masked: false,
        wire: &[0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f],
        event: || Event::Text("Hello".into()),
        send: |c| {
            c.send_fragment(MessageKind::Text, &b"Hel"[..], false)
                .unwrap();
            c.send_fragment(MessageKind::Text, &b"lo"[..], true)
                .unwrap();
        },
    },
    Vector {
        name: "5.7 unmasked ping",
        masked: false,
        wire: &[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f],
        event: || Event::Ping(Bytes::from_static(b"Hello")),
        send: |c| c.send_ping(&b"Hello"[..]).unwrap(),
    },
    Vector {
        name: "5.7 masked pong",
        masked: true,
        wire: &[
            0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ],
        event: || Event::Pong(Bytes::from_static(b"Hello")),
        send: |c| c.send_pong(&b"Hello"[..]).unwrap(),
    },
];

#[test]
fn section_5_7_both_ways() {
    for v in VECTORS {
        // Decode: the receiver is the other role.
        let mut receiver = if v.masked {
            server(Config::default())
        } else {
            client(Config::default())
        };
        receiver.receive(v.wire);
        let (got, err) = events(&mut receiver);
        assert_eq!(err, None, "{}", v.name);
        assert_eq!(got, vec![(v.event)()], "decode {}", v.name);

        // Encode: the sender's bytes are exactly the vector.
        let mut sender = if v.masked {
            client(Config::default())
        } else {
            server(Config::default())
        };
        (v.send)(&mut sender);
        assert_eq!(transmit(&mut sender, NOW), v.wire, "encode {}", v.name);
    }
}

/// §5.7: "256 bytes binary message in a single unmasked frame" and "64KiB binary
/// message in a single unmasked frame": the header forms, payload handed on as is.
#[test]
fn section_5_7_long_binary() {
    for (len, head) in [
        (256usize, &[0x82, 0x7E, 0x01, 0x00][..]),
        (65536, &[0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00][..]),
    ] {
        let payload: Bytes = (0..len).map(|i| i as u8).collect::<Vec<_>>().into();
        let mut wire = head.to_vec();
        wire.extend_from_slice(&payload);

        let mut sender = server(Config::default());
        sender.send_binary(payload.clone()).unwrap();
        // Small payloads are copied next to their header (one contiguous write); large
        // ones leave as a separate chunk that is the caller's own memory.
        let chunks: Vec<Bytes> = std::iter::from_fn(|| sender.poll_transmit(NOW)).collect();
        if len <= 512 {
            assert_eq!(chunks.len(), 1);
        } else {
            assert_eq!(chunks.len(), 2);
            assert_eq!(chunks[0], head);
            assert_eq!(chunks[1].as_ptr(), payload.as_ptr(), "payload copied");
        }
        assert_eq!(chunks.concat(), wire);

        let mut receiver = client(Config::default());
        receiver.receive(&wire);
        assert_eq!(events(&mut receiver), (vec![Event::Binary(payload)], None));
    }
}

/// The client's masked output for a message with a known key.
#[test]
fn masked_client_bytes_are_exact() {
    let mut c = client(Config::default());
    c.send_binary(vec![0u8; 8]).unwrap();
    let mut expect = vec![0x82, 0x88];
    expect.extend_from_slice(&KEY);
    expect.extend_from_slice(&KEY);
    expect.extend_from_slice(&KEY);
    assert_eq!(transmit(&mut c, NOW), expect);
}

/// §5.2: "the minimal number of bytes MUST be used to encode the length". §5.7's
/// unmasked "Hello" and its 256-byte binary message, with their lengths in a longer
/// form than they need: each fails the connection with 1002, before any payload.
#[test]
fn section_5_2_minimal_length() {
    let rows: &[(&str, &[u8])] = &[
        (
            "5.2 \"Hello\" with a 16-bit length",
            &[0x81, 0x7E, 0x00, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f],
        ),
        (
            "5.2 \"Hello\" with a 64-bit length",
            &[
                0x81, 0x7F, 0, 0, 0, 0, 0, 0, 0, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f,
            ],
        ),
        (
            "5.2 256 bytes with a 64-bit length",
            &[0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0x01, 0x00],
        ),
    ];
    for (name, wire) in rows {
        let mut receiver = client(Config::default());
        receiver.receive(wire);
        let (got, err) = events(&mut receiver);
        assert_eq!(
            (got, err),
            (vec![], Some(Error::NonMinimalLength)),
            "{name}"
        );
        assert_eq!(
            Error::NonMinimalLength.close_code(),
            CloseCode::PROTOCOL_ERROR
        );
        let mut peer = server(Config::default());
        let sent = transmit(&mut receiver, NOW);
        assert_eq!(
            &sent[..4],
            &[0x88, 0x82, KEY[0], KEY[1]],
            "{name}: a close frame"
        );
        peer.receive(&sent);
        match events(&mut peer).0.last() {
            Some(Event::Close(Some(f))) => assert_eq!(f.code, CloseCode::PROTOCOL_ERROR, "{name}"),
            other => panic!("{name}: {other:?}"),
        }
    }
}
