//! `tidings ws URL`: an interactive WebSocket client.
//!
//! One task drives everything with `select!`: stdin lines become messages, received
//! messages are printed, Ctrl-C and the end of stdin start the closing handshake
//! (1000), and the process waits for the server's close before it exits. Binary
//! messages are printed as lowercase hex (one message per line), so the output stays
//! one line per message whatever the bytes are.

use std::time::Duration;

use tidings_io::{ClientBuilder, CloseCode, Config, DeflateConfig, Message, Tokio};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::Failure;
use crate::echo::describe_close;

/// How long to wait for the server's close frame after sending ours.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// Options of `tidings ws`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "The end of stdin or Ctrl-C sends a close frame (1000) and waits for the \
                        server's; the exit status is 0 when the server closes with 1000."
)]
pub(crate) struct Args {
    /// The server, `ws://host[:port]/path` or `wss://...`.
    url: String,
    /// Offer this subprotocol (repeat for several, in order of preference).
    #[arg(long = "protocol", value_name = "NAME")]
    protocols: Vec<String>,
    /// Add a request header, as `Name: value` (repeatable).
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// Send each stdin line as a binary message instead of a text message.
    /// Received binary messages are always printed as lowercase hex.
    #[arg(long)]
    binary: bool,
    /// Send a ping every SECS seconds (a dead server is detected when no pong comes).
    #[arg(long, value_name = "SECS")]
    ping_interval: Option<u64>,
    /// Offer permessage-deflate (RFC 7692) compression.
    #[arg(long)]
    deflate: bool,
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
    for header in &args.headers {
        let (name, value) = header
            .split_once(':')
            .ok_or_else(|| format!("bad --header {header:?}: expected 'Name: value'"))?;
        builder = builder
            .header(name.trim(), value.trim())
            .map_err(|e| format!("bad --header {header:?}: {e}"))?;
    }
    let mut config = Config::default();
    config.deflate = args.deflate.then(DeflateConfig::default);
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
    let dial = crate::net::dial(&host, port, secure);
    let stream = match tokio::time::timeout(config.handshake_timeout, dial).await {
        Err(_) => return Err(format!("cannot connect to {host}:{port}: timed out")),
        Ok(Err(e)) => return Err(format!("cannot connect to {host}:{port}: {e}")),
        Ok(Ok(stream)) => stream,
    };
    let mut ws = tidings_io::connect_with(Tokio::new(stream), builder, config)
        .await
        .map_err(|e| format!("WebSocket handshake with {} failed: {e}", args.url))?;
    let mut agreed = Vec::new();
    if let Some(protocol) = ws.protocol() {
        agreed.push(format!("subprotocol {protocol}"));
    }
    if ws.connection().config().deflate.is_some() {
        agreed.push("permessage-deflate".to_owned());
    }
    if agreed.is_empty() {
        log!("connected");
    } else {
        log!("connected ({})", agreed.join(", "));
    }

    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut stdin_open = true;
    let mut closing = false;
    let mut deadline = tokio::time::Instant::now();
    let mut peer_close = None;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            received = ws.recv() => match received {
                None => break,
                Some(Err(e)) => return Err(format!("connection failed: {e}")),
                Some(Ok(message)) => match message {
                    Message::Text(text) => crate::output(text.as_str())?,
                    Message::Binary(data) => crate::output(&hex(&data))?,
                    Message::Close(frame) => peer_close = Some(frame),
                    Message::Ping(_) | Message::Pong(_) => {}
                },
            },
            line = lines.next_line(), if stdin_open && !closing => match line {
                Ok(Some(line)) => {
                    let message = if args.binary {
                        Message::binary(line.into_bytes())
                    } else {
                        Message::text(line)
                    };
                    ws.send(message).await.map_err(|e| format!("cannot send: {e}"))?;
                }
                Ok(None) | Err(_) => {
                    stdin_open = false;
                    closing = true;
                    deadline = tokio::time::Instant::now() + CLOSE_WAIT;
                    start_close(&mut ws).await?;
                }
            },
            _ = &mut ctrl_c, if !closing => {
                closing = true;
                deadline = tokio::time::Instant::now() + CLOSE_WAIT;
                start_close(&mut ws).await?;
            },
            () = tokio::time::sleep_until(deadline), if closing => {
                return Err("the server did not answer the close".to_owned());
            },
        }
    }
    match peer_close {
        Some(frame) => {
            let normal = frame
                .as_ref()
                .is_none_or(|frame| frame.code == CloseCode::NORMAL);
            log!("closed ({})", describe_close(frame.as_ref()));
            if normal {
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

/// Sends a close frame (1000) and returns, so that messages already on their way
/// are still received and printed before the server's close. (`WebSocket::close`
/// would drive the connection to its end and drop them.)
async fn start_close<S: tidings_io::Transport>(
    ws: &mut tidings_io::WebSocket<S>,
) -> Result<(), Failure> {
    ws.send(Message::Close(None))
        .await
        .map_err(|e| format!("cannot close: {e}"))
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
    #[test]
    fn hex_is_two_lowercase_digits_a_byte() {
        assert_eq!(super::hex(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
        assert_eq!(super::hex(&[]), "");
    }
}
