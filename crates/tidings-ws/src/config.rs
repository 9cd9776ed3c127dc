//! Limits, timers and behaviour switches, with defaults chosen for servers facing the
//! open internet.
//!
//! Every size the peer controls has a limit here, so memory per connection is bounded
//! by configuration, not by what the peer sends.

use core::time::Duration;

/// Connection settings. Start from [`Config::default()`] and change fields.
///
/// ```
/// use core::time::Duration;
/// let mut config = tidings_ws::Config::default();
/// config.max_message_size = 16 << 20;
/// config.max_frame_size = 16 << 20;
/// config.keepalive_interval = Some(Duration::from_secs(30));
/// config.idle_timeout = Some(Duration::from_secs(300));
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Config {
    /// The largest frame payload accepted (default 1 MiB). A longer frame fails the
    /// connection with 1009 as soon as its header arrives, before any payload is
    /// buffered.
    pub max_frame_size: usize,
    /// The largest message accepted, summed over its fragments (default 1 MiB,
    /// Python `websockets`' default). Fails with 1009 at the first frame that goes
    /// over. In [`receive_chunks`](Self::receive_chunks) mode it still bounds each
    /// message.
    ///
    /// A compressed message counts after inflation, so this is also the bound on the
    /// inflated bytes a connection holds: what a peer can make a server buffer is
    /// this limit, not what it sends. The default is small because a server facing
    /// the internet holds it per connection; raise it (and
    /// [`max_frame_size`](Self::max_frame_size)) where larger messages are expected.
    pub max_message_size: usize,
    /// Outgoing messages longer than this are split into frames of this size
    /// (default 1 MiB, minimum 1), without copying the payload.
    pub max_send_frame_size: usize,
    /// Answer pings with pongs automatically (default `true`). Every ping gets its
    /// pong; if the peer pings faster than the transport drains, at most 32 pongs wait
    /// and the oldest are dropped, as §5.5.3 allows.
    pub auto_pong: bool,
    /// Deliver data as [`Event::Chunk`](crate::Event::Chunk)s as it arrives instead of
    /// whole messages (default `false`). Memory then stays at one read buffer whatever
    /// the message size.
    pub receive_chunks: bool,
    /// Send a ping this often (default `None`: no keepalive).
    pub keepalive_interval: Option<Duration>,
    /// After a keepalive ping, how long to wait for any frame from the peer before
    /// failing with [`Error::KeepaliveTimeout`](crate::Error::KeepaliveTimeout)
    /// (default 20 s).
    pub pong_timeout: Duration,
    /// How long to wait for the peer's answer to our close frame, and for a server to
    /// close the transport after the closing handshake (default 5 s).
    pub close_timeout: Duration,
    /// The message assembly deadline: how long a data message may take from its
    /// first frame to its last (default `Some(30 s)`; `None`: no deadline). When it
    /// passes, the connection fails with
    /// [`Error::MessageTimeout`](crate::Error::MessageTimeout) and closes with 1008
    /// (policy violation).
    ///
    /// It bounds how long a peer can hold an unfinished message (and the memory it
    /// fills, up to [`max_message_size`](Self::max_message_size)), and ends a flood of
    /// empty continuation frames, which no size limit catches. It runs from when the
    /// sending half learns the message started (at its next `poll_transmit` or
    /// `handle_timeout`), and only while the connection is open.
    pub message_timeout: Option<Duration>,
    /// How long the connection may receive nothing (no frame) before it fails with
    /// [`Error::IdleTimeout`](crate::Error::IdleTimeout) (default `None`). The close
    /// frame then says 1001 (going away) with the reason "idle timeout", and the
    /// transport closes once it is out. Any frame restarts it, control frames
    /// included; a frame that arrives slowly counts once, at its header.
    pub idle_timeout: Option<Duration>,
    /// permessage-deflate, as the handshake negotiated it (default `None`: frames
    /// with RSV1 set fail the connection with 1002). Only set it when the handshake
    /// agreed to the extension.
    #[cfg(feature = "deflate")]
    pub deflate: Option<crate::DeflateConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_frame_size: 1 << 20,
            max_message_size: 1 << 20,
            max_send_frame_size: 1 << 20,
            auto_pong: true,
            receive_chunks: false,
            keepalive_interval: None,
            pong_timeout: Duration::from_secs(20),
            close_timeout: Duration::from_secs(5),
            message_timeout: Some(Duration::from_secs(30)),
            idle_timeout: None,
            #[cfg(feature = "deflate")]
            deflate: None,
        }
    }
}
