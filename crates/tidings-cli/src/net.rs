//! Dialling: `tidings_io::Dialer` (TCP for `ws://` and `http://`, rustls over TCP
//! for `wss://` and `https://`), with its failures worded for the command line,
//! shared by the WebSocket and the SSE clients so both report a refused connection
//! or a TLS failure the same way. Serving: the accept loop of `demo` and `echo`,
//! with their connection cap.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tidings_io::tls::rustls;
use tidings_io::{Dialer, MaybeTlsStream};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// The default of `--max-connections` for the servers.
pub(crate) const MAX_CONNECTIONS: u32 = 1024;

/// Connects to `host:port` with `dialer` (from [`crate::tls`], which says whom it
/// trusts), under TLS when `secure`. A certificate that is not trusted gets a hint
/// at `--cacert`; a failure is an [`io::Error`], as the `EventSource` takes it.
pub(crate) async fn dial(
    dialer: &Dialer,
    host: &str,
    port: u16,
    secure: bool,
) -> io::Result<MaybeTlsStream> {
    dialer
        .connect(host, port, secure)
        .await
        .map_err(|e| match e {
            tidings_io::Error::Io(e) => e,
            tidings_io::Error::Tls(e) => {
                let hint = if matches!(e, rustls::Error::InvalidCertificate(_)) {
                    " (--cacert FILE trusts a self-signed certificate or a private CA)"
                } else {
                    ""
                };
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("TLS handshake failed: {e}{hint}"),
                )
            }
            e => io::Error::other(e.to_string()),
        })
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
