#!/usr/bin/env bash
# PostgreSQL failover under write load, drilled on two scratch clusters of its own (ports 5496
# and 5497 by default; the cluster on 5432 is not touched):
#   1. a primary and a synchronous streaming standby (synchronous_commit = on: a commit is
#      acknowledged only once the standby has it on disk);
#   2. two `rapport serve` processes on the multi-host URL
#      postgres://...@127.0.0.1:PRIMARY,127.0.0.1:STANDBY/rapport, the first also with the
#      standby as its read replica: an export reads there and still sees a contact created just
#      before it; with the standby's replay paused, the export reads the primary instead;
#   3. 8 clients create contacts and 2 read lists through both servers; the primary is killed (SIGKILL to every
#      one of its processes, as if its machine died) and the standby promoted, as a failover
#      manager would (the promotion step is the one documented in docs/operations.md);
#   4. checked: every failed request answered 503 (try again), both servers write again
#      without being restarted, every acknowledged contact is
#      on the new primary (0 lost), the audit chain verifies, `rapport backup` finds the new
#      primary through the same URL; the clients' error window is printed.
# Exit status 0 only when every check holds. Needs PostgreSQL server binaries, curl, python3
# and a built rapport binary (RAPPORT_BIN, default target/debug/rapport). Run as root (the
# clusters run as the postgres user) or as an ordinary user.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${RAPPORT_BIN:-$root/target/debug/rapport}"
port_a="${DRILL_PORT:-5496}"
port_b=$((port_a + 1))
load_secs="${DRILL_LOAD_SECS:-20}"
kill_after="${DRILL_KILL_AFTER:-6}"
pgbin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
[ -x "$pgbin/initdb" ] || { echo "PostgreSQL server binaries not found (apt-get install postgresql)"; exit 1; }
[ -x "$bin" ] || { echo "no rapport binary at $bin (cargo build --bin rapport)"; exit 1; }

work="$(mktemp -d /tmp/rapport-failover-XXXXXX)"
as_pg=()
if [ "$(id -u)" = 0 ]; then
  chown postgres: "$work"
  as_pg=(runuser -u postgres --)
fi
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for d in "$work/a" "$work/b"; do
    [ -f "$d/postmaster.pid" ] && "${as_pg[@]}" "$pgbin/pg_ctl" -D "$d" -m immediate stop >/dev/null 2>&1 || true
  done
  [ -n "${KEEP_DRILL:-}" ] && { echo "kept $work"; return; }
  rm -rf "$work"
}
trap cleanup EXIT
step() { printf '\n== %s (%s)\n' "$*" "$(date -u +%H:%M:%S)"; }
pg() { "${as_pg[@]}" "$@"; }
sql() { pg "$pgbin/psql" -X -q -At -h 127.0.0.1 -p "$1" -d "${3:-rapport}" -c "$2"; }
fail=0
check() { # check WHAT CONDITION...
  local what="$1"; shift
  if "$@"; then echo "ok   $what"; else echo "FAIL $what"; fail=1; fi
}

step "primary on $port_a, synchronous standby on $port_b"
pg "$pgbin/initdb" -D "$work/a" --auth=trust -U postgres >/dev/null
pg sh -c "cat >> '$work/a/postgresql.conf'" <<EOF
port = $port_a
listen_addresses = '127.0.0.1'
unix_socket_directories = '$work'
wal_level = replica
max_connections = 100
EOF
pg "$pgbin/pg_ctl" -D "$work/a" -l "$work/a.log" -w start >/dev/null
pg "$pgbin/createdb" -h 127.0.0.1 -p "$port_a" rapport
pg "$pgbin/pg_basebackup" -h 127.0.0.1 -p "$port_a" -U postgres -D "$work/b" -R -c fast \
  -d "application_name=standby1"
pg sed -i "s/^port = .*/port = $port_b/" "$work/b/postgresql.conf"
pg "$pgbin/pg_ctl" -D "$work/b" -l "$work/b.log" -w start >/dev/null
# Synchronous from now on: a commit returns once the standby has flushed it.
sql "$port_a" "ALTER SYSTEM SET synchronous_standby_names = 'FIRST 1 (standby1)'" >/dev/null
sql "$port_a" "SELECT pg_reload_conf()" >/dev/null
for _ in $(seq 1 100); do
  [ "$(sql "$port_a" "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby1'")" = sync ] && break
  sleep 0.1
done
state="$(sql "$port_a" "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby1'")"
[ "$state" = sync ] || { echo "the standby did not become synchronous ($state)"; exit 1; }
echo "standby1 streaming, sync_state = $state"

step "two Rapport servers on the multi-host URL"
url="postgres://postgres@127.0.0.1:$port_a,127.0.0.1:$port_b/rapport"
export RAPPORT_LOG=info RAPPORT_KEY_FILE="$work/rapport.key" RAPPORT_JOB_POLL_MS=200
password="correct horse battery staple"
RAPPORT_DATA_DIR="$work/r0" RAPPORT_DATABASE_URL="$url" \
  "$bin" user create --email admin@example.com --password "$password" --role administrator >/dev/null
bases=()
for i in 0 1; do
  mkdir -p "$work/r$i"
  extra=()
  [ "$i" = 0 ] && extra=(RAPPORT_DATABASE_READ_URL="postgres://postgres@127.0.0.1:$port_b/rapport"
    RAPPORT_DATABASE_READ_MAX_LAG_MS=500 RAPPORT_METRICS=open)
  env RAPPORT_DATA_DIR="$work/r$i" RAPPORT_DATABASE_URL="$url" "${extra[@]}" \
    RAPPORT_AUDIT_ANCHOR_DIR="$work/r$i/anchors" \
    "$bin" serve --listen 127.0.0.1:0 >"$work/rapport$i.log" 2>&1 &
  pids+=($!)
  base=""
  for _ in $(seq 1 300); do
    base="$(grep -o 'listening on http[^ ]*' "$work/rapport$i.log" | head -1 | sed 's/listening on //')" || true
    [ -n "$base" ] && break
    sleep 0.1
  done
  [ -n "$base" ] || { echo "rapport $i did not start:"; cat "$work/rapport$i.log"; exit 1; }
  bases+=("$base")
  echo "server $i: $base"
done
token="$(curl -sf -X POST "${bases[0]}/api/v1/auth/login" -H 'content-type: application/json' \
  -d "{\"email\":\"admin@example.com\",\"password\":\"$password\"}" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')"
auth=(-H "authorization: Bearer $token")
new_contact() { # new_contact SERVER FAMILY: its id
  curl -sf -X POST "$1/api/v1/contacts" "${auth[@]}" -H 'content-type: application/json' \
    -d "{\"family_name\":\"$2\",\"given_name\":\"x\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'
}
bulk_reads() { # bulk_reads replica|primary: the server's count of exports read there
  curl -sf "${bases[0]}/metrics" | sed -n "s/^rapport_db_bulk_reads{on=\"$1\"} //p"
}

step "exports read from the replica, and see what was just written"
new_contact "${bases[0]}" Replicaone >/dev/null
has() { curl -sf "${bases[0]}/api/v1/contacts/export" "${auth[@]}" | grep -q "$1"; }
check "an export right after a write includes it" has Replicaone
check "... and was read on the replica" test "$(bulk_reads replica)" = 1
sql "$port_b" "SELECT pg_wal_replay_pause()" >/dev/null
new_contact "${bases[0]}" Replicatwo >/dev/null
check "with the replica's replay paused, the export still includes the new write" has Replicatwo
check "... because it was read on the primary" test "$(bulk_reads primary)" = 1
sql "$port_b" "SELECT pg_wal_replay_resume()" >/dev/null

step "write load through both servers for ${load_secs} s; the primary dies at ${kill_after} s"
cat >"$work/load.py" <<'EOF'
import json, sys, threading, time, urllib.request, urllib.error
bases, token, secs, out = sys.argv[1].split(","), sys.argv[2], float(sys.argv[3]), sys.argv[4]
t0 = time.time()
acks, errors, lock = [], [], threading.Lock()
def client(n):
    base, i = bases[n % len(bases)], 0
    while time.time() - t0 < secs:
        i += 1
        body = json.dumps({"family_name": "Load", "given_name": f"c{n}-{i}"}).encode()
        req = urllib.request.Request(base + "/api/v1/contacts", body, method="POST", headers={
            "authorization": "Bearer " + token, "content-type": "application/json"})
        start = time.time() - t0
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                rid = json.load(r)["id"]
            with lock: acks.append({"id": rid, "server": n % len(bases), "sent": start, "at": time.time() - t0})
        except urllib.error.HTTPError as e:
            with lock: errors.append({"status": e.code, "server": n % len(bases), "sent": start, "at": time.time() - t0})
        except Exception as e:
            with lock: errors.append({"status": str(e), "server": n % len(bases), "sent": start, "at": time.time() - t0})
            time.sleep(0.05)
reads = []
def reader(n):
    # Lists read through both servers meanwhile: a read during the failover fails as a write does.
    base = bases[n % len(bases)]
    while time.time() - t0 < secs:
        req = urllib.request.Request(base + "/api/v1/contacts?limit=10", headers={"authorization": "Bearer " + token})
        start = time.time() - t0
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                r.read()
            ok = 200
        except urllib.error.HTTPError as e:
            ok = e.code
        except Exception as e:
            ok = str(e)
        with lock: reads.append({"status": ok, "sent": start, "at": time.time() - t0})
        time.sleep(0.02)
threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
threads += [threading.Thread(target=reader, args=(n,)) for n in range(2)]
for t in threads: t.start()
for t in threads: t.join()
json.dump({"t0": t0, "acks": acks, "errors": errors, "reads": reads}, open(out, "w"))
EOF
python3 "$work/load.py" "$(IFS=,; echo "${bases[*]}")" "$token" "$load_secs" "$work/load.json" &
load_pid=$!
sleep "$kill_after"
primary_pid="$(head -1 "$work/a/postmaster.pid")"
killed_at="$(date +%s.%N)"
pkill -9 -P "$primary_pid" || true
kill -9 "$primary_pid"
echo "primary killed (postmaster $primary_pid and its processes)"
# The failover manager's part: notice the primary is gone, then promote the standby.
until ! "$pgbin/pg_isready" -q -h 127.0.0.1 -p "$port_a"; do sleep 0.1; done
sleep 1
pg "$pgbin/pg_ctl" -D "$work/b" -w promote >/dev/null
promoted_at="$(date +%s.%N)"
echo "standby promoted $(python3 -c "print(f'{$promoted_at - $killed_at:.1f}')") s after the kill"
wait "$load_pid"

step "checks"
python3 - "$work/load.json" "$killed_at" "$promoted_at" >"$work/report.txt" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
t0, killed, promoted = d["t0"], float(sys.argv[2]) - d["t0"], float(sys.argv[3]) - d["t0"]
acks, errors = d["acks"], d["errors"]
print(f"acknowledged {len(acks)}, failed {len(errors)}; killed at {killed:.2f} s, promoted at {promoted:.2f} s")
if errors:
    first, last = min(e["at"] for e in errors), max(e["at"] for e in errors)
    print(f"errors seen from {first:.2f} s to {last:.2f} s (window {last - first:.2f} s)")
    statuses = sorted({str(e["status"]) for e in errors})
    print("error statuses: " + ", ".join(statuses))
else:
    print("errors seen: none")
# Longest time without an acknowledgement, and how long a request sent around the kill took.
ats = sorted(a["at"] for a in acks)
gap = max((b - a for a, b in zip(ats, ats[1:])), default=0)
print(f"longest gap between acknowledgements: {gap:.2f} s")
slow = max((a["at"] - a["sent"] for a in acks), default=0)
print(f"slowest acknowledged request: {slow:.2f} s")
failed_reads = [r for r in d["reads"] if r["status"] != 200]
print(f"list reads meanwhile: {len(d['reads'])}, failed {len(failed_reads)}"
      + (" (" + ", ".join(sorted({str(r['status']) for r in failed_reads})) + ")" if failed_reads else ""))
other = sorted({str(e["status"]) for e in errors + failed_reads} - {"503"})
print("failures other than 503: " + (", ".join(other) if other else "none"))
for s in (0, 1):
    after = sum(1 for a in acks if a["server"] == s and a["sent"] > promoted)
    print(f"server {s}: {after} writes acknowledged after the promotion")
open(sys.argv[1].replace("load.json", "acked.ids"), "w").write("".join(a["id"] + "\n" for a in acks))
EOF
cat "$work/report.txt"
for s in 0 1; do
  n="$(sed -n "s/^server $s: \([0-9]*\) writes.*/\1/p" "$work/report.txt")"
  check "server $s writes to the new primary without a restart ($n writes)" test "$n" -gt 0
done
check "every failed request, write or read, answered 503 (try again)" grep -q "^failures other than 503: none" "$work/report.txt"
acked="$(grep -c . "$work/acked.ids")"
present="$( (printf 'CREATE TEMP TABLE acked (id text);\nCOPY acked FROM STDIN;\n'; cat "$work/acked.ids"
  printf '%s\n' '\.' 'SELECT count(*) FROM contacts JOIN acked USING (id);') |
  pg "$pgbin/psql" -X -q -At -h 127.0.0.1 -p "$port_b" -d rapport)"
check "every acknowledged write is on the new primary ($present of $acked, 0 lost)" test "$present" = "$acked"
check "the servers logged the primary's move" grep -q "the database primary moved" "$work/rapport0.log"
check "the audit chain verifies on the new primary" env RAPPORT_DATA_DIR="$work/r0" \
  RAPPORT_DATABASE_URL="postgres://postgres@127.0.0.1:$port_b/rapport" \
  RAPPORT_AUDIT_ANCHOR_DIR="$work/anchors-verify" RAPPORT_LOG=warn "$bin" audit verify
check "rapport backup on the multi-host URL (pg_dump finds the new primary)" env \
  RAPPORT_DATA_DIR="$work/r0" RAPPORT_DATABASE_URL="$url" RAPPORT_LOG=warn "$bin" backup
[ "$fail" = 0 ] && echo "failover drill passed" || echo "failover drill FAILED"
exit "$fail"
