//! A WebSocket echo server on tokio: every text and binary message comes back.
//!
//! ```text
//! cargo run -p tidings-io --example echo_tokio [-- 127.0.0.1:9001]
//! ```
//!
//! Pings are answered and the close is echoed by the protocol core; this loop only
//! echoes data. One task per connection.

use tidings_io::{Config, Message, Tokio};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("echo on ws://{}/", listener.local_addr()?);
    loop {
        let (tcp, peer) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        tokio::spawn(async move {
            if let Err(e) = echo(tcp).await {
                eprintln!("{peer}: {e}");
            }
        });
    }
}

pub(crate) async fn echo(tcp: tokio::net::TcpStream) -> Result<(), tidings_io::Error> {
    let mut ws = tidings_io::accept(Tokio::new(tcp), Config::default()).await?;
    while let Some(message) = ws.recv().await {
        let message = message?;
        if matches!(message, Message::Text(_) | Message::Binary(_)) {
            ws.send(message).await?;
        }
    }
    Ok(())
}
