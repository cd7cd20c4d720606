#!/usr/bin/env bash
# Import ROWS (default 1000000) generated contacts into an empty SQLite database through the
# import API (the CSV of bench/data_io.sh; matching on email, duplicate rules on) and print
# rows/s, the server's CPU seconds and its peak RSS. The issue's import case (#6; ADR 0020).
#   bash bench/import.sh [ROWS] [BIN]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
BIN=${2:-target/release/rapport}
W=$(mktemp -d /tmp/rapport-import-XXXX)
export RAPPORT_DATA_DIR="$W" RAPPORT_LOG=warn RAPPORT_DATABASE_URL="sqlite://$W/rapport.db"
"$BIN" user create --email bench@example.com --password "benchmark password 1" --role administrator >/dev/null
"$BIN" serve --listen 127.0.0.1:18080 > "$W/serve.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; rm -rf "$W"' EXIT
for _ in $(seq 100); do curl -sf http://127.0.0.1:18080/readyz >/dev/null && break; sleep 0.2; done
API=http://127.0.0.1:18080/api/v1
TOKEN=$(curl -sf -X POST "$API/auth/login" -H 'content-type: application/json' \
  -d '{"email":"bench@example.com","password":"benchmark password 1"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
source bench/import_contacts.sh
import_contacts "$N" "$W"
cpu=$(awk '{print int(($14 + $15) / 100)}' /proc/$PID/stat)
echo "import of $N contacts into an empty database: $(( N * 1000 / IMPORT_MS )) rows/s ($IMPORT_MS ms), server CPU ${cpu} s, $(grep VmHWM /proc/$PID/status | tr -s ' \t' ' '), status: $IMPORT_STATUS"
