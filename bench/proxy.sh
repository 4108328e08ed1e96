#!/usr/bin/env bash
# `parapet proxy aws` speed (issue 21): latency the proxy adds over a direct call, for
# an allowed read (STS GetCallerIdentity) and an allowed judged write (S3 PutObject of
# 1 KiB, recorded and audited), at fixed rates, open loop; the most proxied requests
# per second; and a 100 MB S3 upload through the proxy against the same upload direct
# (time, and the proxy's peak RSS). Writes bench/out/proxy.jsonl and prints a summary
# (bench/proxy_report.py).
#
# Two upstreams, each measured direct and through its own proxy:
#   moto    moto server (target/moto, from scripts/test): the AWS API the tests use.
#           Python; it saturates near 250 requests/s here, so only low rates.
#   stub    bench/loadgen's stub-upstream: a trivial hyper server answering 200 at
#           once, which leaves the proxy's own cost (and ceiling) in view.
# Load: bench/loadgen (aws-sigv4 signs every request afresh with a unique
# amz-sdk-invocation-id: the proxy refuses a signature it has already seen, so oha or
# wrk resending identical bytes would measure refusals). Open loop: latency runs from
# each request's due time. Rates and duration:
#   MOTO_RATES="50 150" STUB_RATES="1000 2500 5000" SECS=10 bench/proxy.sh
# Quiet machine wanted: loadgen, proxy and upstream share the two cores.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${SECS:-10}
MOTO_RATES=${MOTO_RATES:-"50 150"}
STUB_RATES=${STUB_RATES:-"1000 2500 5000"}
CONNS=${CONNS:-64}
UPLOAD_MB=${UPLOAD_MB:-100}
[ -x target/moto/bin/moto_server ] && [ -x target/moto/bin/aws ] ||
  { echo "target/moto (moto, awscli, boto3) is missing: run scripts/test once" >&2; exit 2; }

# PARAPET_BIN=path: measure that binary instead of building target/release/parapet.
if [ -z "${PARAPET_BIN:-}" ]; then cargo build --release --locked -q -p parapet-cli; fi
cargo build --release --locked -q --manifest-path bench/loadgen/Cargo.toml \
  --target-dir target/bench-loadgen
bin=${PARAPET_BIN:-$PWD/target/release/parapet}
lg=$PWD/target/bench-loadgen/release/loadgen
stub=$PWD/target/bench-loadgen/release/stub-upstream
mkdir -p bench/out
out=$PWD/bench/out/proxy.jsonl
: > "$out"
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$dir"; }
trap cleanup EXIT

# Start a process whose first line of output says where it listens; sets NAME (its
# URL) and NAME_pid.
start() { # name, command...
  local name=$1; shift
  "$@" > "$dir/$name.out" 2> "$dir/$name.err" &
  pids+=($!)
  eval "${name}_pid=$!"
  for _ in $(seq 100); do
    if grep -qo 'http://[0-9.:]*' "$dir/$name.out" 2>/dev/null; then
      eval "$name=$(grep -o 'http://[0-9.:]*' "$dir/$name.out" | head -1)"; return
    fi
    sleep 0.1
  done
  echo "$name did not start:" >&2; cat "$dir/$name.err" >&2; exit 1
}

# moto prints nothing useful on stdout: pick the port, wait for it.
moto_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(cd "$dir" && exec "$OLDPWD/target/moto/bin/moto_server" -H 127.0.0.1 -p "$moto_port") \
  > "$dir/moto.out" 2>&1 &
pids+=($!)
moto=http://127.0.0.1:$moto_port
for _ in $(seq 100); do curl -s -o /dev/null "$moto" && break; sleep 0.1; done
start stub_url "$stub" 127.0.0.1:0 1

# The agent's keys and the proxies (logging at warn: the measured path, not the log).
"$bin" credential-key generate "$dir/key" >/dev/null
keys=$("$bin" token create --database "$dir/p.db" --credential-key-file "$dir/key" \
  --name bench --role agent --actor agent:bench --aws 2>&1)
AGENT_KEY=$(grep -o 'PKIA[A-Z2-7]\{16\}' <<<"$keys" | head -1)
AGENT_SECRET=$(grep -o 'AWS_SECRET_ACCESS_KEY[=: ]*[^ ]*' <<<"$keys" | head -1 | sed 's/AWS_SECRET_ACCESS_KEY[=: ]*//')
[ -n "$AGENT_KEY" ] && [ -n "$AGENT_SECRET" ] || { echo "no AWS keys in: $keys" >&2; exit 1; }
proxy() { # name, upstream
  start "$1" env AWS_ACCESS_KEY_ID=AKIABENCHREALKEY0000 AWS_SECRET_ACCESS_KEY=bench-real-secret \
    AWS_REGION=eu-west-1 AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null \
    "$bin" proxy aws --listen 127.0.0.1:0 --database "$dir/p.db" --credential-key-file "$dir/key" \
    --upstream "$2" --log warn
}
proxy pmoto "$moto"
proxy pstub "$stub_url"
AWS="env AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=eu-west-1 AWS_CONFIG_FILE=/dev/null target/moto/bin/aws"
$AWS --endpoint-url "$moto" s3 mb s3://bench >/dev/null

# One loadgen run, tagged, appended to the results; a run with failures is reported as such.
run() { # tag, target, url, call, rate, [extra loadgen flags]
  local tag=$1 target=$2 url=$3 call=$4 rate=$5; shift 5
  local r
  r=$(AWS_ACCESS_KEY_ID=$AGENT_KEY AWS_SECRET_ACCESS_KEY=$AGENT_SECRET \
    "$lg" --url "$url" --call "$call" --rate "$rate" --duration "$SECS" --warmup 2 \
    --connections "$CONNS" --bucket bench "$@")
  echo "{\"tag\": \"$tag\", \"target\": \"$target\", \"result\": $r}" >> "$out"
  echo "$tag $target $call @ $rate/s: $(python3 bench/proxy_report.py --line "$r")"
}

echo "== fixed rates: direct and through the proxy, moto upstream"
for call in read write; do
  for rate in $MOTO_RATES; do
    run rate direct-moto "$moto" "$call" "$rate"
    run rate proxy-moto "$pmoto" "$call" "$rate"
  done
done
echo "== fixed rates: direct and through the proxy, stub upstream"
for call in read write; do
  for rate in $STUB_RATES; do
    run rate direct-stub "$stub_url" "$call" "$rate"
    run rate proxy-stub "$pstub" "$call" "$rate"
  done
done
echo "== ceiling: closed loop, $CONNS connections"
for call in read write; do
  run max direct-stub "$stub_url" "$call" 0
  run max proxy-stub "$pstub" "$call" 0
done

echo "== ${UPLOAD_MB} MB S3 upload (aws s3 cp: multipart, 8 MiB parts), direct and through the proxy"
head -c $((UPLOAD_MB * 1000 * 1000)) /dev/urandom > "$dir/up.bin"
hwm() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
for target in direct-moto proxy-moto; do
  url=$moto; [ $target = proxy-moto ] && url=$pmoto
  key_env="AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing"
  [ $target = proxy-moto ] && key_env="AWS_ACCESS_KEY_ID=$AGENT_KEY AWS_SECRET_ACCESS_KEY=$AGENT_SECRET"
  before=$(hwm "$pmoto_pid")
  start_ns=$(date +%s%N)
  env $key_env AWS_DEFAULT_REGION=eu-west-1 AWS_CONFIG_FILE=/dev/null AWS_MAX_ATTEMPTS=1 \
    target/moto/bin/aws --endpoint-url "$url" s3 cp "$dir/up.bin" "s3://bench/up-$target.bin" >/dev/null
  secs=$(python3 -c "print(($(date +%s%N) - $start_ns) / 1e9)")
  after=$(hwm "$pmoto_pid")
  echo "{\"tag\": \"upload\", \"target\": \"$target\", \"result\": {\"mb\": $UPLOAD_MB, \"seconds\": $secs, \"proxy_hwm_kb_before\": $before, \"proxy_hwm_kb_after\": $after}}" >> "$out"
  echo "$target: ${secs}s, proxy peak RSS ${before} -> ${after} kB"
done
echo "== ${UPLOAD_MB} MB single PutObject (loadgen, payload hash signed), stub upstream"
for target in direct-stub proxy-stub; do
  url=$stub_url; [ $target = proxy-stub ] && url=$pstub
  before=$(hwm "$pstub_pid")
  AWS_ACCESS_KEY_ID=$AGENT_KEY AWS_SECRET_ACCESS_KEY=$AGENT_SECRET \
    "$lg" --url "$url" --call put --size $((UPLOAD_MB * 1000 * 1000)) --rate 0 --count 5 \
    --connections 1 --warmup 0 --bucket bench > "$dir/put.json"
  after=$(hwm "$pstub_pid")
  echo "{\"tag\": \"put\", \"target\": \"$target\", \"result\": $(cat "$dir/put.json"), \"proxy_hwm_kb_before\": $before, \"proxy_hwm_kb_after\": $after}" >> "$out"
  echo "$target: $(cat "$dir/put.json"), proxy peak RSS ${before} -> ${after} kB"
done
echo "== proxy logs (warnings and errors)"
tail -n 5 "$dir/pmoto.err" "$dir/pstub.err"
python3 bench/proxy_report.py "$out"
