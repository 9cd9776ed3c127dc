//! Topics on NATS JetStream: one stream per topic, whose sequence numbers are the
//! hub's offsets, and whose creation time is the epoch.
//!
//! ```text
//!   stream  tidings_<hex of the topic>   subject  tidings.<hex of the topic>
//!   offset  the stream sequence (1, 2, 3...; purges keep counting)
//!   epoch   the stream's creation time, in nanoseconds: a stream that was deleted
//!           and made again (or lost with a server that kept it in memory) has
//!           another, so its sequences that start again at 1 never pass for the old
//! ```
//!
//! The topic is hex-encoded in the names because stream names and subject tokens
//! take only some characters. Streams are made on first use with
//! [`NatsConfig::max_messages`] (oldest dropped first).
//!
//! A position returned by [`Nats::publish`] carries the epoch read just before the
//! publish; the positions subscribers get come from each node's follower, which
//! reads the epoch before it starts and checks it between reads.

use std::fmt;
use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use bytes::Bytes;
use futures_util::StreamExt;
use tidings_hub::{Epoch, Fetch, Followed, StreamPosition};

use super::Error;

/// Options of a [`Nats`] link.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct NatsConfig {
    /// The prefix of stream names and subjects (default `tidings`).
    pub prefix: String,
    /// The most messages a topic's stream keeps (default 10,000): how far back
    /// clients can resume from.
    pub max_messages: i64,
    /// Where the server keeps the streams it makes (default: in files).
    pub storage: stream::StorageType,
    /// How long a follower waits for a message before it checks the epoch (default
    /// 1 s).
    pub block: Duration,
}

impl Default for NatsConfig {
    fn default() -> Self {
        Self {
            prefix: "tidings".into(),
            max_messages: 10_000,
            storage: stream::StorageType::File,
            block: Duration::from_secs(1),
        }
    }
}

/// A link to NATS JetStream for a [`Node`](super::Node): publish, read a topic's
/// head, fetch for recovery, and follow topics (an ordered consumer each).
#[derive(Clone)]
pub struct Nats {
    client: async_nats::Client,
    jetstream: jetstream::Context,
    config: NatsConfig,
}

impl fmt::Debug for Nats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Nats")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A topic's messages as they are published, from a start sequence.
pub(crate) type Follow = consumer::push::Ordered;

impl Nats {
    /// Connects to `url` (`nats://host:port`).
    ///
    /// # Errors
    ///
    /// [`Error::Broker`] if NATS cannot be reached.
    pub async fn connect(url: &str, config: NatsConfig) -> Result<Self, Error> {
        let client = async_nats::connect(url).await.map_err(Error::broker)?;
        Ok(Self {
            jetstream: jetstream::new(client.clone()),
            client,
            config,
        })
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &NatsConfig {
        &self.config
    }

    /// Publishes `payload` to `topic` (its stream made if needed) and returns its
    /// position.
    ///
    /// # Errors
    ///
    /// [`Error::Broker`].
    pub async fn publish(&self, topic: &str, payload: &[u8]) -> Result<StreamPosition, Error> {
        let stream = self.stream(topic).await?;
        let epoch = epoch_of(stream.cached_info());
        let ack = self
            .jetstream
            .publish(self.subject(topic), Bytes::copy_from_slice(payload))
            .await
            .map_err(Error::broker)?
            .await
            .map_err(Error::broker)?;
        Ok(StreamPosition::new(epoch, ack.sequence))
    }

    /// The position of `topic`'s last message (its stream made if needed).
    ///
    /// # Errors
    ///
    /// [`Error::Broker`].
    pub async fn head(&self, topic: &str) -> Result<StreamPosition, Error> {
        let stream = self.stream(topic).await?;
        let info = stream.cached_info();
        Ok(StreamPosition::new(
            epoch_of(info),
            info.state.last_sequence,
        ))
    }

    /// Reads what `fetch` asks, with the head read just before: the answer for
    /// [`Hub::handle_fetched`](tidings_hub::Hub::handle_fetched). Messages the
    /// stream no longer holds are left out (the hub makes the hole explicit).
    ///
    /// # Errors
    ///
    /// [`Error::Broker`].
    pub async fn fetch(&self, fetch: &Fetch) -> Result<(StreamPosition, Vec<(u64, Bytes)>), Error> {
        let stream = self.stream(&fetch.topic).await?;
        let info = stream.cached_info();
        let head = StreamPosition::new(epoch_of(info), info.state.last_sequence);
        let first = fetch.after.saturating_add(1).max(info.state.first_sequence);
        let last = head
            .offset
            .min(fetch.after.saturating_add(fetch.limit as u64));
        let mut events = Vec::new();
        for sequence in first..=last {
            if let Ok(message) = stream.get_raw_message(sequence).await {
                events.push((sequence, message.payload));
            }
        }
        Ok((head, events))
    }

    /// Follows `topic` from `start` (a sequence).
    pub(crate) async fn follow(&self, topic: &str, start: u64) -> Result<Follow, Error> {
        let stream = self.stream(topic).await?;
        let consumer = stream
            .create_consumer(consumer::push::OrderedConfig {
                deliver_subject: self.client.new_inbox(),
                deliver_policy: consumer::DeliverPolicy::ByStartSequence {
                    start_sequence: start.max(1),
                },
                ..Default::default()
            })
            .await
            .map_err(Error::broker)?;
        consumer.messages().await.map_err(Error::broker)
    }

    /// The next message of a follower (its epoch is the head's), or
    /// [`Followed::Nothing`] after [`NatsConfig::block`].
    pub(crate) async fn next(&self, follow: &mut Follow) -> Result<Followed, Error> {
        match tokio::time::timeout(self.config.block, follow.next()).await {
            Err(_) => Ok(Followed::Nothing),
            Ok(None) => Err(Error::Reply("the end of an ordered consumer")),
            Ok(Some(Err(e))) => Err(Error::broker(e)),
            Ok(Some(Ok(message))) => {
                let sequence = message
                    .info()
                    .map_err(|_| Error::Reply("message info"))?
                    .stream_sequence;
                let payload = message.payload.clone();
                Ok(Followed::Events(vec![(None, sequence, payload)]))
            }
        }
    }

    async fn stream(&self, topic: &str) -> Result<stream::Stream, Error> {
        let name = format!("{}_{}", self.config.prefix, hex(topic));
        self.jetstream
            .get_or_create_stream(stream::Config {
                name,
                subjects: vec![self.subject(topic)],
                max_messages: self.config.max_messages,
                storage: self.config.storage,
                ..Default::default()
            })
            .await
            .map_err(Error::broker)
    }

    fn subject(&self, topic: &str) -> String {
        format!("{}.{}", self.config.prefix, hex(topic))
    }
}

fn hex(topic: &str) -> String {
    topic.bytes().map(|b| format!("{b:02x}")).collect()
}

/// The stream's creation time in nanoseconds (a stream made again gets another).
fn epoch_of(info: &stream::Info) -> Epoch {
    Epoch(info.created.unix_timestamp_nanos() as u64)
}
