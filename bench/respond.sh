#!/usr/bin/env bash
# Containment speed (issue 24), end to end as a responder runs it, against moto server:
#   scan + contain  `parapet trail scan LOGS --format jsonl | parapet respond run - --execute`
#                   from the CloudTrail files to every step the gate allows applied and
#                   checked (keys deactivated, console password removed);
#   contain         `parapet respond run incidents.jsonl --execute` alone;
#   AWS CLI         the same four calls with the AWS CLI (`aws iam update-access-key` x3,
#                   `aws iam delete-login-profile`), what a responder's script would run,
#                   without reading the incident or checking anything.
# The log is the bundled 8-minute takeover with the key ids of users made in moto. Each
# run starts from the attacker's state (keys active, password set; hyperfine --prepare).
#
#   bench/respond.sh            # RUNS=10
#
# Needs target/moto (moto server and the AWS CLI, from scripts/test); installs hyperfine
# (Debian package) when it is missing.
# Writes bench/out/respond.md.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-10}
V=$PWD/target/moto/bin
[ -x "$V/moto_server" ] || { echo "target/moto is missing: run scripts/test once" >&2; exit 2; }
if ! command -v hyperfine >/dev/null; then
  apt-get update -qq && apt-get install -y -qq hyperfine
fi
if [ -z "${PARAPET_BIN:-}" ]; then cargo build --release --locked -q -p parapet-cli; fi
bin=${PARAPET_BIN:-$PWD/target/release/parapet}
mkdir -p bench/out
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$V/moto_server" -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
moto=$!
cleanup() { kill "$moto" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 \
  AWS_DEFAULT_REGION=us-east-1 AWS_ENDPOINT_URL=http://127.0.0.1:$port PARAPET_LOG=warn
for _ in $(seq 50); do (echo >/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done
aws() { "$V/aws" --endpoint-url "$AWS_ENDPOINT_URL" "$@"; }
for u in svc-reporting ops-admin backup-svc; do
  aws iam create-user --user-name "$u" >/dev/null
  aws iam create-access-key --user-name "$u" --query AccessKey.AccessKeyId --output text
done > "$dir/keys"
aws iam create-login-profile --user-name backup-svc --password 'Backdoor-Passw0rd!' >/dev/null
python3 - "$dir" <<'PY'
import gzip, glob, os, sys
d = sys.argv[1]
keys = open(f"{d}/keys").read().split()
old = ["AKIAEYKH2CMZ5ML24UMD", "AKIAHCJ6YFZEBYEZLKBW", "AKIAHBY5RW3LIE5CHDMW"]
os.makedirs(f"{d}/logs")
for f in glob.glob("demo/trail/takeover/*.json.gz"):
    t = gzip.open(f).read().decode()
    for o, n in zip(old, keys):
        t = t.replace(o, n)
    open(f"{d}/logs/" + os.path.basename(f)[:-3], "w").write(t)
PY
"$bin" trail scan "$dir/logs" --format jsonl > "$dir/incidents.jsonl" || true
# Back to the attacker's state: keys active, the back door's password set.
cat > "$dir/reset.sh" <<SH
#!/usr/bin/env bash
set -e
paste -d' ' <(printf 'svc-reporting\nops-admin\nbackup-svc\n') "$dir/keys" | while read -r u k; do
  "$V/aws" --endpoint-url "$AWS_ENDPOINT_URL" iam update-access-key --user-name "\$u" --access-key-id "\$k" --status Active
done
"$V/aws" --endpoint-url "$AWS_ENDPOINT_URL" iam create-login-profile --user-name backup-svc --password 'Backdoor-Passw0rd!' >/dev/null 2>&1 || true
rm -f "$dir"/r*.jsonl
SH
chmod +x "$dir/reset.sh"
{ read -r k1; read -r k2; read -r k3; } < "$dir/keys"
cli="$V/aws --endpoint-url $AWS_ENDPOINT_URL"
hyperfine --warmup 1 --runs "$RUNS" --prepare "$dir/reset.sh" --ignore-failure \
  --export-markdown bench/out/respond.md \
  -n "scan + contain (parapet)" "$bin trail scan $dir/logs --format jsonl 2>/dev/null | $bin respond run - --execute --record $dir/r1.jsonl --step deactivate-access-key --step remove-login-profile" \
  -n "contain (parapet respond run)" "$bin respond run $dir/incidents.jsonl --execute --record $dir/r2.jsonl --step deactivate-access-key --step remove-login-profile" \
  -n "AWS CLI, same 4 calls" "$cli iam update-access-key --user-name svc-reporting --access-key-id $k1 --status Inactive && $cli iam update-access-key --user-name ops-admin --access-key-id $k2 --status Inactive && $cli iam update-access-key --user-name backup-svc --access-key-id $k3 --status Inactive && $cli iam delete-login-profile --user-name backup-svc"
# Every run must have contained: the last one's record says so.
"$dir/reset.sh"
"$bin" respond run "$dir/incidents.jsonl" --execute --record "$dir/check.jsonl" \
  --step deactivate-access-key --step remove-login-profile --format json > "$dir/last.json"
grep -c '"state":"done"' "$dir/last.json" | grep -qx 4 || { echo "containment did not complete:" >&2; cat "$dir/last.json" >&2; exit 1; }
cat bench/out/respond.md
