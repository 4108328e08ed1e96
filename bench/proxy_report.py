"""Summarise bench/proxy.sh's results (bench/out/proxy.jsonl) as the Markdown tables
of BENCHMARKS.md: per upstream, call and rate, direct and proxied p50/p99 and the
difference (what the proxy adds); the closed-loop ceiling; the uploads.

    python3 bench/proxy_report.py bench/out/proxy.jsonl
    python3 bench/proxy_report.py --line '<one loadgen JSON object>'
"""

import json
import sys


def ok(r):
    return r["errors"] == 0 and not r["non_2xx"]


def main(path):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    rate = {}
    for row in rows:
        if row["tag"] == "rate":
            r = row["result"]
            upstream = row["target"].split("-")[1]
            side = row["target"].split("-")[0]
            rate[(upstream, r["call"], r["asked_rate"], side)] = r
    print("\n| upstream | call | rate/s | direct p50 | proxy p50 | added p50 | direct p99 | proxy p99 | added p99 | answered/s (proxy) | failures |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    seen = sorted({k[:3] for k in rate}, key=lambda k: (k[0], k[1], k[2]))
    for upstream, call, asked in seen:
        d = rate.get((upstream, call, asked, "direct"))
        p = rate.get((upstream, call, asked, "proxy"))
        if not d or not p:
            continue
        bad = [f"{side}: {r['non_2xx']} {r['errors']} err" for side, r in (("direct", d), ("proxy", p)) if not ok(r)]
        print(
            f"| {upstream} | {call} | {asked:.0f} | {d['p50_ms']:.2f} | {p['p50_ms']:.2f} | "
            f"{p['p50_ms'] - d['p50_ms']:+.2f} | {d['p99_ms']:.2f} | {p['p99_ms']:.2f} | "
            f"{p['p99_ms'] - d['p99_ms']:+.2f} | {p['answered_rate']:.0f} | {'; '.join(bad) or 'none'} |"
        )
    print("\n| ceiling (closed loop) | call | requests/s | p50 ms | p99 ms | failures |")
    print("|---|---|---:|---:|---:|---|")
    for row in rows:
        if row["tag"] == "max":
            r = row["result"]
            fail = "none" if ok(r) else f"{r['non_2xx']} {r['errors']} err"
            print(f"| {row['target']} | {r['call']} | {r['answered_rate']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {fail} |")
    print("\n| upload | target | time s | proxy peak RSS before -> after (MB) |")
    print("|---|---|---:|---|")
    for row in rows:
        r = row["result"]
        if row["tag"] == "upload":
            print(
                f"| aws s3 cp {r['mb']} MB | {row['target']} | {r['seconds']:.2f} | "
                f"{r['proxy_hwm_kb_before'] / 1024:.0f} -> {r['proxy_hwm_kb_after'] / 1024:.0f} |"
            )
        elif row["tag"] == "put":
            fail = "" if ok(r) else f" (failures: {r['non_2xx']} {r['errors']} err: {r['sample_failure'][:80]})"
            print(
                f"| PutObject {r['sent']}x single body | {row['target']} | median {r['p50_ms'] / 1000:.2f}{fail} | "
                f"{row['proxy_hwm_kb_before'] / 1024:.0f} -> {row['proxy_hwm_kb_after'] / 1024:.0f} |"
            )


def line(text):
    """One loadgen result as a progress line."""
    r = json.loads(text)
    print(
        f"answered {r['answered_rate']:.0f}/s, ok {r['ok']}, non-2xx {r['non_2xx']}, "
        f"errors {r['errors']}, p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms"
    )


if __name__ == "__main__":
    if sys.argv[1] == "--line":
        line(sys.argv[2])
    else:
        main(sys.argv[1])
