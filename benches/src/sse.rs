//! Server-Sent Events inputs: a realistic `text/event-stream` and the events it holds.
//!
//! "Realistic" means what an API that streams updates sends: every event has an `id`,
//! most have an `event` type, data is JSON spread over one to four `data:` lines,
//! sizes vary from a few dozen bytes to about a kilobyte, and a `: keep-alive` comment
//! turns up now and then. The stream is written with LF or with CRLF line endings, the
//! two cases the targets are stated for.

/// One event as every implementation must report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// The event type ("message" when the stream gave none).
    pub event: String,
    /// The data, lines joined with LF.
    pub data: String,
    /// The `id` field of the event.
    pub id: String,
}

/// A generated stream and the events it holds.
#[derive(Debug, Clone)]
pub struct Stream {
    /// The wire bytes.
    pub bytes: Vec<u8>,
    /// The events, in order.
    pub events: Vec<Expected>,
}

const TYPES: [&str; 4] = ["update", "price", "chat", "presence"];

/// A stream of about `target_len` bytes; `crlf` selects CRLF line endings.
pub fn realistic(target_len: usize, crlf: bool) -> Stream {
    let eol: &str = if crlf { "\r\n" } else { "\n" };
    let mut bytes = Vec::with_capacity(target_len + 2048);
    let mut events = Vec::new();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut n = 0u64;
    while bytes.len() < target_len {
        n += 1;
        let r = next();
        if r % 16 == 0 {
            bytes.extend_from_slice(b": keep-alive");
            bytes.extend_from_slice(eol.as_bytes());
        }
        let id = format!("{}", 100_000 + n);
        bytes.extend_from_slice(format!("id: {id}{eol}").as_bytes());
        let event = if r % 5 == 0 {
            "message".to_string()
        } else {
            let t = TYPES[(r >> 8) as usize % TYPES.len()];
            bytes.extend_from_slice(format!("event: {t}{eol}").as_bytes());
            t.to_string()
        };
        // JSON spread over 1-4 lines, 20-300 bytes of text per line.
        let lines = 1 + (r >> 16) as usize % 4;
        let mut data = String::new();
        for l in 0..lines {
            let width = 20 + (next() % 280) as usize;
            let mut line = format!("{{\"seq\":{n},\"line\":{l},\"text\":\"");
            let filler = "lorem ipsum dolor sit amet, ünïcode ok ";
            while line.len() < width {
                line.push_str(filler);
            }
            line.push_str("\"}");
            if l > 0 {
                data.push('\n');
            }
            data.push_str(&line);
            bytes.extend_from_slice(format!("data: {line}{eol}").as_bytes());
        }
        bytes.extend_from_slice(eol.as_bytes());
        events.push(Expected { event, data, id });
    }
    Stream { bytes, events }
}

/// One event whose single data line is `len` bytes long: the long-line case.
pub fn long_line(len: usize) -> Stream {
    let data = "x".repeat(len);
    let mut bytes = Vec::with_capacity(len + 16);
    bytes.extend_from_slice(b"id: 1\ndata: ");
    bytes.extend_from_slice(data.as_bytes());
    bytes.extend_from_slice(b"\n\n");
    Stream {
        bytes,
        events: vec![Expected {
            event: "message".into(),
            data,
            id: "1".into(),
        }],
    }
}

/// The events the encoders write: the same shapes as [`realistic`], as values.
pub fn events_to_encode(n: usize) -> Vec<Expected> {
    realistic(n * 1500, false)
        .events
        .into_iter()
        .take(n)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_what_they_say() {
        let lf = realistic(64 * 1024, false);
        let crlf = realistic(64 * 1024, true);
        // The same events; CRLF reaches the size with fewer of them.
        assert!(lf.events.starts_with(&crlf.events) && !crlf.events.is_empty());
        assert!(lf.bytes.len() >= 64 * 1024);
        assert!(!lf.bytes.contains(&b'\r'));
        let blank = lf.bytes.windows(2).filter(|w| w == b"\n\n").count();
        assert_eq!(blank, lf.events.len());
    }
}
