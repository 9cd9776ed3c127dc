//! A sans-IO fan-out core for real-time streams: topics, offsets and epochs, a
//! bounded history per topic, and recovery that either resumes exactly or says what
//! was missed. The same positions serve Server-Sent Events (`id:` and
//! `Last-Event-ID`) and WebSocket (a resume token), on one node or many.
//!
//! # What is here
//!
//! * [`StreamPosition`]: an [`Epoch`] and an offset, with a strict `EPOCH:OFFSET`
//!   wire form. The epoch changes whenever a history is lost, so a client's
//!   position from before the loss is recognised instead of being resumed from.
//! * [`Hub`]: topics and subscriptions. A subscription is a cursor into its topic's
//!   bounded history; it resumes after a position, or gets a [`Discontinuity`]
//!   first when the events after it are gone (another epoch, older than the
//!   history, never held here, or it fell behind). A subscription that falls behind
//!   costs no memory: the history is the only buffer, and the [`LagPolicy`] decides
//!   whether it skips ahead or is dropped.
//! * Events numbered by this hub ([`Hub::publish`]) or by a broker
//!   ([`Hub::handle_event`]: Redis Streams, NATS JetStream), with duplicates
//!   ignored and gaps made explicit.
//! * Recovery from the broker ([`Config::fetch_limit`]): a resumption from older
//!   than the history in memory (or from events this node never saw) becomes a
//!   [`Fetch`] the binding reads from the broker, one per topic however many clients
//!   resume at once; only what the broker no longer holds is a discontinuity.
//! * Following a topic on a broker ([`Hub::follow`]): the hub says which read comes
//!   next ([`Follow`]: the head, the events after a position, the epoch) and takes
//!   the answers ([`Followed`]). When the broker lost the topic's history, when the
//!   new one is read from its beginning, and what a failed read costs are its rules;
//!   the binding only does the reads.
//!
//! # What is not here
//!
//! No sockets, no broker client, no clock, no runtime: time comes in as a
//! [`Duration`](core::time::Duration) since an epoch the caller picks, and the seed of
//! the epochs comes from the caller. The crate is `no_std` (with `alloc`), without
//! `unsafe` code. Encoding an [`Event`] as an SSE event or a WebSocket message is the
//! binding's (tidings-sse and tidings-ws do the framing).
//!
//! # Data flow
//!
//! ```text
//!   publish(topic, payload, now) ──┐         ┌─► poll_ready() ─► SubscriptionId
//!   handle_event(topic, position,  ├─► Topic ┤     (its topic had a new event)
//!     payload, now)  (a broker's)  ┘ history │
//!                                            └─► poll_delivery(id, now) ─►
//!   subscribe(topic, Since, now) ─► cursor         Event { position, payload }
//!   unsubscribe(id)                  │              | Discontinuity | Dropped
//!                                    │ older than the history
//!                                    ▼
//!   poll_fetch() ─► Fetch { topic, after, limit } ─► the broker reads (XRANGE)
//!   handle_fetched(topic, head, events, now) ◄──────┘  (or handle_fetch_failed)
//!
//!   follow(topic, Tagging) ─► poll_follow(topic) ─► Follow: ReadHead | ReadAfter
//!                                                   | CheckEpoch ─► the broker reads
//!   handle_followed(topic, Followed, now) ◄─────────┘  (head, events, nothing,
//!                                                       epoch, failed)
//! ```
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;

mod error;
mod follower;
mod hub;
mod position;
mod topic;

pub use error::{LocalError, PositionError};
pub use follower::{Follow, Followed, Tagging};
pub use hub::{
    Config, Delivery, Discontinuity, Event, Fetch, Hub, LagPolicy, Reason, Since, SubscriptionId,
};
pub use position::{Epoch, StreamPosition};
