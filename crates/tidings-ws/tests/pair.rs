//! A client and a server `Connection` wired together in memory, with virtual time.

mod common;

use bytes::Bytes;
use common::{Driven, Pair, events, transmit};
use core::time::Duration;
use tidings_ws::{Chunk, CloseCode, Config, Error, Event, LocalError, MessageKind, State};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn close_code(ev: Option<&Event>) -> Option<u16> {
    match ev {
        Some(Event::Close(Some(f))) => Some(f.code.0),
        _ => None,
    }
}

/// §7.1.1: the client starts the closing handshake; the server answers and closes the
/// transport first; the client waits for that (or for its close timeout).
#[test]
fn client_initiated_close() {
    let mut p = Pair::new(Config::default());
    p.client.close(CloseCode::NORMAL, "done").unwrap();
    assert_eq!(p.client.state(), State::Closing);
    p.drive();
    assert_eq!(close_code(p.server_events.last()), Some(1000));
    assert_eq!(
        close_code(p.client_events.last()),
        Some(1000),
        "echoed code"
    );
    match p.client_events.last() {
        Some(Event::Close(Some(f))) => assert_eq!(f.reason.as_str(), "done", "echoed reason"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        (p.client.state(), p.server.state()),
        (State::Closed, State::Closed)
    );
    assert!(p.server.should_close_transport(), "server closes TCP first");
    assert!(
        !p.client.should_close_transport(),
        "client waits for the server"
    );
    p.client.handle_eof();
    assert!(
        p.client.should_close_transport(),
        "server closed: client closes too"
    );
    assert!(p.client_errors.is_empty() && p.server_errors.is_empty());
}

#[test]
fn server_initiated_close_and_client_wait_timeout() {
    let mut p = Pair::new(Config::default());
    p.server.close(CloseCode::GOING_AWAY, "restart").unwrap();
    p.drive();
    match p.client_events.last() {
        Some(Event::Close(Some(f))) => assert_eq!(
            (f.code, f.reason.as_str()),
            (CloseCode::GOING_AWAY, "restart")
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(close_code(p.server_events.last()), Some(1001));
    assert!(p.server.should_close_transport());
    // The server never closes TCP: the client gives up after close_timeout (5 s).
    assert!(!p.client.should_close_transport());
    p.advance_to(secs(4));
    assert!(!p.client.should_close_transport());
    p.advance_to(secs(5));
    assert!(p.client.should_close_transport());
}

/// The peer never answers our close: after close_timeout we close anyway.
#[test]
fn close_timeout() {
    let mut p = Pair::new(Config::default());
    p.server.close(CloseCode::NORMAL, "").unwrap();
    let _ = transmit(&mut p.server, Duration::ZERO); // lost on the way
    assert_eq!(p.server.poll_timeout(), Some(secs(5)));
    p.server.handle_timeout(secs(5));
    assert_eq!(p.server.state(), State::Closed);
    assert!(p.server.should_close_transport());
}

/// §5.4: "Control frames MAY be injected in the middle of a fragmented message."
#[test]
fn ping_inside_fragmented_message() {
    let mut p = Pair::new(Config::default());
    p.client
        .send_fragment(MessageKind::Text, &b"Hel"[..], false)
        .unwrap();
    p.client.send_ping(&b"are you there"[..]).unwrap();
    p.client
        .send_fragment(MessageKind::Text, &b"lo"[..], true)
        .unwrap();
    p.drive();
    assert_eq!(
        p.server_events,
        vec![
            Event::Ping(Bytes::from_static(b"are you there")),
            Event::Text("Hello".into())
        ]
    );
    assert_eq!(
        p.client_events,
        vec![Event::Pong(Bytes::from_static(b"are you there"))],
        "auto-pong"
    );
}

#[test]
fn keepalive_healthy_and_timeout() {
    let mut config = Config::default();
    config.keepalive_interval = Some(secs(10));
    config.pong_timeout = secs(5);

    // Healthy: pings every 10 s, answered, for a virtual minute.
    let mut p = Pair::new(config.clone());
    p.drive();
    while p.now < secs(60) {
        assert!(p.step_timers());
    }
    let pings = p
        .client_events
        .iter()
        .filter(|e| matches!(e, Event::Ping(_)))
        .count();
    let pongs = p
        .server_events
        .iter()
        .filter(|e| matches!(e, Event::Pong(_)))
        .count();
    assert!(pings >= 5 && pongs >= 5, "pings {pings} pongs {pongs}");
    assert!(p.client_errors.is_empty() && p.server_errors.is_empty());
    assert_eq!(p.server.state(), State::Open);

    // The client goes silent: the server pings at 10 s and gives up at 15 s.
    let mut p = Pair::new(config);
    let server = &mut p.server;
    let _ = transmit(server, Duration::ZERO);
    assert_eq!(server.poll_timeout(), Some(secs(10)));
    server.handle_timeout(secs(10));
    assert!(!transmit(server, secs(10)).is_empty(), "a ping was sent");
    assert_eq!(server.poll_timeout(), Some(secs(15)));
    server.handle_timeout(secs(14));
    assert_eq!(server.poll_event(), Ok(None));
    server.handle_timeout(secs(15));
    assert_eq!(server.poll_event(), Err(Error::KeepaliveTimeout));
    assert_eq!(server.state(), State::Closed);
    assert!(server.should_close_transport());
}

#[test]
fn automatic_fragmentation() {
    let mut config = Config::default();
    config.max_send_frame_size = 1000;
    let mut p = Pair::new(config);
    let text: String = "é".repeat(1250); // 2500 bytes: frames split code points
    p.client.send_text(text.clone()).unwrap();
    let payload: Bytes = vec![7u8; 2500].into();
    p.server.send_binary(payload.clone()).unwrap();
    p.drive();
    assert_eq!(p.server_events, vec![Event::Text(text.into())]);
    assert_eq!(p.client_events, vec![Event::Binary(payload)]);
}

#[test]
fn chunk_mode_delivers_as_it_arrives() {
    let mut config = Config::default();
    config.receive_chunks = true;
    let mut p = Pair::new(config);
    let text = "ω".repeat(3000);
    p.client
        .send_fragment(MessageKind::Text, text[..2000].to_owned(), false)
        .unwrap();
    p.client
        .send_fragment(MessageKind::Text, text[2000..].to_owned(), true)
        .unwrap();
    // Deliver the client's bytes in 700-byte pieces.
    let wire = transmit(&mut p.client, Duration::ZERO);
    let mut chunks: Vec<Chunk> = Vec::new();
    for piece in wire.chunks(700) {
        p.server.receive(piece);
        let (ev, err) = events(&mut p.server);
        assert_eq!(err, None);
        chunks.extend(ev.into_iter().map(|e| match e {
            Event::Chunk(c) => c,
            other => panic!("{other:?}"),
        }));
    }
    assert!(chunks.len() >= 9, "{} chunks", chunks.len());
    assert!(chunks[0].first && chunks.iter().skip(1).all(|c| !c.first));
    assert!(chunks.last().unwrap().last && chunks.iter().rev().skip(1).all(|c| !c.last));
    assert!(chunks.iter().all(|c| c.kind == MessageKind::Text));
    let joined: Vec<u8> = chunks.iter().flat_map(|c| c.data.to_vec()).collect();
    assert_eq!(joined, text.as_bytes());
}

/// A pong overtakes a large queued message at the next frame boundary; the close frame
/// never overtakes, and nothing follows it.
#[test]
fn control_frames_overtake_data_but_close_does_not() {
    let mut config = Config::default();
    config.max_send_frame_size = 4096;
    let mut p = Pair::new(config);
    let now = Duration::ZERO;
    p.server.send_binary(vec![1u8; 8192]).unwrap(); // two frames: [head, payload] x 2
    let first = p.server.poll_transmit(now).unwrap();
    assert_eq!(first.len(), 4, "header of frame 1");
    p.server.send_ping(&b"p"[..]).unwrap();
    p.server.close(CloseCode::NORMAL, "").unwrap();
    assert_eq!(p.server.send_binary(&b"late"[..]), Err(LocalError::Closing));
    let rest: Vec<Bytes> = std::iter::from_fn(|| p.server.poll_transmit(now)).collect();
    assert_eq!(
        rest[0].len(),
        4096,
        "payload of frame 1 first: no frame is split"
    );
    assert_eq!(&rest[1][..], &[0x89, 0x01, b'p'], "then the ping");
    assert_eq!(rest.last().unwrap()[..2], [0x88, 0x02], "close is last");
    let mut wire = first.to_vec();
    rest.iter().for_each(|c| wire.extend_from_slice(c));
    p.client.receive(&wire);
    let (ev, err) = events(&mut p.client);
    assert_eq!(err, None);
    assert_eq!(ev.len(), 3);
    assert!(
        matches!(&ev[0], Event::Ping(_)) && matches!(&ev[1], Event::Binary(b) if b.len() == 8192)
    );
}

/// Every ping is answered (Autobahn 2.10), but a burst larger than the transport drains
/// keeps only the latest 32 pongs, in order.
#[test]
fn ping_bursts_are_answered_and_bounded() {
    let mut p = Pair::new(Config::default());
    for i in 0..10u8 {
        p.client.send_ping(vec![i]).unwrap();
    }
    p.drive();
    let pongs: Vec<Event> = (0..10u8)
        .map(|i| Event::Pong(Bytes::from(vec![i])))
        .collect();
    assert_eq!(p.client_events, pongs);

    let mut p = Pair::new(Config::default());
    for i in 0..50u8 {
        p.client.send_ping(vec![i]).unwrap();
    }
    let wire = transmit(&mut p.client, Duration::ZERO);
    p.server.receive(&wire);
    let (pings, err) = events(&mut p.server);
    assert_eq!((pings.len(), err), (50, None));
    assert_eq!(p.server.buffered_amount(), 32 * (1 + 14));
    p.drive();
    let pongs: Vec<Event> = (18..50u8)
        .map(|i| Event::Pong(Bytes::from(vec![i])))
        .collect();
    assert_eq!(p.client_events, pongs);
}

#[test]
fn fragment_send_misuse() {
    let mut p = Pair::new(Config::default());
    let c = &mut p.client;
    c.send_fragment(MessageKind::Text, &b"ab\xe2"[..], false)
        .unwrap();
    assert_eq!(c.send_binary(&b"x"[..]), Err(LocalError::MessageInProgress));
    assert_eq!(
        c.send_fragment(MessageKind::Binary, &b"x"[..], true),
        Err(LocalError::KindMismatch)
    );
    assert_eq!(
        c.send_fragment(MessageKind::Text, &b"\xff"[..], true),
        Err(LocalError::InvalidUtf8)
    );
    // The refused pieces changed nothing: the message can still be finished.
    c.send_fragment(MessageKind::Text, &b"\x82\xac"[..], true)
        .unwrap();
    assert_eq!(c.send_ping(vec![0u8; 126]), Err(LocalError::ControlTooLong));
    assert_eq!(
        c.close(CloseCode::ABNORMAL, ""),
        Err(LocalError::InvalidCloseCode(1006))
    );
    assert_eq!(
        c.close(CloseCode::NORMAL, &"x".repeat(124)),
        Err(LocalError::ReasonTooLong)
    );
    p.drive();
    assert_eq!(p.server_events, vec![Event::Text("ab€".into())]);
}

/// After the peer's close, incoming bytes are ignored and sends are refused.
#[test]
fn nothing_after_close() {
    let mut p = Pair::new(Config::default());
    p.client.close(CloseCode::NORMAL, "").unwrap();
    p.drive();
    assert_eq!(p.server.send_text("late"), Err(LocalError::Closing));
    assert_eq!(p.client.send_text("late"), Err(LocalError::Closing));
    p.server.receive(&[0x81, 0x81, 0, 0, 0, 0, b'x']);
    assert_eq!(p.server.poll_event(), Ok(None));
}

/// Split halves used as a reader task and a writer task would: the reader never writes,
/// yet the pong, the close echo and the server's transport close all happen, through
/// signals carried by a queue.
#[test]
fn split_halves_answer_through_signals() {
    let mut client = common::client(Config::default());
    let (mut rx, mut tx) = common::server(Config::default()).into_split();
    let mut channel = std::collections::VecDeque::new();
    let now = Duration::ZERO;

    client.send_ping(&b"p"[..]).unwrap();
    client.send_text("hi").unwrap();
    client.close(CloseCode::NORMAL, "").unwrap();
    rx.receive(&transmit(&mut client, now));
    let mut seen = Vec::new();
    while let Some(ev) = rx.poll_event().unwrap() {
        seen.push(ev);
    }
    assert!(rx.is_done());
    assert_eq!(seen.len(), 3);
    channel.extend(std::iter::from_fn(|| rx.poll_signal()));
    assert_eq!(tx.state(), State::Open, "the writer has not heard yet");

    // The writer task takes the signals later.
    for signal in channel.drain(..) {
        tx.handle_signal(signal);
    }
    assert_eq!(tx.state(), State::Closed);
    client.receive(&transmit_half(&mut tx));
    let (ev, err) = events(&mut client);
    assert_eq!(err, None);
    assert_eq!(ev[0], Event::Pong(Bytes::from_static(b"p")));
    assert!(matches!(&ev[1], Event::Close(Some(f)) if f.code == CloseCode::NORMAL));
    assert!(tx.should_close_transport(), "server closes TCP first");
}

/// A keepalive timeout found by the writer's timer is reported by the writer.
#[test]
fn split_keepalive_timeout_reported_by_writer() {
    let mut config = Config::default();
    config.keepalive_interval = Some(secs(1));
    config.pong_timeout = secs(1);
    let (_rx, mut tx) = common::server(config).into_split();
    let _ = transmit_half(&mut tx);
    tx.handle_timeout(secs(1));
    assert!(!transmit_half(&mut tx).is_empty(), "ping");
    tx.handle_timeout(secs(2));
    assert_eq!(tx.poll_error(), Some(Error::KeepaliveTimeout));
    assert!(tx.should_close_transport());
}

fn transmit_half(tx: &mut tidings_ws::SendHalf) -> Vec<u8> {
    let mut out = Vec::new();
    tx.poll_transmit_into(Duration::ZERO, &mut out);
    out
}

/// Bytes appended through `read_buffer` after input ended are dropped, not kept.
#[test]
fn read_buffer_after_close_is_dropped() {
    let mut p = Pair::new(Config::default());
    p.client.close(CloseCode::NORMAL, "").unwrap();
    p.drive();
    assert!(p.server.is_input_done());
    p.server
        .read_buffer()
        .extend_from_slice(&[0x81, 0x81, 1, 2, 3, 4, b'x']);
    assert_eq!(p.server.poll_event(), Ok(None));
    assert!(p.server.read_buffer().is_empty());
    assert_eq!(p.server.read_buffer().capacity(), 0, "memory released");
}

/// A prepared message is queued on many servers as the same bytes (large payloads as
/// the very same memory), arrives intact, and a client falls back to masking it.
#[test]
fn prepared_message_broadcast() {
    let big: Bytes = (0..3000u32).map(|i| i as u8).collect::<Vec<_>>().into();
    let mut config = Config::default();
    config.max_send_frame_size = 1024;
    let prepared = [
        tidings_ws::PreparedMessage::text("tick"),
        tidings_ws::PreparedMessage::new(MessageKind::Binary, big.clone(), 1024),
    ];
    let mut wires = Vec::new();
    for _ in 0..3 {
        let mut server = common::server(config.clone());
        server.send_text("before").unwrap();
        for m in &prepared {
            server.send_prepared(m).unwrap();
        }
        let chunks: Vec<Bytes> =
            std::iter::from_fn(|| server.poll_transmit(Duration::ZERO)).collect();
        assert!(
            chunks.iter().any(|c| c.as_ptr() == big.as_ptr()),
            "payload shared, not copied"
        );
        let mut client = common::client(Config::default());
        client.receive(&chunks.concat());
        assert_eq!(
            events(&mut client),
            (
                vec![
                    Event::Text("before".into()),
                    Event::Text("tick".into()),
                    Event::Binary(big.clone())
                ],
                None
            )
        );
        wires.push(chunks.concat());
    }
    assert!(wires.windows(2).all(|w| w[0] == w[1]));

    // A client masks per connection: same messages, its own bytes.
    let mut p = Pair::new(Config::default());
    for m in &prepared {
        p.client.send_prepared(m).unwrap();
    }
    p.drive();
    assert_eq!(
        p.server_events,
        vec![Event::Text("tick".into()), Event::Binary(big)]
    );
}

/// The close echo carries the peer's code and its reason (up to the 123 bytes a close
/// frame can hold), whole or split, and a close without a code is echoed without one.
#[test]
fn close_echo_carries_code_and_reason() {
    let longest = "é".repeat(61) + "x";
    assert_eq!(longest.len(), 123);
    for split in [false, true] {
        for (code, reason) in [(4001, "bye now"), (1000, ""), (1001, longest.as_str())] {
            let mut client = common::client(Config::default());
            let mut server = Driven::new(common::server(Config::default()), split);
            client.close(CloseCode(code), reason).unwrap();
            let (seen, err) = server.receive(&transmit(&mut client, Duration::ZERO));
            assert_eq!((seen.len(), err), (1, None));
            client.receive(&server.transmit(Duration::ZERO));
            match events(&mut client) {
                (ev, None) => match ev.as_slice() {
                    [Event::Close(Some(f))] => {
                        assert_eq!(
                            (f.code.0, f.reason.as_str()),
                            (code, reason),
                            "split {split}"
                        )
                    }
                    other => panic!("{other:?}"),
                },
                other => panic!("{other:?}"),
            }
        }
    }
    // A close without a code is echoed without one.
    let mut client = common::client(Config::default());
    client.receive(&[0x88, 0x00]);
    assert_eq!(events(&mut client), (vec![Event::Close(None)], None));
    let mut empty_close = vec![0x88, 0x80];
    empty_close.extend_from_slice(&common::KEY);
    assert_eq!(transmit(&mut client, Duration::ZERO), empty_close);
}

/// The close frame a timer failure queued, as the client reads it: (code, reason).
fn close_seen_by_client(server: &mut Driven, now: Duration) -> (u16, String) {
    let mut client = common::client(Config::default());
    client.receive(&server.transmit(now));
    match events(&mut client).0.last() {
        Some(Event::Close(Some(f))) => (f.code.0, f.reason.as_str().to_owned()),
        other => panic!("expected a close frame, got {other:?}"),
    }
}

/// Config::message_timeout, whole and split: a message still open at its deadline
/// fails the connection with 1008; the deadline runs from the message's first frame.
#[test]
fn message_deadline_passes() {
    for split in [false, true] {
        let mut client = common::client(Config::default());
        let mut server = Driven::new(common::server(Config::default()), split);
        assert_eq!(server.transmit(Duration::ZERO), b"");
        assert_eq!(server.poll_timeout(), None, "no message, no deadline");

        client
            .send_fragment(MessageKind::Text, &b"Hel"[..], false)
            .unwrap();
        assert_eq!(
            server.receive(&transmit(&mut client, secs(1))),
            (vec![], None)
        );
        assert_eq!(server.transmit(secs(1)), b"");
        assert_eq!(server.poll_timeout(), Some(secs(31)), "split {split}");
        assert_eq!(server.handle_timeout(secs(30)), None);
        // Frames that do not end the message do not move the deadline.
        client
            .send_fragment(MessageKind::Text, &b"lo"[..], false)
            .unwrap();
        client.send_ping(&b"?"[..]).unwrap();
        let (seen, err) = server.receive(&transmit(&mut client, secs(30)));
        assert_eq!((seen.len(), err), (1, None));
        assert_eq!(server.poll_timeout(), Some(secs(31)), "split {split}");

        assert_eq!(server.handle_timeout(secs(31)), Some(Error::MessageTimeout));
        assert_eq!(
            Error::MessageTimeout.close_code(),
            CloseCode::POLICY_VIOLATION
        );
        assert_eq!(server.state(), State::Closed);
        assert_eq!(server.poll_timeout(), None);
        let (code, _) = close_seen_by_client(&mut server, secs(31));
        assert_eq!(code, 1008, "split {split}");
        assert!(server.should_close_transport(), "split {split}");
        // The error is reported once, and the connection takes no more input.
        assert_eq!(server.handle_timeout(secs(100)), None);
    }
}

/// A message completed in time is no error, and each message gets its own deadline.
#[test]
fn message_completed_in_time() {
    for split in [false, true] {
        let mut client = common::client(Config::default());
        let mut server = Driven::new(common::server(Config::default()), split);
        let mut step = |t: u64, fin: bool| {
            client
                .send_fragment(MessageKind::Binary, vec![t as u8], fin)
                .unwrap();
            let got = server.receive(&transmit(&mut client, secs(t)));
            assert_eq!(server.transmit(secs(t)), b"");
            assert_eq!(server.handle_timeout(secs(t)), None);
            (got, server.poll_timeout())
        };
        assert_eq!(step(0, false), ((vec![], None), Some(secs(30))));
        assert_eq!(step(29, false), ((vec![], None), Some(secs(30))));
        let done = Event::Binary(vec![0, 29, 30].into());
        assert_eq!(step(30, true), ((vec![done], None), None), "split {split}");
        assert_eq!(step(45, false), ((vec![], None), Some(secs(75))));
        let done = Event::Binary(vec![45, 74].into());
        assert_eq!(step(74, true), ((vec![done], None), None));
        // One message ends and the next starts in the same read: the new one gets a
        // fresh deadline, not the old one's.
        client
            .send_fragment(MessageKind::Binary, vec![80], false)
            .unwrap();
        server.receive(&transmit(&mut client, secs(80)));
        assert_eq!(server.transmit(secs(80)), b"");
        assert_eq!(server.poll_timeout(), Some(secs(110)));
        client
            .send_fragment(MessageKind::Binary, vec![109], true)
            .unwrap();
        client
            .send_fragment(MessageKind::Text, &b"next"[..], false)
            .unwrap();
        let got = server.receive(&transmit(&mut client, secs(109)));
        assert_eq!(got, (vec![Event::Binary(vec![80, 109].into())], None));
        assert_eq!(server.transmit(secs(109)), b"");
        assert_eq!(server.poll_timeout(), Some(secs(139)), "split {split}");
        assert_eq!(server.handle_timeout(secs(110)), None);
        client
            .send_fragment(MessageKind::Text, &b"!"[..], true)
            .unwrap();
        let got = server.receive(&transmit(&mut client, secs(138)));
        assert_eq!(got, (vec![Event::Text("next!".into())], None));
        // Whole messages never start a deadline.
        client.send_binary(vec![1u8; 100]).unwrap();
        let got = server.receive(&transmit(&mut client, secs(140)));
        assert_eq!(got.0.len(), 1);
        assert_eq!(server.transmit(secs(140)), b"");
        assert_eq!(server.poll_timeout(), None);
        assert_eq!(server.handle_timeout(secs(1000)), None);
        assert_eq!(server.state(), State::Open);
    }
}

/// `message_timeout: None` turns the deadline off.
#[test]
fn message_deadline_can_be_turned_off() {
    let mut config = Config::default();
    config.message_timeout = None;
    for split in [false, true] {
        let mut client = common::client(Config::default());
        let mut server = Driven::new(common::server(config.clone()), split);
        client
            .send_fragment(MessageKind::Text, &b"Hel"[..], false)
            .unwrap();
        server.receive(&transmit(&mut client, Duration::ZERO));
        assert_eq!(server.transmit(Duration::ZERO), b"");
        assert_eq!(server.poll_timeout(), None);
        assert_eq!(server.handle_timeout(secs(3600)), None);
        client
            .send_fragment(MessageKind::Text, &b"lo"[..], true)
            .unwrap();
        let got = server.receive(&transmit(&mut client, secs(3600)));
        assert_eq!(got, (vec![Event::Text("Hello".into())], None));
    }
}

/// Config::idle_timeout, whole and split: traffic (any frame) restarts it; silence
/// for that long fails the connection with 1001 "idle timeout".
#[test]
fn idle_timeout_reset_by_traffic() {
    let mut config = Config::default();
    config.idle_timeout = Some(secs(10));
    for split in [false, true] {
        let mut client = common::client(Config::default());
        let mut server = Driven::new(common::server(config.clone()), split);
        assert_eq!(server.transmit(Duration::ZERO), b"");
        assert_eq!(server.poll_timeout(), Some(secs(10)));
        assert_eq!(server.handle_timeout(secs(9)), None);

        // A ping at 6 s, a message at 12 s: each restarts the timer.
        client.send_ping(&b"alive"[..]).unwrap();
        server.receive(&transmit(&mut client, secs(6)));
        assert!(!server.transmit(secs(6)).is_empty(), "the pong");
        assert_eq!(server.poll_timeout(), Some(secs(16)), "split {split}");
        assert_eq!(server.handle_timeout(secs(12)), None);
        client.send_text("still here").unwrap();
        let (seen, _) = server.receive(&transmit(&mut client, secs(12)));
        assert_eq!(seen, vec![Event::Text("still here".into())]);
        assert_eq!(server.transmit(secs(12)), b"");
        assert_eq!(server.poll_timeout(), Some(secs(22)));
        assert_eq!(server.handle_timeout(secs(21)), None);

        assert_eq!(server.handle_timeout(secs(22)), Some(Error::IdleTimeout));
        assert_eq!(Error::IdleTimeout.close_code(), CloseCode::GOING_AWAY);
        assert_eq!(server.state(), State::Closed);
        assert_eq!(
            close_seen_by_client(&mut server, secs(22)),
            (1001, "idle timeout".to_owned()),
            "split {split}"
        );
        assert!(server.should_close_transport(), "split {split}");
    }
}

/// Neither receive timer runs once the closing handshake has started: the close
/// timeout bounds what is left.
#[test]
fn receive_timers_stop_when_closing() {
    let mut config = Config::default();
    config.idle_timeout = Some(secs(10));
    let mut client = common::client(Config::default());
    let mut server = Driven::new(common::server(config), false);
    client
        .send_fragment(MessageKind::Text, &b"Hel"[..], false)
        .unwrap();
    server.receive(&transmit(&mut client, Duration::ZERO));
    let Driven::Whole(conn) = &mut server else {
        unreachable!()
    };
    conn.close(CloseCode::NORMAL, "").unwrap();
    assert!(!server.transmit(Duration::ZERO).is_empty());
    assert_eq!(
        server.poll_timeout(),
        Some(secs(5)),
        "the close timeout only"
    );
    assert_eq!(server.handle_timeout(secs(5)), None);
    assert!(server.should_close_transport());
}

/// The empty continuation flood (issue 14): a first data frame with FIN clear, then
/// empty continuation frames without end, as fast as they can be sent. Each costs
/// constant work and no memory, no event comes of them, and the message deadline ends
/// it: at 30 s of virtual time the connection fails with 1008, whole or split.
#[test]
fn empty_continuation_flood_ends_at_the_deadline() {
    let empty: Vec<u8> = vec![0x00, 0x80, 1, 2, 3, 4];
    let batch = empty.repeat(1000);
    for split in [false, true] {
        let mut server = Driven::new(common::server(Config::default()), split);
        let (seen, err) = server.receive(&[0x01, 0x80, 1, 2, 3, 4]);
        assert_eq!((seen, err), (vec![], None));
        let mut now = Duration::ZERO;
        let mut capacity = 0;
        let error = loop {
            let (seen, err) = server.receive(&batch);
            assert_eq!((seen, err), (vec![], None));
            capacity = capacity.max(server.read_capacity());
            assert_eq!(server.transmit(now), b"");
            if let Some(e) = server.handle_timeout(now) {
                break e;
            }
            now += Duration::from_millis(50);
            assert!(now <= secs(60), "the flood was never stopped");
        };
        assert_eq!(
            (error, now),
            (Error::MessageTimeout, secs(30)),
            "split {split}"
        );
        assert!(
            capacity <= 2 * batch.len(),
            "read buffer grew to {capacity}"
        );
        let (code, _) = close_seen_by_client(&mut server, now);
        assert_eq!(code, 1008);
        assert!(server.should_close_transport());
    }
}
