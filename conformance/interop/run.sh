#!/usr/bin/env bash
# Real peers against tidings-io, in both directions, on loopback:
#
#   conformance/interop/run.sh
#
# WebSocket: Node `ws` and Python `websockets`, each as client against our server and
# as server for our client (text, binary, fragmented, 0 B .. 16 MiB, ping/pong, close
# codes and reasons), without and with permessage-deflate. SSE: npm `eventsource` against our SseWriter, and our
# EventSource against a Node `http` server, both across a forced drop resumed with
# Last-Event-ID. Our side is crates/tidings-io/examples/interop_peer.rs; the peers and
# their protocol are in this directory (README.md).
#
# Installs what it needs: `npm ci` (package-lock.json) into node_modules/, and the
# pinned python/requirements.txt into .venv/ (python3 -m venv). Every server listens
# on 127.0.0.1 with an OS-assigned port; every step is bounded by INTEROP_TIMEOUT
# seconds (default 180); children are killed on exit. Prints a result matrix and
# exits non-zero on any failure. Logs stay in the printed work directory.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
LIMIT=${INTEROP_TIMEOUT:-180}
WORK=$(mktemp -d /tmp/tidings-interop.XXXXXX)
START=$SECONDS

PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for tool in node npm python3 cargo; do
  command -v "$tool" >/dev/null || { echo "interop: $tool is missing" >&2; exit 2; }
done

# --- the peers, pinned
(cd "$HERE" && timeout "$LIMIT" npm ci --no-audit --no-fund --loglevel=error >"$WORK/npm.log" 2>&1) ||
  { cat "$WORK/npm.log" >&2; echo "interop: npm ci failed" >&2; exit 2; }
if [[ ! -x $HERE/.venv/bin/python ]]; then
  python3 -m venv "$HERE/.venv" >"$WORK/venv.log" 2>&1 ||
    { cat "$WORK/venv.log" >&2; echo "interop: python3 -m venv failed (Debian: apt-get install python3-venv)" >&2; exit 2; }
fi
timeout "$LIMIT" "$HERE/.venv/bin/pip" install --quiet --disable-pip-version-check \
  -r "$HERE/python/requirements.txt" >"$WORK/pip.log" 2>&1 ||
  { cat "$WORK/pip.log" >&2; echo "interop: pip install failed" >&2; exit 2; }
PYTHON=$HERE/.venv/bin/python
echo "interop: node $(node --version), ws $(node -p 'require("'"$HERE"'/node_modules/ws/package.json").version'), eventsource $(node -p 'require("'"$HERE"'/node_modules/eventsource/package.json").version'), websockets $("$PYTHON" -c 'import websockets; print(websockets.__version__)') ($((SECONDS - START)) s)"

# --- our side
cd "$ROOT"
cargo build --release --locked -p tidings-io --features deflate --example interop_peer
PEER=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/examples/interop_peer

# start NAME CMD...: runs a server in the background (not in a subshell, so that
# cleanup knows its pid) and sets ADDR to the first line it prints, its address,
# waiting up to 30 s for it.
start() {
  local name=$1 pid
  shift
  timeout -k 5 "$LIMIT" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
  pid=$!
  PIDS+=("$pid")
  for ((i = 0; i < 300; i++)); do
    if [[ -s $WORK/$name.out ]] && ADDR=$(head -n 1 "$WORK/$name.out") && [[ -n $ADDR ]]; then
      return
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "interop: $name did not start (log: $WORK/$name.err)" >&2
  cat "$WORK/$name.err" >&2
  exit 1
}

# run COLUMN CMD...: runs a client; its PASS/FAIL lines go to COLUMN's results.
COLUMNS_RUN=()
run() {
  local column=$1 rc=0 t=$SECONDS
  shift
  timeout -k 5 "$LIMIT" "$@" >"$WORK/$column.results" 2>"$WORK/$column.client.err" || rc=$?
  if ((rc != 0)) && ! grep -q '^FAIL ' "$WORK/$column.results"; then
    echo "FAIL client exited $rc: see $WORK/$column.client.err" >>"$WORK/$column.results"
  fi
  echo "interop: $column: $((SECONDS - t)) s"
  COLUMNS_RUN+=("$column")
}

# Server lines: "PLAIN <url> FRAG <url>" for WebSocket, the URL for SSE.
# The WebSocket matrix runs twice: without compression, then with permessage-deflate
# on both ends (INTEROP_DEFLATE=1; our side fails any connection that did not
# negotiate what the run is about).
for deflate in 0 1; do
  export INTEROP_DEFLATE=$deflate
  tag=$( ((deflate)) && echo " (deflate)" || true)
  start "tidings-ws$deflate" "$PEER" server
  read -r _ plain _ frag <<<"$ADDR"
  run "node ws → tidings$tag" node "$HERE/node/ws_peer.mjs" client "$plain" "$frag"
  run "websockets → tidings$tag" "$PYTHON" "$HERE/python/ws_peer.py" client "$plain" "$frag"

  start "node-ws$deflate" node "$HERE/node/ws_peer.mjs" server
  read -r _ plain _ frag <<<"$ADDR"
  run "tidings → node ws$tag" "$PEER" client "$plain" "$frag"

  start "python-ws$deflate" "$PYTHON" "$HERE/python/ws_peer.py" server
  read -r _ plain _ frag <<<"$ADDR"
  run "tidings → websockets$tag" "$PEER" client "$plain" "$frag"
done
unset INTEROP_DEFLATE

start tidings-sse "$PEER" sse-server
run "eventsource → tidings SSE" node "$HERE/node/sse_client.mjs" "$ADDR" 20

start node-sse node "$HERE/node/sse_server.mjs" 20
run "tidings EventSource → node SSE" "$PEER" sse-client "$ADDR" 20

# --- the matrix
cat >"$WORK/matrix.py" <<'PY'
import sys
work, columns = sys.argv[1], sys.argv[2:]
tables = {"WebSocket": [c for c in columns if "SSE" not in c],
          "Server-Sent Events": [c for c in columns if "SSE" in c]}
results, failures = {}, []
for column in columns:
    for line in open(f"{work}/{column}.results", encoding="utf-8"):
        verdict, _, rest = line.rstrip("\n").partition(" ")
        name, _, why = rest.partition(": ")
        if verdict in ("PASS", "FAIL"):
            results[column, name] = verdict
            if verdict == "FAIL":
                failures.append(f"  {column} / {name}: {why}")
passed = 0
for title, cols in tables.items():
    rows = list(dict.fromkeys(name for (c, name) in results if c in cols))
    width = max([len(title)] + [len(r) for r in rows])
    print(f"\n{title:<{width}}  " + "  ".join(cols))
    for row in rows:
        cells = []
        for c in cols:
            verdict = results.get((c, row))
            if verdict is None:  # a case one client ran and another did not report
                verdict = "MISSING"
                failures.append(f"  {c} / {row}: not reported")
            passed += verdict == "PASS"
            cells.append(f"{verdict:<{len(c)}}")
        print(f"{row:<{width}}  " + "  ".join(cells))
if failures:
    print("\nfailures:")
    print("\n".join(failures))
print(f"\ninterop: {passed} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
PY
status=0
python3 - "$WORK" "${COLUMNS_RUN[@]}" <"$WORK/matrix.py" || status=$?
echo "interop: $((SECONDS - START)) s wall (logs in $WORK)"
exit $status
