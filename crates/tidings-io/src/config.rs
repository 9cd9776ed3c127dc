//! The binding's settings: the protocol's [`tidings_ws::Config`] plus what only a
//! runtime can enforce (buffers, watermarks, wall-clock timeouts).
//!
//! Every size and every wait has a default chosen to be safe in front of hostile
//! peers and cheap for a connection that sits idle; each is documented on its field.

use std::time::Duration;

use tidings_handshake::Limits;

/// Settings for [`accept`](crate::accept) and [`connect`](crate::connect).
///
/// ```
/// use std::time::Duration;
///
/// let mut config = tidings_io::Config::default();
/// config.ws.keepalive_interval = Some(Duration::from_secs(30));
/// config.write_high_watermark = 1 << 20;
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Config {
    /// The protocol settings: frame and message limits, keepalive, the message,
    /// idle and close timeouts.
    /// [`receive_chunks`](tidings_ws::Config::receive_chunks) is ignored (always
    /// off): a [`Message`](crate::Message) is always whole.
    pub ws: tidings_ws::Config,
    /// [`send`](crate::WebSocket::send) waits while more than this many bytes are
    /// queued for the transport. Default 64 KiB.
    pub write_high_watermark: usize,
    /// Once waiting, [`send`](crate::WebSocket::send) resumes when the queue falls to
    /// this many bytes (hysteresis, so a slow peer does not wake the sender for every
    /// write). Default 16 KiB; values above the high watermark act as the high
    /// watermark.
    pub write_low_watermark: usize,
    /// How long the opening handshake may take, from the first read to the last byte
    /// of the answer (a slowloris peer is cut off here). Default 10 s.
    pub handshake_timeout: Duration,
    /// Limits on the handshake's HTTP head (default 16 KiB, 64 fields): over them, a
    /// server answers 431.
    pub handshake_limits: Limits,
    /// A peer that takes none of the bytes queued for it for this long is cut off:
    /// the connection fails with [`Error::WriteTimeout`](crate::Error::WriteTimeout)
    /// and the transport is dropped. Default 30 s. The watermarks already bound the
    /// memory such a peer holds; this bounds how long it holds the connection.
    pub write_timeout: Option<Duration>,
    /// The most bytes one read asks the transport for (plus room for a frame
    /// header), except while a frame larger than this is arriving: then reads take
    /// up to 64 KiB of it at a time. Default 16 KiB. Reads start at 2 KiB (or this,
    /// if smaller), double while they come back full and halve again after small
    /// ones, so small messages do not pay for a large allocation. The space is
    /// reserved in the connection's receive buffer, which is freed again whenever
    /// the connection goes idle.
    pub read_buffer_size: usize,
    /// permessage-deflate (RFC 7692): `Some(preset)` makes a client offer it and a
    /// server accept offers of it, within the preset's windows and context
    /// takeover; the handshake may narrow them. Default `None`: not offered, not
    /// accepted. See [`DeflateConfig`](tidings_ws::DeflateConfig) for the presets and
    /// their memory.
    #[cfg(feature = "deflate")]
    pub deflate: Option<tidings_ws::DeflateConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            ws: tidings_ws::Config::default(),
            write_high_watermark: 64 * 1024,
            write_low_watermark: 16 * 1024,
            handshake_timeout: Duration::from_secs(10),
            handshake_limits: Limits::default(),
            write_timeout: Some(Duration::from_secs(30)),
            #[cfg(feature = "deflate")]
            deflate: None,
            read_buffer_size: 16 * 1024,
        }
    }
}
