#!/usr/bin/env bash
# CloudTrail detection speed: `parapet trail scan` end to end against rsigma's CLI on the
# same 300k-event file (wall time, peak memory, match counts); parapet's Sigma engine and
# detector against rsigma on the same 1M-event corpus (same run, one core each); then the
# delay from an event's arrival on a NATS JetStream stream to its alert with `parapet
# trail watch`. Writes bench/out/trail.txt.
#
#   bench/trail.sh                 # 1,000,000 events; PARAPET_BENCH_EVENTS to change
#   NATS_URL=nats://host:4222 bench/trail.sh
#   PARAPET_BENCH_E2E_ONLY=1 bench/trail.sh   # only the end-to-end comparison
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/out
N=${PARAPET_BENCH_EVENTS:-1000000}
NATS_URL=${NATS_URL:-nats://127.0.0.1:4222}
cargo build --release -q -p parapet-cli
cargo build --release -q -p parapet-watch --example nats_publish
CORPUS=$PWD/bench/out/trail-corpus.jsonl
# rsigma's CLI, the version of the engine linked into the engine benchmark, kept in
# target/ (not installed globally).
RSIGMA=$PWD/target/rsigma/bin/rsigma
[ -x "$RSIGMA" ] || cargo install -q rsigma --version 0.23.0 --locked --root "$PWD/target/rsigma"
RULES=crates/detect/tests/data/sigmahq
E2E=$PWD/bench/out/trail-300k.jsonl
[ -s "$E2E" ] || PARAPET_BENCH_EVENTS=300000 PARAPET_BENCH_WRITE=$E2E cargo bench -q -p parapet-detect --bench trail
e2e() {
  echo "## end to end, one core each (taskset -c 1): 300,000 events, $(du -m "$E2E" | cut -f1) MB of JSON lines"
  local P="taskset -c 1 target/release/parapet trail scan $E2E --fail-on never --format jsonl"
  local sigma="$P --no-builtin --rules $RULES --min-level informational -o bench/out/e2e-parapet.jsonl"
  local theirs="taskset -c 1 $RSIGMA engine eval -r $RULES -e @$E2E"
  hyperfine -N -w 1 -r 5 --export-markdown bench/out/e2e.md \
    -n "rsigma engine eval (57 SigmaHQ rules)" "$theirs" \
    -n "parapet trail scan --no-builtin --rules (57 SigmaHQ rules)" "$sigma" \
    -n "parapet trail scan (behaviour pack, defaults)" "$P -o /dev/null" 2>&1 >/dev/null | grep -v '^$' || true
  cat bench/out/e2e.md
  $theirs > bench/out/e2e-rsigma.jsonl 2>/dev/null
  $sigma 2>/dev/null
  echo "matches: rsigma $(wc -l < bench/out/e2e-rsigma.jsonl), parapet $(grep -c '"type":"alert"' bench/out/e2e-parapet.jsonl)"
  for cmd in "$theirs" "$sigma" "$P -o /dev/null"; do
    /usr/bin/time -v -o bench/out/e2e-time.txt $cmd > /dev/null 2>&1 || true
    kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' bench/out/e2e-time.txt)
    echo "peak RSS $((kb / 1024)) MB: ${cmd#taskset -c 1 }"
  done
}
if [ -n "${PARAPET_BENCH_E2E_ONLY:-}" ]; then
  e2e | tee bench/out/trail.txt
  exit 0
fi
{
  e2e
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
