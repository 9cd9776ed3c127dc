//! Heap allocations per echoed message, counted by a global allocator.
//!
//! The end-to-end echo benchmark (`benches/e2e`) showed tidings-io spending more
//! CPU per 20-byte echo than its peers, with the same system calls: the difference
//! was user space, and allocations were most of it. This test pins the count, so a
//! change that adds an allocation to the per-message path fails here instead of
//! showing up, blurred by noise, in a benchmark. It runs the benchmark's server loop
//! (`recv` then `send` of the same message) over a real loopback socket, on a
//! current-thread runtime, against a client task of our own framing.
//!
//! Allocations are counted on the server's thread only (a thread-local switch), so
//! the client, the runtime's other threads and the test harness do not count.

#![cfg(feature = "tokio")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use tidings_io::{Config, Message, Tokio};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

struct Counting;

thread_local! {
    /// Count allocations made on this thread.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    /// Allocations (and reallocations) counted on this thread, and their bytes.
    static COUNTED: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

/// Counts an allocation of `size` bytes if this thread counts.
fn count(size: usize) {
    if COUNTING.try_with(Cell::get).unwrap_or(false) {
        let _ = COUNTED.try_with(|c| {
            let (n, bytes) = c.get();
            c.set((n + 1, bytes + size as u64));
        });
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator; the counters
// are const-initialized thread-locals (no allocation inside).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: the caller's contract for `alloc`, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: the caller's contract for `alloc_zeroed`, passed on.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract for `dealloc`, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        // SAFETY: the caller's contract for `realloc`, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// A masked binary client frame of `payload` (7-bit or 16-bit length).
fn client_frame(payload: &[u8]) -> Vec<u8> {
    let key = [0x12, 0x34, 0x56, 0x78];
    let mut frame = vec![0x82];
    if payload.len() < 126 {
        frame.push(0x80 | payload.len() as u8);
    } else {
        frame.push(0x80 | 126);
        frame.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    }
    frame.extend_from_slice(&key);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    frame
}

/// Echoes `rounds` messages of `size` bytes through a tidings server on a
/// current-thread runtime; returns (allocations, bytes allocated) per echo on the
/// server's thread, counted after a warm-up.
fn server_allocations_per_echo(size: usize, rounds: u64) -> (f64, f64) {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = std_listener.local_addr().unwrap();
    std_listener.set_nonblocking(true).unwrap();

    let frame = client_frame(&vec![b'x'; size]);
    let header = if size < 126 { 2 } else { 4 };
    let client = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let mut tcp = TcpStream::connect(addr).await.unwrap();
            tcp.set_nodelay(true).unwrap();
            tcp.write_all(
                b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                  Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
            )
            .await
            .unwrap();
            let mut head = Vec::new();
            while !head.ends_with(b"\r\n\r\n") {
                let mut byte = [0u8; 1];
                tcp.read_exact(&mut byte).await.unwrap();
                head.push(byte[0]);
            }
            let mut echo = vec![0u8; header + size];
            // Warm-up, then the counted rounds, then a close.
            for _ in 0..(rounds + 100) {
                tcp.write_all(&frame).await.unwrap();
                tcp.read_exact(&mut echo).await.unwrap();
            }
        });
    });

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (allocations, bytes) = rt.block_on(async move {
        let listener = TcpListener::from_std(std_listener).unwrap();
        let (tcp, _) = listener.accept().await.unwrap();
        tcp.set_nodelay(true).unwrap();
        let mut ws = tidings_io::accept(Tokio::new(tcp), Config::default())
            .await
            .unwrap();
        let mut echoed = 0u64;
        while let Some(message) = ws.recv().await {
            let message = message.unwrap();
            if matches!(message, Message::Binary(_)) {
                ws.send(message).await.unwrap();
                echoed += 1;
                if echoed == 100 {
                    COUNTED.with(|c| c.set((0, 0)));
                    COUNTING.with(|c| c.set(true));
                }
                if echoed == rounds + 100 {
                    COUNTING.with(|c| c.set(false));
                    break;
                }
            }
        }
        COUNTED.with(Cell::get)
    });
    client.join().unwrap();
    (
        allocations as f64 / rounds as f64,
        bytes as f64 / rounds as f64,
    )
}

/// A 20-byte echo: the message is read through the stack into a buffer of its own
/// size, split off as `Bytes` (the shared header `bytes` allocates), copied next to
/// its frame header in the send buffer, and that is split off for the write. Four
/// allocations, all of a few dozen bytes; before this test there were six and a
/// half, 10 KiB in all (the read buffer, allocated at 2 KiB for each read including
/// those that found nothing, and the write list).
#[test]
fn small_echo_allocations() {
    let (allocations, bytes) = server_allocations_per_echo(20, 2000);
    println!("20 B echo: {allocations:.2} allocations, {bytes:.0} bytes per echo");
    assert!(allocations <= 4.5, "{allocations} allocations per echo");
    assert!(bytes <= 512.0, "{bytes} bytes allocated per echo");
}

/// A 16 KiB echo: one read buffer sized for the message and its header (not two
/// reads and a regrowth), the payload handed to the write without a copy.
#[test]
fn medium_echo_allocations() {
    let (allocations, bytes) = server_allocations_per_echo(16 * 1024, 500);
    println!("16 KiB echo: {allocations:.2} allocations, {bytes:.0} bytes per echo");
    // A read that finds half a message costs one more (rare, but a loaded machine
    // makes it likelier): some room above the four.
    assert!(allocations <= 6.0, "{allocations} allocations per echo");
    assert!(bytes <= 24_000.0, "{bytes} bytes allocated per echo");
}
