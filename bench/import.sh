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
python3 - "$W/import.csv" "$N" <<'PY'
import sys, random
path, n = sys.argv[1], int(sys.argv[2])
fam = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
giv = ["伟", "芳", "娜", "敏", "静", "磊", "洋", "勇", "艳", "杰"]
with open(path, "w", encoding="utf-8") as f:
    f.write("姓,名,手机,邮箱,职务\n")
    for i in range(n):
        f.write(f"{random.choice(fam)},{random.choice(giv)},13{i:09d},bench{i}@import.example,经理\n")
PY
now_ms() { date +%s%3N; }
IMPORT=$(curl -sf -X POST -H "authorization: Bearer $TOKEN" -H 'content-type: text/csv' \
  --data-binary @"$W/import.csv" "$API/imports?object=contacts&file_name=bench.csv")
ID=$(echo "$IMPORT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["import"]["id"])')
echo "$IMPORT" | python3 -c 'import json,sys; m=json.load(sys.stdin)["suggested"]; m["match_on"]="email"; print(json.dumps(m))' > "$W/mapping.json"
curl -sf -X PUT -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  --data @"$W/mapping.json" "$API/imports/$ID/mapping" >/dev/null
t0=$(now_ms)
curl -sf -X POST -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{}' "$API/imports/$ID/start" >/dev/null
while :; do
  status=$(curl -sf -H "authorization: Bearer $TOKEN" "$API/imports/$ID" | python3 -c 'import json,sys; i=json.load(sys.stdin)["import"]; print(i["status"], i["created"], i["failed"])')
  case "$status" in done*|failed*) break;; esac
  sleep 0.5
done
t1=$(now_ms)
cpu=$(awk '{print int(($14 + $15) / 100)}' /proc/$PID/stat)
echo "import of $N contacts into an empty database: $(( N * 1000 / (t1 - t0) )) rows/s ($(( t1 - t0 )) ms), server CPU ${cpu} s, $(grep VmHWM /proc/$PID/status | tr -s ' \t' ' '), status: $status"
