//! One row per rule of RFC 6455 a receiver enforces: the bytes that break it, the
//! error, and the close code sent back (1002, 1007, 1009).

mod common;

use common::{KEY, client, events, server, transmit};
use core::time::Duration;
use tidings_ws::mask::mask_bytewise;
use tidings_ws::{CloseCode, Config, Connection, Error, Event, MaskingKey, Role, State};

/// A masked (client-to-server) frame with the given first byte and payload.
fn masked(b0: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![b0];
    match payload.len() {
        n @ 0..=125 => out.push(0x80 | n as u8),
        n => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
    }
    out.extend_from_slice(&KEY);
    let mut p = payload.to_vec();
    mask_bytewise(&mut p, MaskingKey(KEY), 0);
    out.extend_from_slice(&p);
    out
}

/// A masked frame whose length is written in the 16-bit (`ext` 2) or 64-bit (`ext` 8)
/// form, whatever the payload length: non-minimal for short payloads.
fn masked_long_form(b0: u8, payload: &[u8], ext: usize) -> Vec<u8> {
    let mut out = vec![b0];
    match ext {
        2 => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        }
        _ => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(payload.len() as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&KEY);
    let mut p = payload.to_vec();
    mask_bytewise(&mut p, MaskingKey(KEY), 0);
    out.extend_from_slice(&p);
    out
}

fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

/// Feeds `wire` to a fresh server and checks the error, the close frame it queued
/// (unmasked, with the error's code), and that it wants the transport closed.
fn assert_fails(name: &str, mut conn: Connection, wire: &[u8], expect: Error, code: u16) {
    conn.receive(wire);
    let (_, err) = events(&mut conn);
    assert_eq!(err, Some(expect), "{name}");
    assert_eq!(expect.close_code(), CloseCode(code), "{name}");
    // Read what it sent with a peer of the other role: the last event is the close.
    let sent = transmit(&mut conn, Duration::ZERO);
    let mut peer = match conn.role() {
        Role::Server => client(Config::default()),
        Role::Client => server(Config::default()),
    };
    peer.receive(&sent);
    let (seen, peer_err) = events(&mut peer);
    assert_eq!(peer_err, None, "{name}");
    match seen.last() {
        Some(Event::Close(Some(frame))) => {
            assert_eq!(frame.code, CloseCode(code), "{name}: close frame")
        }
        other => panic!("{name}: expected a close frame, got {other:?}"),
    }
    assert_eq!(conn.state(), State::Closed, "{name}");
    assert!(conn.should_close_transport(), "{name}");
    // Input after the failure is ignored, and no second error is reported.
    conn.receive(&masked(0x81, b"late"));
    assert_eq!(events(&mut conn), (vec![], None), "{name}: after failure");
}

#[test]
fn protocol_errors_1002() {
    let long = vec![b'x'; 126];
    let rows: Vec<(&str, Vec<u8>, Error)> = vec![
        (
            "5.2 RSV1 without extension",
            masked(0xC1, b"a"),
            Error::ReservedBits,
        ),
        ("5.2 RSV2", masked(0xA1, b"a"), Error::ReservedBits),
        ("5.2 RSV3 on a ping", masked(0x99, b""), Error::ReservedBits),
        (
            "5.2 reserved data opcode 3",
            masked(0x83, b""),
            Error::ReservedOpCode(3),
        ),
        (
            "5.2 reserved data opcode 7",
            masked(0x87, b""),
            Error::ReservedOpCode(7),
        ),
        (
            "5.2 reserved control opcode B",
            masked(0x8B, b""),
            Error::ReservedOpCode(0xB),
        ),
        (
            "5.2 reserved control opcode F",
            masked(0x8F, b""),
            Error::ReservedOpCode(0xF),
        ),
        (
            "5.5 fragmented ping",
            masked(0x09, b""),
            Error::FragmentedControl,
        ),
        (
            "5.5 fragmented close",
            masked(0x08, b""),
            Error::FragmentedControl,
        ),
        (
            "5.5 ping over 125 bytes",
            masked(0x89, &long),
            Error::ControlTooLong,
        ),
        (
            "5.4 continuation without start",
            masked(0x80, b"a"),
            Error::UnexpectedContinuation,
        ),
        (
            "5.4 text inside fragmented message",
            cat(&[masked(0x01, b"a"), masked(0x81, b"b")]),
            Error::ExpectedContinuation,
        ),
        (
            "5.4 binary inside fragmented message",
            cat(&[masked(0x02, b"a"), masked(0x82, b"b")]),
            Error::ExpectedContinuation,
        ),
        (
            "5.4 continuation after a finished message",
            cat(&[masked(0x81, b"a"), masked(0x80, b"b")]),
            Error::UnexpectedContinuation,
        ),
        (
            "5.1 unmasked client frame",
            vec![0x81, 0x01, b'a'],
            Error::UnmaskedFrame,
        ),
        (
            "5.2 64-bit length with high bit",
            vec![0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4],
            Error::LengthHighBitSet,
        ),
        (
            "5.2 16-bit length for 5 bytes (whole message)",
            masked_long_form(0x81, b"Hello", 2),
            Error::NonMinimalLength,
        ),
        (
            "5.2 16-bit length for 0 bytes",
            masked_long_form(0x82, b"", 2),
            Error::NonMinimalLength,
        ),
        (
            "5.2 16-bit length for 125 bytes",
            masked_long_form(0x82, &[7; 125], 2),
            Error::NonMinimalLength,
        ),
        (
            "5.2 64-bit length for 5 bytes",
            masked_long_form(0x82, b"Hello", 8),
            Error::NonMinimalLength,
        ),
        (
            "5.2 64-bit length for 65,535 bytes (whole message)",
            masked_long_form(0x82, &[7; 65_535], 8),
            Error::NonMinimalLength,
        ),
        (
            // Large and not all here: the frame `receive` would copy as it arrives.
            "5.2 64-bit length for 65,535 bytes (header and a first piece)",
            masked_long_form(0x82, &[7; 65_535], 8)[..20_000].to_vec(),
            Error::NonMinimalLength,
        ),
        (
            "5.2 16-bit length for a 5-byte ping",
            masked_long_form(0x89, b"Hello", 2),
            Error::NonMinimalLength,
        ),
        (
            "5.2 16-bit length inside a fragmented message",
            cat(&[masked(0x01, b"a"), masked_long_form(0x80, b"b", 2)]),
            Error::NonMinimalLength,
        ),
        (
            "5.5.1 close payload of one byte",
            masked(0x88, &[0x03]),
            Error::InvalidClosePayload,
        ),
        (
            "7.4 close code 0",
            masked(0x88, &0u16.to_be_bytes()),
            Error::InvalidCloseCode(0),
        ),
        (
            "7.4 close code 999",
            masked(0x88, &999u16.to_be_bytes()),
            Error::InvalidCloseCode(999),
        ),
        (
            "7.4 close code 1004",
            masked(0x88, &1004u16.to_be_bytes()),
            Error::InvalidCloseCode(1004),
        ),
        (
            "7.4 close code 1005",
            masked(0x88, &1005u16.to_be_bytes()),
            Error::InvalidCloseCode(1005),
        ),
        (
            "7.4 close code 1006",
            masked(0x88, &1006u16.to_be_bytes()),
            Error::InvalidCloseCode(1006),
        ),
        (
            "7.4 close code 1015",
            masked(0x88, &1015u16.to_be_bytes()),
            Error::InvalidCloseCode(1015),
        ),
        (
            "7.4 close code 2000",
            masked(0x88, &2000u16.to_be_bytes()),
            Error::InvalidCloseCode(2000),
        ),
        (
            "7.4 close code 5000",
            masked(0x88, &5000u16.to_be_bytes()),
            Error::InvalidCloseCode(5000),
        ),
    ];
    for (name, wire, err) in rows {
        assert_fails(name, server(Config::default()), &wire, err, 1002);
    }
}

/// Non-minimal lengths are refused at every entry point: bytes handed to `receive`,
/// bytes appended to `read_buffer`, and the borrowed fast path `poll_event_ref`, which
/// takes whole small messages before the general path sees them.
#[test]
fn non_minimal_length_every_entry_point() {
    let rows = [
        masked_long_form(0x81, b"Hello", 2),
        masked_long_form(0x82, &[7; 300], 8),
        masked_long_form(0x82, &[7; 65_535], 8)[..20_000].to_vec(),
    ];
    for wire in &rows {
        let mut conn = server(Config::default());
        conn.read_buffer().extend_from_slice(wire);
        assert_eq!(conn.poll_event(), Err(Error::NonMinimalLength));

        for prefix in [&[][..], &masked(0x82, b"ok")[..]] {
            let (mut rx, _tx) = server(Config::default()).into_split();
            rx.receive(&[prefix, wire].concat());
            if !prefix.is_empty() {
                assert_eq!(
                    rx.poll_event_ref(),
                    Ok(Some(tidings_ws::EventRef::Binary(&b"ok"[..])))
                );
            }
            assert_eq!(rx.poll_event_ref(), Err(Error::NonMinimalLength));
        }
    }
    // A client refuses a server's non-minimal length the same way.
    let mut conn = client(Config::default());
    conn.receive(&[0x82, 126, 0, 3, 1, 2, 3]);
    assert_eq!(conn.poll_event(), Err(Error::NonMinimalLength));
}

#[test]
fn masked_frame_to_client_is_1002() {
    assert_fails(
        "5.1 masked server frame",
        client(Config::default()),
        &masked(0x81, b"a"),
        Error::MaskedFrame,
        1002,
    );
}

#[test]
fn invalid_utf8_1007() {
    let rows: Vec<(&str, Vec<u8>)> = vec![
        (
            "8.1 invalid text",
            masked(
                0x81,
                b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80",
            ),
        ),
        (
            "8.1 text ends inside a code point",
            masked(0x81, b"ab\xe2\x82"),
        ),
        (
            "8.1 fragmented text ends inside a code point",
            cat(&[masked(0x01, b"ab\xe2"), masked(0x80, b"\x82")]),
        ),
        ("8.1 close reason not UTF-8", masked(0x88, b"\x03\xe8\xff")),
    ];
    for (name, wire) in rows {
        assert_fails(
            name,
            server(Config::default()),
            &wire,
            Error::InvalidUtf8,
            1007,
        );
    }
}

/// Fail-fast: the error comes with the fragment carrying the bad byte, while the
/// message is still open, and even inside a single frame whose end has not arrived.
#[test]
fn invalid_utf8_fails_at_the_first_bad_byte() {
    // A valid first fragment, then a fragment with an invalid byte, no FIN yet.
    let mut s = server(Config::default());
    s.receive(&masked(0x01, "κόσμε".as_bytes()));
    assert_eq!(events(&mut s), (vec![], None));
    s.receive(&masked(0x00, b"\xf4\x90\x80\x80"));
    assert_eq!(events(&mut s).1, Some(Error::InvalidUtf8));

    // One frame, arriving in pieces: fail on the piece with the bad byte.
    let frame = masked(0x81, b"hello\xffworld-this-frame-never-ends");
    let mut s = server(Config::default());
    s.receive(&frame[..8]); // header (6) + "he"
    assert_eq!(events(&mut s), (vec![], None));
    s.receive(&frame[8..12]); // "llo\xff"
    assert_eq!(events(&mut s).1, Some(Error::InvalidUtf8));
}

#[test]
fn limits_1009() {
    let mut config = Config::default();
    config.max_frame_size = 100;
    config.max_message_size = 150;

    // A frame over the limit fails on its header alone.
    let frame = masked(0x82, &[0u8; 101]);
    assert_fails(
        "frame limit",
        server(config.clone()),
        &frame[..8],
        Error::FrameTooBig {
            len: 101,
            limit: 100,
        },
        1009,
    );

    // A message over the limit fails at the fragment that goes over.
    let wire = cat(&[masked(0x02, &[0u8; 100]), masked(0x00, &[0u8; 51])]);
    assert_fails(
        "message limit",
        server(config.clone()),
        &wire,
        Error::MessageTooBig {
            len: 151,
            limit: 150,
        },
        1009,
    );

    // 2^63 - 1 bytes announced: refused on the header, nothing buffered.
    let huge = [
        0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4,
    ];
    assert_fails(
        "63-bit length",
        server(Config::default()),
        &huge,
        Error::FrameTooBig {
            len: u64::MAX >> 1,
            limit: 1 << 20,
        },
        1009,
    );
}

/// The default limits are 1 MiB for a frame and for a message: a 1 MiB message is
/// taken whole or in fragments, one byte more is refused, on the header for a frame
/// and at the fragment that goes over for a message.
#[test]
fn default_limits_are_1_mib() {
    const MIB: usize = 1 << 20;
    let config = Config::default();
    assert_eq!((config.max_frame_size, config.max_message_size), (MIB, MIB));

    let mut s = server(Config::default());
    s.receive(&masked_long_form(0x82, &vec![1; MIB], 8));
    let halves = [
        masked_long_form(0x02, &vec![2; MIB / 2], 8),
        masked_long_form(0x80, &vec![2; MIB / 2], 8),
    ];
    s.receive(&cat(&halves));
    let (got, err) = events(&mut s);
    assert_eq!(err, None);
    assert_eq!(got.len(), 2);

    let header = &masked_long_form(0x82, &vec![1; MIB + 1], 8)[..14];
    assert_fails(
        "default frame limit",
        server(Config::default()),
        header,
        Error::FrameTooBig {
            len: MIB as u64 + 1,
            limit: MIB,
        },
        1009,
    );
    let over = cat(&[
        masked_long_form(0x02, &vec![2; MIB / 2], 8),
        masked_long_form(0x80, &vec![2; MIB / 2 + 1], 8),
    ]);
    assert_fails(
        "default message limit",
        server(Config::default()),
        &over,
        Error::MessageTooBig {
            len: MIB as u64 + 1,
            limit: MIB,
        },
        1009,
    );
}

/// A flood of empty continuation frames costs no memory and yields no events.
#[test]
fn empty_continuation_flood() {
    let mut s = server(Config::default());
    s.receive(&masked(0x01, b""));
    let empty = masked(0x00, b"");
    for _ in 0..100_000 {
        s.receive(&empty);
        assert_eq!(s.poll_event(), Ok(None));
    }
    s.receive(&masked(0x80, b"done"));
    assert_eq!(events(&mut s), (vec![Event::Text("done".into())], None));
}

/// A transport lost mid-frame is reported once, with 1006, and nothing is sent.
#[test]
fn eof_mid_frame() {
    let mut s = server(Config::default());
    s.receive(&masked(0x81, b"hello")[..5]);
    s.handle_eof();
    assert_eq!(events(&mut s), (vec![], Some(Error::UnexpectedEof)));
    assert_eq!(Error::UnexpectedEof.close_code(), CloseCode::ABNORMAL);
    assert!(s.should_close_transport());
    assert_eq!(s.poll_event(), Ok(None));
}
