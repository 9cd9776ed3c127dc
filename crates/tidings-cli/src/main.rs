//! `tidings`: the command-line face of the tidings crates.
//!
//! ```text
//! tidings demo  --addr 127.0.0.1:8080   a page showing WebSocket and SSE side by side
//!               [--tls]                 (HTTPS, HTTP/2: one connection for everything)
//! tidings echo  --addr 127.0.0.1:9001   a WebSocket echo server
//! tidings ws    URL                     stdin lines -> messages, messages -> stdout
//! tidings sse   URL                     prints Server-Sent Events, reconnecting
//! tidings pub   --redis URL TOPIC [MSG]  publishes to a topic shared through Redis
//! tidings sub   --redis URL TOPIC        prints a topic's events, resuming --since
//! ```
//!
//! Everything here is glue over `tidings-io`: the protocols live in the sans-IO
//! crates. Every failure ends as one line on stderr (`tidings: ...`) and a non-zero
//! exit code, never a panic: `main` returns an [`ExitCode`].
#![forbid(unsafe_code)]

/// `eprintln!` that cannot panic: a log line to a closed stderr is dropped.
macro_rules! log {
    ($($arg:tt)*) => {
        $crate::log_line(format_args!($($arg)*))
    };
}

mod demo;
mod demo_tls;
mod echo;
mod header;
mod net;
mod pubsub;
mod sse;
mod tls;
mod ws;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// WebSocket and Server-Sent Events from the command line.
#[derive(Debug, Parser)]
#[command(
    name = "tidings",
    version,
    propagate_version = true,
    after_help = "Exit status: 0 on success (a clean close, the end of a stream, a reader of \
                  stdout that went away as `| head` does), 1 on a failure (explained in one line \
                  on stderr), 2 on bad usage."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve a page that shows WebSocket and SSE side by side, live.
    Demo(demo::Args),
    /// Run a WebSocket echo server (text and binary messages come back as sent).
    Echo(echo::Args),
    /// Talk to a WebSocket server: stdin lines become messages, messages go to stdout.
    Ws(ws::Args),
    /// Print the events of a Server-Sent Events stream, reconnecting with Last-Event-ID.
    Sse(sse::Args),
    /// Publish messages (arguments or stdin lines) to a topic shared through Redis.
    Pub(pubsub::PubArgs),
    /// Print a topic's events as JSON lines, resuming after a position.
    Sub(pubsub::SubArgs),
}

/// What ends a command: one line for the user.
pub(crate) type Failure = String;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(&format!("cannot start the runtime: {e}")),
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Demo(args) => demo::run(args).await,
            Command::Echo(args) => echo::run(args).await,
            Command::Ws(args) => ws::run(args).await,
            Command::Sse(args) => sse::run(args).await,
            Command::Pub(args) => pubsub::publish(args).await,
            Command::Sub(args) => pubsub::subscribe(args).await,
        }
    });
    // Tasks still serving connections must not hold the exit.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(&message),
    }
}

/// Prints `message` as the one line of a failure.
fn fail(message: &str) -> ExitCode {
    // One line, whatever the error's Display put in it.
    let line = message.replace(['\r', '\n'], " ");
    log!("tidings: {line}");
    ExitCode::FAILURE
}

/// Writes one line to stderr, ignoring failures (see `log!`).
pub(crate) fn log_line(line: std::fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// Why a line did not reach stdout.
#[derive(Debug)]
pub(crate) enum OutputError {
    /// Nobody reads stdout any more (`EPIPE`: `tidings sse URL | head -1` after its
    /// line). Not a failure: the clients end quietly, with status 0.
    Closed,
    /// Any other write error (a full disk...): a failure.
    Failed(std::io::Error),
}

impl From<OutputError> for Failure {
    fn from(e: OutputError) -> Self {
        match e {
            OutputError::Closed => "cannot write to stdout: it is closed".to_owned(),
            OutputError::Failed(e) => format!("cannot write to stdout: {e}"),
        }
    }
}

/// Writes one line to stdout and flushes it. A closed stdout is
/// [`OutputError::Closed`], for the caller to end quietly, instead of the panic of
/// `println!`.
pub(crate) fn output(line: &str) -> Result<(), OutputError> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")
        .and_then(|()| stdout.flush())
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::BrokenPipe => OutputError::Closed,
            _ => OutputError::Failed(e),
        })
}

/// Resolves once nobody can read stdout any more: it is a pipe whose reading end
/// is closed (`| head -1` has its line). Without this a client that prints seldom
/// would notice only at its next line, which may never come. Where stdout is not a
/// pipe (a terminal, a file), or not on Unix, it never resolves, and a failed write
/// ([`OutputError::Closed`]) is what ends the command.
pub(crate) async fn stdout_closed() {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        use std::os::unix::fs::FileTypeExt;
        use tokio::io::Interest;
        use tokio::net::unix::pipe;
        // A copy of the descriptor, registered with the reactor to be watched only:
        // nothing is written through it, so its blocking mode (shared with stdout)
        // is left alone. The writing end of a pipe reports an error (`EPOLLERR`)
        // once no reader is left.
        let watched = std::io::stdout()
            .as_fd()
            .try_clone_to_owned()
            .map(std::fs::File::from)
            .ok()
            .filter(|file| file.metadata().is_ok_and(|m| m.file_type().is_fifo()))
            .and_then(|file| pipe::Sender::from_file_unchecked(file).ok());
        if let Some(pipe) = watched {
            if pipe.ready(Interest::ERROR).await.is_ok() {
                return;
            }
        }
    }
    std::future::pending::<()>().await;
}
