//! Resource-based policies in a plan, found by their shape rather than by a list of
//! resource types: any attribute value of any managed resource, at any depth (nested
//! blocks, JSON held in a string as `jsonencode` and `aws_iam_policy_document` produce
//! it, documents nested inside other JSON such as CloudFormation templates), judged by
//! `parapet_aws::resource_policy` (the same reading API calls get). Here: Terraform's
//! unknown markers, and what is new after the change.
//!
//! Documents without principals are identity policies, left to the IAM analysis, and
//! `aws_iam_*` resources (trust policies included) are judged there.

use super::Ctx;
use crate::side::Side;
use parapet_aws::resource_policy::{
    found_effect, is_resource_policy, judge, walk_string, Found, Path, Scan, MAX_DEPTH, UNREADABLE,
};
use parapet_model::{Certainty, Effect};
use serde_json::Value;

pub fn effects(ctx: &Ctx, out: &mut Vec<Effect>, notes: &mut Vec<String>) {
    if ctx.rtype.starts_with("aws_iam_") {
        return; // Trust and identity policies: effects::iam.
    }
    let own = ctx.index.own_account();
    let new = ctx.new_side();
    let mut after = Scan::default();
    walk_side(ctx, new, &Path::Root, 0, own.as_deref(), &mut after, notes);
    let mut before = Scan::default();
    walk_side(
        ctx,
        ctx.old_side(),
        &Path::Root,
        0,
        own.as_deref(),
        &mut before,
        &mut Vec::new(),
    );
    let label = ctx.label();
    for (path, why) in &after.unreadable {
        out.push(Effect::PublicAccess {
            resource: label.clone(),
            how: format!("its {path} document {why}"),
            certainty: Certainty::UnknownUntilApply,
        });
    }
    let mut seen: Vec<&Found> = Vec::new();
    for f in after.found.iter().filter(|f| !before.found.contains(f)) {
        if seen.contains(&f) {
            continue;
        }
        seen.push(f);
        out.push(found_effect(f, &label));
    }
}

fn looks_like_policy_name(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k == "policy"
        || k.ends_with("_policy")
        || k.ends_with("_policies")
        || k.ends_with("policy_document")
}

/// Walk a side, where Terraform's unknown markers are still at hand.
fn walk_side(
    ctx: &Ctx,
    s: Side,
    path: &Path,
    depth: usize,
    own: Option<&str>,
    scan: &mut Scan,
    notes: &mut Vec<String>,
) {
    if depth > MAX_DEPTH {
        notes.push(format!(
            "{}: {path}: nested deeper than {MAX_DEPTH} levels; not searched for resource policies",
            ctx.address
        ));
        scan.unreadable.push((path.to_string(), UNREADABLE));
        return;
    }
    match s.v {
        Value::Object(m) => {
            if is_resource_policy(s.v) {
                judge(s.v, path, own, scan);
                return;
            }
            let unknown = s.unknown_keys();
            let missing = unknown
                .iter()
                .filter(|k| !m.contains_key(k.as_str()))
                .copied();
            for k in m.keys().chain(missing) {
                let child = s.get(k);
                let p = Path::Key(path, k);
                if child.is_unknown() {
                    // Top-level only: the configuration tells whether it is written at all.
                    if depth == 0
                        && looks_like_policy_name(k)
                        && ctx.index.expression(ctx.address, k).is_some()
                    {
                        scan.unreadable
                            .push((p.to_string(), "is known only after apply"));
                    }
                    continue;
                }
                walk_side(ctx, child, &p, depth + 1, own, scan, notes);
            }
        }
        Value::Array(a) => {
            for i in 0..a.len() {
                let p = Path::Index(path, i);
                walk_side(ctx, s.at(i), &p, depth + 1, own, scan, notes);
            }
        }
        Value::String(t) => walk_string(ctx.address, t, path, depth, own, scan, notes),
        _ => {}
    }
}
