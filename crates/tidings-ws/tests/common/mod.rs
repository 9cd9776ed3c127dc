//! Both ends of a conversation in memory, with virtual time (after quinn's `Pair`).
#![allow(dead_code, unreachable_pub)]

use core::time::Duration;
use std::collections::VecDeque;

use tidings_ws::{Config, Connection, Error, Event, RecvHalf, SendHalf, Signal, State};

/// A fixed masking key so client bytes are exact.
pub const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

pub fn client(config: Config) -> Connection {
    Connection::client_with_random_source(config, |k: &mut [u8]| k.copy_from_slice(&KEY))
}

pub fn server(config: Config) -> Connection {
    Connection::server(config)
}

/// Drains every event, stopping at (and returning) the first error.
pub fn events(conn: &mut Connection) -> (Vec<Event>, Option<Error>) {
    let mut out = Vec::new();
    loop {
        match conn.poll_event() {
            Ok(Some(ev)) => out.push(ev),
            Ok(None) => return (out, None),
            Err(e) => return (out, Some(e)),
        }
    }
}

/// Everything `conn` wants to send, as one buffer.
pub fn transmit(conn: &mut Connection, now: Duration) -> Vec<u8> {
    let mut buf = Vec::new();
    conn.poll_transmit_into(now, &mut buf);
    buf
}

pub struct Pair {
    pub client: Connection,
    pub server: Connection,
    pub now: Duration,
    /// Events each side saw, in order.
    pub client_events: Vec<Event>,
    pub server_events: Vec<Event>,
    pub client_errors: Vec<Error>,
    pub server_errors: Vec<Error>,
}

impl Pair {
    pub fn new(config: Config) -> Self {
        Self {
            client: client(config.clone()),
            server: server(config),
            now: Duration::ZERO,
            client_events: Vec::new(),
            server_events: Vec::new(),
            client_errors: Vec::new(),
            server_errors: Vec::new(),
        }
    }

    /// Moves bytes both ways and drains events until nothing moves.
    pub fn drive(&mut self) {
        loop {
            let c2s = transmit(&mut self.client, self.now);
            let s2c = transmit(&mut self.server, self.now);
            self.server.receive(&c2s);
            self.client.receive(&s2c);
            let (ev, err) = events(&mut self.server);
            self.server_events.extend(ev);
            self.server_errors.extend(err);
            let (ev, err) = events(&mut self.client);
            self.client_events.extend(ev);
            self.client_errors.extend(err);
            if c2s.is_empty()
                && s2c.is_empty()
                && !self.client.has_transmit()
                && !self.server.has_transmit()
            {
                return;
            }
        }
    }

    /// Advances virtual time to `now`, firing both sides' timers, then drives.
    pub fn advance_to(&mut self, now: Duration) {
        self.now = now;
        self.client.handle_timeout(now);
        self.server.handle_timeout(now);
        self.drive();
    }

    /// Advances time to the earliest pending deadline, if any.
    pub fn step_timers(&mut self) -> bool {
        let next = [self.client.poll_timeout(), self.server.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        match next {
            Some(t) => {
                self.advance_to(t.max(self.now));
                true
            }
            None => false,
        }
    }
}

/// One end driven either as a whole [`Connection`] or as split halves, as a reader
/// task and a writer task would drive them: the reader drains events and queues
/// signals; the writer applies them before it writes or keeps time.
pub enum Driven {
    Whole(Connection),
    Split {
        rx: RecvHalf,
        tx: SendHalf,
        channel: VecDeque<Signal>,
    },
}

impl Driven {
    pub fn new(conn: Connection, split: bool) -> Self {
        if split {
            let (rx, tx) = conn.into_split();
            Self::Split {
                rx,
                tx,
                channel: VecDeque::new(),
            }
        } else {
            Self::Whole(conn)
        }
    }

    /// Hands in `bytes` and drains the events, stopping at the first error.
    pub fn receive(&mut self, bytes: &[u8]) -> (Vec<Event>, Option<Error>) {
        match self {
            Self::Whole(conn) => {
                conn.receive(bytes);
                events(conn)
            }
            Self::Split { rx, channel, .. } => {
                rx.receive(bytes);
                let mut out = Vec::new();
                let mut error = None;
                loop {
                    match rx.poll_event() {
                        Ok(Some(ev)) => out.push(ev),
                        Ok(None) => break,
                        Err(e) => {
                            error = Some(e);
                            break;
                        }
                    }
                }
                channel.extend(std::iter::from_fn(|| rx.poll_signal()));
                (out, error)
            }
        }
    }

    /// The writer's turn: signals applied, then everything there is to send at `now`.
    pub fn transmit(&mut self, now: Duration) -> Vec<u8> {
        match self {
            Self::Whole(conn) => transmit(conn, now),
            Self::Split { tx, channel, .. } => {
                for signal in channel.drain(..) {
                    tx.handle_signal(signal);
                }
                let mut out = Vec::new();
                tx.poll_transmit_into(now, &mut out);
                out
            }
        }
    }

    /// Fires the timers due at `now`; returns the error a timer ended the
    /// connection with, if any.
    pub fn handle_timeout(&mut self, now: Duration) -> Option<Error> {
        match self {
            Self::Whole(conn) => {
                conn.handle_timeout(now);
                events(conn).1
            }
            Self::Split { tx, channel, .. } => {
                for signal in channel.drain(..) {
                    tx.handle_signal(signal);
                }
                tx.handle_timeout(now);
                tx.poll_error()
            }
        }
    }

    pub fn poll_timeout(&self) -> Option<Duration> {
        match self {
            Self::Whole(conn) => conn.poll_timeout(),
            Self::Split { tx, .. } => tx.poll_timeout(),
        }
    }

    pub fn should_close_transport(&self) -> bool {
        match self {
            Self::Whole(conn) => conn.should_close_transport(),
            Self::Split { tx, .. } => tx.should_close_transport(),
        }
    }

    pub fn state(&self) -> State {
        match self {
            Self::Whole(conn) => conn.state(),
            Self::Split { tx, .. } => tx.state(),
        }
    }

    /// The receive buffer's capacity: what the reader holds for input.
    pub fn read_capacity(&mut self) -> usize {
        match self {
            Self::Whole(conn) => conn.read_buffer().capacity(),
            Self::Split { rx, .. } => rx.read_buffer().capacity(),
        }
    }
}
