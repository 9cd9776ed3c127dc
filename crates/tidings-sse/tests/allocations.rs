//! "Allocate per event, not per line or per byte", checked by counting: a global
//! allocator that tallies the calls and bytes made by the current thread.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use tidings_sse::parse::{Item, Parser};

struct Counting;

thread_local! {
    static CALLS: Cell<usize> = const { Cell::new(0) };
    static BYTES: Cell<usize> = const { Cell::new(0) };
}

fn tally(bytes: usize) {
    CALLS.with(|c| c.set(c.get() + 1));
    BYTES.with(|b| b.set(b.get() + bytes));
}

// SAFETY: forwards every call to `System` unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        tally(layout.size());
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        tally(new_size);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Parses `chunks`, returning (events, allocator calls, bytes requested) for the parse
/// alone: the events are kept alive until the counters are read.
fn measure(parser: &mut Parser, chunks: &[&[u8]]) -> (Vec<Item>, usize, usize) {
    let mut items = Vec::with_capacity(100_000);
    let (calls, bytes) = (CALLS.with(Cell::get), BYTES.with(Cell::get));
    for chunk in chunks {
        for item in parser.feed(chunk) {
            items.push(item.unwrap());
        }
    }
    let calls = CALLS.with(Cell::get) - calls;
    let bytes = BYTES.with(Cell::get) - bytes;
    (items, calls, bytes)
}

#[test]
fn one_allocation_per_event() {
    let mut stream = Vec::new();
    for i in 0..10_000 {
        stream
            .extend_from_slice(format!("id: {i}\nevent: tick\ndata: {{\"n\":{i}}}\n\n").as_bytes());
    }
    let mut parser = Parser::new();
    // Warm the reusable buffers (event type, ID) once.
    let _ = measure(&mut parser, &[b"id: 0\nevent: tick\ndata: x\n\n"]);
    for chunk_size in [stream.len(), 1460, 7] {
        let chunks: Vec<&[u8]> = stream.chunks(chunk_size).collect();
        let (items, calls, _) = measure(&mut parser, &chunks);
        assert_eq!(items.len(), 10_000);
        // One allocation per event; chunking adds at most a few for the line buffer.
        assert!(
            calls <= 10_000 + 16,
            "{calls} allocations for 10000 events in {chunk_size}-byte chunks"
        );
    }
}

#[test]
fn many_data_lines_grow_geometrically() {
    // An event of 200 000 one-byte lines: growing the data buffer line by line with
    // exact reservations would request ~40 GB in total; geometric growth, ~2x the data.
    let mut stream = b"data: x\n".repeat(200_000);
    stream.push(b'\n');
    let mut parser = Parser::new();
    let (items, calls, bytes) = measure(&mut parser, &[&stream]);
    assert_eq!(items.len(), 1);
    let data_len = 2 * 200_000 - 1;
    assert!(
        bytes <= 4 * data_len,
        "{bytes} bytes requested for {data_len} bytes of data"
    );
    assert!(calls <= 64, "{calls} allocator calls");
}

/// The client's response head fed one byte per read: its buffer grows geometrically,
/// the header slots are allocated once per head at most: a 16 KiB head costs a few
/// dozen allocations, not one (or more) per read.
#[test]
fn a_head_fed_one_byte_at_a_time_allocates_logarithmically() {
    use std::time::Duration;
    use tidings_sse::client::Config;
    use tidings_sse::{Client, Event, ReadyState};

    let mut head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n".to_vec();
    while head.len() < 16 << 10 {
        head.extend_from_slice(format!("X-Padding: {}\r\n", "a".repeat(2000)).as_bytes());
    }
    head.extend_from_slice(b"\r\n");
    let mut config = Config::default();
    config.max_head_size = 1 << 20;
    config.max_headers = 1 << 14;
    let now = Duration::ZERO;
    let mut client =
        Client::with_random_source("http://h/", config, |b: &mut [u8]| b.fill(0), now).unwrap();
    assert!(matches!(client.poll_event(), Some(Event::Connect(_))));
    client.handle_connected();
    let calls = CALLS.with(Cell::get);
    for byte in head.chunks(1) {
        client.handle_bytes(byte, now);
    }
    let calls = CALLS.with(Cell::get) - calls;
    assert_eq!(client.ready_state(), ReadyState::Open);
    assert!(
        calls <= 40,
        "{calls} allocations for a {}-byte head in 1-byte reads",
        head.len()
    );
}
