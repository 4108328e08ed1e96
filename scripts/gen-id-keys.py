#!/usr/bin/env python3
"""Regenerate crates/aws/data/id-keys.tsv: which input members of each AWS operation name
the resource it acts on, read from AWS's service models.

Inputs, all in this repository (no download):
  crates/wire/data/service-models.json.gz   botocore's input shapes (scripts/gen-service-models)
  crates/wire/data/iam-prefix-overrides.tsv the IAM prefix of services that sign otherwise
  crates/aws/data/iam-catalog.tsv           each IAM action's resource types and their ARN patterns
  crates/aws/data/api-operations.tsv        API names that are not IAM action names

For every operation of every service the models hold:
  kind   the IAM resource type the operation acts on, chosen as crates/aws/src/api/place.rs
         chooses it (the required type the action is named after, else ...), or, when the
         catalog does not say, the service's resource type whose ARN variables the input
         names (BatchGetSecretValue's SecretIdList names secrets).
  parts  the members that name that resource, one part per variable of the kind's ARN
         pattern (`arn:...:s3:::${BucketName}/${ObjectName}` is Bucket then Key), each part
         the members that can spell it (`GroupId|GroupName`), best first. Members are matched
         to variables by their words (`DBInstanceIdentifier` ~ `DbInstanceName`), by member
         and shape name (`Key` of shape `ObjectKey` ~ `ObjectName`), anywhere in the input up
         to three levels deep (`Delete.Objects[].Key`). When no variable is matched, members
         whose words hold the kind's name; when there is no kind, the required identifier
         members. A part is required (`!`) when the model requires one of its members.
  arns   every other top-level member whose name ends in Arn, ARN or Arns (ResourceArn,
         ResourceARNList): when no part is readable they still name the resource, and the ARN
         says its kind.

Paths: `a.b` a member of a structure, `a[]` every item of a list, `a{}` every key of a map.
Operations whose input names nothing are not written. Deterministic: sorted output.

  python3 scripts/gen-id-keys.py
"""
import gzip, hashlib, json, os, re, sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
MODELS = os.path.join(ROOT, "crates", "wire", "data", "service-models.json.gz")
OVERRIDES = os.path.join(ROOT, "crates", "wire", "data", "iam-prefix-overrides.tsv")
CATALOG = os.path.join(ROOT, "crates", "aws", "data", "iam-catalog.tsv")
API_OPS = os.path.join(ROOT, "crates", "aws", "data", "api-operations.tsv")
OUT = os.path.join(ROOT, "crates", "aws", "data", "id-keys.tsv")

# The last word of an identifier member (or of its shape's name).
ID_WORDS = {"arn", "arns", "id", "ids", "identifier", "identifiers", "name", "names", "url", "urls", "alias"}
# Words that do not say which resource: dropped before names are compared.
NOISE = ID_WORDS | {"list", "with", "path", "without", "leading", "slash", "type", "string", "value", "resource"}
# Never resource names: pagination, idempotency and request bookkeeping.
NOT_IDS = {"ClientToken", "NextToken", "ClientRequestToken", "IdempotencyToken", "Marker", "DryRun",
           "ExpectedBucketOwner", "ExpectedSourceBucketOwner", "RequestPayer", "ChecksumAlgorithm"}
# Members never descended into: tags and filters name no target.
NO_DESCEND = {"Tags", "TagSpecifications", "TagList", "Filters", "Filter", "TagKeys"}
# The last word of a member that describes the resource it names (`DatabaseInput`).
WRAPPERS = {"input", "request", "definition", "spec", "specification", "details"}
ARN_VARS_SKIPPED = {"Partition", "Region", "Account"}
MAX_DEPTH = 3


def words(name):
    return [w.lower() for w in re.findall(r"[A-Z]+(?=[A-Z][a-z]|\d|$)|[A-Z]?[a-z]+|\d+|[A-Z]+", name)]


def core(ws):
    return [w for w in ws if w not in NOISE]


def load_catalog():
    cat, svc = {}, None
    with open(CATALOG) as f:
        for line in f:
            if line.startswith("#"):
                continue
            c = line.rstrip("\n").split("\t")
            if c[0] == "S":
                svc = c[1]
                cat[svc] = {"res": {}, "act": {}}
            elif c[0] == "R":
                cat[svc]["res"][c[1]] = c[2]
            elif c[0] == "A":
                cat[svc]["act"][c[1].lower()] = (c[1], c[2], c[3])
    api = {}
    with open(API_OPS) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            s, op, action = line.rstrip("\n").split("\t")[:3]
            api[(s, op.lower())] = action
    return cat, api


def iam_prefixes():
    out = {}
    with open(OVERRIDES) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            c = line.rstrip("\n").split("\t")
            out[c[0]] = c[1]
    return out


def action_of(cat, api, prefix, op):
    acts = cat.get(prefix, {}).get("act", {})
    a = acts.get(op.lower())
    if a is None and (prefix, op.lower()) in api:
        a = acts.get(api[(prefix, op.lower())].lower())
    return a


def target_kind(action):
    """As crates/aws/src/api/place.rs `target_kind`."""
    types = [(t[:-1], True) if t.endswith("*") else (t, False) for t in action[2].split(",") if t]
    req = [t for t, r in types if r]
    every = [t for t, _ in types]
    name = action[0].lower()

    def named(among):
        hits = [(t, t.replace("-", "").lower()) for t in among if t.replace("-", "").lower() in name]
        if len(hits) == 1:
            return hits[0][0]
        widest = [t for t, f in hits if all(g in f for _, g in hits)]
        if widest:
            return widest[0]
        ends = [t for t, f in hits if name.endswith(f)]
        return ends[0] if len(ends) == 1 else None

    k = named(req) or named(every)
    if k is None and len(req) == 1:
        k = req[0]
    if k is None and not req and len(every) == 1:
        k = every[0]
    return k


def arn_vars(pattern):
    return [v for v in re.findall(r"\$\{(\w+)\}", pattern) if v not in ARN_VARS_SKIPPED]


def candidates(shapes, input_shape, ec2):
    """Every string-valued member (or list of strings, or map keyed by strings) reachable
    from the input, with its path, member name, shape name, depth, whether it and all its
    parents are required, and (EC2) its path by query names (`locationName`: the query
    API's `InstanceId.1` for `InstanceIds`, and what CloudTrail records for some members,
    `groups` for `UserIdGroupPairs`)."""
    out = []

    def walk(shape, prefix, qprefix, depth, required, parent):
        for m, ref in sorted(shape.get("members", {}).items()):
            if m in NOT_IDS or ref.get("idempotencyToken"):
                continue
            sn = ref["shape"]
            s = shapes[sn]
            t = s["type"]
            path = prefix + m
            qpath = qprefix + (ref.get("locationName", m) if ec2 else m)
            req = required and m in shape.get("required", [])
            sn_ = parent + sn
            if t == "string":
                out.append((path, m, sn_, depth, req, qpath))
            elif t == "list" and shapes[s["member"]["shape"]]["type"] == "string":
                out.append((path + "[]", m, parent + s["member"]["shape"] + sn, depth, req, qpath + "[]"))
            elif t == "map" and shapes[s["key"]["shape"]]["type"] == "string":
                out.append((path + "{}", m, parent + s["key"]["shape"], depth, req, qpath + "{}"))
            elif depth < MAX_DEPTH and m not in NO_DESCEND:
                # The members of a structure that describes a resource (`DatabaseInput`)
                # carry its name: `DatabaseInput.Name` names a database.
                wraps = m if words(m) and words(m)[-1] in WRAPPERS else ""
                if t == "structure":
                    walk(s, path + ".", qpath + ".", depth + 1, req, wraps)
                elif t == "list" and shapes[s["member"]["shape"]]["type"] == "structure":
                    walk(shapes[s["member"]["shape"]], path + "[].", qpath + "[].", depth + 1, req, wraps)

    walk(input_shape, "", "", 0, True, "")
    return out


def last(ws):
    """The last word that says what a name is (`SecretIdListType` -> `id`)."""
    ws = [w for w in ws if w not in ("list", "type", "string")]
    return ws[-1] if ws else ""


def is_id(member, shape):
    return last(words(member)) in ID_WORDS or last(words(shape)) in ID_WORDS


def match(cands, want, require_id=True):
    """The candidates whose words hold every word of `want`, best first: fewest other
    words in the member's name, then shallowest, then required; ties kept together."""
    if not want:
        return []
    scored = []
    for c in cands:
        path, m, sn, depth, req, _ = c
        if require_id and not is_id(m, sn) and not (words(m) and words(m)[-1] == "key"):
            continue
        have = set(words(m)) | set(words(sn))
        if not all(w in have for w in want):
            continue
        extra = len([w for w in core(words(m)) if w not in want and w != "key"])
        scored.append(((extra, depth, not req), c))
    if not scored:
        return []
    scored.sort(key=lambda x: (x[0], x[1][0]))
    best = scored[0][0]
    return [c for s, c in scored if s == best]


def parts_for(cands, kind, pattern):
    parts = []
    for v in arn_vars(pattern or ""):
        hits = match(cands, core(words(v)))
        # Two variables spelt by one member (`o-${OrganizationId}/${PolicyType}/p-${PolicyId}`
        # reads PolicyId for both PolicyType and PolicyId) are one part.
        if hits and not any({c[0] for c in hits} == {c[0] for c in p} for p in parts):
            parts.append(hits)
    if parts:
        return parts
    if kind:
        hits = match(cands, core(words(kind.replace("-", " ").title().replace(" ", ""))))
        if hits:
            return [hits]
    return []


def analyse(shapes, op, cat_svc, action, ec2):
    if "input" not in op:
        return None
    cands = candidates(shapes, shapes[op["input"]["shape"]], ec2)
    kind = target_kind(action) if action else None
    res = cat_svc["res"] if cat_svc else {}
    parts = parts_for(cands, kind, res.get(kind)) if kind else []
    if not parts and not kind:
        # The catalog does not say: the service's resource type the input names.
        found = []
        for rt, pattern in sorted(res.items()):
            p = parts_for([c for c in cands if c[3] == 0], rt, pattern)
            if p:
                found.append((rt, p))
        if len(found) == 1:
            kind, parts = found[0]
    if not parts:
        # Each required identifier is a part, parents first as the request URI nests them
        # (`/restapis/{restApiId}/models/{modelName}`).
        uri = op.get("http", {}).get("requestUri", "")
        members = shapes[op["input"]["shape"]].get("members", {})

        def place(c):
            label = "{" + members.get(c[1], {}).get("locationName", c[1])
            at = uri.find(label)
            return (at < 0, at, c[0])

        parts = [[c] for c in sorted((c for c in cands if c[3] == 0 and c[4] and is_id(c[1], c[2])), key=place)]
    used = {c[0] for alts in parts for c in alts}
    arns = [c for c in cands if c[3] == 0 and c[0] not in used and names_arns(c[1])]
    if not parts and not arns:
        return None
    return kind, parts, arns


def names_arns(member):
    w = words(member)
    return bool(w) and (w[-1] in ("arn", "arns") or w[-2:] == ["arn", "list"])


def fmt_parts(parts):
    out = []
    for alts in parts:
        paths = []
        for c in alts:
            for p in (c[0], c[5]):
                if p.lower() not in (q.lower() for q in paths):
                    paths.append(p)
        s = "|".join(paths)
        out.append(("!" if any(c[4] for c in alts) else "") + s)
    # (`fmt_parts([[c]])` spells one ARN member with its query-name alternative.)
    return " ".join(out)


def merge(prefix, variants):
    """Services sharing an IAM prefix (docdb, neptune and rds; s3 and s3control) may name
    one operation with different inputs, and the IAM action is one: the service named as
    the prefix gives the row (else the first by id), and a part is required only when
    every variant requires a part with the same members."""
    variants = sorted(variants, key=lambda v: (v[0] != prefix, v[0]))
    got = variants[0][1]
    if got is None:
        return None
    kind, parts, arns = got

    def required_in(v, alts):
        paths = {c[0] for c in alts}
        return v is not None and any({c[0] for c in a} == paths and any(c[4] for c in a) for a in v[1])

    out = []
    for alts in parts:
        if all(required_in(v[1], alts) for v in variants[1:]):
            out.append(alts)
        else:
            out.append([(c[0], c[1], c[2], c[3], False, c[5]) for c in alts])
    return kind, out, arns


def main():
    with open(MODELS, "rb") as f:
        raw = f.read()
    models = json.loads(gzip.decompress(raw))
    cat, api = load_catalog()
    over = iam_prefixes()
    rows = {}
    for sid, svc in sorted(models["services"].items()):
        meta = svc["metadata"]
        prefix = over.get(sid) or meta.get("signingName") or meta["endpointPrefix"]
        for opname, op in sorted(svc["operations"].items()):
            action = action_of(cat, api, prefix, opname)
            got = analyse(svc["shapes"], op, cat.get(prefix), action, meta["protocol"] == "ec2")
            rows.setdefault((prefix, opname), []).append((sid, got))
    lines = [
        "# Which input members name the resource of each AWS operation. Generated by",
        "# scripts/gen-id-keys.py; do not edit.",
        f"# source: crates/wire/data/service-models.json.gz (botocore {models['botocore']}, Apache-2.0;"
        f" sha256 {hashlib.sha256(raw).hexdigest()}),",
        "# crates/aws/data/iam-catalog.tsv (resource types and ARN patterns) and api-operations.tsv.",
        "# IAM prefix<TAB>operation<TAB>IAM resource type (- unknown)<TAB>parts (space-separated,",
        "# each `|`-separated members, `!` required; - none)<TAB>other ARN members (- none)",
        "# paths: a.b structure member, a[] every list item, a{} every map key",
    ]
    written = 0
    for (prefix, opname), variants in sorted(rows.items()):
        merged = merge(prefix, variants)
        if merged is None:
            continue
        kind, parts, arns = merged
        written += 1
        lines.append(f"{prefix}\t{opname}\t{kind or '-'}\t{fmt_parts(parts) or '-'}\t"
                     f"{' '.join(fmt_parts([[c]]) for c in arns) or '-'}")
    with open(OUT, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {OUT}: {written} operations", file=sys.stderr)


if __name__ == "__main__":
    main()
