//! A WebSocket echo server on `std::net` alone: one thread per connection, no async
//! runtime. It shows the whole sans-IO contract: the handshake crate turns the request
//! head into a `101`, the connection turns bytes into events and events into bytes,
//! and this file only moves bytes and tells the time.
//!
//! ```sh
//! cargo run --release -p tidings-ws --example echo_blocking [ADDR]   # default 127.0.0.1:9001
//! ```
//!
//! Built with `--features deflate`, it also accepts permessage-deflate.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use tidings_handshake::{Rejection, Request, RequestParser, Status};
use tidings_ws::{Config, Connection, Event};

/// A client that has not finished its request head by then is dropped (slowloris).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".to_owned());
    let listener = TcpListener::bind(&addr)?;
    println!("echo server listening on ws://{}", listener.local_addr()?);
    run(listener)
}

/// Accepts forever, one thread per connection.
pub(crate) fn run(listener: TcpListener) -> io::Result<()> {
    loop {
        let (stream, peer) = listener.accept()?;
        std::thread::spawn(move || {
            if let Err(e) = serve(stream) {
                eprintln!("{peer}: {e}");
            }
        });
    }
}

fn serve(mut stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = vec![0u8; 64 * 1024];

    // 1. The opening handshake: feed bytes until the head is complete.
    stream.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
    let mut parser = RequestParser::new();
    let (request, leftover) = loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(()); // e.g. a port probe
        }
        match parser.parse(&buf[..n]) {
            Ok(Status::Partial) => {}
            Ok(Status::Complete((head, consumed))) => {
                break (head, buf[consumed..n].to_vec());
            }
            Err(e) => return reject(&mut stream, Rejection::from_error(&e)),
        }
    };
    let request = match request {
        Request::Upgrade(request) => request,
        // A plain GET: this port only speaks WebSocket.
        Request::Plain(_) => {
            let answer = Rejection::new(426).and_then(|r| r.header("Upgrade", "websocket"));
            return reject(
                &mut stream,
                answer
                    .map_err(io::Error::other)?
                    .body("WebSocket echo server\n"),
            );
        }
    };
    let mut out = Vec::new();
    let accept = request.accept();
    let mut config = Config::default();
    // Autobahn (conformance/autobahn) sends messages of up to 16 MiB, past the 1 MiB
    // default limits.
    config.max_frame_size = 16 << 20;
    config.max_message_size = 64 << 20;
    // With `--features deflate`: accept permessage-deflate, as the handshake agrees it.
    #[cfg(feature = "deflate")]
    let accept = accept.deflate(&tidings_handshake::deflate::DeflatePolicy::default());
    #[cfg(feature = "deflate")]
    if let Some(p) = accept.chosen_deflate() {
        config.deflate = Some(tidings_ws::DeflateConfig::default().negotiated_as(
            tidings_ws::Role::Server,
            p.server_no_context_takeover,
            p.server_max_window_bits,
            p.client_no_context_takeover,
            p.client_max_window_bits,
        ));
    }
    accept.encode(&mut out);
    stream.write_all(&out)?;

    // 2. The connection: bytes in, events out, echo, bytes out, until it says close.
    let epoch = Instant::now();
    let mut conn = Connection::server(config);
    conn.receive(&leftover);
    loop {
        loop {
            let echoed = match conn.poll_event() {
                Ok(Some(Event::Text(text))) => conn.send_text(text),
                Ok(Some(Event::Binary(data))) => conn.send_binary(data),
                Ok(Some(_)) => Ok(()), // pings are answered by the connection itself
                Ok(None) => break,
                Err(e) => {
                    eprintln!("closing with {}: {e}", e.close_code());
                    break;
                }
            };
            // Refused only once the connection is closing: nothing left to echo to.
            let _ = echoed;
        }
        while let Some(chunk) = conn.poll_transmit(epoch.elapsed()) {
            stream.write_all(&chunk)?;
        }
        if conn.should_close_transport() {
            let _ = stream.shutdown(Shutdown::Write);
            return Ok(());
        }
        // Sleep in read() until bytes arrive or the connection's next deadline.
        let wait = conn.poll_timeout().map(|at| {
            at.saturating_sub(epoch.elapsed())
                .max(Duration::from_millis(1))
        });
        stream.set_read_timeout(wait)?;
        match stream.read(&mut buf) {
            Ok(0) => conn.handle_eof(),
            Ok(n) => conn.receive(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                conn.handle_timeout(epoch.elapsed());
            }
            Err(e) => return Err(e),
        }
    }
}

fn reject(stream: &mut TcpStream, rejection: Rejection) -> io::Result<()> {
    let mut out = Vec::new();
    rejection.encode(&mut out);
    stream.write_all(&out)?;
    stream.shutdown(Shutdown::Write)
}
