#!/usr/bin/env bash
# Export and import throughput against a running server (sourced by bench/run.sh with
# TOKEN, WORK, backend, OUT, PID and cpu_ms set). The contacts list is exported in the
# background, and BENCH_IMPORT_ROWS (default 100000) contacts are imported from a generated
# CSV through the import API and timed until the import is done.
IMPORT_ROWS=${BENCH_IMPORT_ROWS:-100000}
API=http://127.0.0.1:18080/api/v1
now_ms() { date +%s%3N; }

# Export: the whole contacts list (BENCH_CONTACTS) in the background, timed from the request
# until the file is downloaded.
c0=$(cpu_ms)
t0=$(now_ms)
EXPORT=$(curl -sf -X POST -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  -d '{"object":"contacts","cols":"family_name,given_name,mobile,email,title,owner_id,created_at"}' "$API/exports")
EID=$(echo "$EXPORT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
while :; do
  status=$(curl -sf -H "authorization: Bearer $TOKEN" "$API/exports/$EID" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')
  case "$status" in done|failed) break;; esac
  sleep 0.5
done
t_job=$(now_ms)
curl -sf -H "authorization: Bearer $TOKEN" "$API/exports/$EID/file" -o "$WORK/export.csv"
t1=$(now_ms)
c1=$(cpu_ms)
rows=$(( $(wc -l < "$WORK/export.csv") - 1 ))
echo "| $backend | export contacts (CSV, background, 8 columns): $rows rows, $(stat -c %s "$WORK/export.csv") bytes | $(( rows * 1000 / ( (t1 - t0) > 0 ? (t1 - t0) : 1 ) )) rows/s | $(( t1 - t0 )) ms | | $status |" | tee -a "$OUT"
rss=$(awk '/VmHWM/ {print $2, $3}' /proc/$PID/status)
echo "export on $backend: job $(( t_job - t0 )) ms, download $(( t1 - t_job )) ms, server CPU $(( c1 - c0 )) ms" | tee -a "$OUT"
echo "peak server RSS after the export on $backend: $rss" | tee -a "$OUT"

source bench/import_contacts.sh
c2=$(cpu_ms)
import_contacts "$IMPORT_ROWS" "$WORK"
c3=$(cpu_ms)
echo "| $backend | import contacts (CSV, validation + email match): $IMPORT_ROWS rows, upload $UPLOAD_MS ms | $(( IMPORT_ROWS * 1000 / IMPORT_MS )) rows/s | $IMPORT_MS ms | | $IMPORT_STATUS |" | tee -a "$OUT"
echo "import on $backend: server CPU $(( c3 - c2 )) ms, $(( (c3 - c2) * 1000 / IMPORT_ROWS )) us a row" | tee -a "$OUT"
