//! End-to-end benchmarks: tidings-io next to the fastest Rust WebSocket and SSE
//! servers, over real sockets on 127.0.0.1.
//!
//! Micro-benchmarks (`benches/`) time the codecs alone; this binary times what a user
//! runs: a server process on a single-threaded tokio runtime, fed by a load client in
//! another process, so the kernel, the runtime and the binding's buffering all count.
//! Every figure is taken in the same run for every server, and the tables print
//! ratios against the best peer next to the absolute numbers.
//!
//! ```text
//!   tidings-e2e run [--quick]            the driver (this process, its own runtime)
//!     │ spawns, one at a time              │ load client: C connections, masked
//!     ▼                                    │ frames of S bytes, one in flight each
//!   tidings-e2e serve ws <server>  ◄───────┘ (echo, idle, SSE subscribers)
//!   tidings-e2e serve sse <server>
//!   tidings-e2e serve http        tidings-io's http::serve: HTTP/1.1 and h2c
//!                                 (the h2 part, `http2.rs`: SSE and echo, both versions)
//!   tidings-e2e serve node <memory|redis://…>  broker::Node SSE nodes, one or two at
//!                                 once, the driver's own redis-server (`fanout.rs`)
//!     ▲ /proc/PID/stat (CPU) and /proc/PID/status (VmRSS) read around each case
//! ```
//!
//! A server exits when its stdin closes, so a killed driver leaves no server behind.
//! `benches/e2e/run.sh` builds in release and runs `run`; see docs/performance.md, "End-to-end".

mod client;
mod driver;
mod fanout;
mod http2;
mod procfs;
mod servers;
mod stats;

use std::process::ExitCode;

const USAGE: &str = "\
usage:
  tidings-e2e run [--quick] [--repeat N] [--idle N] [--only echo|idle|sse|h2|fanout]
  tidings-e2e serve ws  <tidings|tungstenite|fastwebsockets|tokio-websockets>
  tidings-e2e serve sse <tidings|axum>
  tidings-e2e serve http                (tidings-io http::serve: HTTP/1.1 and h2c)
  tidings-e2e serve sse-writer          (tidings-io SseWriter on raw HTTP/1.1)
  tidings-e2e serve node <memory|redis://HOST:PORT>   (broker::Node, SSE; the fanout part)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["serve", "ws", name] => match servers::WsServer::from_name(name) {
            Some(server) => servers::serve_ws(server),
            None => Err(format!("unknown WebSocket server {name:?}\n{USAGE}")),
        },
        ["serve", "sse", name] => match servers::SseServer::from_name(name) {
            Some(server) => servers::serve_sse(server),
            None => Err(format!("unknown SSE server {name:?}\n{USAGE}")),
        },
        ["serve", "http"] => servers::serve_http(),
        ["serve", "sse-writer"] => servers::serve_sse_writer(),
        ["serve", "node", target] => fanout::serve_node(target),
        ["run", rest @ ..] => driver::Options::parse(rest).and_then(driver::run),
        _ => Err(USAGE.to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("tidings-e2e: {message}");
            ExitCode::FAILURE
        }
    }
}
