# Sourced by bench/data_io.sh and bench/import.sh: `import_contacts ROWS DIR` writes ROWS
# generated contacts (name, mobile, email, title) to DIR/import.csv, uploads them through the
# import API at $API with $TOKEN, maps the suggested columns matching on email, starts the
# import and waits for it. Sets UPLOAD_MS (upload and mapping), IMPORT_MS (start to done) and
# IMPORT_STATUS (status, created, failed). IMPORT_FAMILY: one family name for every row
# (default: twenty common ones at random); IMPORT_EMAIL: the emails' prefix (default bench).
import_contacts() {
  local rows=$1 dir=$2 t0 t_up t1 import id
  python3 - "$dir/import.csv" "$rows" "${IMPORT_FAMILY:-}" "${IMPORT_EMAIL:-bench}" <<'PY'
import sys, random
path, n, family, email = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
fam = [family] if family else list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗")
giv = ["伟", "芳", "娜", "敏", "静", "磊", "洋", "勇", "艳", "杰"]
with open(path, "w", encoding="utf-8") as f:
    f.write("姓,名,手机,邮箱,职务\n")
    for i in range(n):
        f.write(f"{random.choice(fam)},{random.choice(giv)},13{i:09d},{email}{i}@import.example,经理\n")
PY
  t0=$(date +%s%3N)
  import=$(curl -sf -X POST -H "authorization: Bearer $TOKEN" -H 'content-type: text/csv' \
    --data-binary @"$dir/import.csv" "$API/imports?object=contacts&file_name=bench.csv")
  id=$(echo "$import" | python3 -c 'import json,sys; print(json.load(sys.stdin)["import"]["id"])')
  echo "$import" | python3 -c 'import json,sys; m=json.load(sys.stdin)["suggested"]; m["match_on"]="email"; print(json.dumps(m))' > "$dir/mapping.json"
  curl -sf -X PUT -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
    --data @"$dir/mapping.json" "$API/imports/$id/mapping" >/dev/null
  t_up=$(date +%s%3N)
  curl -sf -X POST -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{}' "$API/imports/$id/start" >/dev/null
  while :; do
    IMPORT_STATUS=$(curl -sf -H "authorization: Bearer $TOKEN" "$API/imports/$id" | python3 -c 'import json,sys; i=json.load(sys.stdin)["import"]; print(i["status"], i["created"], i["failed"])')
    case "$IMPORT_STATUS" in done*|failed*) break;; esac
    sleep 0.1
  done
  t1=$(date +%s%3N)
  UPLOAD_MS=$(( t_up - t0 ))
  IMPORT_MS=$(( t1 - t_up > 0 ? t1 - t_up : 1 ))
}
