//! `tidings pub` and `tidings sub`: a topic shared through Redis or NATS JetStream,
//! from scripts.
//!
//! `pub` appends messages (its arguments, or stdin lines) to a topic and prints
//! each one's position, `EPOCH:OFFSET`. `sub` prints a topic's events as JSON
//! lines, `{"id":"EPOCH:OFFSET","data":"..."}`, the same topics and positions as
//! the demo's nodes; `--since` resumes after a position (a script keeps the last
//! id it printed), and what cannot be resumed is said with a line
//! `{"id":RESUME,"discontinuity":{"reason":..,"from":..,"resume":..}}`.

use bytes::Bytes;
use tidings_hub::{Config, Delivery, Since, StreamPosition};
use tidings_io::broker::{Nats, NatsConfig, Node, Redis, RedisConfig};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::Failure;
use crate::demo::{discontinuity_json, since};

/// The broker `tidings pub` and `tidings sub` use: one of the two.
#[derive(Debug, clap::Args)]
pub(crate) struct BrokerArgs {
    /// The Redis shared by the nodes, `redis://host:port`.
    #[arg(
        long,
        value_name = "URL",
        required_unless_present = "nats",
        conflicts_with = "nats"
    )]
    redis: Option<String>,
    /// Or the NATS server with JetStream, `nats://host:port`.
    #[arg(long, value_name = "URL")]
    nats: Option<String>,
}

/// Options of `tidings pub`.
#[derive(Debug, clap::Args)]
pub(crate) struct PubArgs {
    #[command(flatten)]
    broker: BrokerArgs,
    /// The topic.
    topic: String,
    /// The length the topic's stream is trimmed to, approximately, at each publish
    /// (as the demo's --redis-max-len): how far back clients can resume from.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    max_len: u64,
    /// The messages; without any, each line of stdin is one.
    messages: Vec<String>,
}

/// Options of `tidings sub`.
#[derive(Debug, clap::Args)]
pub(crate) struct SubArgs {
    #[command(flatten)]
    broker: BrokerArgs,
    /// The topic.
    topic: String,
    /// Where to start: after a position `EPOCH:OFFSET`, `earliest` (all that the
    /// broker holds; a discontinuity first if it trimmed the oldest) or, by
    /// default, with the next event.
    #[arg(long, value_name = "POSITION")]
    since: Option<String>,
    /// Stop after this many lines.
    #[arg(long)]
    count: Option<u64>,
}

/// Publishes, printing positions.
pub(crate) async fn publish(args: PubArgs) -> Result<(), Failure> {
    let node = node(
        args.broker.redis.as_deref(),
        args.broker.nats.as_deref(),
        Config::default(),
        args.max_len,
    )
    .await?;
    let send = async |message: &str| -> Result<(), Failure> {
        let position = node
            .publish(&args.topic, Bytes::copy_from_slice(message.as_bytes()))
            .await
            .map_err(|e| format!("cannot publish: {e}"))?;
        Ok(crate::output(&position.to_string())?)
    };
    if args.messages.is_empty() {
        let mut lines = BufReader::new(tokio::io::stdin()).lines();
        while let Some(line) = lines
            .next_line()
            .await
            .map_err(|e| format!("cannot read stdin: {e}"))?
        {
            send(&line).await?;
        }
    } else {
        for message in &args.messages {
            send(message).await?;
        }
    }
    Ok(())
}

/// Prints the topic's events until `--count` or Ctrl-C.
pub(crate) async fn subscribe(args: SubArgs) -> Result<(), Failure> {
    let node = node(
        args.broker.redis.as_deref(),
        args.broker.nats.as_deref(),
        Config::default(),
        10_000,
    )
    .await?;
    // A subscription from now on, which makes the node follow the topic and learn
    // its epoch (kept until the real one is made).
    let live = node
        .subscribe(&args.topic, Since::Live)
        .await
        .map_err(|e| format!("cannot subscribe to {:?}: {e}", args.topic))?;
    let since = match args.since.as_deref() {
        // Everything the broker holds: after offset 0 of the topic's epoch.
        Some("earliest") => node.position(&args.topic).map_or(Since::Earliest, |head| {
            Since::After(StreamPosition::new(head.epoch, 0))
        }),
        position => since(position),
    };
    let mut subscription = node
        .subscribe(&args.topic, since)
        .await
        .map_err(|e| format!("cannot subscribe to {:?}: {e}", args.topic))?;
    drop(live);
    let mut printed = 0;
    while args.count.is_none_or(|count| printed < count) {
        let line = match subscription.next().await {
            Some(Delivery::Event(event)) => serde_json::json!({
                "id": event.position.to_string(),
                "data": String::from_utf8_lossy(&event.payload),
            }),
            Some(Delivery::Discontinuity(gap)) => serde_json::json!({
                "id": gap.resume.to_string(),
                "discontinuity": discontinuity_json(&gap),
            }),
            _ => return Err("the subscription ended".into()),
        };
        match crate::output(&line.to_string()) {
            Ok(()) => printed += 1,
            Err(crate::OutputError::Closed) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// A node on Redis, on NATS, or (neither) alone in memory; `max_len` is the
/// streams' length.
pub(crate) async fn node(
    redis: Option<&str>,
    nats: Option<&str>,
    hub: Config,
    max_len: u64,
) -> Result<Node, Failure> {
    let max_len = usize::try_from(max_len).unwrap_or(usize::MAX);
    if let Some(url) = redis {
        let mut config = RedisConfig::default();
        config.max_len = max_len;
        let redis = Redis::connect(url, config)
            .await
            .map_err(|e| format!("cannot use Redis at {url}: {e}"))?;
        return Ok(Node::with_redis(hub, redis));
    }
    if let Some(url) = nats {
        let mut config = NatsConfig::default();
        config.max_messages = i64::try_from(max_len).unwrap_or(i64::MAX);
        let nats = Nats::connect(url, config)
            .await
            .map_err(|e| format!("cannot use NATS at {url}: {e}"))?;
        return Ok(Node::with_nats(hub, nats));
    }
    Ok(Node::new(hub))
}
