//! Both ends of a conversation in memory, with virtual time (after quinn's `Pair`).
#![allow(dead_code, unreachable_pub)]

use core::time::Duration;

use tidings_ws::{Config, Connection, Error, Event};

/// A fixed masking key so client bytes are exact.
pub const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

pub fn client(config: Config) -> Connection {
    Connection::client_with_mask_source(config, || KEY)
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
