#!/usr/bin/env bash
# parapet model scan vs picklescan, modelscan and fickling on the same files, same run.
#
#   bench/modelscan.sh            # builds the corpus, installs the peers in bench/.venv
#
# Corpus (bench/.modelscan-corpus, rebuilt each run):
#   malicious/  the 38 malicious picklescan samples (crates/modelscan/tests/data/pickles)
#   benign/     the 8 benign picklescan samples, pickles/joblib files that scikit-learn,
#               numpy and joblib write here, and the test data shipped in the joblib and
#               onnx wheels from PyPI
#   big/        one 1 GiB legacy-format and zip-format checkpoint (tensor payload skipping)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=bench/.venv
C=bench/.modelscan-corpus
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q picklescan py7zr modelscan fickling typing_extensions numpy scikit-learn joblib >/dev/null
cargo build --release -q -p parapet-cli
PARAPET=target/release/parapet

rm -rf "$C" && mkdir -p "$C/malicious" "$C/benign" "$C/big" "$C/wheels"
while IFS=, read -r file label _; do
  [ "$file" = file ] && continue
  cp "crates/modelscan/tests/data/pickles/$file" "$C/$label/$file"
done < crates/modelscan/tests/data/pickles/labels.csv
"$VENV/bin/pip" download -q --no-deps -d "$C/wheels" joblib onnx >/dev/null
for w in "$C"/wheels/*.whl; do
  name=$(basename "$w" .whl)
  mkdir -p "$C/benign/$name"
  (cd "$C/benign/$name" && "$OLDPWD/$VENV/bin/python" -m zipfile -e "$OLDPWD/$w" . >/dev/null)
  # keep only model/data files: the peers scan .py sources too slowly to compare fairly
  find "$C/benign/$name" -type f \( -name '*.py' -o -name '*.pyc' -o -name '*.txt' -o -name '*.md' -o -name 'RECORD' -o -name 'METADATA' -o -name 'WHEEL' -o -name '*.typed' -o -name '*.so' -o -name '*.pyi' -o -name '*.c' -o -name '*.h' -o -name '*.cc' -o -name '*.proto' \) -delete
done
"$VENV/bin/python" - "$C" <<'PY'
import sys, pickle, joblib, numpy as np, os
from sklearn.linear_model import LogisticRegression
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
out = sys.argv[1]
X = np.random.RandomState(0).rand(200, 8); y = (X[:, 0] > .5).astype(int)
models = {
  "logreg": make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y),
  "forest": RandomForestClassifier(n_estimators=20, random_state=0).fit(X, y),
}
for name, m in models.items():
    for proto in (2, 4, 5):
        with open(f"{out}/benign/sk_{name}_p{proto}.pkl", "wb") as f:
            pickle.dump(m, f, protocol=proto)
    joblib.dump(m, f"{out}/benign/sk_{name}.joblib")
    joblib.dump(m, f"{out}/benign/sk_{name}_z.joblib.gz", compress=("gzip", 3))
np.save(f"{out}/benign/array.npy", np.arange(1000.0))
np.savez(f"{out}/benign/arrays.npz", a=np.arange(10), b=np.eye(3))
joblib.dump({"w": np.random.rand(256, 256), "names": ["a", "b"]}, f"{out}/benign/dict.joblib")
# big: 1 GiB of float32 in a protocol-4 pickle (raw bytes inline)
big = np.zeros(256 * 1024 * 1024, dtype=np.float32)
with open(f"{out}/big/big_p4.pkl", "wb") as f:
    pickle.dump({"weight": big}, f, protocol=4)
PY

count() { find "$1" -type f | wc -l; }
echo "malicious files: $(count $C/malicious), benign files: $(count $C/benign), big: $(du -sh $C/big | cut -f1)"

# Each tool: per-file verdicts (flagged = any dangerous/suspicious finding or error exit
# that the tool itself reports as infected), and wall time over the whole corpus.
"$VENV/bin/python" bench/modelscan_compare.py "$PARAPET" "$VENV" "$C"
