//! `tidings echo`: a WebSocket echo server, one task per connection, logging each
//! connection and how it closed (with the close code) on stderr.
//!
//! A close is answered by the core with the peer's own code and reason. At most
//! `--max-connections` are served at once, with the accept loop `demo` uses.

use std::net::SocketAddr;

use tidings_io::{Config, DeflateConfig, Message, Tokio, UpgradeRequest};
use tokio::net::{TcpListener, TcpStream};

use crate::Failure;

/// Options of `tidings echo`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:9001")]
    addr: SocketAddr,
    /// Accept permessage-deflate (RFC 7692) compression when a client offers it.
    #[arg(long)]
    deflate: bool,
    /// The largest message (and frame) accepted, in bytes; a larger one fails the
    /// connection with 1009. Compressed messages count after inflation.
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20, value_parser = clap::value_parser!(u64).range(1..))]
    max_message_size: u64,
    /// Accept this subprotocol when a client offers it (repeat for several): the
    /// first of the client's offers that is in this list is chosen. A client that
    /// offers none of them is served without a subprotocol.
    #[arg(long = "protocol", value_name = "NAME", value_parser = crate::header::protocol)]
    protocols: Vec<String>,
    /// Connections served at once; more are closed on accept (with a log line) until
    /// one ends.
    #[arg(
        long,
        value_name = "N",
        default_value_t = crate::net::MAX_CONNECTIONS,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    max_connections: u32,
}

/// Serves until the process is stopped (or Ctrl-C).
pub(crate) async fn run(args: Args) -> Result<(), Failure> {
    let listener = TcpListener::bind(args.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.addr))?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("cannot listen on {}: {e}", args.addr))?;
    crate::output(&format!("echo server on ws://{local}/"))?;
    let mut config = Config::default();
    config.deflate = args.deflate.then(DeflateConfig::default);
    let limit = usize::try_from(args.max_message_size).unwrap_or(usize::MAX);
    config.ws.max_message_size = limit;
    config.ws.max_frame_size = limit;
    let (config, protocols) = (
        std::sync::Arc::new(config),
        std::sync::Arc::new(args.protocols),
    );
    crate::net::serve(&listener, args.max_connections, |tcp, peer| {
        let (config, protocols) = (
            std::sync::Arc::clone(&config),
            std::sync::Arc::clone(&protocols),
        );
        async move {
            match connection(tcp, peer, Config::clone(&config), &protocols).await {
                Ok(close) => log!("{peer}: closed ({close})"),
                Err(e) => log!("{peer}: failed: {e}"),
            }
        }
    })
    .await;
    Ok(())
}

/// Echoes text and binary messages until the close; says how it closed.
async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    config: Config,
    protocols: &[String],
) -> Result<String, tidings_io::Error> {
    let _ = tcp.set_nodelay(true);
    let mut ws = tidings_io::accept_with(Tokio::new(tcp), config, |request| {
        Ok(choose_protocol(request, protocols))
    })
    .await?;
    log!("{peer}: connected{}", agreed(&ws));
    let mut close = String::from("no close frame");
    while let Some(message) = ws.recv().await {
        match message? {
            message @ (Message::Text(_) | Message::Binary(_)) => ws.send(message).await?,
            Message::Close(frame) => close = describe_close(frame.as_ref()),
            Message::Ping(_) | Message::Pong(_) => {}
        }
    }
    Ok(close)
}

/// The first subprotocol the client offers that is one of ours (its offers are in
/// its order of preference, RFC 6455 §4.1), or none.
fn choose_protocol(request: &UpgradeRequest, ours: &[String]) -> Option<String> {
    request
        .protocols()
        .find(|offered| ours.iter().any(|p| p == offered))
        .map(str::to_owned)
}

/// `code 1000 "reason"`, or `no status code` for an empty close frame.
pub(crate) fn describe_close(frame: Option<&tidings_io::CloseFrame>) -> String {
    match frame {
        Some(frame) => format!("code {} {:?}", frame.code.0, frame.reason.as_str()),
        None => "no status code".to_owned(),
    }
}

/// What a handshake agreed on, for the "connected" log line: ` (subprotocol chat,
/// permessage-deflate)`, or nothing.
pub(crate) fn agreed<S: tidings_io::Transport>(ws: &tidings_io::WebSocket<S>) -> String {
    let protocol = ws
        .protocol()
        .map(|protocol| format!("subprotocol {protocol}"));
    let deflate = ws
        .connection()
        .config()
        .deflate
        .map(|_| "permessage-deflate".to_owned());
    let agreed: Vec<String> = protocol.into_iter().chain(deflate).collect();
    if agreed.is_empty() {
        String::new()
    } else {
        format!(" ({})", agreed.join(", "))
    }
}
