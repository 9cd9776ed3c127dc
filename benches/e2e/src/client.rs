//! The load client: one and the same for every server, on raw tokio sockets with a
//! minimal framing of its own, so it spends as little as possible per message.
//!
//! A connection sends one masked binary frame (the mask applied once, up front: the
//! bytes on the wire are those of any client) and reads the echo before sending the
//! next, in the spirit of uWebSockets' `load_test`. Frames from the server are
//! checked for what an echo must be (FIN, binary, unmasked, same length), and the
//! first echo of each connection byte for byte.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::procfs;
use crate::stats::Samples;

/// How many connections are opened at once.
const CONNECT_CONCURRENCY: usize = 64;

/// One WebSocket client connection of the load generator, on a TCP connection
/// (HTTP/1.1 upgrade) or an HTTP/2 stream (`http2::H2Io`).
#[derive(Debug)]
pub(crate) struct WsClient<S = TcpStream> {
    io: BufReader<S>,
    /// The whole masked frame, sent again and again.
    frame: Vec<u8>,
    /// The payload before masking, what the echo must hold.
    payload: Vec<u8>,
    /// Where echoes land.
    echo: Vec<u8>,
    /// The first echo has been compared with the payload.
    checked: bool,
}

impl WsClient {
    /// Connects, does the opening handshake and prepares a message of `size` bytes.
    async fn connect(addr: SocketAddr, size: usize, read_buffer: usize) -> Result<Self, String> {
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect {addr}: {e}"))?;
        tcp.set_nodelay(true).map_err(|e| e.to_string())?;
        let mut io = BufReader::with_capacity(read_buffer, tcp);
        let request = format!(
            "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        io.get_mut()
            .write_all(request.as_bytes())
            .await
            .map_err(|e| format!("handshake write: {e}"))?;
        let mut line = Vec::new();
        let mut first = true;
        loop {
            line.clear();
            let n = io
                .read_until(b'\n', &mut line)
                .await
                .map_err(|e| format!("handshake read: {e}"))?;
            if n == 0 {
                return Err("end of stream in the handshake".into());
            }
            if first && !line.starts_with(b"HTTP/1.1 101") {
                return Err(format!("not a 101: {}", String::from_utf8_lossy(&line)));
            }
            first = false;
            if line == b"\r\n" {
                break;
            }
        }
        Ok(WsClient::opened(io, size))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WsClient<S> {
    /// A client on a stream whose opening handshake is done, sending messages of
    /// `size` bytes.
    pub(crate) fn opened(io: BufReader<S>, size: usize) -> Self {
        let payload: Vec<u8> = (0..size).map(|i| (i * 7 + 1) as u8).collect();
        Self {
            io,
            frame: masked_frame(&payload, [0x37, 0xfa, 0x21, 0x3d]),
            payload,
            echo: vec![0; size],
            checked: false,
        }
    }

    /// Sends the message and waits for its echo.
    async fn round_trip(&mut self) -> Result<(), String> {
        let io_err = |e: std::io::Error| format!("echo: {e}");
        self.io
            .get_mut()
            .write_all(&self.frame)
            .await
            .map_err(io_err)?;
        let mut head = [0u8; 2];
        self.io.read_exact(&mut head).await.map_err(io_err)?;
        if head[0] != 0x82 || head[1] & 0x80 != 0 {
            return Err(format!("not an unmasked final binary frame: {head:02x?}"));
        }
        let len = match head[1] & 0x7f {
            126 => {
                let mut ext = [0u8; 2];
                self.io.read_exact(&mut ext).await.map_err(io_err)?;
                u64::from(u16::from_be_bytes(ext))
            }
            127 => {
                let mut ext = [0u8; 8];
                self.io.read_exact(&mut ext).await.map_err(io_err)?;
                u64::from_be_bytes(ext)
            }
            n => u64::from(n),
        };
        if len != self.payload.len() as u64 {
            return Err(format!("echo of {len} bytes for {}", self.payload.len()));
        }
        self.io.read_exact(&mut self.echo).await.map_err(io_err)?;
        if !self.checked {
            if self.echo != self.payload {
                return Err("the echo differs from the message".into());
            }
            self.checked = true;
        }
        Ok(())
    }
}

/// A client frame: FIN + binary, the mask bit, the length, the key, the payload
/// XORed with the key (RFC 6455 §5.2, §5.3).
fn masked_frame(payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(payload.len() + 14);
    frame.push(0x82);
    match payload.len() {
        n if n < 126 => frame.push(0x80 | n as u8),
        n if n <= 0xffff => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&key);
    frame.extend(payload.iter().zip(key.iter().cycle()).map(|(b, k)| b ^ k));
    frame
}

/// What one echo case measured.
#[derive(Debug)]
pub(crate) struct EchoResult {
    /// Echoes completed inside the window, per second.
    pub(crate) per_second: f64,
    /// Round-trip times of those echoes.
    pub(crate) samples: Samples,
    /// The server's CPU time over the window, per echo.
    pub(crate) cpu_per_message: Duration,
}

/// `conns` connections echo `size`-byte messages for `warmup + window`; echoes that
/// complete inside the window are counted, and the server's CPU time is read at its
/// start and end.
pub(crate) async fn echo(
    addr: SocketAddr,
    server_pid: u32,
    conns: usize,
    size: usize,
    warmup: Duration,
    window: Duration,
) -> Result<EchoResult, String> {
    let clients: Vec<WsClient> = futures_util::stream::iter(0..conns)
        .map(|_| WsClient::connect(addr, size, read_buffer(size)))
        .buffer_unordered(CONNECT_CONCURRENCY)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    run_echo(clients, server_pid, warmup, window).await
}

/// The client's read buffer for echoes of `size` bytes.
pub(crate) fn read_buffer(size: usize) -> usize {
    (size + 14).clamp(4096, 256 * 1024)
}

/// Runs an echo case on clients already connected: each echoes for
/// `warmup + window`, and the echoes that complete inside the window are counted;
/// the server's CPU time is read at its start and end.
pub(crate) async fn run_echo<S>(
    clients: Vec<WsClient<S>>,
    server_pid: u32,
    warmup: Duration,
    window: Duration,
) -> Result<EchoResult, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let start = Instant::now() + Duration::from_millis(20);
    let open = start + warmup;
    let close = open + window;
    let cpu = tokio::spawn(async move {
        tokio::time::sleep_until(open.into()).await;
        let before = (Instant::now(), procfs::cpu_time(server_pid));
        tokio::time::sleep_until(close.into()).await;
        let after = (Instant::now(), procfs::cpu_time(server_pid));
        (before, after)
    });
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|mut client| {
            tokio::spawn(async move {
                let mut samples = Samples::default();
                tokio::time::sleep_until(start.into()).await;
                loop {
                    let sent = Instant::now();
                    client.round_trip().await?;
                    let done = Instant::now();
                    if done >= close {
                        return Ok::<_, String>(samples);
                    }
                    if sent >= open {
                        samples.push(done - sent);
                    }
                }
            })
        })
        .collect();
    let mut samples = Samples::default();
    for task in tasks {
        samples.merge(task.await.map_err(|e| e.to_string())??);
    }
    let ((t0, cpu0), (t1, cpu1)) = cpu.await.map_err(|e| e.to_string())?;
    let cpu = cpu1?.saturating_sub(cpu0?);
    let seconds = (t1 - t0).as_secs_f64().max(1e-9);
    let count = samples.len().max(1);
    Ok(EchoResult {
        per_second: samples.len() as f64 / seconds,
        cpu_per_message: cpu / count as u32,
        samples,
    })
}

/// Opens `n` connections, each doing the handshake and one 20-byte echo, and keeps
/// them open (the streams are returned; dropping them closes the connections).
pub(crate) async fn open_idle(addr: SocketAddr, n: usize) -> Result<Vec<TcpStream>, String> {
    futures_util::stream::iter(0..n)
        .map(|_| async move {
            let mut client = WsClient::connect(addr, 20, 256).await?;
            client.round_trip().await?;
            Ok::<_, String>(client.io.into_inner())
        })
        .buffer_unordered(CONNECT_CONCURRENCY)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect()
}

/// Counters shared by the SSE subscribers.
#[derive(Debug, Default)]
pub(crate) struct SseCounters {
    /// Events received, all subscribers together.
    pub(crate) events: AtomicU64,
    /// Subscribers that have received at least one event.
    pub(crate) live: AtomicUsize,
}

/// Opens `n` subscriptions to `GET /events`; each is read by its own task, which
/// counts events (the blank line that ends each) until the runtime is dropped.
pub(crate) async fn subscribe(
    addr: SocketAddr,
    n: usize,
    counters: Arc<SseCounters>,
) -> Result<(), String> {
    let streams: Vec<TcpStream> = futures_util::stream::iter(0..n)
        .map(|_| async move {
            let mut tcp = TcpStream::connect(addr)
                .await
                .map_err(|e| format!("connect {addr}: {e}"))?;
            tcp.set_nodelay(true).map_err(|e| e.to_string())?;
            let request = format!(
                "GET /events HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
            );
            tcp.write_all(request.as_bytes())
                .await
                .map_err(|e| format!("request: {e}"))?;
            Ok::<_, String>(tcp)
        })
        .buffer_unordered(CONNECT_CONCURRENCY)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    for mut tcp in streams {
        let counters = counters.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            let mut counter = EventCounter::default();
            let mut first = true;
            while let Ok(n @ 1..) = tcp.read(&mut buf).await {
                let events = counter.feed(&buf[..n]);
                if events > 0 {
                    counters.events.fetch_add(events, Ordering::Relaxed);
                    if first {
                        first = false;
                        counters.live.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        });
    }
    Ok(())
}

/// Counts the ends of events, "\n\n", in a byte stream cut anywhere. A response
/// head ends in "\r\n\r\n" and chunk framing adds "\r\n" only, so neither counts.
#[derive(Debug, Default)]
struct EventCounter {
    last_was_lf: bool,
}

impl EventCounter {
    fn feed(&mut self, chunk: &[u8]) -> u64 {
        let mut events = 0;
        for at in memchr::memchr_iter(b'\n', chunk) {
            let before = if at == 0 {
                self.last_was_lf
            } else {
                chunk[at - 1] == b'\n'
            };
            events += u64::from(before);
        }
        if let Some(&last) = chunk.last() {
            self.last_was_lf = last == b'\n';
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_frame_rfc6455_5_7() {
        // RFC 6455 §5.7: a single-frame masked text message "Hello".
        let mut frame = masked_frame(b"Hello", [0x37, 0xfa, 0x21, 0x3d]);
        frame[0] = 0x81;
        assert_eq!(
            frame,
            [
                0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58
            ]
        );
        assert_eq!(&masked_frame(&[0; 126], [0; 4])[..4], [0x82, 0xfe, 0, 126]);
        assert_eq!(
            &masked_frame(&[0; 65536], [0; 4])[..10],
            [0x82, 0xff, 0, 0, 0, 0, 0, 1, 0, 0]
        );
    }

    #[test]
    fn event_counter_any_split() {
        let stream = b"HTTP/1.1 200 OK\r\nA: b\r\n\r\n1c\r\ndata: x\n\n\r\ndata: y\n\ndata: z\n\n";
        for cut in 0..stream.len() {
            let mut counter = EventCounter::default();
            let n = counter.feed(&stream[..cut]) + counter.feed(&stream[cut..]);
            assert_eq!(n, 3, "cut at {cut}");
        }
    }
}
