//! `tidings sse URL`: prints the events of a stream, as a browser's `EventSource`
//! would receive them: across reconnections (with `Last-Event-ID`, after the
//! server's `retry`), until the server answers `204 No Content`.
//!
//! `tidings_io::sse::EventSource` treats a refused connection as a reason to
//! reconnect, as the specification asks. A command-line user wants to hear about a
//! typo at once, so the dialer here reports a failure of the *first* connection and
//! the command ends with it; later failures are reconnections, logged on stderr.
//! So is what else the client reports: a stream that timed out or broke the
//! protocol (before reconnecting), and warnings, such as a `retry` out of bounds.
//!
//! A reader of stdout that goes away (`tidings sse URL | head -1`) ends the command
//! quietly with status 0, as soon as it is gone (not at the next event, which may
//! be a long way off): the stream was read as far as anyone wanted.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::StreamExt;
use tidings_io::Tokio;
use tidings_io::sse::{Cause, ClientConfig, EventSource, MessageEvent, Url};
use tidings_sse::Event;
use tokio::sync::mpsc;

use crate::{Failure, OutputError};

/// Options of `tidings sse`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Runs until the server answers 204 No Content (exit status 0), fails for \
                        good (another status, a wrong Content-Type) or Ctrl-C. A failure of the \
                        first connection ends the command; later ones are retried after the \
                        server's retry time, with Last-Event-ID. A reader of stdout that \
                        goes away (`| head -1`) ends it quietly, with status 0."
)]
pub(crate) struct Args {
    /// The event stream, `http://host[:port]/path` or `https://...`.
    url: String,
    /// Print one JSON object per event (`{"id":..,"event":..,"data":..}`) instead of
    /// `id:`, `event:` and `data:` lines followed by a blank line.
    #[arg(long)]
    json: bool,
    /// Add a request header, as `Name: value` (repeatable). The value is visible
    /// ASCII, spaces and tabs.
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE", value_parser = crate::header::parse)]
    headers: Vec<(String, String)>,
    /// Read the stream over HTTP/2: `https://` by ALPN `h2`, `http://` by prior
    /// knowledge (h2c). Reconnections reuse the connection while it lasts.
    #[arg(long)]
    http2: bool,
    #[command(flatten)]
    tls: crate::tls::TlsArgs,
}

/// Prints events until the stream ends (204, a fatal status) or Ctrl-C.
pub(crate) async fn run(args: Args) -> Result<(), Failure> {
    let mut config = ClientConfig::default();
    config.headers.extend(args.headers);
    let secure = args
        .url
        .get(..6)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https:"));
    let tls = args.tls.resolve(secure)?;
    if args.http2 {
        let dialer = tls.dialer(secure).map_err(|e| e.to_string())?;
        let events = tidings_io::http::event_source(&args.url, config, &dialer)
            .map_err(|e| bad_url(&args.url, e))?;
        return print_events(events, args.json, mpsc::channel(1).1).await;
    }
    let connected = Arc::new(AtomicBool::new(false));
    let (first_failure, first_failures) = mpsc::channel::<String>(1);
    let dial = move |url: &Url| {
        let (host, port, secure) = (url.host().to_owned(), url.port(), url.is_https());
        // A bad SSL_CERT_FILE is reported before dialling anything.
        let dialer = tls.dialer(secure);
        let connected = Arc::clone(&connected);
        let first_failure = first_failure.clone();
        async move {
            let dialed = match dialer {
                Ok(dialer) => crate::net::dial(&dialer, &host, port, secure).await,
                Err(e) => Err(e),
            };
            match dialed {
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
    let events = EventSource::new(&args.url, dial, config).map_err(|e| bad_url(&args.url, e))?;
    print_events(events, args.json, first_failures).await
}

/// The line for a stream that cannot even start.
fn bad_url(url: &str, e: tidings_io::sse::Error) -> Failure {
    match e {
        tidings_io::sse::Error::LocalSse(tidings_sse::LocalError::InvalidUrl(e)) => {
            format!("bad URL {url:?}: {e}")
        }
        e => e.to_string(),
    }
}

/// Prints `events` until they end, Ctrl-C, stdout closes, or a line comes from
/// `first_failures` (a first connection that failed).
async fn print_events(
    mut events: impl futures_util::Stream<Item = Result<Event, tidings_io::sse::Error>> + Unpin,
    json: bool,
    mut first_failures: mpsc::Receiver<String>,
) -> Result<(), Failure> {
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let stdout_closed = crate::stdout_closed();
    tokio::pin!(stdout_closed);
    loop {
        tokio::select! {
            event = events.next() => match event {
                None => return Ok(()),
                Some(Ok(Event::Message(event))) => match print_event(&event, json) {
                    Ok(()) => {}
                    Err(OutputError::Closed) => return Ok(()),
                    Err(e) => return Err(e.into()),
                },
                Some(Ok(Event::Warning(warning))) => log!("warning: {warning}"),
                // A closed or refused connection is the dialer's to report.
                Some(Ok(Event::Error { cause, .. })) if cause != Cause::Disconnected => {
                    log!("{cause} (retrying)");
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(format!("event stream failed: {e}")),
            },
            Some(line) = first_failures.recv() => return Err(line),
            _ = &mut ctrl_c => return Ok(()),
            () = &mut stdout_closed => return Ok(()),
        }
    }
}

/// Writes one event to stdout.
fn print_event(event: &MessageEvent, json: bool) -> Result<(), OutputError> {
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
