//! A peer that starts a message and never finishes it (issue 14): an endless flood of
//! empty continuation frames, or a compressed first fragment held open. The message
//! deadline ([`Config::message_timeout`], 30 s) ends both, in virtual time; the heap
//! the connection holds, counted by a global allocator that tracks live bytes, stays
//! bounded meanwhile and is given back when the connection fails.

use std::time::Duration;
use tidings_ws::{Config, Connection, Error};

#[path = "common/counting.rs"]
#[allow(dead_code, reason = "each test file uses part of the counter")]
mod counting;

use counting::{SERIAL, count_from_here, live};

/// Feeds `server` the first frame, then `batch` over and over, 50 ms of virtual time
/// apart, until a timer fails it. Returns the error, when, and the most heap the
/// server held above `base` (measured after each batch).
fn flood(
    server: &mut Connection,
    first: &[u8],
    batch: &[u8],
    base: isize,
) -> (Error, Duration, isize) {
    server.receive(first);
    assert_eq!(server.poll_event(), Ok(None));
    let mut now = Duration::ZERO;
    let mut most = 0;
    loop {
        server.receive(batch);
        assert_eq!(server.poll_event(), Ok(None));
        most = most.max(live() - base);
        while server.poll_transmit(now).is_some() {}
        server.handle_timeout(now);
        if let Err(e) = server.poll_event() {
            return (e, now, most);
        }
        now += Duration::from_millis(50);
        assert!(
            now <= Duration::from_secs(60),
            "the flood was never stopped"
        );
    }
}

/// 600,000 empty continuation frames in 30 s of virtual time: no event, the read
/// buffer never grows past a batch, and at the deadline the connection fails with
/// 1008 and holds less than before the flood.
#[test]
fn empty_continuation_flood() {
    let _guard = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let batch = [0x00, 0x80, 1, 2, 3, 4].repeat(1000);
    count_from_here();
    let base = live();
    let mut server = Connection::server(Config::default());
    let (error, at, most) = flood(&mut server, &[0x01, 0x80, 1, 2, 3, 4], &batch, base);
    while server.poll_transmit(at).is_some() {}
    let after = live() - base;
    println!("flood: {error:?} at {at:?}, at most {most} B held, {after} B after");
    assert_eq!(
        (error, at),
        (Error::MessageTimeout, Duration::from_secs(30))
    );
    assert!(most <= 2 * batch.len() as isize, "{most} B held");
    assert!(server.should_close_transport());
    // What is left is the connection's fixed state: its buffers are gone.
    assert!(after < 1024, "{after} B left");
}

/// A compressed first fragment that inflates to nearly the 1 MiB limit, then empty
/// continuations: the inflated bytes are held (bounded by the limit, not by what the
/// peer sends) until the deadline, then given back.
#[cfg(feature = "deflate")]
#[test]
fn unfinished_compressed_message() {
    use tidings_ws::{DeflateConfig, MessageKind};

    let _guard = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let mut config = Config::default();
    config.deflate = Some(DeflateConfig::default());
    let mut client = Connection::client_with_random_source(config.clone(), |k: &mut [u8]| {
        k.copy_from_slice(&[1, 2, 3, 4])
    });
    let inflated = 1_000_000;
    client
        .send_fragment(MessageKind::Binary, vec![b'x'; inflated], false)
        .unwrap();
    let mut first = Vec::new();
    client.poll_transmit_into(Duration::ZERO, &mut first);
    assert!(first.len() < 2000, "{} B on the wire", first.len());
    let batch = [0x00, 0x80, 1, 2, 3, 4].repeat(1000);

    count_from_here();
    let base = live();
    let mut server = Connection::server(config);
    let (error, at, most) = flood(&mut server, &first, &batch, base);
    let after = live() - base;
    println!(
        "compressed: {} B on the wire held as {most} B until {error:?} at {at:?}; {after} B after",
        first.len()
    );
    assert_eq!(
        (error, at),
        (Error::MessageTimeout, Duration::from_secs(30))
    );
    assert!(
        most >= inflated as isize,
        "the inflated message was held: {most}"
    );
    assert!(
        most < (1 << 20) + (512 << 10),
        "bounded by the limit: {most}"
    );
    assert!(
        after < most - inflated as isize,
        "given back: {after} B left of {most}"
    );
}
