//! Dialling on tokio: the one place this crate opens a client connection.
//!
//! Every client here needs the same few steps: TCP to the URL's host and port, with
//! `TCP_NODELAY` (a WebSocket or an event stream writes small messages that should
//! not wait for Nagle), then, for `wss://` and `https://`, a TLS handshake with the
//! host as the server name; a TLS failure reported as [`Error::Tls`], and a secure
//! URL with no TLS to run as [`Error::TlsUnsupported`]. [`Dialer`] is those steps
//! once, for [`connect_url_with`](crate::connect_url_with), for
//! [`EventSource`](crate::sse::EventSource) (it is a [`Dial`]) and for the HTTP/2
//! client (which also has it offer ALPN `h2`). The scheme rules (which scheme is
//! secure, its default port, the host) are the URL parsers' of the core crates; a
//! dialer is only given their answers.

use std::future::Future;
use std::io;
use std::pin::Pin;

use tokio::net::TcpStream;

use crate::error::Error;
use crate::sse::{Dial, Url};
use crate::stream::MaybeTlsStream;

/// Dials a URL's host on tokio: plain TCP for `ws://` and `http://`, and, with a
/// TLS config, rustls over TCP for `wss://` and `https://`, always with
/// `TCP_NODELAY` and the URL's host as the TLS server name.
///
/// [`Dialer::default`] trusts the `webpki-roots` anchors
/// ([`tls::client_config`](crate::tls::client_config)) with the `rustls` feature,
/// and speaks only TCP without it; [`Dialer::tls`] takes a config of yours (a
/// private CA, a test certificate), [`Dialer::tcp`] none. A secure URL given to a
/// dialer without TLS is [`Error::TlsUnsupported`].
///
/// Give it to [`connect_url_with`](crate::connect_url_with) for a WebSocket, to
/// [`EventSource::new`](crate::sse::EventSource::new) for an event stream (it is a
/// [`Dial`]), and, with the `http2` feature, to the `http` module's clients
/// (`http::connect_with`, `http::event_source`, `http::OpenConfig::dialer`), which
/// have it offer ALPN `h2` and `http/1.1` in place of the config's own list.
///
/// ```no_run
/// use futures_util::StreamExt;
/// use tidings_io::Dialer;
/// use tidings_io::sse::{ClientConfig, EventSource};
///
/// # async fn run() -> Result<(), tidings_io::sse::Error> {
/// let url = "https://example.com/events";
/// let source = EventSource::new(url, Dialer::default(), ClientConfig::default())?;
/// let mut messages = source.messages();
/// while let Some(message) = messages.next().await {
///     println!("{}", message?.data());
/// }
/// # Ok(()) }
/// ```
///
/// A TLS failure (an untrusted certificate...) is a network error to an
/// `EventSource`, which reconnects after the reconnection time, as for a refused
/// connection; dial once with [`connect`](Self::connect) to see the
/// `rustls::Error` itself ([`Error::Tls`]). `connect` is also the way to a
/// WebSocket handshake of your own ([`connect_with`](crate::connect_with), with the
/// protocols and headers of a [`ClientBuilder`](crate::ClientBuilder)).
#[derive(Debug, Clone)]
pub struct Dialer {
    tls: Option<TlsConfig>,
}

/// The TLS client settings of a [`Dialer`]: rustls' with the `rustls` feature, none
/// (an uninhabited type) without.
#[cfg(feature = "rustls")]
type TlsConfig = std::sync::Arc<rustls::ClientConfig>;
#[cfg(not(feature = "rustls"))]
type TlsConfig = std::convert::Infallible;

impl Dialer {
    /// A dialer for `ws://` and `http://` only.
    #[must_use]
    pub fn tcp() -> Self {
        Self { tls: None }
    }

    /// A dialer using `config` for `wss://` and `https://` (build it with
    /// [`tls::provider`](crate::tls::provider)).
    #[cfg(feature = "rustls")]
    #[must_use]
    pub fn tls(config: std::sync::Arc<rustls::ClientConfig>) -> Self {
        Self { tls: Some(config) }
    }

    /// Whether this dialer runs TLS, so `wss://` and `https://` URLs can be used.
    pub(crate) fn speaks_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// This dialer, offering `protocols` by ALPN (in place of its config's list).
    /// Without TLS there is nothing to offer them on.
    #[cfg(feature = "http2")]
    pub(crate) fn offering(&self, protocols: &[&str]) -> Self {
        #[cfg(feature = "rustls")]
        let tls = self.tls.as_ref().map(|tls| {
            let mut tls = rustls::ClientConfig::clone(tls);
            tls.alpn_protocols = protocols.iter().map(|p| p.as_bytes().to_vec()).collect();
            std::sync::Arc::new(tls)
        });
        #[cfg(not(feature = "rustls"))]
        let (tls, _) = (self.tls, protocols);
        Self { tls }
    }

    /// Dials `host:port`, under TLS when `secure` (`host` is the TLS server name),
    /// as a URL parser gives them: `Uri::host`, `Uri::port` and `Uri::is_secure` of
    /// a [`ClientBuilder::uri`](crate::ClientBuilder::uri), for instance. No
    /// timeout: wrap it in one.
    ///
    /// # Errors
    ///
    /// [`Error::TlsUnsupported`] when `secure` and this dialer has no TLS (before
    /// any dial), [`Error::Tls`] when the TLS handshake fails, [`Error::Io`] when
    /// the connection does.
    pub async fn connect(
        &self,
        host: &str,
        port: u16,
        secure: bool,
    ) -> Result<MaybeTlsStream, Error> {
        if secure && !self.speaks_tls() {
            return Err(Error::TlsUnsupported);
        }
        let tls = self.tls.as_ref().filter(|_| secure).cloned();
        dial(host, port, tls).await.map_err(dial_error)
    }
}

impl Default for Dialer {
    fn default() -> Self {
        #[cfg(feature = "rustls")]
        return Self::tls(crate::tls::client_config());
        #[cfg(not(feature = "rustls"))]
        Self::tcp()
    }
}

/// An `https://` URL is dialled under TLS, an `http://` one (a redirect may go from
/// `http` to `https`, never back) over TCP; failures are [`io::Error`]s, the TLS
/// ones of kind `InvalidData` with the `rustls::Error` inside (tokio-rustls'
/// convention), since an `EventSource` reconnects after any of them.
impl Dial for Dialer {
    type Io = crate::Tokio<MaybeTlsStream>;
    type Future = Pin<Box<dyn Future<Output = io::Result<Self::Io>> + Send>>;

    fn dial(&mut self, url: &Url) -> Self::Future {
        let (host, port) = (url.host().to_owned(), url.port());
        let tls = self.tls.as_ref().filter(|_| url.is_https()).cloned();
        Box::pin(async move { Ok(crate::Tokio::new(dial(&host, port, tls).await?)) })
    }

    fn tls(&self) -> bool {
        self.speaks_tls()
    }
}

/// Dials `host:port` with `TCP_NODELAY`, then, when `tls` is given, runs a TLS
/// client handshake with `host` as the server name (SNI, and the name the
/// certificate must carry).
///
/// A TLS failure is an [`io::Error`] of kind `InvalidData` whose inner error is the
/// `rustls::Error` (tokio-rustls' convention; [`dial_error`] takes it out).
async fn dial(host: &str, port: u16, tls: Option<TlsConfig>) -> io::Result<MaybeTlsStream> {
    let tcp = TcpStream::connect((host, port)).await?;
    tcp.set_nodelay(true)?;
    let Some(config) = tls else {
        return Ok(MaybeTlsStream::Plain(tcp));
    };
    #[cfg(not(feature = "rustls"))]
    match config {}
    #[cfg(feature = "rustls")]
    {
        let name = rustls::pki_types::ServerName::try_from(host.to_owned())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let tls = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await?;
        Ok(MaybeTlsStream::Rustls(Box::new(tls)))
    }
}

/// The error of a failed [`dial`]: the `rustls::Error` it carries, if any, as
/// [`Error::Tls`]; any other as [`Error::Io`].
fn dial_error(e: io::Error) -> Error {
    #[cfg(feature = "rustls")]
    if let Some(tls) = e.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) {
        return Error::Tls(tls.clone());
    }
    Error::Io(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A secure URL with no TLS to run is refused before anything is dialled (port
    /// 9 on loopback is not listened on: a dial would fail with `Io`).
    #[tokio::test]
    async fn secure_without_tls_is_refused_before_dialling() {
        let refused = Dialer::tcp().connect("127.0.0.1", 9, true).await;
        assert!(matches!(refused, Err(Error::TlsUnsupported)), "{refused:?}");
        assert!(!Dialer::tcp().speaks_tls());
    }

    #[cfg(all(feature = "rustls", feature = "http2"))]
    #[test]
    fn offering_replaces_the_alpn_list_only() {
        let dialer = Dialer::default();
        let h2 = dialer.offering(&["h2", "http/1.1"]);
        let alpn = |d: &Dialer| d.tls.as_ref().unwrap().alpn_protocols.clone();
        assert_eq!(alpn(&h2), [b"h2".to_vec(), b"http/1.1".to_vec()]);
        assert_eq!(alpn(&dialer), [b"http/1.1".to_vec()]);
        assert!(!Dialer::tcp().offering(&["h2"]).speaks_tls());
    }

    #[cfg(feature = "rustls")]
    #[test]
    fn rustls_errors_are_taken_out_of_io_errors() {
        let tls = rustls::Error::HandshakeNotComplete;
        let io = io::Error::new(io::ErrorKind::InvalidData, tls.clone());
        assert!(matches!(dial_error(io), Error::Tls(e) if e == tls));
        let plain = dial_error(io::Error::other("boom"));
        assert!(matches!(plain, Error::Io(e) if e.to_string() == "boom"));
    }

    #[tokio::test]
    async fn plain_dial_sets_nodelay() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let dialer = Dialer::default();
        let (dialed, accepted) =
            tokio::join!(dialer.connect("127.0.0.1", port, false), listener.accept());
        accepted.unwrap();
        assert!(dialed.unwrap().tcp().nodelay().unwrap());
    }
}
