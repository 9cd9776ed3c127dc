//! Dialling: TCP for `ws://` and `http://`, rustls over TCP for `wss://` and
//! `https://`, shared by the WebSocket and the SSE clients so both report a refused
//! connection or a TLS failure the same way.

use std::io;
use std::sync::Arc;

use tidings_io::MaybeTlsStream;
use tidings_io::tls::{self, rustls, tokio_rustls};
use tokio::net::{TcpListener, TcpStream};

/// Connects to `host:port`, with `TCP_NODELAY`, and runs TLS with `host` as the
/// server name when `secure`, trusting the `webpki-roots` anchors.
pub(crate) async fn dial(host: &str, port: u16, secure: bool) -> io::Result<MaybeTlsStream> {
    // A bracketed IPv6 literal from a URL is dialled without its brackets.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let tcp = TcpStream::connect((bare, port)).await?;
    tcp.set_nodelay(true)?;
    if !secure {
        return Ok(MaybeTlsStream::Plain(tcp));
    }
    let name = rustls::pki_types::ServerName::try_from(bare.to_owned())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::clone(&tls::client_config()));
    let stream = connector
        .connect(name, tcp)
        .await
        .map_err(|e| io::Error::new(e.kind(), format!("TLS handshake failed: {e}")))?;
    Ok(MaybeTlsStream::Rustls(Box::new(stream)))
}

/// The next connection, or `None` once Ctrl-C is pressed. A failed accept (EMFILE and
/// friends) is reported, and the server pauses briefly and keeps serving.
pub(crate) async fn accept(listener: &TcpListener) -> Option<(TcpStream, std::net::SocketAddr)> {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = tokio::signal::ctrl_c() => return None,
        };
        match accepted {
            Ok(accepted) => return Some(accepted),
            Err(e) => {
                log!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}
