//! Nodes sharing topics through a real `redis-server`, started by each test on a
//! port of its own and killed when the test ends: a publish on one node reaches
//! the subscribers of another; resumptions older than a node's history are read
//! back from Redis, one read for many simultaneous resumes; what Redis trimmed or
//! lost is an explicit discontinuity.
#![cfg(feature = "redis")]

#[path = "common/programs.rs"]
#[allow(dead_code)] // The helper is the same in every crate; this test uses a part.
mod programs;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tidings_hub::{Config, Delivery, Epoch, Reason, Since, StreamPosition};
use tidings_io::broker::{Node, Redis, RedisConfig, Subscription};

/// Each test ends within this, pass or fail.
const TEST_TIMEOUT: Duration = Duration::from_secs(20);

/// A free port on 127.0.0.1: the OS's pick, released for a program to take, and
/// never handed out twice in this process (the OS may give a released port again
/// to the next test running in parallel before the first program took it).
fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// A `redis-server` on 127.0.0.1, without persistence, killed on drop.
struct RedisServer {
    child: Child,
    url: String,
}

impl RedisServer {
    /// Starts one, or `None` when the test was skipped (see `programs::skip`).
    fn start(test: &str) -> Option<Self> {
        let Some((program, _)) = programs::find(["redis-server"]) else {
            programs::skip(test, "redis-server not found");
            return None;
        };
        // `--port 0` means "no TCP" to Redis: take a free port from the OS.
        let port = free_port();
        let child = Command::new(program)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let server = Self {
            child,
            url: format!("redis://127.0.0.1:{port}/"),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut server = server;
        std::thread::sleep(Duration::from_millis(50));
        let exited = server.child.try_wait().expect("try_wait");
        assert!(
            exited.is_none(),
            "redis-server exited (its port was taken?): {exited:?}"
        );
        Some(server)
    }

    async fn node(&self, config: Config, redis: RedisConfig) -> Node {
        let link = Redis::connect(&self.url, redis).await.expect("connects");
        Node::with_redis(config, link)
    }

    /// Runs a command with a plain client.
    async fn command(&self, args: &[&str]) -> redis::Value {
        let client = redis::Client::open(self.url.as_str()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let mut cmd = redis::cmd(args[0]);
        for arg in &args[1..] {
            cmd.arg(*arg);
        }
        cmd.query_async(&mut conn).await.unwrap()
    }

    /// How many times Redis ran `command` (scripts' calls included).
    async fn calls(&self, command: &str) -> u64 {
        let redis::Value::BulkString(info) = self.command(&["INFO", "commandstats"]).await else {
            panic!("INFO");
        };
        let info = String::from_utf8(info).unwrap();
        let prefix = format!("cmdstat_{command}:calls=");
        info.lines()
            .find_map(|line| line.strip_prefix(&prefix))
            .and_then(|rest| rest.split(',').next()?.parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Short blocking reads, so that a lost stream is noticed quickly.
fn fast() -> RedisConfig {
    let mut config = RedisConfig::default();
    config.block = Duration::from_millis(100);
    config
}

fn history(events: usize) -> Config {
    let mut config = Config::default();
    config.history_events = events;
    config
}

/// The next delivery, within a few seconds.
async fn next(subscription: &mut Subscription) -> Delivery {
    tokio::time::timeout(Duration::from_secs(5), subscription.next())
        .await
        .expect("a delivery within 5 s")
        .expect("the subscription goes on")
}

/// The next `n` deliveries, which must be events: their offsets and payloads.
async fn events(subscription: &mut Subscription, n: usize) -> Vec<(u64, Bytes)> {
    let mut got = Vec::new();
    for _ in 0..n {
        match next(subscription).await {
            Delivery::Event(event) => got.push((event.position.offset, event.payload)),
            other => panic!("expected an event, got {other:?} after {got:?}"),
        }
    }
    got
}

fn payload(i: u64) -> Bytes {
    Bytes::from(format!("event {i}"))
}

async fn publish(
    node: &Node,
    topic: &str,
    range: std::ops::RangeInclusive<u64>,
) -> Vec<StreamPosition> {
    let mut positions = Vec::new();
    for i in range {
        positions.push(node.publish(topic, payload(i)).await.unwrap());
    }
    positions
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_on_one_node_reaches_the_subscribers_of_another() {
    let Some(redis) =
        RedisServer::start("a_publish_on_one_node_reaches_the_subscribers_of_another")
    else {
        return;
    };
    tokio::time::timeout(TEST_TIMEOUT, async {
        let a = redis.node(Config::default(), fast()).await;
        let b = redis.node(Config::default(), fast()).await;
        let mut on_a = a.subscribe("news", Since::Live).await.unwrap();
        let mut on_b = b.subscribe("news", Since::Live).await.unwrap();
        let positions = publish(&a, "news", 1..=100).await;
        assert_eq!(
            positions[0].offset, 1,
            "stream ids 0-1, 0-2... are the offsets"
        );
        assert!(positions.iter().all(|p| p.epoch == positions[0].epoch));
        let expected: Vec<_> = (1..=100).map(|i| (i, payload(i))).collect();
        assert_eq!(events(&mut on_b, 100).await, expected);
        assert_eq!(
            events(&mut on_a, 100).await,
            expected,
            "the publisher's node too"
        );
        assert_eq!(b.position("news"), Some(positions[99]));
        // Publishing from B as well: one numbering for the topic.
        let from_b = b.publish("news", payload(101)).await.unwrap();
        assert_eq!(from_b, StreamPosition::new(positions[0].epoch, 101));
        assert_eq!(events(&mut on_a, 1).await, [(101, payload(101))]);
    })
    .await
    .expect("within the test timeout");
}

#[tokio::test(flavor = "current_thread")]
async fn resumes_older_than_the_history_are_read_from_redis_in_one_read() {
    let Some(redis) =
        RedisServer::start("resumes_older_than_the_history_are_read_from_redis_in_one_read")
    else {
        return;
    };
    tokio::time::timeout(TEST_TIMEOUT, async {
        let a = redis.node(Config::default(), fast()).await;
        // Node B keeps 4 events in memory.
        let b = redis.node(history(4), fast()).await;
        let _follow = b.subscribe("news", Since::Live).await.unwrap();
        let positions = publish(&a, "news", 1..=50).await;
        while b.position("news") != Some(positions[49]) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // Twenty clients come back at once (node A went down), from 10 to 29.
        let before = redis.calls("xrange").await;
        let mut resumed = Vec::new();
        for i in 0..20 {
            let since = Since::After(positions[9 + i]);
            resumed.push((10 + i as u64, b.subscribe("news", since).await.unwrap()));
        }
        for (after, subscription) in &mut resumed {
            let n = (50 - *after) as usize;
            let expected: Vec<_> = (*after + 1..=50).map(|i| (i, payload(i))).collect();
            assert_eq!(
                events(subscription, n).await,
                expected,
                "no gap, no duplicate"
            );
        }
        let reads = redis.calls("xrange").await - before;
        eprintln!("20 simultaneous resumes: {reads} XRANGE");
        assert_eq!(reads, 1, "one read for all of them");
        // Then live, for all.
        a.publish("news", payload(51)).await.unwrap();
        for (_, subscription) in &mut resumed {
            assert_eq!(events(subscription, 1).await, [(51, payload(51))]);
        }
    })
    .await
    .expect("within the test timeout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_redis_trimmed_or_lost_is_a_discontinuity() {
    let Some(redis) = RedisServer::start("what_redis_trimmed_or_lost_is_a_discontinuity") else {
        return;
    };
    tokio::time::timeout(TEST_TIMEOUT, async {
        // Streams trimmed to about 10 (Redis trims whole nodes of 100 entries).
        let mut short = fast();
        short.max_len = 10;
        let a = redis.node(history(4), short.clone()).await;
        let positions = publish(&a, "news", 1..=400).await;
        let mut old = a
            .subscribe("news", Since::After(positions[0]))
            .await
            .unwrap();
        let Delivery::Discontinuity(gap) = next(&mut old).await else {
            panic!("a discontinuity first");
        };
        assert_eq!(
            (gap.reason, gap.from),
            (Reason::Expired, Some(positions[0]))
        );
        assert!(gap.resume.offset > 1 && gap.resume.offset < 396, "{gap:?}");
        let rest = events(&mut old, (400 - gap.resume.offset) as usize).await;
        assert_eq!(rest[0].0, gap.resume.offset + 1);
        assert_eq!(rest.last().map(|e| e.0), Some(400));

        // Redis loses everything (a restart without persistence).
        let mut live = a.subscribe("news", Since::Live).await.unwrap();
        redis.command(&["FLUSHALL"]).await;
        let after = a.publish("news", payload(1000)).await.unwrap();
        assert_ne!(after.epoch, positions[0].epoch, "a new epoch");
        assert_eq!(after.offset, 1);
        let Delivery::Discontinuity(gap) = next(&mut live).await else {
            panic!("a discontinuity first");
        };
        assert_eq!(gap.reason, Reason::EpochChanged);
        assert_eq!(gap.resume, StreamPosition::new(after.epoch, 0));
        assert_eq!(events(&mut live, 1).await, [(1, payload(1000))]);
        // A client from before the loss, on another node.
        let b = redis.node(history(4), short).await;
        let mut stale = b
            .subscribe("news", Since::After(positions[399]))
            .await
            .unwrap();
        let Delivery::Discontinuity(gap) = next(&mut stale).await else {
            panic!("a discontinuity first");
        };
        assert_eq!(gap.reason, Reason::EpochChanged);
        assert_ne!(gap.resume.epoch, Epoch(0));
    })
    .await
    .expect("within the test timeout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_lost_while_nothing_is_published_is_noticed_within_a_block() {
    let Some(redis) =
        RedisServer::start("a_stream_lost_while_nothing_is_published_is_noticed_within_a_block")
    else {
        return;
    };
    tokio::time::timeout(TEST_TIMEOUT, async {
        let a = redis.node(Config::default(), fast()).await;
        let first = a.publish("news", payload(1)).await.unwrap();
        let mut live = a.subscribe("news", Since::After(first)).await.unwrap();
        // Only the stream goes (its epoch key stays): the follower's check between
        // reads still sees another history.
        redis.command(&["DEL", "tidings:{news}:s"]).await;
        let Delivery::Discontinuity(gap) = next(&mut live).await else {
            panic!("a discontinuity first");
        };
        assert_eq!((gap.reason, gap.from), (Reason::EpochChanged, Some(first)));
        assert_ne!(gap.resume.epoch, first.epoch);
        assert_eq!(gap.resume.offset, 0, "the new history from its beginning");
        let after = a.publish("news", payload(2)).await.unwrap();
        assert_eq!(after, StreamPosition::new(gap.resume.epoch, 1));
        assert_eq!(events(&mut live, 1).await, [(1, payload(2))]);
    })
    .await
    .expect("within the test timeout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_nobody_subscribes_to_for_a_while_keeps_its_epoch() {
    let Some(redis) =
        RedisServer::start("a_topic_nobody_subscribes_to_for_a_while_keeps_its_epoch")
    else {
        return;
    };
    tokio::time::timeout(TEST_TIMEOUT, async {
        let a = redis.node(Config::default(), fast()).await;
        let first = a.publish("news", payload(1)).await.unwrap();
        // The only subscription goes: the hub forgets the topic (no history), the
        // follower goes on.
        drop(a.subscribe("news", Since::Live).await.unwrap());
        let mut again = a.subscribe("news", Since::Live).await.unwrap();
        a.publish("news", payload(2)).await.unwrap();
        assert_eq!(
            events(&mut again, 1).await,
            [(2, payload(2))],
            "no discontinuity"
        );
        // Everything Redis holds, from offset 0 of the epoch.
        let all = StreamPosition::new(first.epoch, 0);
        let mut earliest = a.subscribe("news", Since::After(all)).await.unwrap();
        assert_eq!(
            events(&mut earliest, 2).await,
            [(1, payload(1)), (2, payload(2))]
        );
    })
    .await
    .expect("within the test timeout");
}
