//! `tidings echo`: a WebSocket echo server, one task per connection, logging each
//! connection and how it closed (with the close code) on stderr.

use std::net::SocketAddr;

use tidings_io::{Config, DeflateConfig, Message, Tokio};
use tokio::net::{TcpListener, TcpStream};

use crate::Failure;

/// Serves until the process is stopped (or Ctrl-C).
pub(crate) async fn run(addr: SocketAddr, deflate: bool) -> Result<(), Failure> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    crate::output(&format!("echo server on ws://{local}/"))?;
    while let Some((tcp, peer)) = crate::net::accept(&listener).await {
        tokio::spawn(async move {
            match connection(tcp, peer, deflate).await {
                Ok(close) => log!("{peer}: closed ({close})"),
                Err(e) => log!("{peer}: failed: {e}"),
            }
        });
    }
    Ok(())
}

/// Echoes text and binary messages until the close; says how it closed.
async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    deflate: bool,
) -> Result<String, tidings_io::Error> {
    let _ = tcp.set_nodelay(true);
    let mut config = Config::default();
    config.deflate = deflate.then(DeflateConfig::default);
    let mut ws = tidings_io::accept(Tokio::new(tcp), config).await?;
    let compressed = ws.connection().config().deflate.is_some();
    log!(
        "{peer}: connected{}",
        if compressed {
            " (permessage-deflate)"
        } else {
            ""
        }
    );
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

/// `code 1000 "reason"`, or `no status code` for an empty close frame.
pub(crate) fn describe_close(frame: Option<&tidings_io::CloseFrame>) -> String {
    match frame {
        Some(frame) => format!("code {} {:?}", frame.code.0, frame.reason.as_str()),
        None => "no status code".to_owned(),
    }
}
