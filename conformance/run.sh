#!/usr/bin/env bash
# Reruns every outside judge of tidings, as CI does: the Autobahn|Testsuite on both
# stacks in both roles (strict, against the committed results), then the interop
# matrix against Node `ws`, Python `websockets`, npm `eventsource` and a Node SSE
# server. Results and what each part checks: docs/conformance.md.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
status=0
"$HERE/autobahn/run.sh" all || status=1
"$HERE/interop/run.sh" || status=1
exit $status
