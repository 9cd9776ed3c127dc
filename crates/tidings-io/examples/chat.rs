//! A chat room on tokio: every text message a client sends goes to every client,
//! encoded once.
//!
//! ```text
//! cargo run -p tidings-io --example chat [-- 127.0.0.1:9003]
//! ```
//!
//! Each connection is split: its reader turns text messages into one
//! `PreparedMessage` (the frame is encoded once, and each connection queues the same
//! bytes without a copy) published on a bounded broadcast channel; its writer sends
//! what the channel delivers. A client too slow for the room misses messages (the
//! channel tells it how many) instead of growing a queue: memory stays bounded.

use std::net::SocketAddr;

use tidings_io::{CloseCode, Config, Message, PreparedMessage, Tokio};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;

/// How many messages the room keeps for a slow client before it misses some.
const BACKLOG: usize = 256;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9003".into());
    let listener = TcpListener::bind(&addr).await?;
    println!("chat on ws://{}/", listener.local_addr()?);
    serve(listener).await
}

/// Runs the room on `listener`: every connection joins it.
pub(crate) async fn serve(listener: TcpListener) -> std::io::Result<()> {
    let (room, _) = broadcast::channel::<PreparedMessage>(BACKLOG);
    loop {
        let (tcp, peer) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        let room = room.clone();
        tokio::spawn(async move {
            if let Err(e) = member(tcp, peer, room).await {
                eprintln!("{peer}: {e}");
            }
        });
    }
}

/// One member of the room, from handshake to goodbye.
async fn member(
    tcp: TcpStream,
    peer: SocketAddr,
    room: broadcast::Sender<PreparedMessage>,
) -> Result<(), tidings_io::Error> {
    let ws = tidings_io::accept(Tokio::new(tcp), Config::default()).await?;
    let (mut reader, mut writer) = ws.split();
    let mut inbox = room.subscribe();
    let _ = room.send(PreparedMessage::text(format!("* {peer} joined")));

    let writing = tokio::spawn(async move {
        loop {
            tokio::select! {
                received = inbox.recv() => {
                    let sent = match received {
                        Ok(message) => writer.send_prepared(&message).await,
                        Err(broadcast::error::RecvError::Lagged(missed)) => {
                            let notice = format!("* you missed {missed} messages");
                            writer.send(Message::text(notice)).await
                        }
                        Err(broadcast::error::RecvError::Closed) => {
                            return writer.close(CloseCode::GOING_AWAY, "").await;
                        }
                    };
                    match sent {
                        Ok(()) => {}
                        // The peer's close arrived: stop sending, but still answer it.
                        Err(tidings_io::Error::Closed) => return writer.closed().await,
                        Err(e) => return Err(e),
                    }
                }
                // Writes pongs and the close echo while the room is quiet, and
                // returns once the connection is over.
                closed = writer.closed() => return closed,
            }
        }
    });

    let mut read = Ok(());
    while let Some(message) = reader.recv().await {
        match message {
            Ok(Message::Text(text)) => {
                let _ = room.send(PreparedMessage::text(format!("{peer}: {text}")));
            }
            Ok(_) => {}
            Err(e) => {
                read = Err(e);
                break;
            }
        }
    }
    let _ = room.send(PreparedMessage::text(format!("* {peer} left")));
    // The writer ends with the connection (its `closed` branch).
    let written = writing
        .await
        .unwrap_or_else(|join| Err(std::io::Error::other(join).into()));
    read.and(written)
}
