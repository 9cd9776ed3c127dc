//! TLS on loopback (feature `rustls`): `wss://` and `https://` against a self-signed
//! certificate made here with rcgen, and the refusal of an untrusted one.
#![cfg(feature = "rustls")]

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tidings_io::sse::{
    self, ClientConfig, Dial, EventSource, ServerConfig, ServerSentEvent, SseWriter, Url,
};
use tidings_io::tls::{provider, rustls, tokio_rustls};
use tidings_io::{CloseCode, Config, Dialer, Error, MaybeTlsStream, Message, Tokio};
use tokio::net::TcpListener;

/// A self-signed certificate for `names`: the server's config, and a client config
/// that trusts exactly that certificate.
fn certificate(names: &[&str]) -> (Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>) {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let rcgen::CertifiedKey { cert, key_pair } = rcgen::generate_simple_self_signed(names).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(key_pair.serialize_der().into());
    let server = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], key)
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der().clone()).unwrap();
    let client = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    (Arc::new(server), Arc::new(client))
}

async fn tls_listener(
    server: Arc<rustls::ServerConfig>,
) -> (TcpListener, tokio_rustls::TlsAcceptor, std::net::SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, tokio_rustls::TlsAcceptor::from(server), addr)
}

/// `wss://` through `connect_url_with` and `Dialer::tls`: text and a 1 MiB binary echoed, also
/// through split halves (which share the TLS stream), then a clean close.
#[tokio::test]
async fn wss_echo_round_trip() {
    let (server_tls, client_tls) = certificate(&["localhost", "127.0.0.1"]);
    let (listener, acceptor, addr) = tls_listener(server_tls).await;
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let tls = acceptor.accept(tcp).await.unwrap();
        let mut ws = tidings_io::accept(Tokio::new(tls), Config::default())
            .await
            .unwrap();
        let mut echoed = 0;
        while let Some(message) = ws.recv().await {
            if let m @ (Message::Text(_) | Message::Binary(_)) = message.unwrap() {
                ws.send(m).await.unwrap();
                echoed += 1;
            }
        }
        echoed
    });

    let url = format!("wss://127.0.0.1:{}/echo", addr.port());
    let dialer = Dialer::tls(client_tls);
    let mut ws = tidings_io::connect_url_with(&url, Config::default(), &dialer)
        .await
        .unwrap();
    assert!(matches!(ws.get_ref().get_ref(), MaybeTlsStream::Rustls(_)));
    ws.send(Message::text("over tls")).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("over tls"));
    let big = Message::binary(vec![7u8; 1 << 20]);
    ws.send(big.clone()).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), big);

    let (mut reader, mut writer) = ws.split();
    let reading = tokio::spawn(async move {
        let mut got = Vec::new();
        while got.len() < 20 {
            got.push(reader.recv().await.unwrap().unwrap());
        }
        (reader, got)
    });
    for i in 0..20 {
        writer.send(Message::text(format!("{i}"))).await.unwrap();
    }
    let (mut reader, got) = reading.await.unwrap();
    let want: Vec<Message> = (0..20).map(|i| Message::text(format!("{i}"))).collect();
    assert_eq!(got, want);
    // The reader reads the server's close echo while the writer closes.
    let drain = async {
        while let Some(message) = reader.recv().await {
            assert!(matches!(message.unwrap(), Message::Close(_)));
        }
    };
    let (closed, ()) = tokio::join!(writer.close(CloseCode::NORMAL, ""), drain);
    closed.unwrap();
    assert_eq!(server.await.unwrap(), 22);
}

/// `https://` through `Dialer`: two events, the server hangs up, the client
/// reconnects over TLS with `Last-Event-ID` and gets the rest, no gap, no duplicate.
#[tokio::test]
async fn https_event_stream_resumes() {
    let (server_tls, client_tls) = certificate(&["localhost", "127.0.0.1"]);
    let (listener, acceptor, addr) = tls_listener(server_tls).await;
    let server = tokio::spawn(async move {
        let mut seen = Vec::new();
        for _ in 0..2 {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut io = Tokio::new(acceptor.accept(tcp).await.unwrap());
            let request = sse::read_request(&mut io, &ServerConfig::default())
                .await
                .unwrap();
            seen.push(request.last_event_id().map(str::to_owned));
            let first: u32 = request
                .last_event_id()
                .map_or(1, |id| id.parse::<u32>().unwrap() + 1);
            let mut writer = SseWriter::start(io, ServerConfig::default()).await.unwrap();
            for n in first..first + 2 {
                let event = ServerSentEvent::data(format!("tick {n}")).id(n.to_string());
                writer.send(&event).await.unwrap();
            }
            writer.close().await.unwrap();
        }
        seen
    });

    let mut config = ClientConfig::default();
    config.event_source.reconnection_time = Duration::from_millis(20);
    let url = format!("https://127.0.0.1:{}/events", addr.port());
    let source = EventSource::new(&url, Dialer::tls(client_tls), config).unwrap();
    let got: Vec<(String, String)> = source
        .messages()
        .take(4)
        .map(|e| {
            let e = e.unwrap();
            (e.data().to_owned(), e.last_event_id().to_owned())
        })
        .collect()
        .await;
    let want: Vec<(String, String)> = (1..=4)
        .map(|n| (format!("tick {n}"), n.to_string()))
        .collect();
    assert_eq!(got, want);
    assert_eq!(server.await.unwrap(), [None, Some("2".to_owned())]);
}

/// A certificate nobody vouches for is refused with the TLS error, by
/// `connect_url` (webpki roots), and by a dialer for the wrong name.
#[tokio::test]
async fn untrusted_certificate_is_a_tls_error() {
    let (server_tls, client_tls) = certificate(&["localhost"]);
    let (listener, acceptor, addr) = tls_listener(server_tls).await;
    let server = tokio::spawn(async move {
        let mut refused = 0;
        for _ in 0..2 {
            let (tcp, _) = listener.accept().await.unwrap();
            // The client aborts the handshake with an alert.
            if acceptor.accept(tcp).await.is_err() {
                refused += 1;
            }
        }
        refused
    });

    // Not in webpki-roots: unknown issuer.
    let url = format!("wss://127.0.0.1:{}/", addr.port());
    match tidings_io::connect_url(&url, Config::default()).await {
        Err(Error::Tls(rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer,
        ))) => {}
        other => panic!("expected an unknown issuer, got {other:?}"),
    }
    // Trusted, but issued for `localhost`, not 127.0.0.1.
    let https = Url::parse(&format!("https://127.0.0.1:{}/", addr.port())).unwrap();
    let err = Dialer::tls(client_tls).dial(&https).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    let inner = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>());
    assert!(
        matches!(inner, Some(rustls::Error::InvalidCertificate(_))),
        "{err:?}"
    );
    assert!(err.to_string().contains("certificate"), "{err}");
    assert_eq!(server.await.unwrap(), 2);
}

/// Without a config, `https://` and `wss://` use the webpki roots; the default
/// dialer still speaks plain `http://`.
#[tokio::test]
async fn tls_dialer_dials_plain_http_too() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    let (dialed, accepted) = tokio::join!(Dialer::default().dial(&url), listener.accept());
    accepted.unwrap();
    assert!(matches!(
        dialed.unwrap().get_ref(),
        MaybeTlsStream::Plain(_)
    ));
}
