//! Topics on Redis Streams: one stream per topic, its entries numbered `0-1`,
//! `0-2`... so that a stream id *is* the hub's offset, and an epoch kept next to it.
//!
//! ```text
//!   tidings:{news}:s   the stream: XADD MAXLEN ~ N 0-* e <epoch> d <payload>
//!   tidings:{news}:e   the epoch, lowercase hex, drawn when the stream begins
//! ```
//!
//! Every command that touches a topic runs in a script (atomic in Redis) that
//! first makes sure the two keys exist together: if the epoch is missing or the
//! stream is (Redis restarted without persistence, a flush, an eviction, a `DEL`),
//! a new epoch is drawn and an empty stream made, so offsets that start again at 1
//! never pass for the old ones. Each entry carries its epoch too, so a reader never
//! takes an entry for one of another history. The braces are a hash tag: both keys
//! of a topic live in one slot of a Redis Cluster.
//!
//! Explicit ids with an automatic sequence (`0-*`) need Redis 7.0; the exclusive
//! range start of the fetch (`(0-41`) 6.2.

use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, Script, Value};
use tidings_hub::{Epoch, Fetch, Followed, StreamPosition};

use super::Error;

/// Makes sure a topic's epoch and stream exist together (see the module docs).
/// KEYS: stream, epoch; ARGV[1]: a fresh epoch. Leaves the epoch in `epoch`.
const ENSURE: &str = r"
local epoch = redis.call('GET', KEYS[2])
if (not epoch) or redis.call('EXISTS', KEYS[1]) == 0 then
  epoch = ARGV[1]
  redis.call('SET', KEYS[2], epoch)
  if redis.call('EXISTS', KEYS[1]) == 0 then
    redis.call('XGROUP', 'CREATE', KEYS[1], 'tidings', '$', 'MKSTREAM')
    redis.call('XGROUP', 'DESTROY', KEYS[1], 'tidings')
  end
end
local function head()
  local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
  if last[1] then return last[1][1] end
  return '0-0'
end
";

/// ARGV[2]: the approximate length to trim to, ARGV[3]: the payload.
/// Returns {epoch, id}.
const PUBLISH: &str = r"
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '0-*', 'e', epoch, 'd', ARGV[3])
return {epoch, id}
";

/// Returns {epoch, id of the last entry}.
const HEAD: &str = r"
return {epoch, head()}
";

/// ARGV[2]: the offset to read after, ARGV[3]: the most entries. Returns
/// {epoch, id of the last entry, entries}: one snapshot.
const FETCH: &str = r"
local entries = redis.call('XRANGE', KEYS[1], '(0-' .. ARGV[2], '+', 'COUNT', ARGV[3])
return {epoch, head(), entries}
";

/// Options of a [`Redis`] link.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RedisConfig {
    /// The prefix of the keys (default `tidings`): a topic `news` lives in
    /// `tidings:{news}:s` and `tidings:{news}:e`.
    pub prefix: String,
    /// The length each stream is trimmed to, approximately (`MAXLEN ~`; default
    /// 10,000 events): how far back clients can resume from.
    pub max_len: usize,
    /// How long one blocking read (`XREAD BLOCK`) of a follower waits (default 1 s).
    /// Between two, the follower checks the epoch: a topic whose stream was lost
    /// while nothing was published is noticed within this.
    pub block: Duration,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            prefix: "tidings".into(),
            max_len: 10_000,
            block: Duration::from_secs(1),
        }
    }
}

/// A link to Redis for a [`Node`](super::Node): publish, read a topic's head, fetch
/// for recovery, and follow topics (each follower on a connection of its own,
/// since a blocking read holds its connection).
#[derive(Clone)]
pub struct Redis {
    client: Client,
    conn: MultiplexedConnection,
    config: RedisConfig,
    publish: Script,
    head: Script,
    fetch: Script,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis")
            .field("server", &self.client.get_connection_info().addr())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Redis {
    /// Connects to `url` (`redis://host:port/db`).
    ///
    /// # Errors
    ///
    /// [`Error::Broker`] if the URL is not one or Redis cannot be reached.
    pub async fn connect(url: &str, config: RedisConfig) -> Result<Self, Error> {
        let client = Client::open(url).map_err(Error::broker)?;
        let conn = client
            .get_multiplexed_async_connection()
            .await
            .map_err(Error::broker)?;
        Ok(Self {
            client,
            conn,
            config,
            publish: Script::new(&format!("{ENSURE}{PUBLISH}")),
            head: Script::new(&format!("{ENSURE}{HEAD}")),
            fetch: Script::new(&format!("{ENSURE}{FETCH}")),
        })
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &RedisConfig {
        &self.config
    }

    /// Appends `payload` to `topic`'s stream and returns its position. Every node
    /// following the topic receives it.
    ///
    /// # Errors
    ///
    /// [`Error::Broker`], or [`Error::Reply`] for an answer that is not the script's.
    pub async fn publish(&self, topic: &str, payload: &[u8]) -> Result<StreamPosition, Error> {
        let reply: Value = self
            .publish
            .key(self.key(topic, 's'))
            .key(self.key(topic, 'e'))
            .arg(fresh_epoch())
            .arg(self.config.max_len)
            .arg(payload)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(Error::broker)?;
        let [epoch, id] = items(reply).ok_or(Error::Reply("XADD"))?;
        Ok(StreamPosition::new(epoch_of(&epoch)?, offset_of(&id)?))
    }

    /// The position of `topic`'s last event (offset 0 if none yet), drawing the
    /// topic's epoch if it has none.
    ///
    /// # Errors
    ///
    /// [`Error::Broker`], [`Error::Reply`].
    pub async fn head(&self, topic: &str) -> Result<StreamPosition, Error> {
        let reply: Value = self
            .head
            .key(self.key(topic, 's'))
            .key(self.key(topic, 'e'))
            .arg(fresh_epoch())
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(Error::broker)?;
        let [epoch, id] = items(reply).ok_or(Error::Reply("head"))?;
        Ok(StreamPosition::new(epoch_of(&epoch)?, offset_of(&id)?))
    }

    /// Reads what `fetch` asks (`XRANGE`), with the topic's head read in the same
    /// script: the answer for [`Hub::handle_fetched`](tidings_hub::Hub::handle_fetched).
    /// Entries of another epoch than the head's are left out.
    ///
    /// # Errors
    ///
    /// [`Error::Broker`], [`Error::Reply`].
    pub async fn fetch(&self, fetch: &Fetch) -> Result<(StreamPosition, Vec<(u64, Bytes)>), Error> {
        let reply: Value = self
            .fetch
            .key(self.key(&fetch.topic, 's'))
            .key(self.key(&fetch.topic, 'e'))
            .arg(fresh_epoch())
            .arg(fetch.after)
            .arg(fetch.limit)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(Error::broker)?;
        let [epoch, id, entries] = items(reply).ok_or(Error::Reply("XRANGE"))?;
        let head = StreamPosition::new(epoch_of(&epoch)?, offset_of(&id)?);
        let events = entries_of(entries)?
            .into_iter()
            .filter(|(position, _)| position.epoch == head.epoch)
            .map(|(position, payload)| (position.offset, payload))
            .collect();
        Ok((head, events))
    }

    /// A connection for one follower's blocking reads.
    pub(crate) async fn reader(&self) -> Result<MultiplexedConnection, Error> {
        let config = AsyncConnectionConfig::new()
            .set_response_timeout(Some(self.config.block + Duration::from_secs(5)));
        self.client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(Error::broker)
    }

    /// Waits up to [`RedisConfig::block`] for `topic`'s entries after `after`, each
    /// with the epoch it carries.
    pub(crate) async fn read(
        &self,
        reader: &mut MultiplexedConnection,
        topic: &str,
        after: u64,
    ) -> Result<Followed, Error> {
        let block = u64::try_from(self.config.block.as_millis()).unwrap_or(u64::MAX);
        let reply: Value = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(1024)
            .arg("BLOCK")
            .arg(block.max(1))
            .arg("STREAMS")
            .arg(self.key(topic, 's'))
            .arg(format!("0-{after}"))
            .query_async(reader)
            .await
            .map_err(Error::broker)?;
        // RESP2: [[key, entries]]; RESP3: {key: entries}; Nil on timeout.
        let entries = match reply {
            Value::Nil => return Ok(Followed::Nothing),
            Value::Array(streams) => match streams.into_iter().next() {
                Some(Value::Array(mut stream)) if stream.len() == 2 => stream.pop(),
                _ => None,
            },
            Value::Map(streams) => streams.into_iter().next().map(|(_, entries)| entries),
            _ => None,
        };
        let entries = entries.ok_or(Error::Reply("XREAD"))?;
        let events = entries_of(entries)?.into_iter();
        Ok(Followed::Events(
            events
                .map(|(at, payload)| (Some(at.epoch), at.offset, payload))
                .collect(),
        ))
    }

    fn key(&self, topic: &str, kind: char) -> String {
        format!("{}:{{{topic}}}:{kind}", self.config.prefix)
    }
}

/// A new epoch, in the wire form Redis keeps: random (the process's hash keys)
/// and mixed with the time, so that two nodes racing to start a topic's history
/// draw different ones (whichever runs its script first wins, the other's is
/// never used).
fn fresh_epoch() -> String {
    let mut hasher = std::hash::RandomState::new().build_hasher();
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    hasher.write_u128(now.as_nanos());
    format!("{:x}", hasher.finish())
}

fn array(value: Value) -> Option<Vec<Value>> {
    match value {
        Value::Array(values) | Value::Set(values) => Some(values),
        _ => None,
    }
}

/// An array of exactly `N` values.
fn items<const N: usize>(value: Value) -> Option<[Value; N]> {
    array(value)?.try_into().ok()
}

fn text(value: &Value) -> Option<&str> {
    match value {
        Value::BulkString(bytes) => std::str::from_utf8(bytes).ok(),
        Value::SimpleString(text) => Some(text),
        _ => None,
    }
}

fn epoch_of(value: &Value) -> Result<Epoch, Error> {
    text(value)
        .and_then(|hex| u64::from_str_radix(hex, 16).ok())
        .map(Epoch)
        .ok_or(Error::Reply("epoch"))
}

/// The offset of a stream id `0-n` (other ids are not this module's).
fn offset_of(value: &Value) -> Result<u64, Error> {
    text(value)
        .and_then(|id| id.strip_prefix("0-"))
        .and_then(|seq| seq.parse().ok())
        .ok_or(Error::Reply("stream id"))
}

/// `[[id, [field, value, ...]], ...]`, with fields `e` (epoch) and `d` (payload).
fn entries_of(entries: Value) -> Result<Vec<(StreamPosition, Bytes)>, Error> {
    let entries = array(entries).ok_or(Error::Reply("stream entries"))?;
    let mut events = Vec::with_capacity(entries.len());
    for entry in entries {
        let [id, fields] = items(entry).ok_or(Error::Reply("stream entry"))?;
        let offset = offset_of(&id)?;
        let fields = array(fields).ok_or(Error::Reply("stream entry"))?;
        let (mut epoch, mut payload) = (None, None);
        for pair in fields.chunks(2) {
            match (pair.first().and_then(text), pair.get(1)) {
                (Some("e"), Some(value)) => epoch = Some(epoch_of(value)?),
                (Some("d"), Some(Value::BulkString(bytes))) => {
                    payload = Some(Bytes::copy_from_slice(bytes));
                }
                _ => {}
            }
        }
        let (Some(epoch), Some(payload)) = (epoch, payload) else {
            return Err(Error::Reply("stream entry fields"));
        };
        events.push((StreamPosition::new(epoch, offset), payload));
    }
    Ok(events)
}
