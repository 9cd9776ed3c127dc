//! `tidings sse URL`: prints the events of a stream, as a browser's `EventSource`
//! would receive them: across reconnections (with `Last-Event-ID`, after the
//! server's `retry`), until the server answers `204 No Content`.
//!
//! `tidings_io::sse::EventSource` treats a refused connection as a reason to
//! reconnect, as the specification asks. A command-line user wants to hear about a
//! typo at once, so the dialer here reports a failure of the *first* connection and
//! the command ends with it; later failures are reconnections, logged on stderr.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::StreamExt;
use tidings_io::Tokio;
use tidings_io::sse::{ClientConfig, EventSource, MessageEvent, Url};
use tokio::sync::mpsc;

use crate::Failure;

/// Options of `tidings sse`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Runs until the server answers 204 No Content (exit status 0), fails for \
                        good (another status, a wrong Content-Type) or Ctrl-C. A failure of the \
                        first connection ends the command; later ones are retried after the \
                        server's retry time, with Last-Event-ID."
)]
pub(crate) struct Args {
    /// The event stream, `http://host[:port]/path` or `https://...`.
    url: String,
    /// Print one JSON object per event (`{"id":..,"event":..,"data":..}`) instead of
    /// `id:`, `event:` and `data:` lines followed by a blank line.
    #[arg(long)]
    json: bool,
    /// Add a request header, as `Name: value` (repeatable).
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
    headers: Vec<String>,
}

/// Prints events until the stream ends (204, a fatal status) or Ctrl-C.
pub(crate) async fn run(args: Args) -> Result<(), Failure> {
    let mut config = ClientConfig::default();
    for header in &args.headers {
        let (name, value) = header
            .split_once(':')
            .ok_or_else(|| format!("bad --header {header:?}: expected 'Name: value'"))?;
        config
            .headers
            .push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let connected = Arc::new(AtomicBool::new(false));
    let (first_failure, mut first_failures) = mpsc::channel::<String>(1);
    let dial = move |url: &Url| {
        let (host, port, secure) = (url.host().to_owned(), url.port(), url.is_https());
        let connected = Arc::clone(&connected);
        let first_failure = first_failure.clone();
        async move {
            match crate::net::dial(&host, port, secure).await {
                Ok(stream) => {
                    if connected.swap(true, Ordering::Relaxed) {
                        log!("reconnected to {host}:{port}");
                    }
                    Ok(Tokio::new(stream))
                }
                Err(e) => {
                    let line = format!("cannot connect to {host}:{port}: {e}");
                    if connected.load(Ordering::Relaxed) {
                        log!("{line} (retrying)");
                    } else {
                        let _ = first_failure.try_send(line);
                    }
                    Err(e)
                }
            }
        }
    };
    let mut events = EventSource::new(&args.url, dial, config)
        .map_err(|e| format!("bad URL {:?}: {e}", args.url))?;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            event = events.next() => match event {
                None => return Ok(()),
                Some(Ok(event)) => print_event(&event, args.json)?,
                Some(Err(e)) => return Err(format!("event stream failed: {e}")),
            },
            Some(line) = first_failures.recv() => return Err(line),
            _ = &mut ctrl_c => return Ok(()),
        }
    }
}

/// Writes one event to stdout.
fn print_event(event: &MessageEvent, json: bool) -> Result<(), Failure> {
    let event_type = match event.event_type() {
        "" => "message",
        other => other,
    };
    if json {
        let line = serde_json::json!({
            "id": event.last_event_id(),
            "event": event_type,
            "data": event.data(),
        });
        crate::output(&line.to_string())
    } else {
        let mut out = String::new();
        if !event.last_event_id().is_empty() {
            out.push_str(&format!("id: {}\n", event.last_event_id()));
        }
        out.push_str(&format!("event: {event_type}\n"));
        for line in event.data().split('\n') {
            out.push_str(&format!("data: {line}\n"));
        }
        crate::output(&out)
    }
}
