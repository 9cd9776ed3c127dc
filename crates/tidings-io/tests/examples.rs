//! The examples, run on 127.0.0.1:0: the echo servers echo (tokio and smol), and
//! in the `chat` room what one member says reaches every member. (`one_port` has
//! its own file.)
#![cfg(feature = "tokio")]

#[path = "../examples/chat.rs"]
#[allow(dead_code)] // The example's `main`.
mod chat;
#[path = "../examples/echo_smol.rs"]
#[allow(dead_code)]
#[cfg(feature = "futures-io")]
mod echo_smol;
#[path = "../examples/echo_tokio.rs"]
#[allow(dead_code)]
mod echo_tokio;

use tidings_io::{CloseCode, Config, Message};
use tokio::net::TcpListener;

/// Receives text messages until one satisfies `want`.
async fn text_until<S: tidings_io::Transport>(
    ws: &mut tidings_io::WebSocket<S>,
    want: impl Fn(&str) -> bool,
) -> String {
    loop {
        match ws.recv().await.unwrap().unwrap() {
            Message::Text(text) if want(text.as_str()) => return text.as_str().to_owned(),
            _ => {}
        }
    }
}

#[tokio::test]
async fn chat_broadcasts_to_every_member() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let server = tokio::spawn(chat::serve(listener));

    let mut alice = tidings_io::connect_url(&url, Config::default())
        .await
        .unwrap();
    let mut bob = tidings_io::connect_url(&url, Config::default())
        .await
        .unwrap();
    // Alice sees Bob join: both are in the room.
    let bob_addr = bob
        .get_ref()
        .get_ref()
        .tcp()
        .local_addr()
        .unwrap()
        .to_string();
    text_until(&mut alice, |t| t == format!("* {bob_addr} joined")).await;

    alice.send(Message::text("hello room")).await.unwrap();
    for member in [&mut alice, &mut bob] {
        let said = text_until(member, |t| t.ends_with(": hello room")).await;
        assert!(said.starts_with("127.0.0.1:"), "{said}");
    }
    bob.close(CloseCode::NORMAL, "").await.unwrap();
    text_until(&mut alice, |t| t == format!("* {bob_addr} left")).await;
    alice.close(CloseCode::NORMAL, "").await.unwrap();
    server.abort();
}

#[tokio::test]
async fn echo_tokio_echoes() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        echo_tokio::echo(tcp).await
    });
    let mut ws = tidings_io::connect_url(&url, Config::default())
        .await
        .unwrap();
    for message in [Message::text("hi"), Message::binary(vec![0; 70_000])] {
        ws.send(message.clone()).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), message);
    }
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    server.await.unwrap().unwrap();
}

#[cfg(feature = "futures-io")]
#[test]
fn echo_smol_echoes() {
    smol::block_on(async {
        let listener = smol::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = smol::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            echo_smol::echo(tcp).await
        });
        let tcp = smol::net::TcpStream::connect(addr).await.unwrap();
        let io = tidings_io::FuturesIo::new(tcp);
        let mut ws = tidings_io::connect(io, &format!("ws://{addr}/"), Config::default())
            .await
            .unwrap();
        ws.send(Message::text("hi")).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("hi"));
        ws.close(CloseCode::NORMAL, "").await.unwrap();
        server.await.unwrap();
    });
}

#[cfg(feature = "axum")]
#[path = "../examples/axum.rs"]
#[allow(dead_code)]
mod axum_app;

/// The axum example: a WebSocket echo through hyper's upgrade, plain routes
/// beside it, and the handshake's refusals as axum responses.
#[cfg(feature = "axum")]
#[tokio::test]
async fn axum_upgrade_runs_a_tidings_websocket() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, axum_app::app()).await });

    let mut ws = tidings_io::connect_url(&format!("ws://{addr}/ws"), Config::default())
        .await
        .unwrap();
    for message in [
        Message::text("through hyper"),
        Message::binary(vec![9; 100_000]),
    ] {
        ws.send(message.clone()).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), message);
    }
    ws.close(CloseCode::NORMAL, "").await.unwrap();

    // A plain GET on the WebSocket route: 426 from tidings, through axum.
    let plain = raw_get(addr, "/ws").await;
    assert!(plain.starts_with("HTTP/1.1 426"), "{plain}");
    let page = raw_get(addr, "/").await;
    assert!(
        page.starts_with("HTTP/1.1 200") && page.contains("Hello from axum"),
        "{page}"
    );
    match tidings_io::connect_url(&format!("ws://{addr}/nope"), Config::default()).await {
        Err(tidings_io::Error::Rejected { status: 404 }) => {}
        other => panic!("expected 404, got {other:?}"),
    }
    server.abort();
}

/// A `GET` with `Connection: close`, read to the end.
#[cfg(feature = "axum")]
async fn raw_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    tcp.read_to_string(&mut response).await.unwrap();
    response
}
