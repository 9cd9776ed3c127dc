//! A WebSocket echo server on smol (any futures-io runtime works the same way).
//!
//! ```text
//! cargo run -p tidings-io --features futures-io --example echo_smol [-- 127.0.0.1:9002]
//! ```
//!
//! The same loop as `echo_tokio`, on `FuturesIo` and smol's executor.

use smol::net::{TcpListener, TcpStream};
use tidings_io::{Config, FuturesIo, Message};

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9002".into());
    smol::block_on(async {
        let listener = TcpListener::bind(&addr).await?;
        println!("echo on ws://{}/", listener.local_addr()?);
        loop {
            let (tcp, peer) = listener.accept().await?;
            tcp.set_nodelay(true)?;
            smol::spawn(async move {
                if let Err(e) = echo(tcp).await {
                    eprintln!("{peer}: {e}");
                }
            })
            .detach();
        }
    })
}

pub(crate) async fn echo(tcp: TcpStream) -> Result<(), tidings_io::Error> {
    let mut ws = tidings_io::accept(FuturesIo::new(tcp), Config::default()).await?;
    while let Some(message) = ws.recv().await {
        let message = message?;
        if matches!(message, Message::Text(_) | Message::Binary(_)) {
            ws.send(message).await?;
        }
    }
    Ok(())
}
