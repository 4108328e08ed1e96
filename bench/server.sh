#!/usr/bin/env bash
# Load the decision service's decide endpoint with wrk on loopback (SQLite, every
# decision durably recorded and audited before it is acknowledged).
# Usage: bench/server.sh [seconds] [connections]     (needs wrk: apt-get install wrk)
# PostgreSQL: BENCH_DATABASE=postgres://root@127.0.0.1:5432/test bench/server.sh
#   (a fresh schema is made and dropped; needs psql)
# Fixed rate: RATE=10000 bench/server.sh 20 64 sends RATE requests/s with oha (open
#   loop, latencies corrected for coordinated omission: a request is timed from when it
#   should have been sent), which is what "N decisions/s with p99 under X" asks; wrk
#   measures at saturation. Small plans go at PLAN_RATE (default 1000/s). oha is built
#   from crates.io into target/tools on first use. TMPDIR=/dev/shm puts the SQLite file
#   on tmpfs, which takes the disk's fsync out of the measurement.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}; conns=${2:-32}
oha=target/tools/bin/oha
if [ -n "${RATE:-}" ]; then
  [ -x "$oha" ] || cargo install oha --version 1.16.0 --locked --root target/tools
else
  command -v wrk >/dev/null || { echo "install wrk (apt-get install wrk)" >&2; exit 2; }
fi
cargo build --release --locked -q -p parapet-cli
dir=$(mktemp -d); trap 'kill $pid 2>/dev/null; rm -rf "$dir"' EXIT
bin=target/release/parapet
db="$dir/p.db"
if [ -n "${BENCH_DATABASE:-}" ]; then
  schema="parapet_bench_$$"
  psql "$BENCH_DATABASE" -qc "CREATE SCHEMA $schema"
  trap 'kill $pid 2>/dev/null; psql "$BENCH_DATABASE" -qc "DROP SCHEMA $schema CASCADE"; rm -rf "$dir"' EXIT
  db="$BENCH_DATABASE?options=-c%20search_path%3D$schema"
fi
echo "== database: ${BENCH_DATABASE:-SQLite file}"
# A server left on the port would answer instead of this one (with every request refused).
if curl -s -o /dev/null http://127.0.0.1:18080/healthz; then
  echo "something already listens on 127.0.0.1:18080; stop it first" >&2; exit 2
fi
export PARAPET_TOKEN=$($bin token create --database "$db" --name bench --role agent --actor agent:bench 2>/dev/null)
$bin serve --database "$db" --listen 127.0.0.1:18080 --log warn > "$dir/serve.out" 2>&1 &
pid=$!
for _ in $(seq 50); do curl -sf http://127.0.0.1:18080/healthz >/dev/null 2>&1 && break; sleep 0.1; done
# One run; a run with any refused or failed request is not a result.
load() {
  if [ -n "${RATE:-}" ]; then load_rate; return; fi
  out=$(wrk -t2 -c"$conns" -d"${secs}s" --latency -s bench/decide.lua http://127.0.0.1:18080/v1/decisions)
  echo "$out"
  if ! grep -q "errors 0$" <<<"$out"; then
    echo "FAILED: some requests were not answered 2xx (see serve log: $dir/serve.out)" >&2
    tail -5 "$dir/serve.out" >&2; exit 1
  fi
}
load_rate() {
  body=${BODY:-'{"call": {"action": "s3:PutObject", "params": {"Bucket": "b", "Key": "k"}}}'}
  printf '%s' "$body" > "$dir/body.json"
  "$oha" --no-tui --output-format json -w -z "${secs}s" -c "$conns" -q "$RATE" --latency-correction \
    -m POST -T application/json -H "Authorization: Bearer $PARAPET_TOKEN" -D "$dir/body.json" \
    http://127.0.0.1:18080/v1/decisions > "$dir/oha.json"
  if python3 - "$dir/oha.json" "$RATE" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
s, p = r["summary"], r["latencyPercentiles"]
codes = r.get("statusCodeDistribution", {})
errors = r.get("errorDistribution", {})
ms = lambda k: (p.get(k) or 0) * 1000
print(f"asked {sys.argv[2]}/s, answered {s['requestsPerSec']:.0f}/s; p50 {ms('p50'):.2f} ms, "
      f"p99 {ms('p99'):.2f} ms, p99.9 {ms('p99.9'):.2f} ms, max {s['slowest'] * 1000:.2f} ms; "
      f"status {codes}, errors {errors}")
bad = sum(v for k, v in codes.items() if not k.startswith("2")) + sum(errors.values())
sys.exit(1 if bad else 0)
PY
  then :; else echo "FAILED: some requests were not answered 2xx" >&2; tail -5 "$dir/serve.out" >&2; exit 1; fi
}
echo "== allowed single action (s3:PutObject), $conns connections, ${secs}s"
load
echo "== review (iam:CreateAccessKey: held for two approvers)"
BODY='{"call": {"action": "iam:CreateAccessKey", "params": {"UserName": "u"}}}' load
echo "== small plan (checkov's plan_with_iam_policies: 7 resource changes, 17 KB)"
RATE=${RATE:+${PLAN_RATE:-1000}} BODY="{\"plan\": $(cat testdata/plans/checkov/plan_with_iam_policies/tfplan.json)}" load
echo "== decisions recorded: $($bin audit verify --database "$db")"
