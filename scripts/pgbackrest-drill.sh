#!/usr/bin/env bash
# The production backup path on PostgreSQL, drilled end to end with pgBackRest (Debian's
# package) on a scratch cluster of its own (port 5499 by default; the cluster on 5432 is not
# touched):
#   1. a cluster with WAL archiving into an encrypted pgBackRest repository, Rapport on it;
#   2. contacts created through the API between a full, a differential and an incremental
#      backup; the moment T noted; then a mistaken bulk delete after T;
#   3. the cluster stopped and thrown away; a point-in-time restore to T into a new data
#      directory, started on another port;
#   4. checked: every contact created before T is there, the deletions after T are not, the
#      audit chain verifies, and Rapport serves the restored database.
# Exit status 0 only when every check holds. Needs: PostgreSQL server binaries, pgbackrest
# (apt-get install postgresql pgbackrest), curl, python3, and a built rapport binary
# (RAPPORT_BIN, default target/debug/rapport). Run as root (commands for PostgreSQL run as the
# postgres user) or as an ordinary user.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${RAPPORT_BIN:-$root/target/debug/rapport}"
port="${DRILL_PORT:-5499}"
restored_port=$((port + 1))
pgbin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
[ -x "$pgbin/initdb" ] || { echo "PostgreSQL server binaries not found (apt-get install postgresql)"; exit 1; }
command -v pgbackrest >/dev/null || { echo "pgbackrest not found (apt-get install pgbackrest)"; exit 1; }
[ -x "$bin" ] || { echo "no rapport binary at $bin (cargo build --bin rapport)"; exit 1; }

work="$(mktemp -d /tmp/rapport-pgbackrest-XXXXXX)"
as_pg=()
if [ "$(id -u)" = 0 ]; then
  chown postgres: "$work"
  as_pg=(runuser -u postgres --)
fi
conf="$work/pgbackrest.conf"
rapport_pid=""
cleanup() {
  [ -n "$rapport_pid" ] && kill "$rapport_pid" 2>/dev/null && wait "$rapport_pid" 2>/dev/null || true
  for d in "$work/pg" "$work/pg-restored"; do
    [ -f "$d/postmaster.pid" ] && "${as_pg[@]}" "$pgbin/pg_ctl" -D "$d" -m immediate stop >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
step() { printf '\n== %s (%s)\n' "$*" "$(date -u +%H:%M:%S)"; }
pg() { "${as_pg[@]}" "$@"; }
sql() { pg "$pgbin/psql" -X -q -At -h "$work" -p "$1" -d rapport -c "$2"; }

step "cluster on port $port with WAL archived to an encrypted pgBackRest repository"
pg "$pgbin/initdb" -D "$work/pg" --auth=trust -U postgres >/dev/null
cat >"$work/pgbackrest.conf.tmp" <<EOF
[global]
repo1-path=$work/repo
repo1-cipher-type=aes-256-cbc
repo1-cipher-pass=$(head -c 32 /dev/urandom | base64)
repo1-retention-full=2
compress-type=zst
lock-path=$work/lock
log-path=$work/log
log-level-console=warn
log-level-file=off
start-fast=y

[rapport]
pg1-path=$work/pg
pg1-port=$port
pg1-socket-path=$work
EOF
pg cp "$work/pgbackrest.conf.tmp" "$conf"
chmod 600 "$conf" 2>/dev/null || true
cat >"$work/postgresql.conf.add" <<EOF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$work'
wal_level = replica
archive_mode = on
archive_command = 'pgbackrest --config=$conf --stanza=rapport archive-push %p'
archive_timeout = 60
EOF
pg sh -c "cat '$work/postgresql.conf.add' >> '$work/pg/postgresql.conf'"
pg "$pgbin/pg_ctl" -D "$work/pg" -l "$work/pg.log" -w start >/dev/null
pg "$pgbin/createdb" -h "$work" -p "$port" rapport
pg pgbackrest --config="$conf" --stanza=rapport stanza-create
pg pgbackrest --config="$conf" --stanza=rapport check
echo "stanza created; archiving checked"

step "Rapport on the cluster"
data="$work/rapport"
mkdir -p "$data"
export RAPPORT_DATA_DIR="$data" RAPPORT_LOG=warn
export RAPPORT_DATABASE_URL="postgres://postgres@127.0.0.1:$port/rapport"
password="correct horse battery staple"
"$bin" user create --email admin@example.com --password "$password" --role administrator >/dev/null
"$bin" serve --listen 127.0.0.1:0 >"$work/rapport.log" 2>&1 &
rapport_pid=$!
base=""
for _ in $(seq 1 300); do
  base="$(grep -o 'listening on http[^ ]*' "$work/rapport.log" | head -1 | sed 's/listening on //')" || true
  [ -n "$base" ] && break
  sleep 0.1
done
[ -n "$base" ] || { echo "rapport did not start:"; cat "$work/rapport.log"; exit 1; }
token="$(curl -sf -X POST "$base/api/v1/auth/login" -H 'content-type: application/json' \
  -d "{\"email\":\"admin@example.com\",\"password\":\"$password\"}" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')"
# create BATCH N: N contacts through the API; their ids into $work/BATCH.ids
create() {
  for i in $(seq 1 "$2"); do
    curl -sf -X POST "$base/api/v1/contacts" -H "authorization: Bearer $token" \
      -H 'content-type: application/json' \
      -d "{\"family_name\":\"$1\",\"given_name\":\"n$i\",\"email\":\"$1-$i@example.com\"}" |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'
  done >"$work/$1.ids"
  echo "created $2 contacts ($1)"
}

create before-full 40
step "full backup"
pg pgbackrest --config="$conf" --stanza=rapport --type=full backup
create before-diff 30
step "differential backup"
pg pgbackrest --config="$conf" --stanza=rapport --type=diff backup
create before-incr 20
step "incremental backup"
pg pgbackrest --config="$conf" --stanza=rapport --type=incr backup
create before-target 10
sleep 1
target="$(sql "$port" "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'")"
echo "target time T = $target"
sleep 1
step "after T: a mistaken bulk delete and more contacts"
while read -r id; do
  curl -sf -X DELETE "$base/api/v1/contacts/$id" -H "authorization: Bearer $token" >/dev/null
done <"$work/before-full.ids"
echo "deleted the 40 contacts of the first batch"
create after-target 15
sql "$port" "SELECT pg_switch_wal()" >/dev/null
pg pgbackrest --config="$conf" --stanza=rapport check >/dev/null
kill "$rapport_pid"; wait "$rapport_pid" 2>/dev/null || true; rapport_pid=""
pg pgbackrest --config="$conf" --stanza=rapport info

step "the cluster is lost"
pg "$pgbin/pg_ctl" -D "$work/pg" -m immediate stop >/dev/null
mv "$work/pg" "$work/pg-lost"
started="$(date +%s.%N)"

step "point-in-time restore to T into a new data directory, port $restored_port"
pg mkdir -m 700 "$work/pg-restored"
pg pgbackrest --config="$conf" --stanza=rapport --pg1-path="$work/pg-restored" \
  --type=time --target="$target" --target-action=promote restore
pg sed -i "s/^port = .*/port = $restored_port/" "$work/pg-restored/postgresql.conf"
pg "$pgbin/pg_ctl" -D "$work/pg-restored" -l "$work/pg-restored.log" -w start >/dev/null
for _ in $(seq 1 600); do
  [ "$(sql "$restored_port" "SELECT pg_is_in_recovery()")" = f ] && break
  sleep 0.1
done
[ "$(sql "$restored_port" "SELECT pg_is_in_recovery()")" = f ] || { echo "recovery did not end"; cat "$work/pg-restored.log"; exit 1; }
echo "restored and promoted in $(python3 -c "import time; print(f'{time.time() - $started:.1f}')") s"

step "checks"
fail=0
present() { # present BATCH: how many of the batch's contacts the restored database holds
  local ids
  ids="$(sed "s/.*/'&'/" "$work/$1.ids" | paste -sd,)"
  sql "$restored_port" "SELECT count(*) FROM contacts WHERE id IN ($ids)"
}
for b in before-full:40 before-diff:30 before-incr:20 before-target:10 after-target:0; do
  name="${b%%:*}"; want="${b##*:}"
  got="$(present "$name")"
  if [ "$got" = "$want" ]; then echo "ok   $name: $got of $(wc -l <"$work/$name.ids") present"; else echo "FAIL $name: $got present, expected $want"; fail=1; fi
done
export RAPPORT_DATABASE_URL="postgres://postgres@127.0.0.1:$restored_port/rapport"
export RAPPORT_AUDIT_ANCHOR_DIR="$work/anchors-restored"
if "$bin" audit verify; then echo "ok   audit chain"; else echo "FAIL audit chain"; fail=1; fi
"$bin" serve --listen 127.0.0.1:0 >"$work/rapport2.log" 2>&1 &
rapport_pid=$!
base=""
for _ in $(seq 1 300); do
  base="$(grep -o 'listening on http[^ ]*' "$work/rapport2.log" | head -1 | sed 's/listening on //')" || true
  [ -n "$base" ] && break
  sleep 0.1
done
token="$(curl -sf -X POST "$base/api/v1/auth/login" -H 'content-type: application/json' \
  -d "{\"email\":\"admin@example.com\",\"password\":\"$password\"}" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')"
first="$(head -1 "$work/before-full.ids")"
if curl -sf "$base/api/v1/contacts/$first" -H "authorization: Bearer $token" | grep -q before-full; then
  echo "ok   Rapport serves the restored database (a contact deleted after T reads back)"
else
  echo "FAIL the restored server does not serve contact $first"; fail=1
fi
[ "$fail" = 0 ] && echo "pgBackRest drill passed" || echo "pgBackRest drill FAILED"
exit "$fail"
