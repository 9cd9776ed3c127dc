#!/usr/bin/env bash
# Runs the Autobahn|Testsuite against tidings, strict, and compares every case with the
# committed results.
#
#   conformance/autobahn/run.sh [server|client|all] [--update]
#
# server: wstest's fuzzing client against examples/echo_blocking (config
#         fuzzingclient.json, results server-expected.txt);
# client: wstest's fuzzing server against examples/autobahn_client_blocking (config
#         fuzzingserver.json, results client-expected.txt).
# Needs ../shared/autobahn beside the repository; its install.sh runs if wstest is
# missing. --update rewrites the expected results from this run instead of comparing.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SHARED=${TIDINGS_SHARED:-$ROOT/../shared}/autobahn
ROLES=${1:-all}
UPDATE=${2:-}
[[ $ROLES == all ]] && ROLES="server client"
[[ -x ${AUTOBAHN_HOME:-/opt/autobahn}/bin/wstest ]] || bash "$SHARED/install.sh"

cd "$ROOT"
cargo build --release --locked -p tidings-ws --example echo_blocking --example autobahn_client_blocking
EXAMPLES=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/examples

# Prints "AGENT CASES EXCLUDE" from a config file.
config() {
  python3 - "$1" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
print(c["agent"], ",".join(c["cases"]), ",".join(c["exclude-cases"]))
PY
}

# Reduces a report to one line per case and compares it with the expected file.
check() { # ROLE REPORTS AGENT
  python3 - "$2/index.json" "$3" > "$2/results.txt" <<'PY'
import json, sys
cases = json.load(open(sys.argv[1]))[sys.argv[2]]
for case in sorted(cases, key=lambda c: tuple(int(p) for p in c.split("."))):
    print(case, cases[case]["behavior"], cases[case]["behaviorClose"])
PY
  local expected=$HERE/$1-expected.txt
  if [[ $UPDATE == --update ]]; then
    cp "$2/results.txt" "$expected" && echo "updated $expected"
  elif ! diff -u "$expected" "$2/results.txt"; then
    echo "autobahn ($1 role): results differ from $expected (reports in $2)" >&2
    return 1
  fi
}

status=0
for role in $ROLES; do
  reports=$(mktemp -d "/tmp/tidings-autobahn-$role.XXXXXX")
  start=$SECONDS rc=0
  case $role in
    server)
      read -r agent cases exclude < <(config "$HERE/fuzzingclient.json")
      port=${AUTOBAHN_SERVER_PORT:-19001}
      "$EXAMPLES/echo_blocking" "127.0.0.1:$port" > "$reports/server.log" 2>&1 &
      server=$!
      AUTOBAHN_REPORTS=$reports AUTOBAHN_TIMEOUT=${AUTOBAHN_TIMEOUT:-900} \
        bash "$SHARED/test-server.sh" "127.0.0.1:$port" "$agent" "$cases" "$exclude" || rc=$?
      kill -0 $server 2>/dev/null || { echo "the echo server died during the run" >&2; rc=1; }
      kill $server 2>/dev/null || true
      ;;
    client)
      read -r agent cases exclude < <(config "$HERE/fuzzingserver.json")
      AUTOBAHN_REPORTS=$reports AUTOBAHN_CASES=$cases AUTOBAHN_EXCLUDE=$exclude \
        AUTOBAHN_TIMEOUT=${AUTOBAHN_TIMEOUT:-900} \
        bash "$SHARED/test-client.sh" "${AUTOBAHN_CLIENT_PORT:-19002}" "$agent" \
        "$EXAMPLES/autobahn_client_blocking" || rc=$?
      ;;
    *) echo "unknown role '$role'" >&2; exit 2 ;;
  esac
  echo "autobahn ($role role): $((SECONDS - start)) s wall, summary exit $rc"
  check "$role" "$reports" "$agent" || rc=1
  ((rc == 0)) || status=1
done
exit $status
