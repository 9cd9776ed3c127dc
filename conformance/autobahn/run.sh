#!/usr/bin/env bash
# Runs the Autobahn|Testsuite against tidings, strict, in both roles and on both
# stacks, and compares every case with the committed results.
#
#   conformance/autobahn/run.sh [server|client|all] [blocking|async|both] [--update]
#
# server: wstest's fuzzing client (config fuzzingclient.json) against an echo server:
#         tidings-ws's examples/echo_blocking (the sans-IO core on std::net) and
#         tidings-io's examples/autobahn_server (tokio);
# client: wstest's fuzzing server (config fuzzingserver.json) against a client
#         driver: examples/autobahn_client_blocking and examples/autobahn_client.
# Both stacks are held to the same expected results, ROLE-expected.txt; a stack whose
# results differ on purpose would get its own ROLE-STACK-expected.txt, which wins
# when present. Sections 12 and 13 (permessage-deflate, about ten minutes per role:
# wstest compresses in Python) run on the stacks in AUTOBAHN_DEFLATE_STACKS (default
# the async one, what tidings-io ships; "blocking async" for both); on the others they
# are excluded and left out of the comparison. Both stacks share the same codec.
# Needs ../shared/autobahn beside the repository; its install.sh runs
# if wstest is missing. --update rewrites the expected results from this run instead
# of comparing. Ports: OS-assigned free ones, or AUTOBAHN_SERVER_PORT /
# AUTOBAHN_CLIENT_PORT.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SHARED=${TIDINGS_SHARED:-$ROOT/../shared}/autobahn
ROLES=all STACKS=both UPDATE=
for arg in "$@"; do
  case $arg in
    server | client | all) ROLES=$arg ;;
    blocking | async | both) STACKS=$arg ;;
    --update) UPDATE=$arg ;;
    *) echo "usage: $0 [server|client|all] [blocking|async|both] [--update]" >&2; exit 2 ;;
  esac
done
[[ $ROLES == all ]] && ROLES="server client"
[[ $STACKS == both ]] && STACKS="blocking async"
[[ -x ${AUTOBAHN_HOME:-/opt/autobahn}/bin/wstest ]] || bash "$SHARED/install.sh"

cd "$ROOT"
DEFLATE_STACKS=${AUTOBAHN_DEFLATE_STACKS:-async}
cargo build --release --locked -p tidings-ws --features deflate \
  --example echo_blocking --example autobahn_client_blocking
cargo build --release --locked -p tidings-io --features deflate \
  --example autobahn_server --example autobahn_client
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

# A free loopback port, chosen by the OS.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Reduces a report to one line per case and compares it with the expected file.
check() { # ROLE STACK REPORTS AGENT
  python3 - "$3/index.json" "$4" > "$3/results.txt" <<'PY'
import json, sys
cases = json.load(open(sys.argv[1]))[sys.argv[2]]
for case in sorted(cases, key=lambda c: tuple(int(p) for p in c.split("."))):
    print(case, cases[case]["behavior"], cases[case]["behaviorClose"])
PY
  local expected=$HERE/$1-$2-expected.txt
  [[ -f $expected ]] || expected=$HERE/$1-expected.txt
  local compare=$expected
  if ! deflate_on "$2"; then
    # Sections 12 and 13 did not run on this stack: compare the rest.
    compare=$3/expected-without-deflate.txt
    grep -Ev '^1[23]\.' "$expected" > "$compare" || true
  fi
  if [[ $UPDATE == --update ]]; then
    if deflate_on "$2"; then
      cp "$3/results.txt" "$expected" && echo "updated $expected"
    else
      echo "not updating $expected from a run without sections 12 and 13" >&2
    fi
  elif ! diff -u "$compare" "$3/results.txt"; then
    echo "autobahn ($1 role, $2 stack): results differ from $expected (reports in $3)" >&2
    return 1
  fi
  # Strict, whatever was committed: every behaviour OK or INFORMATIONAL.
  if grep -Ev ' (OK|INFORMATIONAL) (OK|INFORMATIONAL)$' "$3/results.txt"; then
    echo "autobahn ($1 role, $2 stack): the cases above are not strict passes" >&2
    return 1
  fi
  echo "autobahn ($1 role, $2 stack): $(wc -l < "$3/results.txt") cases, as expected"
}

# Whether sections 12 and 13 run on STACK.
deflate_on() { [[ " $DEFLATE_STACKS " == *" $1 "* ]]; }

# One role on one stack: runs the suite, then checks the results. Prints everything;
# returns non-zero on any failure.
run_one() { # STACK ROLE
  local stack=$1 role=$2 reports start rc=0 server_bin client_bin agent cases exclude port server
  reports=$(mktemp -d "/tmp/tidings-autobahn-$role-$stack.XXXXXX")
  start=$SECONDS
  case $stack in
    blocking) server_bin=echo_blocking client_bin=autobahn_client_blocking ;;
    async) server_bin=autobahn_server client_bin=autobahn_client ;;
  esac
  case $role in
    server)
      read -r agent cases exclude < <(config "$HERE/fuzzingclient.json")
      deflate_on "$stack" || exclude=${exclude:+$exclude,}12.*,13.*
      port=${AUTOBAHN_SERVER_PORT:-$(free_port)}
      "$EXAMPLES/$server_bin" "127.0.0.1:$port" > "$reports/server.log" 2>&1 &
      server=$!
      AUTOBAHN_REPORTS=$reports AUTOBAHN_TIMEOUT=${AUTOBAHN_TIMEOUT:-1800} \
        bash "$SHARED/test-server.sh" "127.0.0.1:$port" "$agent" "$cases" "$exclude" || rc=$?
      kill -0 $server 2>/dev/null || { echo "the echo server died during the run" >&2; rc=1; }
      kill $server 2>/dev/null || true
      wait $server 2>/dev/null || true
      ;;
    client)
      read -r agent cases exclude < <(config "$HERE/fuzzingserver.json")
      deflate_on "$stack" || exclude=${exclude:+$exclude,}12.*,13.*
      AUTOBAHN_REPORTS=$reports AUTOBAHN_CASES=$cases AUTOBAHN_EXCLUDE=$exclude \
        AUTOBAHN_TIMEOUT=${AUTOBAHN_TIMEOUT:-1800} \
        bash "$SHARED/test-client.sh" "${AUTOBAHN_CLIENT_PORT:-$(free_port)}" "$agent" \
        "$EXAMPLES/$client_bin" || rc=$?
      ;;
    *) echo "unknown role '$role'" >&2; return 2 ;;
  esac
  echo "autobahn ($role role, $stack stack): $((SECONDS - start)) s wall, summary exit $rc"
  check "$role" "$stack" "$reports" "$agent" || rc=1
  return $rc
}

# The roles of a stack run side by side (wstest is one single-threaded process per
# role, so two of them fill two cores); their output is printed when both are done.
status=0
for stack in $STACKS; do
  pids=() logs=()
  for role in $ROLES; do
    log=$(mktemp "/tmp/tidings-autobahn-$role-$stack.log.XXXXXX")
    run_one "$stack" "$role" > "$log" 2>&1 &
    pids+=($!) logs+=("$log")
  done
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || status=1
    cat "${logs[$i]}"
  done
done
exit $status
