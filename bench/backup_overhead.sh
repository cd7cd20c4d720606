#!/usr/bin/env bash
# What the continuous backup (RAPPORT_BACKUP_CONTINUOUS=on, ADR 0037) costs: creates and the
# contacts list with 32 clients, with the backup off and on, alternately, each run on a fresh
# copy of one demo database (BENCH_CONTACTS, default 100000). Needs wrk and a release build
# (`cargo build --release`, or RAPPORT_BIN). Prints one line per run.
set -euo pipefail
cd "$(dirname "$0")/.."
CONTACTS=${BENCH_CONTACTS:-100000}
BIN=${RAPPORT_BIN:-target/release/rapport}
PASSWORD="correct horse battery staple"
BASE=$(mktemp -d /tmp/bkbench-base-XXXX)
export RAPPORT_DATA_DIR=$BASE RAPPORT_DATABASE_URL=sqlite://$BASE/rapport.db RAPPORT_LOG=warn
$BIN user create --email bench@example.com --password "$PASSWORD" --role administrator >/dev/null
$BIN demo --accounts $((CONTACTS / 5)) --contacts $CONTACTS --opportunities 1000 --leads 1000 2>/dev/null | tail -1
for round in 1 2; do
for mode in off on; do
  WORK=$(mktemp -d /tmp/bkbench-XXXX)
  cp -r $BASE/. $WORK/
  export RAPPORT_DATA_DIR=$WORK RAPPORT_DATABASE_URL=sqlite://$WORK/rapport.db RAPPORT_BACKUP_CONTINUOUS=$mode RAPPORT_BACKUP_DIR=$WORK/backups
  $BIN serve --listen 127.0.0.1:18090 > $WORK/serve.log 2>&1 &
  PID=$!
  for _ in $(seq 100); do curl -sf http://127.0.0.1:18090/readyz >/dev/null && break; sleep 0.2; done
  # The first copy of a continuous backup is made at start: let it finish.
  sleep 15
  TOKEN=$(curl -sf -X POST http://127.0.0.1:18090/api/v1/auth/login -H 'content-type: application/json' -d "{\"email\":\"bench@example.com\",\"password\":\"$PASSWORD\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  export TOKEN
  wrk -t2 -c32 -d3s -s bench/create.lua http://127.0.0.1:18090/api/v1/contacts >/dev/null
  c=$(wrk -t2 -c32 -d15s --latency -s bench/create.lua http://127.0.0.1:18090/api/v1/contacts)
  l=$(wrk -t2 -c32 -d10s --latency -s bench/get.lua "http://127.0.0.1:18090/api/v1/contacts?limit=50")
  echo "round $round backup=$mode create: $(echo "$c" | awk '/Requests\/sec/ {print $2}') req/s p99 $(echo "$c" | awk '$1=="99%" {print $2}') | list: $(echo "$l" | awk '/Requests\/sec/ {print $2}') req/s p99 $(echo "$l" | awk '$1=="99%" {print $2}') | wal $(du -m $WORK/rapport.db-wal 2>/dev/null | cut -f1) MB backups $(du -sm $WORK/backups 2>/dev/null | cut -f1) MB"
  kill $PID; wait $PID 2>/dev/null || true
  rm -rf $WORK
done
done
rm -rf $BASE
