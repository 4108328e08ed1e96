#!/usr/bin/env bash
# CloudTrail detection speed: parapet's Sigma engine and detector against rsigma on the
# same 1M-event corpus (same run, one core each), then the delay from an event's arrival
# on a NATS JetStream stream to its alert with `parapet trail watch`.
# Writes bench/out/trail.txt.
#
#   bench/trail.sh                 # 1,000,000 events; PARAPET_BENCH_EVENTS to change
#   NATS_URL=nats://host:4222 bench/trail.sh
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/out
N=${PARAPET_BENCH_EVENTS:-1000000}
NATS_URL=${NATS_URL:-nats://127.0.0.1:4222}
cargo build --release -q -p parapet-cli
cargo build --release -q -p parapet-trail --example nats_publish
CORPUS=$PWD/bench/out/trail-corpus.jsonl
{
  echo "# $(date -u +%F) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
  echo "## engines, same corpus, one core each (mimalloc, as the parapet binary ships)"
  PARAPET_BENCH_EVENTS=$N cargo bench -q -p parapet-detect --bench trail 2>&1 | grep -v '^$'
  echo "## the same on glibc's allocator (both engines)"
  PARAPET_BENCH_EVENTS=$N cargo bench -q -p parapet-detect --bench trail --features bench-system-alloc 2>&1 | grep -v '^$'
  echo "## stream: publish to JetStream at a steady rate while trail watch runs"
  PARAPET_BENCH_EVENTS=200000 PARAPET_BENCH_ATTACK_EVERY=500 PARAPET_BENCH_WRITE=$CORPUS cargo bench -q -p parapet-detect --bench trail 2>&1 | tail -1
  for rate in 1000 20000 50000; do
    id=$RANDOM
    target/release/parapet trail watch --nats "$NATS_URL" --stream BENCH$id --subject bench.trail.$id \
      --until-idle 3s --format jsonl -o /dev/null --stats --fail-on never 2> bench/out/watch.err &
    pid=$!
    sleep 1
    # 20 seconds of events at each rate (the whole corpus at 20k/s and up).
    head -n $((rate * 20 > 200000 ? 200000 : rate * 20)) "$CORPUS" |
      target/release/examples/nats_publish "$NATS_URL" bench.trail.$id "$rate"
    wait $pid || true
    DELETE_STREAM=BENCH$id target/release/examples/nats_publish "$NATS_URL" bench.trail.$id < /dev/null 2>/dev/null
    echo "rate $rate events/s: $(grep -h 'latency' bench/out/watch.err | sed 's/parapet: //')"
    grep -h 'events,' bench/out/watch.err | sed 's/parapet: /  /'
  done
} | tee bench/out/trail.txt
