#!/usr/bin/env bash
# `parapet proxy mcp` speed (issue 23): the round trip the gateway adds to a trivial,
# allowed tool call, end to end as an agent runs it. The Python MCP SDK's client
# (crates/cli/tests/mcp_common/client.py) launches the server over stdio and calls its
# `echo` tool N times in a row (after a warm-up), first directly, then through
# `parapet proxy mcp` judging in process (`--database`) and through it judging at a
# running `parapet serve` (`--server`): p50/p99 per call and calls per second, on both
# revisions (2025-11-25 with initialize, 2026-07-28 without). The server is
# crates/cli/tests/mcp_common/server.py (Python `mcp` SDK); `echo` is mapped as a read
# of the server, so every call is judged, allowed and forwarded.
#
#   bench/mcp.sh              # N=2000 calls per run, WARMUP=200
#   N=500 bench/mcp.sh
#
# Needs target/mcp (the pinned `mcp` SDK, from scripts/test). Writes bench/out/mcp.txt.
# Quiet machine wanted: client, gateway, server (and serve) share the cores.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-2000}
WARMUP=${WARMUP:-200}
PY=$PWD/target/mcp/bin/python
T=$PWD/crates/cli/tests/mcp_common
[ -x "$PY" ] || { echo "target/mcp (the Python MCP SDK) is missing: run scripts/test once" >&2; exit 2; }
# PARAPET_BIN=path: measure that binary instead of building target/release/parapet.
if [ -z "${PARAPET_BIN:-}" ]; then cargo build --release --locked -q -p parapet-cli; fi
bin=${PARAPET_BIN:-$PWD/target/release/parapet}
mkdir -p bench/out
dir=$(mktemp -d)
serve_pid=""
cleanup() { [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT

# The agent's token and the mapping that makes `echo` an allowed read.
export PARAPET_LOG=warn
PARAPET_TOKEN=$("$bin" token create --database "$dir/p.db" --name bench --role agent \
  --actor agent:bench 2>/dev/null)
export PARAPET_TOKEN
mkdir -p "$dir/mappings"
cat > "$dir/mappings/deploy.toml" <<'EOF'
servers = "deploy"
[[tools]]
name = "echo"
action = "mcp:echo"
access = "read"
EOF

"$bin" serve --database "$dir/p.db" --listen 127.0.0.1:0 > "$dir/serve.out" 2> "$dir/serve.err" &
serve_pid=$!
for _ in $(seq 100); do grep -q 'http://' "$dir/serve.out" 2>/dev/null && break; sleep 0.1; done
serve_url=$(grep -o 'http://[0-9.:]*' "$dir/serve.out" | head -1)
[ -n "$serve_url" ] || { echo "parapet serve did not start:" >&2; cat "$dir/serve.err" >&2; exit 1; }

steps="[{\"op\":\"bench\",\"tool\":\"echo\",\"args\":{\"text\":\"ping\"},\"n\":$N,\"warmup\":$WARMUP}]"
server=("$PY" "$T/server.py")
gw=("$bin" proxy mcp --name deploy --mappings "$dir/mappings")
run() { # mode, label, command...
  local mode=$1 label=$2; shift 2
  local r
  r=$("$PY" "$T/client.py" --mode "$mode" --steps "$steps" -- "$@" 2> "$dir/client.err") ||
    { echo "$label ($mode) failed:" >&2; tail -20 "$dir/client.err" >&2; exit 1; }
  echo "$mode $label $r"
}
{
  echo "# $(date -u +%F) $(nproc) cores; $N calls per run after $WARMUP warm-up; $("$bin" --version 2>/dev/null || echo parapet dev)"
  echo "# python $("$PY" -c 'import sys; print(sys.version.split()[0])'), mcp $("$PY" -c 'import importlib.metadata as m; print(m.version("mcp"))')"
  for mode in legacy 2026-07-28; do
    run "$mode" direct "${server[@]}"
    run "$mode" gateway-in-process "${gw[@]}" --database "$dir/p.db" -- "${server[@]}"
    run "$mode" gateway-remote "${gw[@]}" --server "$serve_url" -- "${server[@]}"
  done
} | tee "$dir/results.txt"

# Added per call: the gateway's percentiles minus the direct ones, same revision.
python3 - "$dir/results.txt" <<'EOF' | tee -a "$dir/results.txt"
import json, sys
rows = {}
for line in open(sys.argv[1]):
    if line.startswith("#"):
        continue
    mode, label, r = line.split(" ", 2)
    rows[(mode, label)] = json.loads(r)
print("| revision | path | p50 ms | p99 ms | calls/s | added p50 ms | added p99 ms |")
print("|---|---|---:|---:|---:|---:|---:|")
for (mode, label), r in rows.items():
    d = rows[(mode, "direct")]
    add = lambda k: "" if label == "direct" else f"{(r[k] - d[k]) / 1000:+.2f}"
    rev = "2025-11-25" if mode == "legacy" else mode
    print(f"| {rev} | {label} | {r['p50_us'] / 1000:.2f} | {r['p99_us'] / 1000:.2f} "
          f"| {r['calls_per_s']:.0f} | {add('p50_us')} | {add('p99_us')} |")
EOF
cp "$dir/results.txt" bench/out/mcp.txt
