#!/usr/bin/env bash
# Runs the Autobahn|Testsuite against tidings as a WebSocket server (the blocking echo
# example), strict, and compares every case with server-expected.txt.
#
#   conformance/autobahn/run-server.sh [--update]
#
# Needs ../shared/autobahn beside the repository (its install.sh is run if wstest is
# missing). --update rewrites server-expected.txt from this run instead of comparing.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SHARED=${TIDINGS_SHARED:-$ROOT/../shared}/autobahn
PORT=${AUTOBAHN_PORT:-19001}
REPORTS=$(mktemp -d /tmp/tidings-autobahn-server.XXXXXX)
[[ -x ${AUTOBAHN_HOME:-/opt/autobahn}/bin/wstest ]] || bash "$SHARED/install.sh"

read -r AGENT CASES EXCLUDE < <(python3 - "$HERE/fuzzingclient.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
print(c["agent"], ",".join(c["cases"]), ",".join(c["exclude-cases"]))
PY
)

cargo build --release --locked -p tidings-ws --example echo_blocking
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
"$target_dir/release/examples/echo_blocking" "127.0.0.1:$PORT" > "$REPORTS/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT

start=$SECONDS
rc=0
AUTOBAHN_REPORTS=$REPORTS AUTOBAHN_TIMEOUT=${AUTOBAHN_TIMEOUT:-900} \
  bash "$SHARED/test-server.sh" "127.0.0.1:$PORT" "$AGENT" "$CASES" "$EXCLUDE" || rc=$?
echo "autobahn (server role): ${SECONDS}s wall, summary exit $rc"
kill -0 $server 2>/dev/null || { echo "the echo server died during the run" >&2; exit 1; }

# One line per case: id, behavior, close behavior.
python3 - "$REPORTS/index.json" "$AGENT" > "$REPORTS/results.txt" <<'PY'
import json, sys
cases = json.load(open(sys.argv[1]))[sys.argv[2]]
key = lambda c: tuple(int(p) for p in c.split("."))
for case in sorted(cases, key=key):
    r = cases[case]
    print(f"{case} {r['behavior']} {r['behaviorClose']}")
PY

if [[ ${1:-} == --update ]]; then
  cp "$REPORTS/results.txt" "$HERE/server-expected.txt"
  echo "updated $HERE/server-expected.txt"
elif ! diff -u "$HERE/server-expected.txt" "$REPORTS/results.txt"; then
  echo "autobahn (server role): results differ from conformance/autobahn/server-expected.txt (reports: $REPORTS)" >&2
  exit 1
fi
exit "$rc"
