#!/usr/bin/env bash
# Inventory speed: `parapet inventory` against `cyclonedx-py environment` (CycloneDX's
# own Python SBOM tool) on the same large virtualenv, same run. Writes bench/out/inventory.txt.
#
#   bench/inventory.sh            # builds bench/.inv-venv once (PyPI), then measures
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/out
VENV=bench/.inv-venv
TOOLS=bench/.inv-tools
if [ ! -f "$VENV/.ready" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check \
    jupyterlab scikit-learn pandas transformers openai anthropic langchain boto3 fastapi uvicorn
  touch "$VENV/.ready"
fi
if [ ! -x "$TOOLS/bin/cyclonedx-py" ]; then
  python3 -m venv "$TOOLS"
  "$TOOLS/bin/pip" install -q --disable-pip-version-check cyclonedx-bom
fi
cargo build --release -q -p parapet-cli
BIN=target/release/parapet
pkgs=$(ls -d "$VENV"/lib/python3*/site-packages/*.dist-info | wc -l)
files=$(find "$VENV" -type f | wc -l)
{
  echo "# $(date -u +%F) $(nproc) cores; venv: $pkgs distributions, $files files, $(du -sh "$VENV" | cut -f1)"
  echo "# parapet $("$BIN" --version 2>/dev/null || echo dev); $("$TOOLS/bin/cyclonedx-py" --version 2>&1 | head -1)"
  # warm the page cache for both
  "$BIN" inventory "$VENV" --format cyclonedx --no-hash -o /dev/null --fail-on never
  "$TOOLS/bin/cyclonedx-py" environment "$VENV/bin/python" -o /dev/null
  hyperfine -w 1 -r 5 -N \
    "$BIN inventory $VENV --format cyclonedx -o /dev/null --fail-on never" \
    "$BIN inventory $VENV --format cyclonedx --no-hash -o /dev/null --fail-on never" \
    "$TOOLS/bin/cyclonedx-py environment $VENV/bin/python -o /dev/null" 2>&1
  echo "# components found"
  "$BIN" inventory "$VENV" --format cyclonedx --no-hash --fail-on never | python3 -c 'import json,sys; b=json.load(sys.stdin); print("parapet:", len([c for c in b["components"] if c["type"] in ("library","framework")]), "packages,", len([c for c in b["components"] if c["type"]=="machine-learning-model"]), "models")'
  "$TOOLS/bin/cyclonedx-py" environment "$VENV/bin/python" | python3 -c 'import json,sys; b=json.load(sys.stdin); print("cyclonedx-py:", len(b.get("components",[])), "components")'
} | tee bench/out/inventory.txt
