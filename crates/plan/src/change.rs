//! One raw resource change to a normalised `Change` with its effects.

use crate::effects::{self, Ctx};
use crate::index::PlanIndex;
use crate::pins::Pin;
use crate::raw::RawChange;
use crate::side::{Side, NULL};
use crate::{Options, PlanError};
use parapet_model::{AttributeDiff, Change, ChangeKind, DiffDetail, Effect};
use serde_json::Value;
use std::collections::BTreeMap;

mod docdiff;

/// Does an attribute or parameter name suggest a secret value? (The shared masking
/// rules, `parapet-mask`.)
pub use parapet_mask::is_secret_name;

/// A change whose `actions` Terraform does not write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown action combination {actions:?} (mode {mode})")]
pub struct ActionsError {
    pub actions: Vec<String>,
    pub mode: String,
}

pub fn change_kind(actions: &[String], mode: &str) -> Result<ChangeKind, ActionsError> {
    let a: Vec<&str> = actions.iter().map(String::as_str).collect();
    Ok(match a.as_slice() {
        ["no-op"] | [] => ChangeKind::NoOp,
        ["create"] => ChangeKind::Create,
        ["read"] => ChangeKind::Read,
        ["update"] => ChangeKind::Update,
        ["delete"] => ChangeKind::Delete,
        ["delete", "create"] => ChangeKind::ReplaceDestroyFirst,
        ["create", "delete"] => ChangeKind::ReplaceCreateFirst,
        ["forget"] => ChangeKind::Forget,
        // Terraform 1.10+: replace where the old object is forgotten, not destroyed.
        ["create", "forget"] | ["forget", "create"] => ChangeKind::Create,
        other => {
            return Err(ActionsError {
                actions: other.iter().map(|a| a.to_string()).collect(),
                mode: mode.to_string(),
            })
        }
    })
}

pub fn normalise(
    index_in_plan: usize,
    rc: &RawChange,
    index: &PlanIndex,
    opts: &Options,
    pins: &[&Pin],
    notes: &mut Vec<String>,
) -> Result<Change, PlanError> {
    let kind = change_kind(&rc.change.actions, &rc.mode).map_err(|e| PlanError::BadChange {
        index: index_in_plan,
        address: rc.address.clone(),
        why: e.to_string(),
    })?;
    let c = &rc.change;
    let values = c.values().map_err(|e| PlanError::BadChange {
        index: index_in_plan,
        address: rc.address.clone(),
        why: e.to_string(),
    })?;
    effects::network_shape::check(&rc.resource_type, &values).map_err(|(path, why)| {
        PlanError::BadValue {
            path: format!("resource_changes[{index_in_plan}].change.{path}"),
            address: rc.address.clone(),
            why,
        }
    })?;
    let before = values.before_side();
    let after = values.after_side();
    let tag_side = if matches!(kind, ChangeKind::Delete | ChangeKind::Forget) {
        before
    } else {
        after
    };
    let tags = tags_of(tag_side);
    let managed = rc.mode == "managed";
    let critical_why = if managed {
        opts.critical.why(&rc.resource_type, &tags)
    } else {
        None
    };
    let data_bearing = managed && effects::data::is_data_bearing(&rc.resource_type);
    let diff = if matches!(kind, ChangeKind::Update)
        || kind.is_replace()
        || (opts.create_diffs && kind == ChangeKind::Create)
    {
        diff(before, after)
    } else {
        Vec::new()
    };
    let replace_paths = c
        .replace_paths
        .iter()
        .flatten()
        .map(|p| render_path(p))
        .collect::<Vec<_>>();
    let mut out = Vec::new();
    if managed && kind != ChangeKind::NoOp && kind != ChangeKind::Read {
        let ctx = Ctx {
            address: &rc.address,
            rtype: &rc.resource_type,
            kind,
            before,
            after,
            index,
            replace_paths: &replace_paths,
            action_reason: rc.action_reason.as_deref(),
            deposed: rc.deposed.is_some(),
        };
        effects::derive(&ctx, &mut out, notes);
        if rc.deposed.is_none() {
            effects::drift::reverts_drift(&ctx, &mut out);
            effects::drift::reverts_pins(&ctx, pins, &mut out);
        }
        if let Some(why) = &critical_why {
            if kind.writes() || kind == ChangeKind::Forget {
                out.push(Effect::CriticalResource {
                    resource: rc.address.clone(),
                    why: why.clone(),
                });
            }
        }
    }
    let mut effects: Vec<Effect> = Vec::with_capacity(out.len());
    for e in out {
        if !effects.contains(&e) {
            effects.push(e);
        }
    }
    Ok(Change {
        address: rc.address.clone(),
        resource_type: rc.resource_type.clone(),
        provider: rc.provider_name.clone(),
        kind,
        action_reason: rc.action_reason.clone(),
        replace_paths,
        tags,
        critical: critical_why.is_some(),
        data_bearing,
        diff,
        effects,
    })
}

fn tags_of(side: Side) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for key in ["tags_all", "tags"] {
        let t = side.get(key);
        if let Some(obj) = t.v.as_object() {
            for (k, v) in obj {
                let value = if t.get(k).is_sensitive() || is_secret_name(k) {
                    parapet_mask::MASK.to_string()
                } else {
                    let text = v
                        .as_str()
                        .map(String::from)
                        .unwrap_or_else(|| v.to_string());
                    parapet_mask::mask_text(&text).into_owned()
                };
                out.insert(k.clone(), value);
            }
            if !out.is_empty() {
                break;
            }
        }
    }
    out
}

fn render_path(p: &[Value]) -> String {
    let mut s = String::new();
    for step in p {
        match step {
            Value::String(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Value::Number(n) => {
                s.push('[');
                s.push_str(&n.to_string());
                s.push(']');
            }
            other => s.push_str(&other.to_string()),
        }
    }
    s
}

const MAX_DIFF: usize = 64;
const MAX_VALUE: usize = 160;

/// Top-level attributes that differ, with masked, shortened values.
fn diff(before: Side, after: Side) -> Vec<AttributeDiff> {
    let mut keys: Vec<&String> = Vec::new();
    if let Some(o) = before.v.as_object() {
        keys.extend(o.keys());
    }
    if let Some(o) = after.v.as_object() {
        keys.extend(o.keys());
    }
    keys.extend(after.unknown_keys());
    keys.sort();
    keys.dedup();
    let mut out = Vec::new();
    // Both sides masked once, whole: rules that look at siblings (a tag's Key, an SSM
    // parameter's type, an access key id next to its secret) see the resource.
    let mut masked: Option<(Value, Value)> = None;
    for k in keys {
        if k == "tags_all" {
            continue;
        }
        let b = before.get(k);
        let a = after.get(k);
        let unknown = a.has_unknown();
        if !unknown && b.v == a.v {
            continue;
        }
        if out.len() == MAX_DIFF {
            out.push(AttributeDiff {
                path: "…".into(),
                before: None,
                after: Some("more attributes changed".into()),
                sensitive: false,
                detail: None,
            });
            break;
        }
        let (bm, am) = masked.get_or_insert_with(|| (shown(before), shown(after)));
        let (bm, am) = (
            bm.get(k.as_str()).unwrap_or(&NULL),
            am.get(k.as_str()).unwrap_or(&NULL),
        );
        // Name-based masking is for values that can hold a secret, not flags and counts.
        let can_hold_secret =
            |v: &Value| matches!(v, Value::String(_) | Value::Array(_) | Value::Object(_));
        let wholly_marked = |s: Side| s.sensitive_marks() == &Value::Bool(true);
        let sensitive = wholly_marked(b)
            || wholly_marked(a)
            || (is_secret_name(k)
                && (can_hold_secret(b.v) || can_hold_secret(a.v) || a.is_unknown()));
        // Lists (rules, blocks): show the elements removed and added, not both lists.
        if let (Some(bl), Some(al)) = (b.v.as_array(), a.v.as_array()) {
            if !sensitive && !a.has_unknown() {
                let removed: Vec<Value> = (0..bl.len())
                    .filter(|&i| !al.contains(&bl[i]))
                    .map(|i| bm.get(i).cloned().unwrap_or_default())
                    .collect();
                let added: Vec<Value> = (0..al.len())
                    .filter(|&i| !bl.contains(&al[i]))
                    .map(|i| am.get(i).cloned().unwrap_or_default())
                    .collect();
                let detail = docdiff::rules_detail(k, &removed, &added)
                    .or_else(|| docdiff::inline_policies_detail(&removed, &added));
                if let Some(detail) = detail {
                    let unit = if matches!(detail, DiffDetail::Rules { .. }) {
                        "rule(s)"
                    } else {
                        "block(s)"
                    };
                    out.push(AttributeDiff {
                        path: k.clone(),
                        before: Some(format!("{} {unit}", bl.len())),
                        after: Some(format!("{} {unit}", al.len())),
                        sensitive,
                        detail: Some(detail),
                    });
                    continue;
                }
                let show = |items: &[Value], sign: &str| -> Option<String> {
                    if items.is_empty() {
                        return None;
                    }
                    Some(
                        items
                            .iter()
                            .map(|v| format!("{sign}{}", shorten(v.to_string())))
                            .collect::<Vec<_>>()
                            .join(" "),
                    )
                };
                out.push(AttributeDiff {
                    path: k.clone(),
                    before: show(&removed, "-"),
                    after: show(&added, "+"),
                    sensitive,
                    detail: None,
                });
                continue;
            }
        }
        // Policy documents: the statements removed and added.
        fn doc(s: Side<'_>) -> Option<Option<&str>> {
            match s.v {
                Value::Null if !s.is_unknown() => Some(None),
                Value::String(x) if !s.has_unknown() => Some(Some(x.as_str())),
                _ => None,
            }
        }
        let detail = match (sensitive, doc(b), doc(a)) {
            (false, Some(bd), Some(ad)) => docdiff::policy_detail(bd, ad).or_else(|| {
                // Other JSON documents: compared after masking, value by value.
                docdiff::document_detail(
                    bd,
                    ad,
                    bm.as_str().filter(|_| bd.is_some()),
                    am.as_str().filter(|_| ad.is_some()),
                )
            }),
            _ => None,
        };
        let statements = |d: Option<&str>| -> Option<String> {
            let n = d
                .and_then(|t| serde_json::from_str::<Value>(t).ok())
                .map(|v| match &v["Statement"] {
                    Value::Array(x) => x.len(),
                    _ => 1,
                })?;
            Some(format!("(policy, {n} statement(s))"))
        };
        let render = |s: Side, shown: &Value, is_after: bool| -> Option<String> {
            if is_after && s.is_unknown() {
                return Some("(known after apply)".into());
            }
            if s.v.is_null() {
                return None;
            }
            if sensitive {
                return Some("(sensitive value)".into());
            }
            match &detail {
                Some(DiffDetail::Policy { .. }) => return statements(s.v.as_str()),
                Some(DiffDetail::Document { .. }) => {
                    let n = s.v.as_str().map_or(0, str::len);
                    return Some(format!("(JSON document, {n} characters)"));
                }
                _ => {}
            }
            let mut r = match shown {
                // A JSON document in a string: its meaning is in the findings.
                Value::String(x) if x.len() > MAX_VALUE && x.trim_start().starts_with('{') => {
                    format!("(JSON document, {} characters)", x.len())
                }
                Value::String(x) => shorten(format!("{x:?}")),
                v => shorten(v.to_string()),
            };
            if is_after && s.has_unknown() {
                r.push_str(" (partly known after apply)");
            }
            Some(r)
        };
        out.push(AttributeDiff {
            path: k.clone(),
            before: render(b, bm, false),
            after: render(a, am, true),
            sensitive,
            detail,
        });
    }
    out
}

/// A value as it may be shown: Terraform's sensitive marks and parapet's masking applied.
fn shown(s: Side) -> Value {
    let mut v = s.v.clone();
    parapet_mask::apply_marks(&mut v, s.sensitive_marks());
    parapet_mask::mask_in_place(&mut v);
    v
}

fn shorten(mut r: String) -> String {
    if r.len() > MAX_VALUE {
        let cut = (0..=MAX_VALUE)
            .rev()
            .find(|&i| r.is_char_boundary(i))
            .unwrap_or(0);
        r.truncate(cut);
        r.push('…');
    }
    r
}
