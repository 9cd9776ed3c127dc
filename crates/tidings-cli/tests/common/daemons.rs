//! Servers from outside Rust that the scale-out tests start on 127.0.0.1, each on
//! a port of its own, killed when the test ends: `redis-server`, `nats-server` (with
//! JetStream) and `haproxy`.
//! Missing programs skip the test loudly (failures under CI): see `programs`.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::programs;

/// A program started by a test, killed when the test ends.
pub(crate) struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A free port on 127.0.0.1: the OS's pick, released for a program to take, and
/// never handed out twice in this process (the OS may give a released port again
/// to the next test running in parallel before the first program took it).
fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// Waits until something listens on `port`.
fn listening(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not listen on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Fails if `daemon` exited (its port was taken: what listens is not it).
fn alive(daemon: &mut Daemon, what: &str) {
    std::thread::sleep(Duration::from_millis(50));
    let exited = daemon.0.try_wait().expect("try_wait");
    assert!(exited.is_none(), "{what} exited: {exited:?}");
}

/// `redis-server` without persistence, and its URL; `None`: skipped.
pub(crate) fn redis(test: &str) -> Option<(Daemon, String)> {
    let Some((program, _)) = programs::find(["redis-server"]) else {
        programs::skip(test, "redis-server not found");
        return None;
    };
    // `--port 0` means "no TCP" to Redis: take a free port from the OS.
    let port = free_port();
    let child = Command::new(program)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server starts");
    let mut daemon = Daemon(child);
    listening(port, "redis-server");
    alive(&mut daemon, "redis-server");
    Some((daemon, format!("redis://127.0.0.1:{port}/")))
}

/// `haproxy` in front of `backends`, sending every request to the first one up
/// (health-checked every 100 ms), and its address; `None`: skipped.
pub(crate) fn haproxy(
    test: &str,
    backends: &[SocketAddr],
) -> Option<(Daemon, SocketAddr, tempdir::Dir)> {
    // `haproxy -v`, not `--version`.
    let found = Command::new("haproxy")
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !found {
        programs::skip(test, "haproxy not found");
        return None;
    }
    let program = "haproxy";
    let port = free_port();
    let servers: String = backends
        .iter()
        .enumerate()
        .map(|(i, addr)| format!("  server node{i} {addr} check inter 100ms fall 1 rise 2\n"))
        .collect();
    let config = format!(
        "global\n  maxconn 256\n\
         defaults\n  mode http\n  timeout connect 1s\n  timeout client 30s\n  \
         timeout server 30s\n  timeout tunnel 1h\n  option redispatch\n  retries 3\n\
         frontend web\n  bind 127.0.0.1:{port}\n  default_backend nodes\n\
         backend nodes\n  balance first\n{servers}"
    );
    let dir = tempdir::Dir::new(&format!("haproxy-{port}"));
    let path = dir.0.join("haproxy.cfg");
    std::fs::write(&path, config).expect("write haproxy.cfg");
    let child = Command::new(program)
        .arg("-f")
        .arg(&path)
        .arg("-db") // foreground
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("haproxy starts");
    let mut daemon = Daemon(child);
    listening(port, "haproxy");
    alive(&mut daemon, "haproxy");
    Some((daemon, SocketAddr::from(([127, 0, 0, 1], port)), dir))
}

mod tempdir {
    /// A directory of its own, removed on drop.
    pub(crate) struct Dir(pub(crate) std::path::PathBuf);

    impl Dir {
        pub(crate) fn new(name: &str) -> Self {
            let path = std::env::temp_dir().join(format!("tidings-{name}-{}", std::process::id()));
            std::fs::create_dir_all(&path).expect("a temporary directory");
            Self(path)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// `nats-server -js`, its store in a directory of its own, and its URL; `None`:
/// skipped.
pub(crate) fn nats(test: &str) -> Option<(Daemon, String, tempdir::Dir)> {
    let Some((program, _)) = programs::find(["nats-server"]) else {
        programs::skip(test, "nats-server not found");
        return None;
    };
    let port = free_port();
    let store = tempdir::Dir::new(&format!("nats-{port}"));
    let child = Command::new(program)
        .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
        .arg(&store.0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nats-server starts");
    let mut daemon = Daemon(child);
    listening(port, "nats-server");
    alive(&mut daemon, "nats-server");
    Some((daemon, format!("nats://127.0.0.1:{port}"), store))
}
