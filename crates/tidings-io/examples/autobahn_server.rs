//! The Autobahn|Testsuite server on tidings-io (tokio): an echo server whose every
//! text and binary message comes back, for `wstest -m fuzzingclient`.
//!
//! ```sh
//! cargo run --release -p tidings-io --example autobahn_server -- 127.0.0.1:9001
//! ```
//!
//! `conformance/autobahn/run.sh` drives it. It is `echo_tokio` with the settings the
//! suite needs written out, so a change of default cannot silently change what the
//! committed results measure: messages up to 64 MiB (section 9 sends 16 MiB), a
//! prompt close timeout, and one line on stderr per connection that failed (the
//! suite's bad-input cases end that way on purpose). The suite's readiness probe is a
//! bare TCP connect with no handshake: that connection fails its handshake and the
//! server goes on.

use std::time::Duration;

use tidings_io::{Config, Message, Tokio};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("autobahn echo on ws://{}/", listener.local_addr()?);
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            // Out of descriptors or a connection reset before accept: keep serving.
            Err(e) => {
                eprintln!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        tokio::spawn(async move {
            if let Err(e) = echo(tcp).await {
                eprintln!("{peer}: {e}");
            }
        });
    }
}

/// The settings the committed results were measured with.
fn config() -> Config {
    let mut config = Config::default();
    config.ws.max_frame_size = 16 << 20;
    config.ws.max_message_size = 64 << 20;
    config.ws.close_timeout = Duration::from_secs(2);
    // Built with `--features deflate` (as run.sh does), it accepts permessage-deflate
    // (sections 12 and 13 of the suite).
    #[cfg(feature = "deflate")]
    {
        config.deflate = Some(tidings_io::DeflateConfig::default());
    }
    config.write_high_watermark = 1 << 20;
    config
}

async fn echo(tcp: tokio::net::TcpStream) -> Result<(), tidings_io::Error> {
    tcp.set_nodelay(true)?;
    let mut ws = tidings_io::accept(Tokio::new(tcp), config()).await?;
    while let Some(message) = ws.recv().await {
        let message = message?;
        if matches!(message, Message::Text(_) | Message::Binary(_)) {
            ws.send(message).await?;
        }
    }
    Ok(())
}
