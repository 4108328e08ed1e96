#!/usr/bin/env bash
# How `parapet plan check` scales with plan size on plans built from modules, side by
# side with Checkov on the same files, run as a user runs them.
#
# Usage: bench/plan_scale.sh [SIZES...]          (default: 5000 15000 30000)
#   RUNS=5             hyperfine runs per size for parapet (after one warm-up run)
#   CHECKOV_TIMEOUT=900  seconds before Checkov is stopped (exit 124 in the table)
#   SKIP_CHECKOV=1     parapet only
#   PARAPET=path       the binary to measure (default: builds target/release/parapet)
#   BENCH_OUT=dir      where plans, outputs and results.md go (default target/bench-plan-scale)
#
# Installs what it needs: hyperfine (Debian package), Checkov 3.3.30 from PyPI into
# target/checkov. Plans come from bench/gen_plan_modules.py (seed 42) and are kept in
# target/bench-plan-scale/ with every tool's output and the table (results.md).
# Wall time: hyperfine's mean and standard deviation. Peak memory: /usr/bin/time -v's
# maximum resident set size, one extra run each.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${BENCH_OUT:-$ROOT/target/bench-plan-scale}
CHECKOV_VERSION=3.3.30
RUNS=${RUNS:-5}
CHECKOV_TIMEOUT=${CHECKOV_TIMEOUT:-900}
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(5000 15000 30000)
mkdir -p "$OUT"

if ! command -v hyperfine >/dev/null; then
    apt-get update -qq && apt-get install -y -qq hyperfine
fi
[ -x /usr/bin/time ] || apt-get install -y -qq time
if [ -z "${SKIP_CHECKOV:-}" ] && [ ! -x target/checkov/bin/checkov ]; then
    python3 -m venv target/checkov
    target/checkov/bin/pip install -q "checkov==$CHECKOV_VERSION"
fi
if [ -z "${PARAPET:-}" ]; then
    cargo build --release --locked -q -p parapet-cli
    PARAPET=$ROOT/target/release/parapet
fi

# MB = 10^6 bytes, for peak memory and plan size alike (time -v reports KiB).
rss_mb() { awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2 * 1024 / 1e6}' "$1"; }
wall_s() { # "Elapsed (wall clock) time (h:mm:ss or m:ss): 1:02.03" -> seconds
    awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.1f", s}' "$1"
}

{
    echo "Machine: $(uname -m), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $(lscpu | awk -F': *' '/Model name/ {print $2; exit}'), Linux $(uname -r); $(date -u +%F)."
    echo "parapet: hyperfine --warmup 1 --runs $RUNS; Checkov $CHECKOV_VERSION: one run, stopped after ${CHECKOV_TIMEOUT} s."
    echo
    echo "| resources | plan MB | parapet s (mean ± sd) | parapet peak MB | peak / plan | Checkov s | Checkov peak MB | Checkov exit | speed-up |"
    echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
} >"$OUT/results.md"

for n in "${SIZES[@]}"; do
    plan=$OUT/plan-$n.json
    [ -s "$plan" ] || python3 bench/gen_plan_modules.py "$n" "$plan"
    mb=$(stat -c %s "$plan" | awk '{printf "%.1f", $1 / 1e6}')
    cmd=("$PARAPET" plan check "$plan" --actor agent:bench --format json -o "$OUT/parapet-$n.json" --fail-on never)
    hyperfine -N --warmup 1 --runs "$RUNS" --export-json "$OUT/hyperfine-$n.json" "${cmd[*]}" >&2
    /usr/bin/time -v "${cmd[@]}" 2>"$OUT/time-parapet-$n.txt" >/dev/null
    read -r mean sd < <(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print("%.3f %.3f" % (r["mean"], r["stddev"] or 0))' "$OUT/hyperfine-$n.json")
    prss=$(rss_mb "$OUT/time-parapet-$n.txt")
    ratio=$(awk -v r="$prss" -v m="$mb" 'BEGIN {printf "%.1fx", r / m}')
    cw=- crss=- cexit=- speed=-
    if [ -z "${SKIP_CHECKOV:-}" ]; then
        set +e
        timeout "$CHECKOV_TIMEOUT" /usr/bin/time -v target/checkov/bin/checkov -f "$plan" --framework terraform_plan \
            --quiet --compact --skip-download -o json >"$OUT/checkov-$n.json" 2>"$OUT/time-checkov-$n.txt"
        cexit=$?
        set -e
        if [ "$cexit" = 124 ]; then
            cw=">$CHECKOV_TIMEOUT" crss="-" speed=">$(awk -v c="$CHECKOV_TIMEOUT" -v p="$mean" 'BEGIN {printf "%.0f", c / p}')x"
        else
            cw=$(wall_s "$OUT/time-checkov-$n.txt")
            crss=$(rss_mb "$OUT/time-checkov-$n.txt")
            speed=$(awk -v c="$cw" -v p="$mean" 'BEGIN {printf "%.0fx", c / p}')
        fi
    fi
    echo "| $n | $mb | $mean ± $sd | $prss | $ratio | $cw | $crss | $cexit | $speed |" | tee -a "$OUT/results.md"
done
cat "$OUT/results.md"
