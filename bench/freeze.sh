#!/usr/bin/env bash
# The per-call kill-switch read (App::frozen_now) on SQLite and PostgreSQL, in process:
# p50/p99/max of 5,000 reads each. The MCP gateway and the AWS proxy pay it on every call.
#   bench/freeze.sh                      # SQLite and the machine's PostgreSQL
#   PG=postgres://... bench/freeze.sh    # another PostgreSQL
set -euo pipefail
cd "$(dirname "$0")/.."
PG="${PG:-postgres://root@127.0.0.1:5432/test}"
cargo run --quiet --release -p parapet-server --example frozen_now -- "$PG"
