//! The Autobahn|Testsuite client driver, on `std::net` alone: it asks the suite's
//! fuzzing server how many cases there are, runs each one by echoing every message
//! until the server closes, and asks for the report. This exercises the client role of
//! `tidings_ws::Connection` (masking, rejecting masked frames, waiting for the server
//! to close TCP) the way `echo_blocking` exercises the server role.
//!
//! ```sh
//! AUTOBAHN_URL=ws://127.0.0.1:9002 AUTOBAHN_AGENT=tidings \
//!     cargo run --release -p tidings-ws --example autobahn_client_blocking
//! ```

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use tidings_handshake::{ClientBuilder, Response, Status};
use tidings_ws::{Config, Connection, Event};

fn main() -> io::Result<()> {
    let base = std::env::var("AUTOBAHN_URL").unwrap_or_else(|_| "ws://127.0.0.1:9002".to_owned());
    let agent = std::env::var("AUTOBAHN_AGENT").unwrap_or_else(|_| "tidings".to_owned());
    let count = session(&format!("{base}/getCaseCount"), false)?;
    let count: u32 = count
        .first()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::other("no case count"))?;
    for case in 1..=count {
        session(&format!("{base}/runCase?case={case}&agent={agent}"), true)?;
    }
    session(&format!("{base}/updateReports?agent={agent}"), false)?;
    println!("ran {count} cases");
    Ok(())
}

/// One connection: echo (if asked) until it ends; returns the text messages received.
fn session(url: &str, echo: bool) -> io::Result<Vec<String>> {
    let builder = ClientBuilder::new(url).map_err(io::Error::other)?;
    // With `--features deflate`: offer permessage-deflate, as browsers do.
    #[cfg(feature = "deflate")]
    let builder = builder.deflate(tidings_handshake::deflate::DeflateOffer::default());
    let mut stream = TcpStream::connect((builder.uri().host(), builder.uri().port()))?;
    stream.set_nodelay(true)?;
    let mut out = Vec::new();
    let mut handshake = builder.send_request(&mut out);
    stream.write_all(&out)?;

    let mut buf = vec![0u8; 64 * 1024];
    let (accepted, leftover) = loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Err(ErrorKind::UnexpectedEof.into());
        }
        match handshake.parse(&buf[..n]).map_err(io::Error::other)? {
            Status::Partial => {}
            Status::Complete((Response::Accepted(accepted), consumed)) => {
                break (accepted, buf[consumed..n].to_vec());
            }
            Status::Complete((Response::Rejected(r), _)) => {
                return Err(io::Error::other(format!("rejected with {}", r.status())));
            }
        }
    };

    let epoch = Instant::now();
    let mut config = Config::default();
    // Section 9 sends messages of up to 16 MiB, past the 1 MiB default limits.
    config.max_frame_size = 16 << 20;
    config.max_message_size = 64 << 20;
    config.close_timeout = Duration::from_secs(2);
    #[cfg(feature = "deflate")]
    if let Some(p) = accepted.deflate() {
        config.deflate = Some(tidings_ws::DeflateConfig::default().negotiated_as(
            tidings_ws::Role::Client,
            p.server_no_context_takeover,
            p.server_max_window_bits,
            p.client_no_context_takeover,
            p.client_max_window_bits,
        ));
    }
    #[cfg(not(feature = "deflate"))]
    let _ = accepted;
    let mut conn = Connection::client(config);
    conn.receive(&leftover);
    let mut texts = Vec::new();
    loop {
        // Errors already queued the right close frame; the loop then winds down.
        while let Ok(Some(event)) = conn.poll_event() {
            let _ = match event {
                Event::Text(text) if echo => conn.send_text(text),
                Event::Text(text) => {
                    texts.push(text.as_str().to_owned());
                    Ok(())
                }
                Event::Binary(data) if echo => conn.send_binary(data),
                _ => Ok(()),
            };
        }
        while let Some(chunk) = conn.poll_transmit(epoch.elapsed()) {
            if stream.write_all(&chunk).is_err() {
                return Ok(texts); // the server already hung up
            }
        }
        if conn.should_close_transport() {
            let _ = stream.shutdown(Shutdown::Both);
            return Ok(texts);
        }
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
            Err(e) if e.kind() == ErrorKind::ConnectionReset => conn.handle_eof(),
            Err(e) => return Err(e),
        }
    }
}
