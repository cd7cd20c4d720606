#!/usr/bin/env bash
# `make bench`: measure a release build against a demo database, on SQLite and PostgreSQL.
#   BENCH_ACCOUNTS (default 200000), BENCH_CONTACTS (default 1000000),
#   BENCH_OPPORTUNITIES (default 10000, for the kanban board), BENCH_LEADS (default 10000),
#   BENCH_BACKENDS (default "sqlite postgres"), BENCH_SECONDS (default 20), BENCH_CLIENTS (32),
#   BENCH_IMPORT_ROWS (default 100000; see bench/data_io.sh), BENCH_ONLY=data_io (imports and
#   exports only) or BENCH_ONLY=search (quick search, before and after 100,000 newest contacts
#   that match none of its names), BENCH_WARMUP (default 5: seconds of the same load before each test, not
#   measured)
# Needs wrk (apt-get install wrk). PostgreSQL: postgres@127.0.0.1:5432 with trust auth.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${RAPPORT_BIN:-target/release/rapport}
ACCOUNTS=${BENCH_ACCOUNTS:-200000}
CONTACTS=${BENCH_CONTACTS:-1000000}
OPPORTUNITIES=${BENCH_OPPORTUNITIES:-10000}
LEADS=${BENCH_LEADS:-10000}
BACKENDS=${BENCH_BACKENDS:-sqlite postgres}
SECS=${BENCH_SECONDS:-20}
WARMUP=${BENCH_WARMUP:-5}
CLIENTS=${BENCH_CLIENTS:-32}
PG_ADMIN=${BENCH_PG_ADMIN:-postgres://postgres@127.0.0.1:5432/postgres}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
PASSWORD="benchmark password 1"
OUT=${BENCH_OUT:-bench/results.md}
echo "# Rapport benchmark $(date -u +%Y-%m-%dT%H:%MZ) — ${ACCOUNTS} accounts, ${CONTACTS} contacts, ${OPPORTUNITIES} opportunities, ${LEADS} leads, ${CLIENTS} clients, ${SECS}s per test" > "$OUT"
# The same machine kind has run the same binary at half the speed on other days (ADR 0023):
# a fixed single-core loop, timed before anything else runs, says how fast this one is.
echo "machine reference: $(bash bench/cpu_reference.sh)" | tee -a "$OUT"

for backend in $BACKENDS; do
  WORK=$(mktemp -d /tmp/rapport-bench-XXXX)
  export RAPPORT_DATA_DIR="$WORK" RAPPORT_LOG=warn
  if [ "$backend" = postgres ]; then
    DB="rapport_bench_$$"
    psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
    export RAPPORT_DATABASE_URL="${PG_ADMIN%/*}/$DB"
  else
    export RAPPORT_DATABASE_URL="sqlite://$WORK/rapport.db"
  fi
  "$BIN" user create --email bench@example.com --password "$PASSWORD" --role administrator >/dev/null
  start=$(date +%s)
  "$BIN" demo --accounts "$ACCOUNTS" --contacts "$CONTACTS" --opportunities "$OPPORTUNITIES" --leads "$LEADS" 2>/dev/null
  echo "demo data on $backend: $(( $(date +%s) - start ))s" | tee -a "$OUT"
  "$BIN" serve --listen 127.0.0.1:18080 > "$WORK/serve.log" 2>&1 &
  PID=$!
  for _ in $(seq 100); do curl -sf http://127.0.0.1:18080/readyz >/dev/null && break; sleep 0.2; done
  TOKEN=$(curl -sf -X POST http://127.0.0.1:18080/api/v1/auth/login -H 'content-type: application/json' \
    -d "{\"email\":\"bench@example.com\",\"password\":\"$PASSWORD\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  export TOKEN
  # The server's CPU (user + system) so far, in ms: what it spent, however fast the machine
  # ran at the moment (ADR 0024). Also used by bench/data_io.sh.
  cpu_ms() { awk '{print ($14 + $15) * 10}' /proc/$PID/stat; }
  run() { # name, lua script, path
    local res
    local c=${RUN_CLIENTS:-$CLIENTS}
    # Warm the caches first: the figures are those of a server that has been running.
    if [ "$WARMUP" -gt 0 ]; then
      wrk -t"$(( c < 2 ? 1 : 2 ))" -c"$c" -d"${WARMUP}s" -s "bench/$2" "http://127.0.0.1:18080$3" >/dev/null
    fi
    local c0 c1 n
    c0=$(cpu_ms)
    res=$(wrk -t"$(( c < 2 ? 1 : 2 ))" -c"$c" -d"${SECS}s" --latency -s "bench/$2" "http://127.0.0.1:18080$3")
    c1=$(cpu_ms)
    n=$(echo "$res" | awk '/requests in/ {print $1}')
    local rps p50 p99
    rps=$(echo "$res" | awk '/Requests\/sec/ {print $2}')
    p50=$(echo "$res" | awk '$1=="50%" {print $2}')
    p99=$(echo "$res" | awk '$1=="99%" {print $2}')
    local errs; errs=$(echo "$res" | awk '/Non-2xx/ {print $5}')
    echo "| $backend | $1 | $rps | $p50 | $p99 | ${errs:-0} | $(( (c1 - c0) * 1000 / (n > 0 ? n : 1) )) µs |" | tee -a "$OUT"
  }
  echo "| backend | test | req/s | p50 | p99 | non-2xx | server CPU a request |" >> "$OUT"
  echo "|---|---|---|---|---|---|---|" >> "$OUT"
  # BENCH_ONLY=data_io measures only imports and exports; BENCH_ONLY=search only quick search
  # (before and after the adversarial import below).
  if [ "${BENCH_ONLY:-}" = search ]; then
  run "quick search (names, phone tails, emails)" search.lua "/api/v1/contacts"
  run "quick search: the most common surname (王), 20 rows" get.lua "/api/v1/contacts?limit=20&q=%E7%8E%8B"
  elif [ "${BENCH_ONLY:-}" != data_io ]; then
  run "list contacts: 50 rows, newest first" get.lua "/api/v1/contacts?limit=50"
  run "list accounts: filter level=A, sort name" get.lua "/api/v1/accounts?limit=50&sort=name&filter=%7B%22field%22%3A%22level%22%2C%22op%22%3A%22eq%22%2C%22value%22%3A%22A%22%7D"
  run "quick search (names, phone tails, emails)" search.lua "/api/v1/contacts"
  run "quick search: the most common surname (王), 20 rows" get.lua "/api/v1/contacts?limit=20&q=%E7%8E%8B"
  run "create contact" create.lua "/api/v1/contacts"
  RUN_CLIENTS=1 run "kanban board page (HTML, default pipeline), one client: time at the server" page.lua "/opportunities/board"
  run "kanban board page (HTML, default pipeline)" page.lua "/opportunities/board"
  run "kanban board (API JSON)" get.lua "/api/v1/opportunities/board"
  run "list leads: 50 rows, newest first" get.lua "/api/v1/leads?limit=50"
  fi
  if [ "${BENCH_ONLY:-}" != search ]; then source bench/data_io.sh; fi
  if [ "${BENCH_ONLY:-}" != data_io ]; then
    # The shape that made quick search collapse (issue 41): the newest 100,000 contacts share
    # one family name that none of the searches match. Searches must not read past them.
    source bench/import_contacts.sh
    API=http://127.0.0.1:18080/api/v1
    IMPORT_FAMILY=诸葛 IMPORT_EMAIL=zhuge import_contacts 100000 "$WORK"
    echo "100,000 contacts named 诸葛 imported on $backend: $IMPORT_STATUS in $IMPORT_MS ms" | tee -a "$OUT"
    run "quick search after 100,000 newest contacts named 诸葛" search.lua "/api/v1/contacts"
    run "quick search for 王 after 100,000 newest contacts named 诸葛" get.lua "/api/v1/contacts?limit=20&q=%E7%8E%8B"
  fi
  rss=$(awk '/VmHWM/ {print $2, $3}' /proc/$PID/status)
  echo "peak server RSS on $backend: $rss" | tee -a "$OUT"
  kill "$PID"; wait "$PID" 2>/dev/null || true
  if [ "$backend" = postgres ]; then psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)"; fi
  rm -rf "$WORK"
done
cat "$OUT"
