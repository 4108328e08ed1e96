#!/usr/bin/env python3
"""Seeds for the cedar_pack fuzz target: the built-in pack's files and the user packs
the tests write (a replaced network file, a typo, review annotations with a delay,
address and tag rules, bad annotations). Run from the repository root."""
import os

OUT = "fuzz/corpus/cedar_pack"
USER = {
    "user-quiet.cedar": '@id("quiet")\nforbid(principal, action, resource) when { context.effects.contains("external_share_public") };\n',
    "user-typo.cedar": 'forbid(principal, action, resource) when { context.efects.contains("x") };\n',
    "user-delay.cedar": '@id("review-code")\n@outcome("review")\n@approvals("1")\n@delay("2s")\n@reason("code changes wait 2s")\nforbid(principal, action, resource) when { context.effects.contains("code_change") };\n',
    "user-address.cedar": 'permit(principal, action, resource) when { resource.address like "module.sandbox.*" };\n',
    "user-overflow.cedar": '@id("boom")\nforbid(principal, action, resource) when { context.maxSeverity * 9223372036854775807 * 9223372036854775807 > 0 };\n',
    "user-bad-outcome.cedar": '@outcome("maybe")\nforbid(principal, action, resource);\n',
    "user-bad-approvals.cedar": '@outcome("review")\n@approvals("0")\nforbid(principal, action, resource);\n',
    "user-template.cedar": 'permit(principal == ?principal, action, resource);\n',
    "user-tags.cedar": '@id("prod-tag")\n@outcome("review")\n@approvals("2")\n@delay("15m")\n@reason("prod for {actor} during {incident}")\nforbid(principal, action, resource) when { resource.tags.contains("env=prod") };\n',
}


def main():
    os.makedirs(OUT, exist_ok=True)
    d = "crates/policy/policies"
    for name in sorted(os.listdir(d)):
        with open(os.path.join(d, name), "rb") as f:
            data = f.read()
        with open(os.path.join(OUT, "builtin-" + name), "wb") as f:
            f.write(data)
    for name, text in USER.items():
        with open(os.path.join(OUT, name), "w") as f:
            f.write(text)


main()
