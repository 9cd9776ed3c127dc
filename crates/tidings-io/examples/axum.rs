//! tidings WebSockets inside an axum app: axum's own WebSocket example
//! (`axum::extract::ws`'s documentation) with one import changed,
//!
//! ```text
//! -use axum::extract::ws::{WebSocket, WebSocketUpgrade};
//! +use tidings_io::axum::{WebSocket, WebSocketUpgrade};
//! ```
//!
//! and the handler untouched. The socket is run by the tidings core, over HTTP/1.1
//! (the `Upgrade` handshake) or HTTP/2 (RFC 8441 extended CONNECT, which axum's
//! `serve` enables when its `http2` feature is on). Run it with
//!
//! ```text
//! cargo run -p tidings-io --features axum --example axum [-- 127.0.0.1:9005]
//! ```
//!
//! `GET /` is a plain axum route; `/ws` is a WebSocket echo, routed with `any` so
//! that both the HTTP/1.1 `GET` and the HTTP/2 `CONNECT` reach it. For TLS with
//! ALPN and explicit limits, serve the same router with `tidings_io::http::serve`.

use axum::Router;
use axum::response::Response;
use axum::routing::{any, get};
use tidings_io::axum::{WebSocket, WebSocketUpgrade};

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
        .route("/ws", any(handler))
}

async fn handler(ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(handle_socket)
}

async fn handle_socket(mut socket: WebSocket) {
    while let Some(msg) = socket.recv().await {
        let msg = if let Ok(msg) = msg {
            msg
        } else {
            // client disconnected
            return;
        };

        if socket.send(msg).await.is_err() {
            // client disconnected
            return;
        }
    }
}
