//! Fan-out on tokio: a [`Node`] drives a [`tidings_hub::Hub`] (topics, offsets and
//! epochs, recovery, lag policy, following a broker: all the logic is the hub's)
//! and, with the `redis` or `nats` feature, shares its topics with every other node
//! through Redis Streams or NATS JetStream.
//!
//! ```text
//!   Node::publish ──► Redis (XADD) ──► every node's follower (XREAD BLOCK, one per
//!                                        topic) ──► hub.handle_followed ──► wakes
//!   Node::subscribe(topic, Since) ──► Subscription::next() ◄──────────────┘
//!                                        │ older than the history?
//!   hub.poll_fetch() ──► Redis (XRANGE) ──► hub.handle_fetched (one read per
//!                                           topic for any number of resumes)
//! ```
//!
//! Without a broker, a node numbers its own events, and its history is the one in
//! memory: positions do not survive a restart (the epoch says so).
//!
//! One lock guards the hub; it is never held across an `.await`, and what the hub
//! asks for (a fetch, a follower's next read, a wake-up) is done after it is
//! released. Every queue is the
//! hub's, and bounded by its [`Config`].

#[cfg(feature = "nats")]
pub mod nats;
#[cfg(feature = "redis")]
pub mod redis;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tidings_hub::{
    Config, Delivery, Fetch, Hub, LocalError, Since, StreamPosition, SubscriptionId,
};
#[cfg(any(feature = "redis", feature = "nats"))]
use tidings_hub::{Follow, Followed, Tagging};
use tokio::sync::Notify;
#[cfg(any(feature = "redis", feature = "nats"))]
use tokio::sync::watch;

#[cfg(feature = "nats")]
pub use self::nats::{Nats, NatsConfig};
#[cfg(feature = "redis")]
pub use self::redis::{Redis, RedisConfig};

#[cfg(any(feature = "redis", feature = "nats"))]
use std::sync::Weak;

/// How long [`Node::subscribe`] waits for a topic's head from the broker.
#[cfg(any(feature = "redis", feature = "nats"))]
const ATTACH_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a follower waits before trying the broker again after a failure.
#[cfg(any(feature = "redis", feature = "nats"))]
const RETRY: Duration = Duration::from_millis(250);

/// What a [`Node`] could not do.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The hub refused: a topic name it does not take, or one of its limits.
    Refused(LocalError),
    /// The broker failed (unreachable, or it answered with an error).
    Broker(Box<dyn std::error::Error + Send + Sync>),
    /// The broker answered something this binding does not understand (named).
    Reply(&'static str),
    /// The broker did not give the topic's head within a few seconds.
    Timeout,
}

impl Error {
    #[cfg(any(feature = "redis", feature = "nats"))]
    fn broker(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Broker(Box::new(e))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Refused(e) => write!(f, "refused: {e}"),
            Self::Broker(e) => write!(f, "broker: {e}"),
            Self::Reply(what) => write!(f, "broker: unexpected reply to {what}"),
            Self::Timeout => f.write_str("broker: no answer in time"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Refused(e) => Some(e),
            Self::Broker(e) => Some(&**e),
            _ => None,
        }
    }
}

impl From<LocalError> for Error {
    fn from(e: LocalError) -> Self {
        Self::Refused(e)
    }
}

/// A node of a fan-out: local subscribers of topics, fed by the node's own
/// publishes (in memory) or by a broker shared with other nodes. Cheap to clone.
///
/// ```
/// use bytes::Bytes;
/// use tidings_hub::{Config, Delivery, Since};
/// use tidings_io::broker::Node;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), tidings_io::broker::Error> {
/// let node = Node::new(Config::default());
/// let first = node.publish("news", Bytes::from_static(b"one")).await?;
/// node.publish("news", Bytes::from_static(b"two")).await?;
/// // A client that saw "one" resumes after it.
/// let mut subscription = node.subscribe("news", Since::After(first)).await?;
/// let Some(Delivery::Event(event)) = subscription.next().await else { panic!() };
/// assert_eq!(&event.payload[..], b"two");
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Node {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    state: Mutex<State>,
    start: Instant,
    #[cfg(any(feature = "redis", feature = "nats"))]
    broker: Option<Broker>,
}

/// The broker a [`Node`] shares its topics through.
#[cfg(any(feature = "redis", feature = "nats"))]
#[derive(Clone, Debug)]
enum Broker {
    #[cfg(feature = "redis")]
    Redis(Redis),
    #[cfg(feature = "nats")]
    Nats(Nats),
}

#[cfg(any(feature = "redis", feature = "nats"))]
impl Broker {
    async fn publish(&self, topic: &str, payload: &[u8]) -> Result<StreamPosition, Error> {
        match self {
            #[cfg(feature = "redis")]
            Self::Redis(redis) => redis.publish(topic, payload).await,
            #[cfg(feature = "nats")]
            Self::Nats(nats) => nats.publish(topic, payload).await,
        }
    }

    async fn fetch(&self, fetch: &Fetch) -> Result<(StreamPosition, Vec<(u64, Bytes)>), Error> {
        match self {
            #[cfg(feature = "redis")]
            Self::Redis(redis) => redis.fetch(fetch).await,
            #[cfg(feature = "nats")]
            Self::Nats(nats) => nats.fetch(fetch).await,
        }
    }

    async fn head(&self, topic: &str) -> Result<StreamPosition, Error> {
        match self {
            #[cfg(feature = "redis")]
            Self::Redis(redis) => redis.head(topic).await,
            #[cfg(feature = "nats")]
            Self::Nats(nats) => nats.head(topic).await,
        }
    }

    /// Whether its events carry their epoch.
    fn tagging(&self) -> Tagging {
        match self {
            #[cfg(feature = "redis")]
            Self::Redis(_) => Tagging::PerEvent,
            #[cfg(feature = "nats")]
            Self::Nats(_) => Tagging::FromHead,
        }
    }

    /// A follower's reader of `topic`, for the events after `after`: Redis, a
    /// connection of its own for blocking reads; NATS, an ordered consumer from
    /// there on.
    #[cfg_attr(not(feature = "nats"), allow(unused_variables))]
    async fn reader(&self, topic: &str, after: u64) -> Result<Reader, Error> {
        match self {
            #[cfg(feature = "redis")]
            Self::Redis(redis) => Ok(Reader::Redis(redis.clone(), redis.reader().await?)),
            #[cfg(feature = "nats")]
            Self::Nats(nats) => Ok(Reader::Nats(
                nats.clone(),
                Box::new(nats.follow(topic, after.saturating_add(1)).await?),
            )),
        }
    }
}

/// What a follower reads a topic's events with (see [`Broker::reader`]).
#[cfg(any(feature = "redis", feature = "nats"))]
enum Reader {
    #[cfg(feature = "redis")]
    Redis(Redis, ::redis::aio::MultiplexedConnection),
    #[cfg(feature = "nats")]
    Nats(Nats, Box<nats::Follow>),
}

#[cfg(any(feature = "redis", feature = "nats"))]
impl Reader {
    /// Waits a while for `topic`'s events after `after`: [`Followed::Events`] or
    /// [`Followed::Nothing`].
    #[cfg_attr(not(feature = "redis"), allow(unused_variables))]
    async fn read(&mut self, topic: &str, after: u64) -> Result<Followed, Error> {
        match self {
            #[cfg(feature = "redis")]
            Self::Redis(redis, conn) => redis.read(conn, topic, after).await,
            #[cfg(feature = "nats")]
            Self::Nats(nats, messages) => nats.next(messages).await,
        }
    }
}

#[derive(Debug)]
struct State {
    hub: Hub,
    /// The wake-up of each live subscription.
    notify: HashMap<SubscriptionId, Arc<Notify>>,
    /// Topics followed on the broker: whether their head is known yet.
    #[cfg(any(feature = "redis", feature = "nats"))]
    followed: HashMap<String, watch::Receiver<bool>>,
}

impl Node {
    /// A node alone, its history in memory. `config` is the hub's.
    #[must_use]
    pub fn new(config: Config) -> Self {
        Self::build(
            config,
            #[cfg(any(feature = "redis", feature = "nats"))]
            None,
        )
    }

    /// A node sharing its topics through Redis Streams. Resumptions from older than
    /// the history in memory are read from Redis ([`Config::fetch_limit`]: 256 if
    /// unset).
    #[cfg(feature = "redis")]
    #[must_use]
    pub fn with_redis(mut config: Config, redis: Redis) -> Self {
        config.fetch_limit = config.fetch_limit.or(Some(256));
        Self::build(config, Some(Broker::Redis(redis)))
    }

    /// A node sharing its topics through NATS JetStream. Resumptions from older than
    /// the history in memory are read from JetStream ([`Config::fetch_limit`]: 256
    /// if unset).
    #[cfg(feature = "nats")]
    #[must_use]
    pub fn with_nats(mut config: Config, nats: Nats) -> Self {
        config.fetch_limit = config.fetch_limit.or(Some(256));
        Self::build(config, Some(Broker::Nats(nats)))
    }

    fn build(
        config: Config,
        #[cfg(any(feature = "redis", feature = "nats"))] broker: Option<Broker>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    hub: Hub::new(config, seed()),
                    notify: HashMap::new(),
                    #[cfg(any(feature = "redis", feature = "nats"))]
                    followed: HashMap::new(),
                }),
                start: Instant::now(),
                #[cfg(any(feature = "redis", feature = "nats"))]
                broker,
            }),
        }
    }

    /// Publishes `payload` to `topic`: through the broker (every node's
    /// subscribers get it, this node's too, once its follower reads it back), or
    /// straight into this node's hub.
    ///
    /// # Errors
    ///
    /// [`Error::Refused`] for a topic name the hub does not take; the broker's.
    pub async fn publish(&self, topic: &str, payload: Bytes) -> Result<StreamPosition, Error> {
        #[cfg(any(feature = "redis", feature = "nats"))]
        if let Some(broker) = &self.inner.broker {
            self.inner.lock().hub.check_topic(topic)?;
            return broker.publish(topic, &payload).await;
        }
        let published = self
            .inner
            .change(|state, now| state.hub.publish(topic, payload, now));
        Ok(published?)
    }

    /// Subscribes to `topic` from `since`. With a broker, the topic is followed
    /// from now on (once per node), and this waits for its head first, so that
    /// positions are taken in the broker's epoch.
    ///
    /// # Errors
    ///
    /// [`Error::Refused`]; [`Error::Timeout`] if the broker did not answer.
    pub async fn subscribe(&self, topic: &str, since: Since) -> Result<Subscription, Error> {
        #[cfg(any(feature = "redis", feature = "nats"))]
        if self.inner.broker.is_some() {
            self.follow(topic).await?;
        }
        let notify = Arc::new(Notify::new());
        let id = self.inner.change(|state, now| {
            let id = state.hub.subscribe(topic, since, now)?;
            state.notify.insert(id, Arc::clone(&notify));
            Ok::<_, LocalError>(id)
        })?;
        Ok(Subscription {
            inner: Arc::clone(&self.inner),
            id,
            notify,
            over: false,
        })
    }

    /// The position of `topic`'s last event on this node, if it has the topic.
    #[must_use]
    pub fn position(&self, topic: &str) -> Option<StreamPosition> {
        self.inner.lock().hub.position(topic)
    }

    /// How many subscriptions are live on this node.
    #[must_use]
    pub fn subscriptions(&self) -> usize {
        self.inner.lock().hub.subscriptions()
    }

    /// Starts following `topic` if this node does not yet, and waits for its head.
    #[cfg(any(feature = "redis", feature = "nats"))]
    async fn follow(&self, topic: &str) -> Result<(), Error> {
        let mut attached = {
            let mut state = self.inner.lock();
            if let Some(attached) = state.followed.get(topic) {
                attached.clone()
            } else {
                let Some(broker) = &self.inner.broker else {
                    return Ok(());
                };
                state.hub.follow(topic, broker.tagging())?;
                let (tx, rx) = watch::channel(false);
                state.followed.insert(topic.into(), rx.clone());
                tokio::spawn(follow(Arc::downgrade(&self.inner), topic.into(), tx));
                rx
            }
        };
        match tokio::time::timeout(ATTACH_TIMEOUT, attached.wait_for(|known| *known)).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(Error::Timeout),
        }
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    /// Runs `change` on the state (with the time now), then wakes the
    /// subscriptions the hub names and, the lock released, reads the fetches it
    /// asks for.
    fn change<R>(self: &Arc<Self>, change: impl FnOnce(&mut State, Duration) -> R) -> R {
        let mut state = self.lock();
        let result = change(&mut state, self.now());
        while let Some(id) = state.hub.poll_ready() {
            if let Some(notify) = state.notify.get(&id) {
                notify.notify_one();
            }
        }
        let fetches: Vec<Fetch> = std::iter::from_fn(|| state.hub.poll_fetch()).collect();
        drop(state);
        self.spawn_fetches(fetches);
        result
    }

    /// Reads what the hub asks of the broker, each fetch on a task of its own (the
    /// hub keeps at most one in flight per topic).
    fn spawn_fetches(self: &Arc<Self>, fetches: Vec<Fetch>) {
        #[cfg(any(feature = "redis", feature = "nats"))]
        for fetch in fetches {
            let inner = Arc::clone(self);
            tokio::spawn(async move {
                let Some(broker) = &inner.broker else { return };
                let answer = broker.fetch(&fetch).await;
                inner.change(|state, now| match answer {
                    Ok((head, events)) => {
                        state.hub.handle_fetched(&fetch.topic, head, events, now);
                    }
                    Err(_) => state.hub.handle_fetch_failed(&fetch.topic),
                });
            });
        }
        #[cfg(not(any(feature = "redis", feature = "nats")))]
        drop(fetches);
    }
}

/// Follows `topic` on the broker for as long as the node lives: does the reads the
/// hub's follower asks for ([`Hub::poll_follow`]: the head, the events after a
/// position, the epoch) and gives it the answers, waiting a little after a failure.
#[cfg(any(feature = "redis", feature = "nats"))]
async fn follow(node: Weak<Inner>, topic: String, attached: watch::Sender<bool>) {
    let mut reader: Option<Reader> = None;
    loop {
        let Some(inner) = node.upgrade() else { return };
        let Some(broker) = inner.broker.clone() else {
            return;
        };
        let Some(next) = inner.lock().hub.poll_follow(&topic) else {
            return;
        };
        drop(inner);
        let answer = match next {
            Follow::ReadHead => {
                reader = None; // a reader starts after the head it follows
                broker.head(&topic).await.map(Followed::Head)
            }
            Follow::ReadAfter(after) => {
                let read = match reader.as_mut() {
                    Some(reader) => reader.read(&topic, after.offset).await,
                    None => match broker.reader(&topic, after.offset).await {
                        Ok(opened) => reader.insert(opened).read(&topic, after.offset).await,
                        Err(e) => Err(e),
                    },
                };
                if read.is_err() {
                    reader = None;
                }
                read
            }
            // The head's script or stream info: a lost history has a new epoch.
            Follow::CheckEpoch(_) => broker
                .head(&topic)
                .await
                .map(|head| Followed::Epoch(Some(head.epoch))),
        };
        let answer = answer.unwrap_or(Followed::Failed);
        let failed = matches!(answer, Followed::Failed);
        let head = matches!(answer, Followed::Head(_));
        let Some(inner) = node.upgrade() else { return };
        let taken = inner.change(|state, now| state.hub.handle_followed(&topic, answer, now));
        drop(inner);
        if taken.is_err() {
            return;
        }
        if head {
            attached.send_replace(true);
        }
        if failed {
            tokio::time::sleep(RETRY).await;
        }
    }
}

/// A subscription of a [`Node`]: its deliveries, in order, from [`next`](Self::next).
/// Dropping it unsubscribes.
#[derive(Debug)]
pub struct Subscription {
    inner: Arc<Inner>,
    id: SubscriptionId,
    notify: Arc<Notify>,
    over: bool,
}

impl Subscription {
    /// The next delivery: an event, or a discontinuity saying what was missed
    /// (write it to the client in its protocol), or [`Delivery::Dropped`] (the
    /// subscription fell behind under [`LagPolicy::Drop`](tidings_hub::LagPolicy::Drop)),
    /// after which `None`. Waits for the topic's next event at the head.
    ///
    /// Cancel-safe: a delivery is taken from the hub only when this returns it.
    pub async fn next(&mut self) -> Option<Delivery> {
        while !self.over {
            let delivery = self
                .inner
                .change(|state, now| state.hub.poll_delivery(self.id, now));
            match delivery {
                Some(Delivery::Dropped) => {
                    self.over = true;
                    return Some(Delivery::Dropped);
                }
                Some(delivery) => return Some(delivery),
                None => self.notify.notified().await,
            }
        }
        None
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut state = self.inner.lock();
        state.notify.remove(&self.id);
        let _ = state.hub.unsubscribe(self.id);
    }
}

/// The seed of a hub's epochs: it must differ at every start (see
/// [`Hub::new`]).
fn seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::hash::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    hasher.finish()
}
