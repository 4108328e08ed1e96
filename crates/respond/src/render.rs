//! A containment plan for a terminal (after the incident's timeline) and as a JSON line
//! (after the incident's line, `parapet.trail/v1`).

use crate::Plan;
use serde_json::{json, Value};

/// Values in the steps come from the log (a user name, a group id): a control
/// character in one must not start a line of its own in a responder's terminal.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// The proposed next steps, numbered, each with its call, the gate's decision, its undo
/// and how to check it.
pub fn text(plan: &Plan) -> String {
    let mut s = format!(
        "  proposed containment for {} (dry run: nothing was changed; each step is judged by the gate):\n",
        clean(&plan.incident)
    );
    for (n, p) in plan.proposals.iter().enumerate() {
        s.push_str(&format!("  {:>2}. {}\n", n + 1, clean(&p.title)));
        s.push_str(&format!(
            "      {} {}  -> gate: {} ({})\n",
            p.call.action,
            compact(&p.call.params),
            p.outcome,
            clean(&p.reason)
        ));
        if let Some(u) = &p.undo {
            s.push_str(&format!(
                "      undo: {} {}\n",
                u.action,
                compact(&u.params)
            ));
        }
        s.push_str(&format!("      check: {}\n", clean(&p.verify)));
        if !p.missing.is_empty() {
            s.push_str(&format!(
                "      incomplete: no value for {}; a person fills it in\n",
                clean(&p.missing.join(", "))
            ));
        }
    }
    for l in &plan.left_out {
        s.push_str(&format!("      left out: {}\n", clean(l)));
    }
    s
}

/// Parameters on one line; long policy documents shortened (the JSON line has them whole).
fn compact(v: &Value) -> String {
    let Value::Object(o) = v else {
        return v.to_string();
    };
    let parts: Vec<String> = o
        .iter()
        .map(|(k, v)| {
            let shown = match v {
                Value::String(s) if s.chars().count() > 60 => {
                    let head: String = s.chars().take(57).collect();
                    format!("{head}...")
                }
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            clean(&format!("{k}={shown}"))
        })
        .collect();
    parts.join(" ")
}

/// The plan as one JSON object (`"type": "containment"`).
pub fn json(plan: &Plan) -> Value {
    let mut v = serde_json::to_value(plan).unwrap_or(Value::Null);
    if let Value::Object(o) = &mut v {
        o.insert("type".into(), json!("containment"));
        o.insert("schema".into(), json!("parapet.trail/v1"));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Call, Proposal};

    #[test]
    fn a_value_from_the_log_cannot_start_a_line() {
        let plan = Plan {
            incident: "INC-1".into(),
            now: String::new(),
            dry_run: true,
            proposals: vec![Proposal {
                step: "s".into(),
                title: "Quarantine user x\n  10:00:00  FORGED".into(),
                call: Call {
                    action: "iam:PutUserPolicy".into(),
                    params: json!({"UserName": "x\rFORGED"}),
                },
                undo: None,
                undo_by_hand: None,
                verify: "v".into(),
                check: None,
                outcome: "review".into(),
                reason: "r".into(),
                missing: vec![],
            }],
            left_out: vec![],
        };
        let t = text(&plan);
        assert!(
            !t.lines().any(|l| l.trim_start().starts_with("10:00:00")),
            "{t}"
        );
        assert!(!t.contains('\r'), "{t}");
    }
}
