#!/usr/bin/env python3
"""Time `parapet plan check` against Checkov on the same generated plans, same run.

Usage: python3 bench/run.py [--sizes 1000,8000,15000] [--runs 5] [--skip-checkov]

Needs: a release build (built here), and Checkov in bench/.venv (installed here from
PyPI if missing). Writes bench/out/results.md and prints it. Wall time and peak RSS are
measured per process with wait4(2); parapet's figure is the median of --runs runs,
Checkov's is one run (it takes minutes).
"""
import argparse, json, os, platform, statistics, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench", "out")
VENV = os.path.join(ROOT, "bench", ".venv")
PARAPET = os.path.join(ROOT, "target", "release", "parapet")
CHECKOV = os.path.join(VENV, "bin", "checkov")
CHECKOV_VERSION = "3.3.30"

def measure(cmd, stdout_path):
    with open(stdout_path, "wb") as out:
        start = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL, cwd=ROOT)
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - start
    return wall, usage.ru_maxrss / 1024.0, os.waitstatus_to_exitcode(status)

def ensure_tools(skip_checkov):
    subprocess.check_call(["cargo", "build", "--release", "--locked", "-q", "-p", "parapet-cli"], cwd=ROOT)
    if not skip_checkov and not os.path.exists(CHECKOV):
        subprocess.check_call([sys.executable, "-m", "venv", VENV])
        subprocess.check_call([os.path.join(VENV, "bin", "pip"), "install", "-q", f"checkov=={CHECKOV_VERSION}"])

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,8000,15000")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--skip-checkov", action="store_true")
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    ensure_tools(args.skip_checkov)
    rows = []
    for n in [int(x) for x in args.sizes.split(",")]:
        plan = os.path.join(OUT, f"plan-{n}.json")
        if not os.path.exists(plan):
            subprocess.check_call([sys.executable, os.path.join(ROOT, "bench", "gen_plan.py"), str(n), plan])
        size_mb = os.path.getsize(plan) / 1e6
        runs = []
        for _ in range(args.runs):
            runs.append(measure([PARAPET, "plan", "check", plan, "--actor", "agent:bench", "--format", "json", "--fail-on", "never"],
                                os.path.join(OUT, f"parapet-{n}.json")))
        wall = statistics.median(r[0] for r in runs)
        rss = max(r[1] for r in runs)
        report = json.load(open(os.path.join(OUT, f"parapet-{n}.json")))
        row = {"n": n, "mb": size_mb, "p_wall": wall, "p_rss": rss, "p_changes": report["counts"]["changes"],
               "p_findings": report["counts"]["findings"], "p_deny": report["counts"]["deny"], "p_review": report["counts"]["review"]}
        if not args.skip_checkov:
            cw, crss, code = measure([CHECKOV, "-f", plan, "--framework", "terraform_plan", "--quiet", "--compact",
                                      "--skip-download", "-o", "json"], os.path.join(OUT, f"checkov-{n}.json"))
            try:
                d = json.load(open(os.path.join(OUT, f"checkov-{n}.json")))
                d = d if isinstance(d, dict) else d[0]
                failed = d["summary"]["failed"]
            except Exception as e:  # noqa: BLE001 - report whatever Checkov wrote
                failed = f"unreadable ({e})"
            row.update({"c_wall": cw, "c_rss": crss, "c_failed": failed, "c_exit": code})
        rows.append(row)
        print(json.dumps(row), flush=True)
    lines = [f"Machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}; parapet median of {args.runs} runs; Checkov {CHECKOV_VERSION}, one run.", "",
             "| resources | plan MB | parapet s | parapet peak MB | Checkov s | Checkov peak MB | speed-up | parapet changes / findings / deny / review | Checkov failed checks |",
             "|---:|---:|---:|---:|---:|---:|---:|---|---:|"]
    for r in rows:
        c = f"{r['c_wall']:.1f} | {r['c_rss']:.0f} | {r['c_wall'] / r['p_wall']:.0f}x" if "c_wall" in r else "- | - | -"
        lines.append(f"| {r['n']} | {r['mb']:.1f} | {r['p_wall']:.3f} | {r['p_rss']:.0f} | {c} | {r['p_changes']} / {r['p_findings']} / {r['p_deny']} / {r['p_review']} | {r.get('c_failed', '-')} |")
    text = "\n".join(lines) + "\n"
    open(os.path.join(OUT, "results.md"), "w").write(text)
    print(text)

if __name__ == "__main__":
    main()
