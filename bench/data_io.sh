#!/usr/bin/env bash
# Export and import throughput against a running server (sourced by bench/run.sh with
# TOKEN, WORK, backend, OUT, PID set). The contacts list is exported in the background, and
# BENCH_IMPORT_ROWS (default 100000) contacts are imported from a generated CSV through the
# import API and timed until the import is done.
IMPORT_ROWS=${BENCH_IMPORT_ROWS:-100000}
API=http://127.0.0.1:18080/api/v1
now_ms() { date +%s%3N; }

# Export: the whole contacts list (BENCH_CONTACTS) in the background, timed from the request
# until the file is downloaded.
t0=$(now_ms)
EXPORT=$(curl -sf -X POST -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  -d '{"object":"contacts","cols":"family_name,given_name,mobile,email,title,owner_id,created_at"}' "$API/exports")
EID=$(echo "$EXPORT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
while :; do
  status=$(curl -sf -H "authorization: Bearer $TOKEN" "$API/exports/$EID" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')
  case "$status" in done|failed) break;; esac
  sleep 0.5
done
curl -sf -H "authorization: Bearer $TOKEN" "$API/exports/$EID/file" -o "$WORK/export.csv"
t1=$(now_ms)
rows=$(( $(wc -l < "$WORK/export.csv") - 1 ))
echo "| $backend | export contacts (CSV, background, 8 columns): $rows rows, $(stat -c %s "$WORK/export.csv") bytes | $(( rows * 1000 / ( (t1 - t0) > 0 ? (t1 - t0) : 1 ) )) rows/s | $(( t1 - t0 )) ms | | $status |" | tee -a "$OUT"
rss=$(awk '/VmHWM/ {print $2, $3}' /proc/$PID/status)
echo "peak server RSS after the export on $backend: $rss" | tee -a "$OUT"

python3 - "$WORK/import.csv" "$IMPORT_ROWS" <<'PY'
import sys, random
path, n = sys.argv[1], int(sys.argv[2])
fam = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
giv = ["伟", "芳", "娜", "敏", "静", "磊", "洋", "勇", "艳", "杰"]
with open(path, "w", encoding="utf-8") as f:
    f.write("姓,名,手机,邮箱,职务\n")
    for i in range(n):
        f.write(f"{random.choice(fam)},{random.choice(giv)},13{i:09d},bench{i}@import.example,经理\n")
PY
t0=$(now_ms)
IMPORT=$(curl -sf -X POST -H "authorization: Bearer $TOKEN" -H 'content-type: text/csv' \
  --data-binary @"$WORK/import.csv" "$API/imports?object=contacts&file_name=bench.csv")
ID=$(echo "$IMPORT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["import"]["id"])')
echo "$IMPORT" | python3 -c 'import json,sys; m=json.load(sys.stdin)["suggested"]; m["match_on"]="email"; print(json.dumps(m))' > "$WORK/mapping.json"
curl -sf -X PUT -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  --data @"$WORK/mapping.json" "$API/imports/$ID/mapping" >/dev/null
t_up=$(now_ms)
curl -sf -X POST -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{}' "$API/imports/$ID/start" >/dev/null
while :; do
  status=$(curl -sf -H "authorization: Bearer $TOKEN" "$API/imports/$ID" | python3 -c 'import json,sys; i=json.load(sys.stdin)["import"]; print(i["status"], i["created"], i["failed"])')
  case "$status" in done*|failed*) break;; esac
  sleep 1
done
t1=$(now_ms)
echo "| $backend | import contacts (CSV, validation + email match): $IMPORT_ROWS rows, upload $(( t_up - t0 )) ms | $(( IMPORT_ROWS * 1000 / ( (t1 - t_up) > 0 ? (t1 - t_up) : 1 ) )) rows/s | $(( t1 - t_up )) ms | | $status |" | tee -a "$OUT"
