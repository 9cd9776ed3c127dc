//! Dialling: TCP for `ws://` and `http://`, rustls over TCP for `wss://` and
//! `https://`, shared by the WebSocket and the SSE clients so both report a refused
//! connection or a TLS failure the same way. Serving: the accept loop of `demo` and
//! `echo`, with their connection cap.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tidings_io::MaybeTlsStream;
use tidings_io::tls::{rustls, tokio_rustls};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use crate::tls::Tls;

/// The default of `--max-connections` for the servers.
pub(crate) const MAX_CONNECTIONS: u32 = 1024;

/// Connects to `host:port`, with `TCP_NODELAY`, and runs TLS with `host` as the
/// server name when `tls` is given (see [`crate::tls`] for whom it trusts).
pub(crate) async fn dial(host: &str, port: u16, tls: Option<&Tls>) -> io::Result<MaybeTlsStream> {
    // A bracketed IPv6 literal from a URL is dialled without its brackets.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    // A bad SSL_CERT_FILE is reported before dialling anything.
    let config = tls.map(Tls::config).transpose()?;
    let tcp = TcpStream::connect((bare, port)).await?;
    tcp.set_nodelay(true)?;
    let Some(config) = config else {
        return Ok(MaybeTlsStream::Plain(tcp));
    };
    let name = rustls::pki_types::ServerName::try_from(bare.to_owned())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let connector = tokio_rustls::TlsConnector::from(config);
    let stream = connector.connect(name, tcp).await.map_err(|e| {
        let untrusted = e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            .is_some_and(|tls| matches!(tls, rustls::Error::InvalidCertificate(_)));
        let hint = if untrusted {
            " (--cacert FILE trusts a self-signed certificate or a private CA)"
        } else {
            ""
        };
        io::Error::new(e.kind(), format!("TLS handshake failed: {e}{hint}"))
    })?;
    Ok(MaybeTlsStream::Rustls(Box::new(stream)))
}

/// Serves connections until Ctrl-C, each on its own task running `serve`, at most
/// `max` at once. Over the cap, a new connection is closed as soon as it is accepted
/// (a close, not a reset: nothing is read from it, and no answer is written, which
/// would take the very resources the cap protects), with a log line; connections
/// are taken again as soon as one ends.
pub(crate) async fn serve<F, Fut>(listener: &TcpListener, max: u32, mut serve: F)
where
    F: FnMut(TcpStream, SocketAddr) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(max as usize));
    while let Some((tcp, peer)) = accept(listener).await {
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            log!("{peer}: refused, {max} connections are open");
            drop(tcp);
            continue;
        };
        let connection = serve(tcp, peer);
        tokio::spawn(async move {
            connection.await;
            drop(slot);
        });
    }
}

/// The next connection, or `None` once Ctrl-C is pressed. A failed accept (EMFILE and
/// friends) is reported, and the server pauses briefly and keeps serving.
async fn accept(listener: &TcpListener) -> Option<(TcpStream, SocketAddr)> {
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
