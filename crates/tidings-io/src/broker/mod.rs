//! Fan-out on tokio: a [`Node`] drives a [`tidings_hub::Hub`] (topics, offsets and
//! epochs, recovery, lag policy: all the logic is the hub's) and, with the `redis`
//! feature, shares its topics with every other node through Redis Streams.
//!
//! ```text
//!   Node::publish ──► Redis (XADD) ──► every node's follower (XREAD BLOCK, one per
//!                                        topic) ──► hub.handle_event ──► wakes
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
//! asks for (a fetch, a wake-up) is done after it is released. Every queue is the
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
}

#[derive(Debug)]
struct State {
    hub: Hub,
    /// The wake-up of each live subscription.
    notify: HashMap<SubscriptionId, Arc<Notify>>,
    /// Topics followed on the broker: whether their head is known yet.
    #[cfg(any(feature = "redis", feature = "nats"))]
    followed: HashMap<String, watch::Receiver<bool>>,
    /// The last position each follower read: the hub forgets a topic nobody
    /// subscribes to and that has no history, but its follower goes on, and a new
    /// subscription must find the topic at the broker's position, not in a new
    /// epoch of the hub's.
    #[cfg(any(feature = "redis", feature = "nats"))]
    heads: HashMap<String, StreamPosition>,
}

impl State {
    /// Records where `topic`'s follower is.
    #[cfg(any(feature = "redis", feature = "nats"))]
    fn followed_to(&mut self, topic: &str, position: StreamPosition) {
        match self.heads.get_mut(topic) {
            Some(head) => *head = position,
            None => {
                self.heads.insert(topic.into(), position);
            }
        }
    }
}

impl State {
    /// Wakes the subscriptions the hub names, and returns the fetches it asks for.
    #[must_use]
    fn after_change(&mut self) -> Vec<Fetch> {
        while let Some(id) = self.hub.poll_ready() {
            if let Some(notify) = self.notify.get(&id) {
                notify.notify_one();
            }
        }
        std::iter::from_fn(|| self.hub.poll_fetch()).collect()
    }
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
                    #[cfg(any(feature = "redis", feature = "nats"))]
                    heads: HashMap::new(),
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
            if !valid_topic(topic, self.inner.lock().hub.config()) {
                return Err(Error::Refused(LocalError::InvalidTopic));
            }
            return broker.publish(topic, &payload).await;
        }
        let now = self.inner.now();
        let mut state = self.inner.lock();
        let position = state.hub.publish(topic, payload, now)?;
        let fetches = state.after_change();
        drop(state);
        self.inner.spawn_fetches(fetches);
        Ok(position)
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
        let now = self.inner.now();
        let notify = Arc::new(Notify::new());
        let mut state = self.inner.lock();
        #[cfg(any(feature = "redis", feature = "nats"))]
        if state.hub.position(topic).is_none() {
            if let Some(&head) = state.heads.get(topic) {
                state.hub.handle_head(topic, head)?;
            }
        }
        let id = state.hub.subscribe(topic, since, now)?;
        state.notify.insert(id, Arc::clone(&notify));
        let fetches = state.after_change();
        drop(state);
        self.inner.spawn_fetches(fetches);
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
                if state.followed.len() >= state.hub.config().max_topics {
                    return Err(Error::Refused(LocalError::TooManyTopics));
                }
                if !valid_topic(topic, state.hub.config()) {
                    return Err(Error::Refused(LocalError::InvalidTopic));
                }
                let (tx, rx) = watch::channel(false);
                state.followed.insert(topic.into(), rx.clone());
                let node = Arc::downgrade(&self.inner);
                match &self.inner.broker {
                    #[cfg(feature = "redis")]
                    Some(Broker::Redis(_)) => {
                        tokio::spawn(follow(node, topic.into(), tx));
                    }
                    #[cfg(feature = "nats")]
                    Some(Broker::Nats(_)) => {
                        tokio::spawn(follow_nats(node, topic.into(), tx));
                    }
                    None => {}
                }
                rx
            }
        };
        match tokio::time::timeout(ATTACH_TIMEOUT, attached.wait_for(|known| *known)).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(Error::Timeout),
        }
    }
}

/// Whether the hub takes `topic` as a name (checked before it reaches Redis keys).
#[cfg(any(feature = "redis", feature = "nats"))]
fn valid_topic(topic: &str, config: &Config) -> bool {
    !topic.is_empty() && topic.len() <= config.max_topic_len && !topic.chars().any(char::is_control)
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

    /// Reads what the hub asks of the broker, each fetch on a task of its own (the
    /// hub keeps at most one in flight per topic).
    fn spawn_fetches(self: &Arc<Self>, fetches: Vec<Fetch>) {
        #[cfg(any(feature = "redis", feature = "nats"))]
        for fetch in fetches {
            let inner = Arc::clone(self);
            tokio::spawn(async move {
                let Some(broker) = &inner.broker else { return };
                let answer = broker.fetch(&fetch).await;
                let now = inner.now();
                let mut state = inner.lock();
                match answer {
                    Ok((head, events)) => {
                        state.hub.handle_fetched(&fetch.topic, head, events, now);
                    }
                    Err(_) => state.hub.handle_fetch_failed(&fetch.topic),
                }
                let fetches = state.after_change();
                drop(state);
                inner.spawn_fetches(fetches);
            });
        }
        #[cfg(not(any(feature = "redis", feature = "nats")))]
        drop(fetches);
    }
}

/// Follows `topic` on Redis for as long as the node lives: its head, then its
/// entries as they come, into the hub. After a failure it reads on from where it
/// was; after an epoch change (the stream was lost), from the new head.
#[cfg(feature = "redis")]
async fn follow(node: Weak<Inner>, topic: String, attached: watch::Sender<bool>) {
    use self::redis::Read;

    let mut reader = None;
    let mut head: Option<StreamPosition> = None;
    // Whether the topic's history was lost since this node began following it.
    let mut lost = false;
    loop {
        let Some(inner) = node.upgrade() else { return };
        let Some(Broker::Redis(redis)) = inner.broker.clone() else {
            return;
        };
        drop(inner);
        let Some(at) = head else {
            match redis.head(&topic).await {
                Ok(mut position) => {
                    if lost {
                        // The new history from its beginning: subscribers of the
                        // old one resume there, after the discontinuity.
                        position.offset = 0;
                    }
                    let Some(inner) = node.upgrade() else { return };
                    let mut state = inner.lock();
                    if state.hub.handle_head(&topic, position).is_err() {
                        return;
                    }
                    state.followed_to(&topic, position);
                    let fetches = state.after_change();
                    drop(state);
                    inner.spawn_fetches(fetches);
                    head = Some(position);
                    attached.send_replace(true);
                }
                Err(_) => tokio::time::sleep(RETRY).await,
            }
            continue;
        };
        let conn = match reader.as_mut() {
            Some(conn) => conn,
            None => match redis.reader().await {
                Ok(conn) => reader.insert(conn),
                Err(_) => {
                    tokio::time::sleep(RETRY).await;
                    continue;
                }
            },
        };
        match redis.read(conn, &topic, at.offset).await {
            Ok(Read::Events(events)) => {
                let Some(inner) = node.upgrade() else { return };
                let now = inner.now();
                let mut state = inner.lock();
                for (position, payload) in events {
                    if position.epoch != at.epoch {
                        (head, lost) = (None, true); // another history
                        break;
                    }
                    let _ = state.hub.handle_event(&topic, position, payload, now);
                    state.followed_to(&topic, position);
                    head = Some(position);
                }
                let fetches = state.after_change();
                drop(state);
                inner.spawn_fetches(fetches);
            }
            Ok(Read::Nothing) => {
                match redis.epoch(&topic).await {
                    Ok(Some(epoch)) if epoch == at.epoch => {}
                    // Lost, or a new history: read it from its head.
                    Ok(_) => (head, lost) = (None, true),
                    Err(_) => tokio::time::sleep(RETRY).await,
                }
            }
            Err(_) => {
                reader = None;
                tokio::time::sleep(RETRY).await;
            }
        }
    }
}

/// Follows `topic` on NATS JetStream for as long as the node lives: its head, then
/// its messages from an ordered consumer, into the hub; the epoch checked whenever
/// nothing came for [`NatsConfig::block`]. After a failure or an epoch change it
/// starts again from the head (a gap is fetched by the hub; a new epoch is read
/// from its beginning).
#[cfg(feature = "nats")]
async fn follow_nats(node: Weak<Inner>, topic: String, attached: watch::Sender<bool>) {
    let mut lost = false;
    loop {
        let Some(inner) = node.upgrade() else { return };
        let Some(Broker::Nats(nats)) = inner.broker.clone() else {
            return;
        };
        drop(inner);
        let mut head = match nats.head(&topic).await {
            Ok(head) => head,
            Err(_) => {
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        if lost {
            head.offset = 0;
        }
        {
            let Some(inner) = node.upgrade() else { return };
            let mut state = inner.lock();
            if state.hub.handle_head(&topic, head).is_err() {
                return;
            }
            state.followed_to(&topic, head);
            let fetches = state.after_change();
            drop(state);
            inner.spawn_fetches(fetches);
        }
        attached.send_replace(true);
        let Ok(mut messages) = nats.follow(&topic, head.offset.saturating_add(1)).await else {
            tokio::time::sleep(RETRY).await;
            continue;
        };
        loop {
            match nats.next(&mut messages).await {
                Ok(Some((offset, payload))) => {
                    let Some(inner) = node.upgrade() else { return };
                    let now = inner.now();
                    let mut state = inner.lock();
                    let position = StreamPosition::new(head.epoch, offset);
                    let _ = state.hub.handle_event(&topic, position, payload, now);
                    state.followed_to(&topic, position);
                    let fetches = state.after_change();
                    drop(state);
                    inner.spawn_fetches(fetches);
                }
                Ok(None) => match nats.head(&topic).await {
                    Ok(now) if now.epoch == head.epoch => {}
                    Ok(_) => {
                        lost = true;
                        break;
                    }
                    Err(_) => {}
                },
                Err(_) => {
                    tokio::time::sleep(RETRY).await;
                    break;
                }
            }
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
            let now = self.inner.now();
            let (delivery, fetches) = {
                let mut state = self.inner.lock();
                let delivery = state.hub.poll_delivery(self.id, now);
                (delivery, state.after_change())
            };
            self.inner.spawn_fetches(fetches);
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
