//! Shared by the connection targets: feed arbitrary bytes in arbitrary chunks and check
//! the result against a one-chunk feed of the same bytes; with the timers on, time
//! passes between chunks by fuzzer-chosen steps, so the message deadline and the idle
//! timer fire at any point of a frame or a message.

use core::time::Duration;
use tidings_ws::{Config, Connection, Error, Event, Role};

fn make(role: Role, config: &Config) -> Connection {
    match role {
        Role::Server => Connection::server(config.clone()),
        Role::Client => Connection::client_with_random_source(config.clone(), |k: &mut [u8]| {
            k.copy_from_slice(&[0xA5, 0x5A, 0x0F, 0xF0])
        }),
    }
}

/// Feeds `data` in chunks of the sizes given (cycled), time moving on by 1 ms per
/// chunk, or with `timed` by the chunk's size byte modulo 8 ms (0 included).
fn feed(
    mut conn: Connection,
    data: &[u8],
    sizes: &[u8],
    timed: bool,
) -> (Vec<Event>, Option<Error>, Connection) {
    let mut events = Vec::new();
    let mut at = 0;
    let mut i = 0;
    let mut now = Duration::ZERO;
    while at < data.len() {
        let size = sizes.get(i % sizes.len().max(1)).copied();
        let n = size.map_or(data.len(), |s| usize::from(s) + 1);
        i += 1;
        let end = (at + n).min(data.len());
        conn.receive(&data[at..end]);
        at = end;
        // Exercise the output side and the timers as a driver would.
        now += Duration::from_millis(match (timed, size) {
            (true, Some(s)) => u64::from(s % 8),
            _ => 1,
        });
        let mut timers_fired = false;
        loop {
            match conn.poll_event() {
                Ok(Some(ev)) => events.push(ev),
                Ok(None) if timers_fired => break,
                Ok(None) => {
                    while conn.poll_transmit(now).is_some() {}
                    conn.handle_timeout(now);
                    timers_fired = true;
                }
                Err(e) => return (events, Some(e), conn),
            }
        }
    }
    (events, None, conn)
}

/// `input`: byte 0 picks settings, byte 1 the number of chunk sizes that follow, then
/// the sizes, then the stream.
pub fn run(role: Role, input: &[u8]) {
    let [flags, n, rest @ ..] = input else { return };
    let (sizes, data) = rest.split_at(usize::from(*n).min(rest.len()));
    let mut config = Config::default();
    if flags & 1 != 0 {
        config.max_frame_size = 64;
        config.max_message_size = 128;
    }
    config.auto_pong = flags & 2 != 0;
    config.receive_chunks = flags & 4 != 0;
    if flags & 8 != 0 {
        config.keepalive_interval = Some(Duration::from_millis(3));
        config.pong_timeout = Duration::from_millis(2);
    }
    // Bit 4: the receive timers, with deadlines of 1-8 ms (bits 5-7) and time moving
    // by the chunk sizes.
    let timed = flags & 16 != 0;
    if timed {
        let ms = u64::from(flags >> 5) + 1;
        config.message_timeout = Some(Duration::from_millis(ms));
        config.idle_timeout = Some(Duration::from_millis(2 * ms));
    }
    let (split_events, split_err, mut conn) = feed(make(role, &config), data, sizes, timed);
    if let Some(e) = split_err {
        assert!(conn.should_close_transport() || conn.has_transmit());
        if matches!(e, Error::MessageTimeout | Error::IdleTimeout) {
            // A timer failed the connection: its close frame is queued, input is over,
            // and the error is not reported twice.
            assert!(conn.has_transmit() && conn.is_input_done());
            assert_eq!(conn.poll_event(), Ok(None));
            while conn.poll_transmit(Duration::from_secs(3600)).is_some() {}
            assert!(conn.should_close_transport());
        }
    }
    if config.receive_chunks || config.keepalive_interval.is_some() || timed {
        // Chunk boundaries follow the input's, and timers fire at split-dependent times.
        return;
    }
    let (whole_events, whole_err, _) = feed(make(role, &config), data, &[], false);
    assert_eq!(split_events, whole_events);
    assert_eq!(split_err, whole_err);
    assert_eq!(
        halves(make(role, &config), data),
        whole(make(role, &config), data)
    );
}

type Outcome = (Vec<Event>, Option<Error>, Vec<u8>);

/// The whole connection: everything in, every event, every byte out.
fn whole(mut conn: Connection, data: &[u8]) -> Outcome {
    conn.receive(data);
    let mut events = Vec::new();
    let error = loop {
        match conn.poll_event() {
            Ok(Some(ev)) => events.push(ev),
            Ok(None) => break None,
            Err(e) => break Some(e),
        }
    };
    let mut out = Vec::new();
    conn.poll_transmit_into(Duration::ZERO, &mut out);
    (events, error, out)
}

/// The same through split halves, the signals relayed only at the end, as a writer
/// task that runs late would see them: it must come to the same bytes.
fn halves(conn: Connection, data: &[u8]) -> Outcome {
    let (mut rx, mut tx) = conn.into_split();
    rx.receive(data);
    let mut events = Vec::new();
    let error = loop {
        match rx.poll_event() {
            Ok(Some(ev)) => events.push(ev),
            Ok(None) => break None,
            Err(e) => break Some(e),
        }
    };
    while let Some(signal) = rx.poll_signal() {
        tx.handle_signal(signal);
    }
    let mut out = Vec::new();
    tx.poll_transmit_into(Duration::ZERO, &mut out);
    (events, error, out)
}
