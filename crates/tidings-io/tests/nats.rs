//! Nodes sharing topics through a real `nats-server -js` (JetStream), started by
//! each test on a port of its own and killed when the test ends: a publish on one
//! node reaches the subscribers of another; a resumption older than a node's
//! history is read back from JetStream; what the stream no longer holds, or a
//! stream made again, is an explicit discontinuity.
#![cfg(feature = "nats")]

#[path = "common/programs.rs"]
#[allow(dead_code)] // The helper is the same in every crate; this test uses a part.
mod programs;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tidings_hub::{Config, Delivery, Reason, Since, StreamPosition};
use tidings_io::broker::{Nats, NatsConfig, Node, Subscription};

/// Each test ends within this, pass or fail.
const TEST_TIMEOUT: Duration = Duration::from_secs(20);

/// A free port on 127.0.0.1, never handed out twice in this process.
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

/// `nats-server` with JetStream on 127.0.0.1, its store in a directory of its own;
/// killed and the directory removed on drop.
struct NatsServer {
    child: Child,
    url: String,
    store: std::path::PathBuf,
}

impl NatsServer {
    fn start(test: &str) -> Option<Self> {
        let Some((program, _)) = programs::find(["nats-server"]) else {
            programs::skip(test, "nats-server not found");
            return None;
        };
        let port = free_port();
        let store =
            std::env::temp_dir().join(format!("tidings-nats-{}-{port}", std::process::id()));
        let child = Command::new(program)
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(&store)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server starts");
        let mut server = Self {
            child,
            url: format!("nats://127.0.0.1:{port}"),
            store,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(50));
        let exited = server.child.try_wait().expect("try_wait");
        assert!(
            exited.is_none(),
            "nats-server exited (its port was taken?): {exited:?}"
        );
        Some(server)
    }

    async fn node(&self, config: Config, nats: NatsConfig) -> Node {
        let link = Nats::connect(&self.url, nats).await.expect("connects");
        Node::with_nats(config, link)
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.store);
    }
}

fn fast(max_messages: i64) -> NatsConfig {
    let mut config = NatsConfig::default();
    config.block = Duration::from_millis(100);
    config.max_messages = max_messages;
    config
}

fn history(events: usize) -> Config {
    let mut config = Config::default();
    config.history_events = events;
    config
}

async fn next(subscription: &mut Subscription) -> Delivery {
    tokio::time::timeout(Duration::from_secs(5), subscription.next())
        .await
        .expect("a delivery within 5 s")
        .expect("the subscription goes on")
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_share_topics_and_resume_from_jetstream() {
    let Some(nats) = NatsServer::start("nodes_share_topics_and_resume_from_jetstream") else {
        return;
    };
    tokio::time::timeout(TEST_TIMEOUT, async {
        let a = nats.node(Config::default(), fast(10_000)).await;
        let b = nats.node(Config::default(), fast(10_000)).await;
        // Node C keeps 4 events in memory.
        let c = nats.node(history(4), fast(10_000)).await;
        let mut on_b = b.subscribe("news", Since::Live).await.unwrap();
        let _follow = c.subscribe("news", Since::Live).await.unwrap();
        let mut positions = Vec::new();
        for i in 1..=30 {
            positions.push(a.publish("news", payload(i)).await.unwrap());
        }
        assert_eq!(positions[0].offset, 1, "stream sequences are the offsets");
        let expected: Vec<_> = (1..=30).map(|i| (i, payload(i))).collect();
        assert_eq!(events(&mut on_b, 30).await, expected);
        while c.position("news") != Some(positions[29]) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // Older than B's memory: read back from JetStream, exactly.
        let mut resumed = b
            .subscribe("news", Since::After(positions[4]))
            .await
            .unwrap();
        let expected: Vec<_> = (6..=30).map(|i| (i, payload(i))).collect();
        assert_eq!(events(&mut resumed, 25).await, expected);
        // A client from another history of the topic.
        let stale = StreamPosition::new(tidings_hub::Epoch(1), 3);
        let mut stale = c.subscribe("news", Since::After(stale)).await.unwrap();
        let Delivery::Discontinuity(gap) = next(&mut stale).await else {
            panic!("a discontinuity first");
        };
        assert_eq!(gap.reason, Reason::EpochChanged);
        assert_eq!(gap.resume, StreamPosition::new(positions[0].epoch, 0));
        assert_eq!(
            events(&mut stale, 30).await.len(),
            30,
            "then all the stream holds"
        );
    })
    .await
    .expect("within the test timeout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_jetstream_no_longer_holds_is_a_discontinuity() {
    let Some(nats) = NatsServer::start("what_jetstream_no_longer_holds_is_a_discontinuity") else {
        return;
    };
    tokio::time::timeout(TEST_TIMEOUT, async {
        // The stream keeps 10 messages.
        let a = nats.node(history(4), fast(10)).await;
        let mut positions = Vec::new();
        for i in 1..=50 {
            positions.push(a.publish("news", payload(i)).await.unwrap());
        }
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
        assert_eq!(gap.resume, positions[39], "the stream holds 41..=50");
        let expected: Vec<_> = (41..=50).map(|i| (i, payload(i))).collect();
        assert_eq!(events(&mut old, 10).await, expected);
    })
    .await
    .expect("within the test timeout");
}
