//! `tidings`: the command-line face of the tidings crates.
//!
//! ```text
//! tidings demo  --addr 127.0.0.1:8080   a page showing WebSocket and SSE side by side
//! tidings echo  --addr 127.0.0.1:9001   a WebSocket echo server
//! tidings ws    URL                     stdin lines -> messages, messages -> stdout
//! tidings sse   URL                     prints Server-Sent Events, reconnecting
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
mod echo;
mod net;
mod sse;
mod ws;

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// WebSocket and Server-Sent Events from the command line.
#[derive(Debug, Parser)]
#[command(
    name = "tidings",
    version,
    propagate_version = true,
    after_help = "Exit status: 0 on success (a clean close, the end of a stream), 1 on a failure \
                  (explained in one line on stderr), 2 on bad usage."
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
    Echo(EchoArgs),
    /// Talk to a WebSocket server: stdin lines become messages, messages go to stdout.
    Ws(ws::Args),
    /// Print the events of a Server-Sent Events stream, reconnecting with Last-Event-ID.
    Sse(sse::Args),
}

/// Options of `tidings echo`.
#[derive(Debug, clap::Args)]
struct EchoArgs {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:9001")]
    addr: SocketAddr,
    /// Accept permessage-deflate (RFC 7692) compression when a client offers it.
    #[arg(long)]
    deflate: bool,
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
            Command::Echo(args) => echo::run(args.addr, args.deflate).await,
            Command::Ws(args) => ws::run(args).await,
            Command::Sse(args) => sse::run(args).await,
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

/// Writes one line to stdout. A closed stdout (`tidings sse URL | head -1`) ends the
/// command instead of panicking as `println!` would.
pub(crate) fn output(line: &str) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")
        .and_then(|()| stdout.flush())
        .map_err(|e| format!("cannot write to stdout: {e}"))
}
