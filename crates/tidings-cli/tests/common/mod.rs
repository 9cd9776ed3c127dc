//! What the tests share: the `tidings` binary as a child process that is killed when
//! the test ends, however it ends; and, in `programs`, finding the programs from
//! outside Rust a test needs, or skipping it.

// Each test binary uses its own part of this module.
#![allow(dead_code)]

pub(crate) mod daemons;
pub(crate) mod programs;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// The binary under test, built by cargo for these tests.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_tidings");
/// Generous: the machine running the tests may be loaded.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(30);

/// A child process killed when the test ends, however it ends.
pub(crate) struct Running {
    pub(crate) child: Child,
    pub(crate) stdin: Option<std::process::ChildStdin>,
    stdout: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    /// Spawns `tidings args` with piped stdin, stdout and stderr.
    pub(crate) fn start(args: &[&str]) -> Self {
        let mut child = Command::new(BIN)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn tidings");
        let stdin = child.stdin.take();
        let stdout = lines(child.stdout.take().expect("stdout"));
        let stderr = lines(child.stderr.take().expect("stderr"));
        Self {
            child,
            stdin,
            stdout,
            stderr,
        }
    }

    /// The next line the child printed, waiting at most [`TIMEOUT`].
    pub(crate) fn line(&self) -> String {
        self.stdout
            .recv_timeout(TIMEOUT)
            .expect("a line on stdout in time")
    }

    /// The next line the child logged on stderr that contains `needle`, waiting at
    /// most [`TIMEOUT`]; the lines before it are passed over.
    pub(crate) fn log_line(&self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + TIMEOUT;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(line) => seen.push(line),
                Err(_) => panic!("no line with {needle:?} on stderr in time; saw {seen:?}"),
            }
        }
    }
}

/// The lines read from `from` by a thread of their own, on a channel.
fn lines(from: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(from).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Starts a server with `--addr 127.0.0.1:0` and returns it with its address, read
/// from the URL it prints on start.
pub(crate) fn server(command: &str, extra: &[&str]) -> (Running, SocketAddr) {
    let mut args = vec![command, "--addr", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let running = Running::start(&args);
    let banner = running.line();
    let start = banner.find("://").expect("a URL in the banner") + 3;
    let addr = banner[start..]
        .split('/')
        .next()
        .and_then(|addr| addr.parse().ok())
        .expect("an address");
    (running, addr)
}
