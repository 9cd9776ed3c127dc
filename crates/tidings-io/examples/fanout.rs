//! Fan-out through `broker::Node`s in one process, without sockets to the clients:
//! one publisher, SUBSCRIBERS subscriptions spread over NODES nodes (each with its
//! own Redis link and follower, as separate processes would have), MESSAGES
//! messages at RATE a second. Prints deliveries a second, latency from publish to
//! delivery (p50, p99) and the resident memory each subscription adds.
//!
//! ```text
//! cargo run --release -p tidings-io --features redis --example fanout -- \
//!     [redis://127.0.0.1:6379 | nats://127.0.0.1:4222 | memory] \
//!     [SUBSCRIBERS] [NODES] [MESSAGES] [RATE]
//! ```
//!
//! (`--features redis,nats` for NATS JetStream.)
//!
//! ```text
//! ```
//!
//! `memory` runs one node with its history in memory (NODES is ignored).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tidings_hub::{Config, Delivery, Since};
#[cfg(feature = "nats")]
use tidings_io::broker::{Nats, NatsConfig};
use tidings_io::broker::{Node, Redis, RedisConfig};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let target = args.first().map_or("memory", String::as_str).to_owned();
    let number =
        |i: usize, default: u64| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let (subscribers, nodes, messages, rate) = (
        number(1, 10_000),
        number(2, 2),
        number(3, 200),
        number(4, 50),
    );
    let memory = target == "memory";
    let nodes = if memory { 1 } else { nodes.max(1) };

    let mut config = Config::default();
    config.max_subscriptions = 2_000_000;
    let mut all = Vec::new();
    for _ in 0..nodes {
        #[cfg(feature = "nats")]
        if target.starts_with("nats:") {
            let mut nats = NatsConfig::default();
            nats.storage = async_nats::jetstream::stream::StorageType::Memory;
            all.push(Node::with_nats(
                config.clone(),
                Nats::connect(&target, nats).await?,
            ));
            continue;
        }
        all.push(if memory {
            Node::new(config.clone())
        } else {
            Node::with_redis(
                config.clone(),
                Redis::connect(&target, RedisConfig::default()).await?,
            )
        });
    }
    let topic = format!("fanout-{}", std::process::id());
    let start = Instant::now();
    let rss_before = rss();
    let delivered = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for i in 0..subscribers {
        let node = &all[(i % nodes) as usize];
        let mut subscription = node.subscribe(&topic, Since::Live).await?;
        let delivered = Arc::clone(&delivered);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new(); // allocated after the memory is measured
            while latencies.len() < messages as usize {
                match subscription.next().await {
                    Some(Delivery::Event(event)) => {
                        let sent =
                            u64::from_le_bytes(event.payload[..8].try_into().unwrap_or([0; 8]));
                        let now = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
                        latencies.push(now.saturating_sub(sent));
                        delivered.fetch_add(1, Ordering::Relaxed);
                    }
                    Some(_) => {}
                    None => break,
                }
            }
            latencies
        }));
    }
    let per_subscriber = (rss().saturating_sub(rss_before)) as f64 / subscribers as f64;

    let publisher = all[0].clone();
    let began = Instant::now();
    let mut interval = tokio::time::interval(Duration::from_secs(1) / rate.max(1) as u32);
    for _ in 0..messages {
        interval.tick().await;
        let sent = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let mut payload = sent.to_le_bytes().to_vec();
        payload.resize(64, b'x');
        publisher.publish(&topic, Bytes::from(payload)).await?;
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(tokio::time::timeout(Duration::from_secs(60), task).await??);
    }
    let elapsed = began.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let at = |q: f64| {
        latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)] as f64 / 1e6
    };
    println!(
        "{target}: {subscribers} subscribers on {nodes} node(s), {messages} messages at {rate}/s: \
         {:.0} deliveries/s, latency p50 {:.2} ms, p99 {:.2} ms, {:.0} bytes per subscription",
        delivered.load(Ordering::Relaxed) as f64 / elapsed,
        at(0.50),
        at(0.99),
        per_subscriber,
    );
    Ok(())
}

/// The resident set size, in bytes (Linux; 0 elsewhere).
fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|statm| statm.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}
