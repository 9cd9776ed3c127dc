//! Whom `wss://` and `https://` servers are trusted by: `--cacert`, `--insecure`,
//! `SSL_CERT_FILE`, or the Mozilla roots built into `tidings-io`.
//!
//! The choices follow curl, so a user's habits carry over:
//!
//! - `--cacert FILE` (PEM, one or more certificates) *replaces* the built-in roots:
//!   only what the file holds is trusted, as with curl's `--cacert`. A self-signed
//!   server's own certificate, or a private CA, is what goes in it.
//! - Without `--cacert`, a non-empty `SSL_CERT_FILE` is read the same way (the
//!   variable OpenSSL and curl read), so a machine set up for a private CA works
//!   without options.
//! - `--insecure` (`-k`) verifies nothing about the certificate: not its signer,
//!   not its name, not its dates. The TLS handshake's own signatures are still
//!   checked (so the peer does hold the key of the certificate it showed), but
//!   anyone on the path can show one. A warning says so on stderr every time.
//!   It cannot be combined with `--cacert` (one of them would be ignored).
//!
//! A bad `--cacert` ends the command at once. A bad `SSL_CERT_FILE` does too when
//! the URL needs TLS; for a plain `ws://` or `http://` URL it is reported only if a
//! TLS connection is made after all (an event stream redirected to `https://`), so
//! a stale variable does not break plain connections.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tidings_io::Dialer;
use tidings_io::tls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tidings_io::tls::rustls::crypto::{
    CryptoProvider, verify_tls12_signature, verify_tls13_signature,
};
use tidings_io::tls::rustls::pki_types::pem::PemObject;
use tidings_io::tls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tidings_io::tls::rustls::{self, ClientConfig, DigitallySignedStruct, SignatureScheme};
use tidings_io::tls::{self, provider};

use crate::Failure;

/// The variable read for trust anchors when `--cacert` is not given.
const SSL_CERT_FILE: &str = "SSL_CERT_FILE";

/// The TLS options of `tidings ws` and `tidings sse`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct TlsArgs {
    /// Trust the certificates in this PEM file (one or more) instead of the built-in
    /// Mozilla roots, as curl's --cacert does: a self-signed server's certificate,
    /// or a private CA. Without it, the file named by SSL_CERT_FILE is used, if set.
    #[arg(long, value_name = "FILE")]
    cacert: Option<PathBuf>,
    /// DANGEROUS: do not verify the server's certificate (its signer, name and
    /// dates). Anyone between you and the server can then read and change the
    /// connection. For tests against a throwaway server only; --cacert is the safe
    /// way to trust a self-signed certificate.
    #[arg(long, short = 'k', conflicts_with = "cacert")]
    insecure: bool,
}

/// The TLS dialer of the command (a `tidings_io::Dialer` with its client config), or
/// why there is none: a bad `SSL_CERT_FILE` kept for the first connection that needs
/// TLS.
#[derive(Debug, Clone)]
pub(crate) struct Tls(Result<Dialer, Arc<str>>);

impl Tls {
    /// The dialer for a URL, secure or not: a plain one needs no config (and is
    /// dialled without TLS, so a bad `SSL_CERT_FILE` does not matter to it); a
    /// secure one gets the config, or the error kept when it was built.
    pub(crate) fn dialer(&self, secure: bool) -> std::io::Result<Dialer> {
        match &self.0 {
            _ if !secure => Ok(Dialer::tcp()),
            Ok(dialer) => Ok(dialer.clone()),
            Err(e) => Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                e.to_string(),
            )),
        }
    }
}

impl TlsArgs {
    /// Builds the config once for the whole command; `secure`: the URL needs TLS,
    /// so a bad `SSL_CERT_FILE` is an error now rather than at the first TLS dial.
    pub(crate) fn resolve(&self, secure: bool) -> Result<Tls, Failure> {
        if self.insecure {
            log!(
                "warning: --insecure: the server's certificate is not verified; anyone on \
                 the path can read and change this connection"
            );
            return Ok(Tls(Ok(Dialer::tls(dangerous_no_verification()))));
        }
        if let Some(path) = &self.cacert {
            let config = trusting(path).map_err(|e| format!("bad --cacert: {e}"))?;
            return Ok(Tls(Ok(Dialer::tls(config))));
        }
        match std::env::var_os(SSL_CERT_FILE).filter(|v| !v.is_empty()) {
            None => Ok(Tls(Ok(Dialer::tls(tls::client_config())))),
            Some(path) => match trusting(Path::new(&path)) {
                Ok(config) => Ok(Tls(Ok(Dialer::tls(config)))),
                Err(e) => {
                    let e = format!("bad {SSL_CERT_FILE}: {e} (unset it, or use --cacert)");
                    if secure {
                        Err(e)
                    } else {
                        Ok(Tls(Err(e.into())))
                    }
                }
            },
        }
    }
}

/// A config trusting exactly the certificates of the PEM file at `path`.
fn trusting(path: &Path) -> Result<Arc<ClientConfig>, String> {
    let shown = path.display();
    let pem = std::fs::read(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let mut roots = rustls::RootCertStore::empty();
    for (n, cert) in CertificateDer::pem_slice_iter(&pem).enumerate() {
        let cert = cert.map_err(|e| format!("{shown}: certificate {}: {e}", n + 1))?;
        roots
            .add(cert)
            .map_err(|e| format!("{shown}: certificate {} cannot be trusted: {e}", n + 1))?;
    }
    if roots.is_empty() {
        return Err(format!(
            "{shown} holds no certificate (expected PEM: -----BEGIN CERTIFICATE-----)"
        ));
    }
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(finish(config))
}

/// A config that accepts any certificate: `--insecure`.
fn dangerous_no_verification() -> Arc<ClientConfig> {
    let provider = provider();
    let verifier = Arc::new(DangerousAnyCertificate(Arc::clone(&provider)));
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        // The ring provider implements both TLS versions: this cannot fail.
        .expect("ring supports TLS 1.2 and 1.3")
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    finish(config)
}

/// What every config here shares with `tidings_io::tls::client_config`.
fn finish(mut config: ClientConfig) -> Arc<ClientConfig> {
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// The verifier of `--insecure`: every certificate passes. The handshake's
/// signatures are still verified with the provider's algorithms, so the server
/// must hold the private key of the certificate it shows (whatever that is).
#[derive(Debug)]
struct DangerousAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for DangerousAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str, contents: &[u8]) -> PathBuf {
        let path = std::env::temp_dir().join(format!("tidings-cli-{}-{name}", std::process::id()));
        std::fs::write(&path, contents).unwrap();
        path
    }

    #[test]
    fn a_file_without_certificates_is_refused_with_its_name() {
        let path = temp("empty.pem", b"not a certificate\n");
        let e = trusting(&path).unwrap_err();
        let _ = std::fs::remove_file(&path);
        assert!(e.contains("holds no certificate"), "{e}");
        assert!(e.contains("empty.pem"), "{e}");
    }

    #[test]
    fn a_missing_file_is_named() {
        let e = trusting(Path::new("/nonexistent/ca.pem")).unwrap_err();
        assert!(e.starts_with("cannot read /nonexistent/ca.pem: "), "{e}");
    }

    #[test]
    fn a_broken_certificate_is_numbered() {
        let path = temp(
            "broken.pem",
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        );
        let e = trusting(&path).unwrap_err();
        let _ = std::fs::remove_file(&path);
        assert!(e.contains("certificate 1"), "{e}");
    }
}
