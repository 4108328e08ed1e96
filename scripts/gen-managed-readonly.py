#!/usr/bin/env python3
"""Put the real ReadOnlyAccess, SecurityAudit and ViewOnlyAccess documents into
crates/aws/data/managed-policies.toml.

The documents come from github.com/zoph-io/MAMIP, which tracks AWS managed policies: its
files `policies/<Name>` hold `{"PolicyVersion": {"CreateDate", "VersionId", "Document"}}`.
Save those three files as <dir>/<Name>.json and run

    python3 scripts/gen-managed-readonly.py <dir> --commit <sha>
    python3 scripts/gen-managed-readonly.py <dir> --commit ReadOnlyAccess=<sha> --commit ...

where <sha> is the MAMIP commit each file was read at (a bare sha applies to every policy
without its own). Only the three tables are rewritten, each with a provenance comment
above it; [ViewOnlyAccess] is added right after [SecurityAudit] if missing. Every other
byte of the file is left as it was, and the result is checked before it is written.
"""
import argparse, json, os, re, sys, tomllib

NAMES = ["ReadOnlyAccess", "SecurityAudit", "ViewOnlyAccess"]
PROVENANCE = "# AWS managed policy "
DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "crates", "aws", "data",
                           "managed-policies.toml")


def block(name, version, sha):
    pv = version["PolicyVersion"]
    doc = json.dumps(pv["Document"], separators=(",", ":"))
    # A TOML literal string cannot hold a single quote, a newline or a control character.
    if "'" in doc or any(ord(c) < 0x20 or c == "\x7f" for c in doc):
        sys.exit(f"{name}: document cannot be a TOML literal string")
    return [
        f"{PROVENANCE}{name}, version {pv['VersionId']} of {pv['CreateDate']}, "
        f"from github.com/zoph-io/MAMIP (commit {sha})\n",
        f"[{name}]\n",
        f"document = '{doc}'\n",
    ]


def find(lines, name):
    """(start, end) of a table's lines: our provenance comment(s) directly above the
    header, the header, and its body up to the next blank line, comment or table."""
    header = f"[{name}]\n"
    idx = [i for i, l in enumerate(lines) if l == header]
    if len(idx) > 1:
        sys.exit(f"[{name}] appears {len(idx)} times")
    if not idx:
        return None
    start = end = idx[0]
    while start > 0 and lines[start - 1].startswith(PROVENANCE):
        start -= 1
    end += 1
    while end < len(lines) and lines[end].strip() and not lines[end].startswith(("[", "#")):
        end += 1
    return start, end


def others(text):
    """The file with the three tables cut out: what must not change."""
    lines = text.splitlines(keepends=True)
    for name in NAMES:
        span = find(lines, name)
        if span:
            start, end = span
            # [ViewOnlyAccess] may have been added by this script, with a blank line before it.
            if name == "ViewOnlyAccess" and start > 0 and lines[start - 1] == "\n":
                start -= 1
            lines[start:end] = []
    return "".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir", help="directory holding ReadOnlyAccess.json, SecurityAudit.json, ViewOnlyAccess.json")
    ap.add_argument("--commit", action="append", required=True,
                    help="MAMIP commit sha, or Name=sha for one policy (repeatable)")
    ap.add_argument("--out", default=DEFAULT_OUT)
    args = ap.parse_args()

    shas, default = {}, None
    for c in args.commit:
        name, eq, sha = c.rpartition("=")
        if not re.fullmatch(r"[0-9a-f]{40}", sha):
            sys.exit(f"--commit {c}: not a 40-hex commit id")
        if eq:
            if name not in NAMES:
                sys.exit(f"--commit {c}: unknown policy {name}")
            shas[name] = sha
        else:
            default = sha
    versions = {}
    for name in NAMES:
        if name not in shas and default is None:
            sys.exit(f"no commit for {name}")
        with open(os.path.join(args.dir, f"{name}.json")) as f:
            versions[name] = json.load(f)

    with open(args.out, encoding="utf-8", newline="") as f:
        original = f.read()
    lines = original.splitlines(keepends=True)
    for name in NAMES:
        new = block(name, versions[name], shas.get(name, default))
        span = find(lines, name)
        if span:
            lines[span[0]:span[1]] = new
        elif name == "ViewOnlyAccess":
            after = find(lines, "SecurityAudit")
            lines[after[1]:after[1]] = ["\n"] + new
        else:
            sys.exit(f"[{name}] not found in {args.out}")
    text = "".join(lines)

    # Checks: the TOML parses, the three documents round-trip, nothing else moved.
    parsed = tomllib.loads(text)
    before = tomllib.loads(original)
    for name in NAMES:
        got = json.loads(parsed[name]["document"])
        if got != versions[name]["PolicyVersion"]["Document"]:
            sys.exit(f"{name}: document does not round-trip")
    order = list(parsed)
    if order.index("ViewOnlyAccess") != order.index("SecurityAudit") + 1:
        sys.exit("[ViewOnlyAccess] is not right after [SecurityAudit]")
    if {k: v for k, v in parsed.items() if k not in NAMES} != {k: v for k, v in before.items() if k not in NAMES}:
        sys.exit("another table changed")
    if others(text) != others(original):
        sys.exit("bytes outside the three tables changed")

    with open(args.out, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    for name in NAMES:
        pv = versions[name]["PolicyVersion"]
        n = sum(len(s["Action"]) if isinstance(s.get("Action"), list) else 1
                for s in pv["Document"]["Statement"] if "Action" in s)
        print(f"{name}: {pv['VersionId']} of {pv['CreateDate']}, {n} action entries")


if __name__ == "__main__":
    main()
