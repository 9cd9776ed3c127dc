#!/usr/bin/env bash
# End-to-end benchmarks of tidings-io next to tokio-tungstenite, fastwebsockets,
# tokio-websockets (WebSocket echo, idle memory) and axum (SSE fan-out),
# tidings-io's HTTP/2 against its HTTP/1.1 on one `http::serve` listener (h2), and
# `broker::Node` fan-out to 10,000 SSE subscribers on one or two node processes, in
# memory and on Redis (fanout; it starts its own redis-server, and skips the Redis
# rows, saying so, without one).
#
#   benches/e2e/run.sh [--quick] [--repeat N] [--only echo|idle|sse|h2|fanout] [--idle N]
#
# Builds the `tidings-e2e` binary in release and runs it; it prints Markdown tables
# (docs/performance.md, "End-to-end" holds a full run). Loopback only; every server is a child
# process that exits when the driver does, the whole run is under `timeout`, and the
# trap below kills whatever is left. --quick is the CI smoke run: tiny counts and
# windows, about 15 s after the build.
set -euo pipefail
cd "$(dirname "$0")/../.."

QUICK=0
ARGS=()
IDLE=10000
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1; IDLE=200; ARGS+=("$1") ;;
    --idle) IDLE="$2"; shift ;;
    *) ARGS+=("$1") ;;
  esac
  shift
done

# 10,000 idle connections (and 10,000 fan-out subscribers) need as many
# descriptors in the driver (client side) and in the server: raise the soft limit
# as far as the hard one allows. (The fan-out part checks it again and cuts its
# subscribers, with a warning in its output, if it is too low.)
HARD=$(ulimit -Hn)
if [ "$HARD" = unlimited ] || [ "$HARD" -gt 1048576 ]; then HARD=1048576; fi
ulimit -n "$HARD" 2>/dev/null || true
LIMIT=$(ulimit -n)
if [ "$LIMIT" -lt $((IDLE + 256)) ]; then
  echo "note: open-file limit $LIMIT; idle connections cut from $IDLE to $((LIMIT - 256))" >&2
  IDLE=$((LIMIT - 256))
fi

export CARGO_TERM_COLOR=never
cargo build --release --locked -p tidings-e2e
BIN="${CARGO_TARGET_DIR:-target}/release/tidings-e2e"

# The driver starts the servers as its children; if it dies, their stdin closes and
# they exit. The trap is the second belt: it kills the process group's stragglers.
cleanup() { pkill -P $$ 2>/dev/null || true; }
trap cleanup EXIT INT TERM

if [ "$QUICK" = 1 ]; then BUDGET=120; else BUDGET=1200; fi
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "command: benches/e2e/run.sh ${ARGS[*]:-} (open-file limit $LIMIT)"
timeout --kill-after=10 "$BUDGET" "$BIN" run --idle "$IDLE" "${ARGS[@]}"
