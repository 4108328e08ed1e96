"""Run parapet, picklescan, modelscan and fickling over the same corpus; print a
Markdown table of detections, misses, false alarms and time. Called by modelscan.sh."""
import json, os, subprocess, sys, tempfile, time

parapet, venv, corpus = (os.path.abspath(a) for a in sys.argv[1:4])
# fickling drops safety_results.json into the working directory
WORK = tempfile.mkdtemp(prefix="parapet-bench-")
bin_ = lambda t: os.path.join(venv, "bin", t)

def files(sub):
    out = []
    for root, _, names in os.walk(os.path.join(corpus, sub)):
        out += [os.path.join(root, n) for n in sorted(names)]
    return sorted(out)

def run(cmd):
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=3600, cwd=WORK)
    return p, time.perf_counter() - t

# flagged(file) -> bool per tool, from its own exit code / report
def parapet_flag(f):
    p, _ = run([parapet, "model", "scan", f, "--format", "json", "--fail-on", "never"])
    v = json.loads(p.stdout)
    return any(x["verdict"] in ("malicious", "suspicious") for x in v["files"])

def picklescan_flag(f):
    p, _ = run([bin_("picklescan"), "-p", f])
    return p.returncode == 1

def modelscan_flag(f):
    p, _ = run([bin_("modelscan"), "-p", f])
    return p.returncode == 1

def fickling_flag(f):
    # 0 safe, 1 unsafe; 2 is "could not parse", which fickling itself says not to trust
    p, _ = run([bin_("fickling"), "--check-safety", f])
    return p.returncode == 1

tools = {
    "parapet": (parapet_flag, lambda d: [parapet, "model", "scan", d, "--fail-on", "never"]),
    "picklescan": (picklescan_flag, lambda d: [bin_("picklescan"), "-p", d]),
    "modelscan": (modelscan_flag, lambda d: [bin_("modelscan"), "-p", d]),
    "fickling": (fickling_flag, None),
}

mal, ben = files("malicious"), files("benign")
rows = []
for name, (flag, dircmd) in tools.items():
    t0 = time.perf_counter()
    caught = [f for f in mal if flag(f)]
    alarms = [f for f in ben if flag(f)]
    per_file = time.perf_counter() - t0
    dir_time = big_time = None
    if dircmd:
        _, dir_time = run(dircmd(os.path.join(corpus, "benign")))
        _, big_time = run(dircmd(os.path.join(corpus, "big")))
    else:
        t = time.perf_counter()
        for f in files("big"):
            run([bin_("fickling"), "--check-safety", f])
        big_time = time.perf_counter() - t
    missed = sorted(os.path.basename(f) for f in set(mal) - set(caught))
    rows.append((name, len(caught), len(mal), missed, [os.path.relpath(f, corpus) for f in alarms],
                 per_file, dir_time, big_time))

print(f"\n{len(mal)} malicious, {len(ben)} benign files\n")
print("| tool | caught | missed | false alarms | all files one by one (s) | benign dir in one run (s) | 1 GiB pickle (s) |")
print("|---|---|---|---|---|---|---|")
for n, c, m, missed, alarms, pf, dt, bt in rows:
    fmt = lambda x: "n/a" if x is None else f"{x:.2f}"
    print(f"| {n} | {c}/{m} | {len(missed)} | {len(alarms)} | {fmt(pf)} | {fmt(dt)} | {fmt(bt)} |")
for n, c, m, missed, alarms, *_ in rows:
    if missed:
        print(f"\n{n} missed: {', '.join(missed)}")
    if alarms:
        print(f"\n{n} false alarms: {', '.join(alarms[:20])}{' ...' if len(alarms) > 20 else ''}")
