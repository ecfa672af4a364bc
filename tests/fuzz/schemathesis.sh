#!/usr/bin/env bash
# Schemathesis over the four OpenAPI documents in spec/, each against a real `lrs serve`.
#
# Run by hand, never in CI (pytest does not collect tests/fuzz):
#
#     tests/fuzz/schemathesis.sh [SEED] [MAX_EXAMPLES]      # defaults: 20261203 50
#
# FUZZ_DOCS="openapi ..." picks documents (default: all four); FUZZ_OUT the output directory.
#
# Needs schemathesis (the `fuzz` extra; it pins jsonschema-rs<0.61, which the server cannot use,
# so install it in a venv of its own and set SCHEMATHESIS=/that/venv/bin/schemathesis) and the
# project importable by `python` (its venv active). For each document it starts
# `lrs serve` on a free port of 127.0.0.1 with a fresh data directory holding an xAPI `all`
# Basic credential and a marketplace client with the `admin` scope, runs
#     schemathesis run spec/DOC --url BASE --checks all --seed SEED --max-examples N --workers 1
# with the credential that document's endpoints take (xAPI and SCORM: Basic; marketplace: a
# bearer token of the admin client; LTI: none, so its AGS endpoints are fuzzed unauthenticated),
# and then counts the requests the server answered and the 5xx among them from its access log.
# tests/fuzz/hooks.py (loaded through SCHEMATHESIS_HOOKS) drops the known false positives: each
# for one check, on the operations it concerns, for the requests that show it, with the reason.
# The failed-login limits of the marketplace token endpoint are turned off for the run (the
# fuzzer sends hundreds of bad credentials from one address). Output: fuzz-out/ (the
# schemathesis output and the server log per document) and one summary line per document.
set -u
cd "$(dirname "$0")/../.."
SEED="${1:-20261203}"
EXAMPLES="${2:-50}"
SCHEMATHESIS="${SCHEMATHESIS:-schemathesis}"
OUT="${FUZZ_OUT:-fuzz-out}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
spec="$PWD/spec"
hooks="$PWD/tests/fuzz/hooks.py"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export LRS_HRIS_HOME_PAGE="https://hris.example.com"
export LRS_MARKETPLACE_TOKEN_FAILURES_PER_CLIENT=0 LRS_MARKETPLACE_TOKEN_FAILURES_PER_ADDRESS=0

free_port() { python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
json_field() { python -c "import json,sys; print(json.load(sys.stdin)[\"$1\"])"; }

for doc in ${FUZZ_DOCS:-openapi scorm-openapi lti-openapi marketplace-openapi}; do
  data="$(mktemp -d)"
  export LRS_DATA_DIR="$data"
  xapi="$(python -m lrs.cli credentials create --name fuzz --scopes all --json 2>/dev/null)"
  key="$(echo "$xapi" | json_field key)"
  secret="$(echo "$xapi" | json_field secret)"
  client="$(python -m lrs.cli marketplace clients create --name fuzz --scopes admin --json 2>/dev/null)"
  client_id="$(echo "$client" | json_field client_id)"
  client_secret="$(echo "$client" | json_field client_secret)"
  port="$(free_port)"
  base="http://127.0.0.1:$port"
  LRS_LOG_LEVEL=INFO python -m lrs.cli serve --port "$port" > "$OUT/$doc.server.log" 2>&1 &
  server=$!
  for _ in $(seq 100); do curl -sf "$base/health" > /dev/null && break; sleep 0.2; done
  case "$doc" in
    openapi|scorm-openapi) auth=(--auth "$key:$secret") ;;
    marketplace-openapi)
      token="$(curl -sf -u "$client_id:$client_secret" -d grant_type=client_credentials \
        "$base/marketplace/v1/oauth/token" | json_field access_token)"
      auth=(-H "Authorization: Bearer $token") ;;
    *) auth=() ;;
  esac
  # run from $OUT: schemathesis and hypothesis leave their caches in the working directory
  (cd "$OUT" && SCHEMATHESIS_HOOKS="$hooks" "$SCHEMATHESIS" --no-color run "$spec/$doc.json" --url "$base" --checks all \
    --seed "$SEED" --max-examples "$EXAMPLES" --workers 1 "${auth[@]}" > "$doc.schemathesis.txt" 2>&1)
  status=$?
  kill "$server"; wait "$server" 2> /dev/null
  requests="$(grep -c 'aiohttp.access' "$OUT/$doc.server.log")"
  errors="$(grep 'aiohttp.access' "$OUT/$doc.server.log" | grep -cE '" 5[0-9][0-9] ')"
  echo "$doc: schemathesis exit $status, $requests requests answered, $errors 5xx (seed $SEED, max-examples $EXAMPLES)"
  rm -rf "$data"
done
