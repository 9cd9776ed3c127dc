//! `tidings ws URL`: an interactive WebSocket client.
//!
//! One task drives everything with `select!`: stdin lines become messages (the
//! line less its `\n` or `\r\n`), received messages are printed, and the process
//! waits for the server's close before it exits. Binary messages are printed as
//! lowercase hex (one message per line), so the output stays one line per message
//! whatever the bytes are.
//!
//! How it ends:
//!
//! - The end of stdin, Ctrl-C, or a reader of stdout that went away (`| head -1`)
//!   sends the close frame of `--close-code` and `--close-reason` (1000, no reason,
//!   by default) and waits up to [`CLOSE_WAIT`] for the server's. Messages already
//!   on their way are still printed. A second Ctrl-C ends at once.
//! - A stdin line that is not UTF-8, without `--binary` (a text message must be
//!   UTF-8, RFC 6455 §5.6), is not sent: the client closes with 1001 ("going away":
//!   it leaves; 1007 would blame the server for data it never sent) and the reason
//!   `stdin is not UTF-8`, waits for the server's close, and fails naming the line.
//!   A failed read of stdin ends the same way.
//! - Exit status 0 when the server's close is 1000, carries no code, or echoes the
//!   code the client sent; a reader of stdout that went away ends quietly with 0.

use std::time::Duration;

use tidings_io::http::ClientStream;
use tidings_io::{
    ClientBuilder, CloseCode, CloseFrame, Config, DeflateConfig, Dialer, Message, Tokio,
};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::echo::{agreed, describe_close};
use crate::{Failure, OutputError};

/// How long to wait for the server's close frame after sending ours.
const CLOSE_WAIT: Duration = Duration::from_secs(5);
/// The longest close reason: a control frame carries at most 125 bytes, two of
/// them the code (RFC 6455 §5.5).
const MAX_REASON_LEN: usize = 123;
/// The code the client closes with when it cannot go on (see the module doc).
const GIVING_UP: CloseCode = CloseCode::GOING_AWAY;

/// Options of `tidings ws`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "The end of stdin, Ctrl-C or a closed stdout sends a close frame (--close-code, \
                  1000 by default) and waits for the server's; the exit status is 0 when the \
                  server closes with 1000 or echoes the code sent. A stdin line that is not \
                  UTF-8 (without --binary) is not sent: the client closes with 1001 and exits \
                  with status 1."
)]
pub(crate) struct Args {
    /// The server, `ws://host[:port]/path` or `wss://...`.
    url: String,
    /// Offer this subprotocol (repeat for several, in order of preference).
    #[arg(long = "protocol", value_name = "NAME", value_parser = crate::header::protocol)]
    protocols: Vec<String>,
    /// Add a request header, as `Name: value` (repeatable). The value is visible
    /// ASCII, spaces and tabs.
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE", value_parser = crate::header::parse)]
    headers: Vec<(String, String)>,
    /// Send each stdin line as a binary message (any bytes) instead of a text
    /// message (UTF-8 only). Received binary messages are always printed as
    /// lowercase hex.
    #[arg(long)]
    binary: bool,
    /// Send a ping every SECS seconds (a dead server is detected when no pong comes).
    #[arg(long, value_name = "SECS")]
    ping_interval: Option<u64>,
    /// Offer permessage-deflate (RFC 7692) compression.
    #[arg(long)]
    deflate: bool,
    /// The largest message (and frame) accepted, in bytes; a larger one fails the
    /// connection with 1009. Compressed messages count after inflation.
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20, value_parser = clap::value_parser!(u64).range(1..))]
    max_message_size: u64,
    /// The code of the close frame sent when stdin ends, on Ctrl-C or when stdout is
    /// closed: 1000-1003, 1007-1014 or 3000-4999.
    #[arg(long, value_name = "CODE", default_value = "1000", value_parser = close_code)]
    close_code: CloseCode,
    /// The reason sent with it: UTF-8, at most 123 bytes.
    #[arg(long, value_name = "TEXT", value_parser = close_reason)]
    close_reason: Option<String>,
    /// Use HTTP/2 where the server offers WebSockets over it (RFC 8441): `wss://`
    /// asks for h2 by ALPN, `ws://` speaks h2c by prior knowledge; otherwise (or
    /// without ENABLE_CONNECT_PROTOCOL in the server's SETTINGS) HTTP/1.1.
    #[arg(long)]
    http2: bool,
    #[command(flatten)]
    tls: crate::tls::TlsArgs,
}

/// Connects, then runs until the connection closes.
pub(crate) async fn run(args: Args) -> Result<(), Failure> {
    let mut builder =
        ClientBuilder::new(&args.url).map_err(|e| format!("bad URL {:?}: {e}", args.url))?;
    for protocol in &args.protocols {
        builder = builder
            .protocol(protocol)
            .map_err(|e| format!("bad --protocol {protocol:?}: {e}"))?;
    }
    for (name, value) in &args.headers {
        builder = builder
            .header(name, value)
            .map_err(|e| format!("bad --header '{name}: {value}': {e}"))?;
    }
    let mut config = Config::default();
    config.deflate = args.deflate.then(DeflateConfig::default);
    let limit = usize::try_from(args.max_message_size).unwrap_or(usize::MAX);
    config.ws.max_message_size = limit;
    config.ws.max_frame_size = limit;
    if let Some(secs) = args.ping_interval {
        if secs == 0 {
            return Err("--ping-interval must be at least 1 second".to_owned());
        }
        config.ws.keepalive_interval = Some(Duration::from_secs(secs));
    }
    let (host, port, secure) = {
        let uri = builder.uri();
        (uri.host().to_owned(), uri.port(), uri.is_secure())
    };
    let tls = if secure {
        Some(args.tls.resolve(true)?)
    } else {
        None
    };
    let dialer = match tls.map_or(Ok(Dialer::tcp()), |tls| tls.dialer(secure)) {
        Ok(dialer) => dialer,
        Err(e) => return Err(format!("cannot connect to {host}:{port}: {e}")),
    };
    let connected = if args.http2 {
        tidings_io::http::connect_with(builder, config, &dialer).await
    } else {
        let dial = crate::net::dial(&dialer, &host, port, secure);
        let stream = match tokio::time::timeout(config.handshake_timeout, dial).await {
            Err(_) => return Err(format!("cannot connect to {host}:{port}: timed out")),
            Ok(Err(e)) => return Err(format!("cannot connect to {host}:{port}: {e}")),
            Ok(Ok(stream)) => stream,
        };
        let io = Tokio::new(ClientStream::Http1(stream));
        tidings_io::connect_with(io, builder, config).await
    };
    let mut ws =
        connected.map_err(|e| format!("WebSocket handshake with {} failed: {e}", args.url))?;
    let h2 = matches!(ws.get_ref().get_ref(), ClientStream::Http2(_));
    log!(
        "connected{}{}",
        if h2 { " over HTTP/2" } else { "" },
        agreed(&ws)
    );

    let goodbye = CloseFrame {
        code: args.close_code,
        reason: args.close_reason.clone().unwrap_or_default().into(),
    };
    let mut stdin = BufReader::new(tokio::io::stdin());
    // Kept across turns: `read_until` leaves what it read here when another branch
    // wins, and picks up from there.
    let mut line = Vec::new();
    let mut line_number = 0u64;
    let mut stdin_open = true;
    let mut stdout_open = true;
    // The code of the close frame sent, once sent.
    let mut closing: Option<CloseCode> = None;
    let mut deadline = tokio::time::Instant::now();
    // What fails the command once the connection is closed.
    let mut failure: Option<Failure> = None;
    let mut peer_close = None;
    let mut ctrl_c = Box::pin(tokio::signal::ctrl_c());
    let stdout_closed = crate::stdout_closed();
    tokio::pin!(stdout_closed);
    loop {
        // The close frame to send after this turn, if it ends the sending side.
        let mut close = None;
        tokio::select! {
            received = ws.recv() => match received {
                None => break,
                Some(Err(e)) => return Err(format!("connection failed: {e}")),
                Some(Ok(message)) => {
                    let printed = match message {
                        Message::Text(text) if stdout_open => crate::output(text.as_str()),
                        Message::Binary(data) if stdout_open => crate::output(&hex(&data)),
                        Message::Close(frame) => {
                            peer_close = Some(frame);
                            Ok(())
                        }
                        _ => Ok(()),
                    };
                    match printed {
                        Ok(()) => {}
                        Err(OutputError::Closed) => {
                            stdout_open = false;
                            close = Some(goodbye.clone());
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            },
            read = stdin.read_until(b'\n', &mut line), if stdin_open && closing.is_none() => {
                match read {
                    Ok(0) if line.is_empty() => {
                        stdin_open = false;
                        close = Some(goodbye.clone());
                    }
                    Ok(_) => {
                        line_number += 1;
                        match to_message(std::mem::take(&mut line), args.binary) {
                            Ok(message) => match ws.send(message).await {
                                Ok(()) => {}
                                // The server's close is on its way: receive it.
                                Err(tidings_io::Error::Closed) => stdin_open = false,
                                Err(e) => return Err(format!("cannot send: {e}")),
                            },
                            Err(e) => {
                                stdin_open = false;
                                failure = Some(format!("stdin line {line_number} {e}"));
                                close = Some(giving_up("stdin is not UTF-8"));
                            }
                        }
                    }
                    Err(e) => {
                        stdin_open = false;
                        failure = Some(format!("cannot read stdin: {e}"));
                        close = Some(giving_up("cannot read stdin"));
                    }
                }
            },
            _ = &mut ctrl_c => {
                if closing.is_some() {
                    return Err("interrupted while waiting for the server's close".to_owned());
                }
                ctrl_c = Box::pin(tokio::signal::ctrl_c());
                close = Some(goodbye.clone());
            },
            () = &mut stdout_closed, if stdout_open => {
                stdout_open = false;
                close = Some(goodbye.clone());
            },
            () = tokio::time::sleep_until(deadline), if closing.is_some() => {
                return Err(failure.unwrap_or_else(|| {
                    "the server did not answer the close".to_owned()
                }));
            },
        }
        if let (Some(frame), None) = (close, closing) {
            closing = Some(frame.code);
            deadline = tokio::time::Instant::now() + CLOSE_WAIT;
            start_close(&mut ws, frame).await?;
        }
    }
    if let Some(frame) = &peer_close {
        log!("closed ({})", describe_close(frame.as_ref()));
    }
    if let Some(failure) = failure {
        return Err(failure);
    }
    if !stdout_open {
        // Nobody reads the outcome: the pipeline got what it wanted.
        return Ok(());
    }
    match peer_close {
        Some(frame) => {
            let expected = frame
                .as_ref()
                .is_none_or(|frame| frame.code == CloseCode::NORMAL || Some(frame.code) == closing);
            if expected {
                Ok(())
            } else {
                Err(format!(
                    "closed by the server with {}",
                    describe_close(frame.as_ref())
                ))
            }
        }
        None => Err("the connection ended without a close frame".to_owned()),
    }
}

/// A stdin line (with its line ending, if any) as the message to send.
fn to_message(mut line: Vec<u8>, binary: bool) -> Result<Message, String> {
    if line.last() == Some(&b'\n') {
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
    }
    if binary {
        return Ok(Message::binary(line));
    }
    String::from_utf8(line).map(Message::text).map_err(|e| {
        format!(
            "is not UTF-8 (byte {} is not valid) and was not sent: a text message must be \
             UTF-8; --binary sends lines as binary messages",
            e.utf8_error().valid_up_to() + 1
        )
    })
}

/// The close frame sent when the client cannot go on.
fn giving_up(reason: &str) -> CloseFrame {
    CloseFrame {
        code: GIVING_UP,
        reason: reason.into(),
    }
}

/// Sends `frame` and returns, so that messages already on their way are still
/// received and printed before the server's close. (`WebSocket::close` would drive
/// the connection to its end and drop them.)
async fn start_close<S: tidings_io::Transport>(
    ws: &mut tidings_io::WebSocket<S>,
    frame: CloseFrame,
) -> Result<(), Failure> {
    match ws.send(Message::Close(Some(frame))).await {
        // The server closed first: its close is being received.
        Ok(()) | Err(tidings_io::Error::Closed) => Ok(()),
        Err(e) => Err(format!("cannot close: {e}")),
    }
}

/// `--close-code`: a code that may be sent (RFC 6455 §7.4).
fn close_code(arg: &str) -> Result<CloseCode, String> {
    let code = arg
        .parse()
        .map(CloseCode)
        .map_err(|_| "expected a number: 1000-1003, 1007-1014 or 3000-4999".to_owned())?;
    if code.is_sendable() {
        Ok(code)
    } else {
        Err(
            "a close frame may carry 1000-1003, 1007-1014 (RFC 6455 §7.4, the IANA \
             registry) or 3000-4999 (libraries and applications); 1005, 1006 and 1015 are \
             never sent, the others are reserved"
                .to_owned(),
        )
    }
}

/// `--close-reason`: at most [`MAX_REASON_LEN`] bytes of UTF-8 (clap has checked
/// the UTF-8).
fn close_reason(arg: &str) -> Result<String, String> {
    if arg.len() <= MAX_REASON_LEN {
        Ok(arg.to_owned())
    } else {
        Err(format!(
            "{} bytes: a close reason is at most {MAX_REASON_LEN} bytes of UTF-8 (RFC 6455 §5.5)",
            arg.len()
        ))
    }
}

/// Lowercase hex, two digits a byte.
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_two_lowercase_digits_a_byte() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
        assert_eq!(hex(&[]), "");
    }

    #[test]
    fn lines_lose_their_line_ending_only() {
        let text = |line: &[u8]| to_message(line.to_vec(), false).unwrap();
        assert_eq!(text(b"a\n"), Message::text("a"));
        assert_eq!(text(b"a\r\n"), Message::text("a"));
        assert_eq!(text(b"a\r"), Message::text("a\r"));
        assert_eq!(text(b"a"), Message::text("a"));
        assert_eq!(text(b"\n"), Message::text(""));
        assert_eq!(
            to_message(b"\xff\xfe\n".to_vec(), true).unwrap(),
            Message::binary(&b"\xff\xfe"[..])
        );
        let e = to_message(b"ab\xffc\n".to_vec(), false).unwrap_err();
        assert!(e.starts_with("is not UTF-8 (byte 3 is not valid)"), "{e}");
    }

    #[test]
    fn close_codes_and_reasons_are_checked() {
        assert_eq!(close_code("4000"), Ok(CloseCode(4000)));
        assert_eq!(close_code("1000"), Ok(CloseCode::NORMAL));
        for bad in [
            "1005", "1006", "1015", "999", "2999", "5000", "x", "-1", "70000",
        ] {
            assert!(close_code(bad).is_err(), "{bad}");
        }
        assert!(close_reason(&"\u{e9}".repeat(61)).is_ok()); // 122 bytes
        assert!(close_reason(&"a".repeat(123)).is_ok());
        assert!(close_reason(&"\u{e9}".repeat(62)).is_err()); // 124 bytes
    }
}
