//! TLS with rustls (feature `rustls`): `wss://` and `https://` clients on tokio, and
//! the pieces to run a server behind TLS.
//!
//! # Why it is built this way
//!
//! TLS is a stream under the protocols, so nothing above the [`Transport`] changes:
//! a client dials TCP, runs the TLS handshake with the URL's host as the server
//! name, and hands the encrypted stream to the same WebSocket handshake or event
//! stream request as over plain TCP. A server needs no API at all: accept the TLS
//! connection with `tokio_rustls::TlsAcceptor` and pass it to
//! [`accept`](crate::accept) like any stream.
//!
//! The crypto provider is chosen explicitly, here, every time: rustls' `ring`
//! provider, through `ClientConfig::builder_with_provider`. Nothing relies on a
//! process-level default provider, so no program using this crate can hit rustls'
//! "no process-level CryptoProvider available" panic, whatever else it links.
//! The default trust anchors are the Mozilla roots of `webpki-roots`, compiled in,
//! so the behaviour does not depend on the host's certificate store. For a private
//! CA or a self-signed test certificate, build a `ClientConfig` from [`provider`]
//! and dial with [`Dialer::tls`](crate::Dialer::tls): for
//! [`connect_url_with`](crate::connect_url_with), an
//! [`EventSource`](crate::sse::EventSource) or the HTTP/2 client.
//!
//! # A server
//!
//! ```no_run
//! use std::sync::Arc;
//! use tidings_io::tls::{provider, rustls, tokio_rustls};
//! use tidings_io::{Config, Tokio};
//!
//! # async fn run(
//! #     certs: Vec<rustls::pki_types::CertificateDer<'static>>,
//! #     key: rustls::pki_types::PrivateKeyDer<'static>,
//! # ) -> Result<(), Box<dyn std::error::Error>> {
//! let tls = rustls::ServerConfig::builder_with_provider(provider())
//!     .with_safe_default_protocol_versions()?
//!     .with_no_client_auth()
//!     .with_single_cert(certs, key)?;
//! let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9443").await?;
//! loop {
//!     let (tcp, _) = listener.accept().await?;
//!     let acceptor = acceptor.clone();
//!     tokio::spawn(async move {
//!         let tls = acceptor.accept(tcp).await?;
//!         let mut ws = tidings_io::accept(Tokio::new(tls), Config::default()).await?;
//!         while let Some(message) = ws.recv().await {
//!             ws.send(message?).await?;
//!         }
//!         Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
//!     });
//! }
//! # }
//! ```
//!
//! # A client with its own trust anchors
//!
//! ```no_run
//! use std::sync::Arc;
//! use tidings_io::tls::{provider, rustls};
//! use tidings_io::{Config, Dialer, Message};
//!
//! # async fn run(ca: rustls::pki_types::CertificateDer<'static>) -> Result<(), Box<dyn std::error::Error>> {
//! let mut roots = rustls::RootCertStore::empty();
//! roots.add(ca)?;
//! let tls = rustls::ClientConfig::builder_with_provider(provider())
//!     .with_safe_default_protocol_versions()?
//!     .with_root_certificates(roots)
//!     .with_no_client_auth();
//! let url = "wss://localhost:9443/";
//! let dialer = Dialer::tls(Arc::new(tls));
//! let mut ws = tidings_io::connect_url_with(url, Config::default(), &dialer).await?;
//! ws.send(Message::text("hello")).await?;
//! # Ok(()) }
//! ```

use std::sync::{Arc, OnceLock};

pub use rustls;
pub use tokio_rustls;

#[cfg(doc)]
use crate::Transport;

/// rustls' `ring` crypto provider: the one every config of this crate is built
/// with, and the one to build your own with
/// (`rustls::ClientConfig::builder_with_provider(provider())`).
#[must_use]
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The client config used for `wss://` and `https://` when none is given: the
/// [`provider`], TLS 1.2 and 1.3, the `webpki-roots` trust anchors, no client
/// certificate, ALPN `http/1.1`. Built once and shared.
#[must_use]
pub fn client_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            let mut config = rustls::ClientConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()
                // The ring provider implements both TLS versions: this cannot fail.
                .expect("ring supports TLS 1.2 and 1.3")
                .with_root_certificates(roots)
                .with_no_client_auth();
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            Arc::new(config)
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_is_shared_and_has_roots() {
        let a = client_config();
        assert!(Arc::ptr_eq(&a, &client_config()));
        assert_eq!(a.alpn_protocols, [b"http/1.1".to_vec()]);
        assert!(!webpki_roots::TLS_SERVER_ROOTS.is_empty());
    }
}
