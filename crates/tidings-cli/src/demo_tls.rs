//! `tidings demo --tls`: the demo over HTTPS, HTTP/2 by ALPN and HTTP/1.1, on
//! `tidings_io::http::serve`.
//!
//! Over HTTP/2 a browser carries the page, every event stream and the chat's
//! WebSocket (RFC 8441 extended CONNECT, which this server advertises) as streams
//! of one connection, where HTTP/1.1 allows six event streams per origin and gives
//! the WebSocket its own connection. The routes, the ticker and the chat are those
//! of [`demo`](crate::demo); only the HTTP is hyper's here, and an event stream is
//! an `SseBody`, held back by HTTP/2 flow control when its reader stops reading.
//!
//! The certificate is self-signed, made at start for `localhost` and the listening
//! address, and its SHA-256 fingerprint is printed so that it can be checked before
//! the browser's warning is clicked through.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::StreamExt;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use sha2::{Digest, Sha256};
use tidings_io::broker::Subscription;
use tidings_io::http::{ServeConfig, WebSocketUpgrade, serve_connection, sse_response};
use tidings_io::sse::{ServerSentEvent, SseBody};
use tidings_io::tls::{provider, rustls};
use tokio::net::TcpListener;

use crate::Failure;
use crate::demo::{
    BoxError, CHAT, PAGE, RETRY, Shared, TICKER, chat_config, chat_resume, chat_session, since,
    sse_event,
};

/// Every response body of this server.
type Body = UnsyncBoxBody<Bytes, BoxError>;

/// Serves HTTPS until Ctrl-C.
pub(crate) async fn serve(
    listener: &TcpListener,
    local: SocketAddr,
    max_connections: u32,
    shared: Arc<Shared>,
) -> Result<(), Failure> {
    let (tls, fingerprint) = certificate(local)?;
    let mut config = ServeConfig::default().websocket(true);
    config.tls = Some(tls);
    let config = Arc::new(config);
    crate::output(&format!("tidings demo on https://{local}/"))?;
    log!("self-signed certificate, SHA-256 fingerprint {fingerprint}");
    crate::net::serve(listener, max_connections, |tcp, peer| {
        let (config, shared) = (Arc::clone(&config), Arc::clone(&shared));
        async move {
            let service = hyper::service::service_fn(move |request| {
                route(request, peer, Arc::clone(&shared))
            });
            serve_connection(tcp, &config, service).await;
        }
    })
    .await;
    Ok(())
}

/// A self-signed certificate for `localhost` and `local`'s IP: the server's
/// config, and the certificate's SHA-256 fingerprint (`AB:CD:...`).
fn certificate(local: SocketAddr) -> Result<(Arc<rustls::ServerConfig>, String), Failure> {
    let names = vec!["localhost".to_owned(), local.ip().to_string()];
    let made = rcgen::generate_simple_self_signed(names)
        .map_err(|e| format!("cannot make a certificate: {e}"))?;
    let der = made.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(made.key_pair.serialize_der().into());
    let fingerprint = Sha256::digest(der.as_ref())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":");
    let tls = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(vec![der], key))
        .map_err(|e| format!("cannot use the certificate: {e}"))?;
    Ok((Arc::new(tls), fingerprint))
}

/// The routes of [`demo`](crate::demo), over HTTP/1.1 or HTTP/2.
async fn route(
    mut request: Request<Incoming>,
    peer: SocketAddr,
    shared: Arc<Shared>,
) -> Result<Response<Body>, Infallible> {
    let path = request.uri().path().to_owned();
    let version = request.version();
    Ok(match (request.method().clone(), path.as_str()) {
        (_, "/ws") => {
            let resume = chat_resume(request.uri().query());
            full(match WebSocketUpgrade::from_request(&mut request) {
                Ok(upgrade) => {
                    log!("{peer}: WebSocket over {version:?}");
                    let config = chat_config(&shared);
                    upgrade.config(config).on_upgrade(move |ws| async move {
                        let session: Result<(), BoxError> = async {
                            let since = since(resume.as_deref());
                            let subscription = shared.node.subscribe(CHAT, since).await?;
                            chat_session(ws, peer, &shared, subscription, resume.as_deref()).await
                        }
                        .await;
                        if let Err(e) = session {
                            log!("{peer}: {e}");
                        }
                    })
                }
                Err(refusal) => refusal,
            })
        }
        (Method::GET, "/") => {
            let mut page = Response::new(Full::new(Bytes::from_static(PAGE.as_bytes())));
            let html = hyper::header::HeaderValue::from_static("text/html; charset=utf-8");
            page.headers_mut().insert("content-type", html);
            full(page)
        }
        (Method::GET, "/events") => {
            let last = request.headers().get("last-event-id");
            let last = last.and_then(|v| v.to_str().ok());
            log!("{peer}: event stream over {version:?}");
            match shared.node.subscribe(TICKER, since(last)).await {
                Ok(subscription) => {
                    let events = SseBody::new(ticks(&shared, subscription, peer).boxed())
                        .keep_alive(Duration::from_secs(15));
                    sse_response(events.map_err(BoxError::from).boxed_unsync())
                }
                Err(e) => text(StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")),
            }
        }
        (Method::GET | Method::POST, "/drop") => {
            let open = shared.streams.load(Ordering::Relaxed);
            shared.drops.send_modify(|n| *n = n.wrapping_add(1));
            log!("{peer}: /drop: closing {open} event stream(s)");
            text(StatusCode::OK, format!("dropped {open} event stream(s)\n"))
        }
        (_, "/" | "/events" | "/drop") => {
            let mut refusal = text(
                StatusCode::METHOD_NOT_ALLOWED,
                "Method not allowed.\n".into(),
            );
            refusal.headers_mut().insert(
                "allow",
                hyper::header::HeaderValue::from_static("GET, POST"),
            );
            refusal
        }
        _ => text(StatusCode::NOT_FOUND, "Not found.\n".into()),
    })
}

/// One event stream: `retry`, then the hub's deliveries from where `subscription`
/// resumes (a discontinuity first if it cannot resume exactly), until `/drop` or
/// until the hub drops it for falling behind (it resumes when the browser
/// reconnects).
fn ticks(
    shared: &Arc<Shared>,
    subscription: Subscription,
    peer: SocketAddr,
) -> impl futures_util::Stream<Item = ServerSentEvent> + Send + 'static {
    let open = Open::new(Arc::clone(shared));
    let mut drops = shared.drops.subscribe();
    drops.mark_unchanged();
    let retry = ServerSentEvent::empty().retry(RETRY);
    let events = futures_util::stream::unfold(
        (subscription, open),
        move |(mut subscription, open)| async move {
            let (_, event) = sse_event(subscription.next().await?, peer)?;
            Some((event, (subscription, open)))
        },
    );
    futures_util::stream::iter([retry])
        .chain(events)
        .take_until(async move {
            let _ = drops.changed().await;
        })
}

/// Counts an open event stream while alive.
struct Open(Arc<Shared>);

impl Open {
    fn new(shared: Arc<Shared>) -> Self {
        shared.streams.fetch_add(1, Ordering::Relaxed);
        Self(shared)
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.streams.fetch_sub(1, Ordering::Relaxed);
    }
}

fn full(response: Response<Full<Bytes>>) -> Response<Body> {
    response.map(|body| body.map_err(|never| match never {}).boxed_unsync())
}

fn text(status: StatusCode, body: String) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    full(response)
}
