//! Reverting manual changes: drift that the plan puts back, and pinned emergency fixes.

use super::Ctx;
use crate::pins::{Pin, PinMode};
use crate::side::Side;
use parapet_model::{Certainty, ChangeKind, Effect};
use serde_json::Value;

/// Attributes changed outside Terraform (in `resource_drift`) that this plan changes again.
pub fn reverts_drift(ctx: &Ctx, out: &mut Vec<Effect>) {
    let Some(d) = ctx.index.drift(ctx.address) else {
        return;
    };
    let drifted_actions: Vec<&str> = d.change.actions.iter().map(String::as_str).collect();
    if drifted_actions == ["delete"] {
        if ctx.kind == ChangeKind::Create {
            out.push(Effect::RevertsDrift {
                resource: ctx.address.to_string(),
                attributes: vec!["the whole resource, deleted outside Terraform".into()],
                restores_previous: true,
            });
        }
        return;
    }
    let Ok(drifted) = d.change.values() else {
        return;
    };
    let (Some(was), Some(now)) = (drifted.before.as_object(), drifted.after.as_object()) else {
        return;
    };
    let planned = ctx.after;
    let current = ctx.before;
    let mut attrs = Vec::new();
    let mut restores = true;
    for (k, old) in was {
        if k == "tags_all" || now.get(k) == Some(old) {
            continue;
        }
        let p = planned.get(k);
        let changes_it = p.is_unknown() || p.v != current.get(k).v || ctx.kind.destroys();
        if !changes_it {
            continue;
        }
        if p.is_unknown() || p.v != old {
            restores = false;
        }
        attrs.push(k.clone());
    }
    if !attrs.is_empty() {
        out.push(Effect::RevertsDrift {
            resource: ctx.address.to_string(),
            attributes: attrs,
            restores_previous: restores,
        });
    }
}

pub fn reverts_pins(ctx: &Ctx, pins: &[&Pin], out: &mut Vec<Effect>) {
    if pins.is_empty() {
        return;
    }
    let ids: Vec<&str> = ["arn", "id"]
        .iter()
        .filter_map(|k| ctx.before.get(k).str().or(ctx.after.get(k).str()))
        .collect();
    for pin in pins {
        if pin.resource != ctx.address && !ids.contains(&pin.resource.as_str()) {
            continue;
        }
        let before = at_path(ctx.before, &pin.attribute);
        let after = if ctx.kind == ChangeKind::Delete {
            None
        } else {
            at_path(ctx.after, &pin.attribute)
        };
        let protected = match (&pin.value, before) {
            (Some(v), _) => v.clone(),
            (None, Some(b)) if !b.is_unknown() => b.v.clone(),
            _ => continue,
        };
        let before_holds = before.is_some_and(|b| holds(b.v, &protected, pin.mode.as_ref()));
        if !before_holds {
            continue; // Not in force in the current state; this change is not what undoes it.
        }
        let certainty = match after {
            None => Certainty::Known,
            Some(a) if a.has_unknown() => Certainty::UnknownUntilApply,
            Some(a) if holds(a.v, &protected, pin.mode.as_ref()) => continue,
            Some(_) => Certainty::Known,
        };
        out.push(Effect::RevertsPin {
            resource: ctx.address.to_string(),
            pin: pin.id.clone(),
            attribute: pin.attribute.clone(),
            reason: pin.reason.clone(),
            incident: pin.incident.clone(),
            certainty,
        });
    }
}

/// `ingress`, `vpc_config[0].endpoint_public_access`, `tags.Owner`.
fn at_path<'a>(s: Side<'a>, path: &str) -> Option<Side<'a>> {
    let mut cur = s;
    for part in path.split('.') {
        let (name, rest) = part.split_once('[').unwrap_or((part, ""));
        if !name.is_empty() {
            cur = cur.get(name);
        }
        for idx in rest.split('[') {
            let idx = idx.trim_end_matches(']');
            if idx.is_empty() {
                continue;
            }
            cur = cur.at(idx.parse().ok()?);
        }
    }
    cur.exists().then_some(cur)
}

fn holds(actual: &Value, protected: &Value, mode: Option<&PinMode>) -> bool {
    let mode = mode
        .cloned()
        .unwrap_or(if actual.is_array() && !protected.is_array() {
            PinMode::Contains
        } else {
            PinMode::Equals
        });
    match mode {
        PinMode::Equals => loose_eq(actual, protected),
        PinMode::Contains => match actual {
            Value::Array(a) => a.iter().any(|e| subset(protected, e)),
            v => subset(protected, v),
        },
        PinMode::Excludes => match actual {
            Value::Array(a) => !a.iter().any(|e| subset(protected, e)),
            v => !subset(protected, v),
        },
    }
}

/// Every key of `want` is in `have` with a matching value; lists match by containment.
fn subset(want: &Value, have: &Value) -> bool {
    match (want, have) {
        (Value::Object(w), Value::Object(h)) => w
            .iter()
            .all(|(k, v)| h.get(k).is_some_and(|hv| subset(v, hv))),
        (Value::Array(w), Value::Array(h)) => w.iter().all(|x| h.iter().any(|y| subset(x, y))),
        (w, Value::Array(h)) if !w.is_object() => h.iter().any(|y| loose_eq(y, w)),
        (w, h) => loose_eq(h, w),
    }
}

/// Equality that lets a pin written as `22` match a plan's `"22"`.
fn loose_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(s), Value::Number(n)) | (Value::Number(n), Value::String(s)) => {
            s == &n.to_string()
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| loose_eq(p, q))
        }
        _ => a == b,
    }
}
