//! The Autobahn|Testsuite client driver on tidings-io (tokio): it asks the suite's
//! fuzzing server how many cases there are, runs each one by echoing every message
//! until the server closes, then asks for the report.
//!
//! ```sh
//! AUTOBAHN_URL=ws://127.0.0.1:9002 AUTOBAHN_AGENT=tidings \
//!     cargo run --release -p tidings-io --example autobahn_client
//! ```
//!
//! `conformance/autobahn/run.sh` drives it through `../shared/autobahn/test-client.sh`.
//! It is the async twin of `tidings-ws`'s `autobahn_client_blocking`: the same cases
//! through [`tidings_io::connect_url`], so the client role of the async stack (masking,
//! waiting for the server to close TCP, the close timeout) is measured too. A case
//! that fails its connection is not an error of the driver: the suite grades it, so
//! the failure is logged and the next case runs.

use std::time::Duration;

use tidings_io::{Config, Message};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let base = std::env::var("AUTOBAHN_URL").unwrap_or_else(|_| "ws://127.0.0.1:9002".into());
    let agent = std::env::var("AUTOBAHN_AGENT").unwrap_or_else(|_| "tidings".into());

    let count = session(&format!("{base}/getCaseCount"), false).await?;
    let count: u32 = count
        .first()
        .and_then(|text| text.trim().parse().ok())
        .ok_or("the server sent no case count")?;
    for case in 1..=count {
        if let Err(e) = session(&format!("{base}/runCase?case={case}&agent={agent}"), true).await {
            eprintln!("case {case}: {e}");
        }
    }
    session(&format!("{base}/updateReports?agent={agent}"), false).await?;
    println!("ran {count} cases");
    Ok(())
}

/// The settings the committed results were measured with.
fn config() -> Config {
    let mut config = Config::default();
    config.ws.max_frame_size = 16 << 20;
    config.ws.max_message_size = 64 << 20;
    config.ws.close_timeout = Duration::from_secs(2);
    // Built with `--features deflate` (as run.sh does), it offers permessage-deflate
    // (sections 12 and 13 of the suite).
    #[cfg(feature = "deflate")]
    {
        config.deflate = Some(tidings_io::DeflateConfig::default());
    }
    config.write_high_watermark = 1 << 20;
    config
}

/// One connection: echo (if asked) until it ends; returns the text messages received.
async fn session(url: &str, echo: bool) -> Result<Vec<String>, tidings_io::Error> {
    let mut ws = tidings_io::connect_url(url, config()).await?;
    let mut texts = Vec::new();
    while let Some(message) = ws.recv().await {
        match message? {
            Message::Text(text) => {
                texts.push(text.as_str().to_owned());
                if echo {
                    ws.send(Message::Text(text)).await?;
                }
            }
            Message::Binary(data) if echo => ws.send(Message::Binary(data)).await?,
            _ => {}
        }
    }
    Ok(texts)
}
