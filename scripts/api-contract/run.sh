#!/usr/bin/env bash
# The API contract run: starts Rapport on a fresh SQLite database, signs in as an
# administrator and runs schemathesis (every check, a bounded number of examples per
# operation) against /api/openapi.json. Fails on any server error, any response the document
# does not describe, any schema-valid request refused for its shape and any invalid one
# accepted. The other direction (every served route documented) is the Rust test
# `contract::every_served_route_is_documented`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${RAPPORT_BIN:-$root/target/debug/rapport}"
dir="$(mktemp -d)"
log="$dir/server.log"
cleanup() {
  [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
export RAPPORT_DATA_DIR="$dir" RAPPORT_LOG=warn
password="correct horse battery staple"
(cd "$dir" && "$bin" user create --email admin@example.com --password "$password" --role administrator >/dev/null 2>&1)
(cd "$dir" && exec "$bin" serve --listen 127.0.0.1:0 >"$log" 2>&1) &
pid=$!
base=""
for _ in $(seq 1 300); do
  base="$(grep -o 'listening on http[^ ]*' "$log" | head -1 | sed 's/listening on //')" || true
  [ -n "$base" ] && break
  sleep 0.1
done
[ -n "$base" ] || { echo "server did not start:"; cat "$log"; exit 1; }
token="$(curl -sf -X POST "$base/api/v1/auth/login" -H 'content-type: application/json' \
  -d "{\"email\":\"admin@example.com\",\"password\":\"$password\"}" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')"
cd "$here"
SCHEMATHESIS_HOOKS="$here/hooks.py" st --config-file "$here/schemathesis.toml" run \
  "$base/api/openapi.json" -H "Authorization: Bearer $token" \
  --checks all --exclude-checks positive_data_acceptance \
  --report junit --report-dir "$dir/report" "$@"
