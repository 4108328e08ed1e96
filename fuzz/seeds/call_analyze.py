#!/usr/bin/env python3
"""Seeds for the call_analyze fuzz target, from calls the tests already make.

Each seed is `action\\nresource\\nJSON parameters`: the (action, json!(...)) pairs in
the knowledge layer's and the gate's tests (API and CloudTrail shapes), and every
successful write in the Stratus Red Team detonations (CloudTrail's requestParameters).
Run from the repository root: python3 fuzz/seeds/call_analyze.py
"""
import hashlib, json, os, re, sys

OUT = "fuzz/corpus/call_analyze"
SOURCES = [
    "crates/aws/tests/shapes.rs",
    "crates/gate/tests/calls.rs",
    "crates/gate/tests/names.rs",
    "crates/gate/tests/read_only.rs",
    "crates/gate/tests/unreadable_params.rs",
    "crates/gate/tests/bad_input.rs",
]
ACTION = re.compile(r'"([A-Za-z0-9-]+:[A-Za-z0-9_ -]+)"')


def balanced(text, start):
    """The text of the bracketed value starting at text[start] ('{' or '[')."""
    depth, i, in_str = 0, start, False
    while i < len(text):
        c = text[i]
        if in_str:
            if c == "\\":
                i += 1
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = True
        elif c in "{[":
            depth += 1
        elif c in "}]":
            depth -= 1
            if depth == 0:
                return text[start : i + 1]
        i += 1
    return None


def from_tests():
    for path in SOURCES:
        text = open(path).read()
        for m in re.finditer(r"json!\(\s*([\[{])", text):
            body = balanced(text, m.start(1))
            if body is None:
                continue
            try:
                params = json.loads(body)
            except ValueError:
                continue  # Rust expressions inside json!: not a literal
            actions = ACTION.findall(text[max(0, m.start() - 300) : m.start()])
            if actions:
                yield actions[-1], "", params


def from_stratus():
    d = "testdata/cloudtrail/stratus"
    for name in sorted(n for n in os.listdir(d) if n.endswith(".json")):
        doc = json.load(open(os.path.join(d, name)))
        records = doc.get("Records", doc) if isinstance(doc, dict) else doc
        for r in records:
            if r.get("readOnly") or r.get("errorCode") or not r.get("requestParameters"):
                continue
            svc = r["eventSource"].split(".")[0]
            arn = ((r.get("resources") or [{}])[0] or {}).get("ARN", "")
            yield f"{svc}:{r['eventName']}", arn, r["requestParameters"]


def main():
    os.makedirs(OUT, exist_ok=True)
    seen = set()
    for action, resource, params in list(from_tests()) + list(from_stratus()):
        seed = f"{action}\n{resource}\n{json.dumps(params)}".encode()
        h = hashlib.sha1(seed).hexdigest()[:16]
        if h in seen:
            continue
        seen.add(h)
        open(os.path.join(OUT, h), "wb").write(seed)
    # Shapes the tests do not hold: spellings, no parameters, non-object parameters.
    for extra in ["iam:attach_user_policy\n\n{}", "s3:ListObjectsV2", "ec2:RunInstances\n\n[1,2]",
                  "madeup:DoThing\narn:aws:madeup:::x\n{\"a\": null}"]:
        h = hashlib.sha1(extra.encode()).hexdigest()[:16]
        open(os.path.join(OUT, h), "wb").write(extra.encode())
        seen.add(h)
    print(f"{len(seen)} seeds in {OUT}", file=sys.stderr)


main()
