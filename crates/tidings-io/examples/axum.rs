//! tidings WebSockets inside an axum (hyper 1) app: axum routes, hyper does the
//! HTTP/1.1 upgrade, tidings checks the handshake and runs the connection.
//!
//! ```text
//! cargo run -p tidings-io --example axum [-- 127.0.0.1:9005]
//! ```
//!
//! `GET /` is a plain axum route; `GET /ws` is a WebSocket echo. The handler checks
//! the request with `UpgradeRequest::from_http` (the very rules of tidings'
//! own parser; a bad request gets the status they name, through `Rejection::to_http`),
//! answers `101` with `Accept::to_http`, and, once hyper hands over the
//! connection (`hyper::upgrade::on`), wraps it with `WebSocket::from_upgraded`:
//! no second handshake, and hyper's HTTP stays hyper's.

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use axum::routing::get;
use hyper_util::rt::TokioIo;
use tidings_handshake::{Error, Rejection, RequestError, UpgradeRequest};
use tidings_io::{Config, Message, Role, Tokio, WebSocket};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9005".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!(
        "axum on http://{0}/, echo on ws://{0}/ws",
        listener.local_addr()?
    );
    axum::serve(listener, app()).await
}

/// The application: a page and a WebSocket endpoint.
pub(crate) fn app() -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { "Hello from axum; the WebSocket is /ws.\n" }),
        )
        .route("/ws", get(websocket))
}

/// Checks and answers the upgrade, then echoes on the upgraded connection.
async fn websocket(request: Request) -> Response {
    let upgrade = match UpgradeRequest::from_http(&request) {
        Ok(upgrade) => upgrade,
        // No WebSocket signal at all: say what this endpoint speaks (426), as
        // `tidings_io::accept` does.
        Err(Error::Request(RequestError::Upgrade)) => {
            let rejection = Rejection::new(426).and_then(|r| r.header("Upgrade", "websocket"));
            return rejection.map_or_else(|_| Response::new(Body::empty()), |r| refuse(&r));
        }
        // A bad key or version, a malformed field...: the status it names (400...).
        Err(e) => return refuse(&Rejection::from_error(&e)),
    };
    let answer = match upgrade.accept().to_http() {
        Ok(answer) => answer,
        // Only a bug on this side fails here (a header that cannot be sent): 500.
        Err(_) => {
            let rejection = Rejection::new(500);
            return rejection.map_or_else(|_| Response::new(Body::empty()), |r| refuse(&r));
        }
    };
    let upgraded = hyper::upgrade::on(request);
    tokio::spawn(async move {
        // Ready once hyper has sent the 101 and hands the connection over.
        let io = match upgraded.await {
            Ok(upgraded) => Tokio::new(TokioIo::new(upgraded)),
            Err(e) => return eprintln!("upgrade failed: {e}"),
        };
        let ws = WebSocket::from_upgraded(io, Role::Server, Config::default(), None);
        if let Err(e) = echo(ws).await {
            eprintln!("websocket: {e}");
        }
    });
    answer.map(|()| Body::empty())
}

/// A refusal as an axum response.
fn refuse(rejection: &Rejection) -> Response {
    match rejection.to_http() {
        Ok(response) => response.map(Body::from),
        // A status tidings_handshake itself chose is always valid.
        Err(_) => Response::new(Body::empty()),
    }
}

async fn echo<S: tidings_io::Transport>(mut ws: WebSocket<S>) -> Result<(), tidings_io::Error> {
    while let Some(message) = ws.recv().await {
        let message = message?;
        if matches!(message, Message::Text(_) | Message::Binary(_)) {
            ws.send(message).await?;
        }
    }
    Ok(())
}
