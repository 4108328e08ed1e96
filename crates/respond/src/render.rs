//! A containment plan for a terminal (after the incident's timeline) and as a JSON line
//! (after the incident's line, `parapet.trail/v1`).

use crate::Plan;
use serde_json::{json, Value};

/// The proposed next steps, numbered, each with its call, the gate's decision, its undo
/// and how to check it.
pub fn text(plan: &Plan) -> String {
    let mut s = format!(
        "  proposed containment for {} (dry run: nothing was changed; each step is judged by the gate):\n",
        plan.incident
    );
    for (n, p) in plan.proposals.iter().enumerate() {
        s.push_str(&format!("  {:>2}. {}\n", n + 1, p.title));
        s.push_str(&format!(
            "      {} {}  -> gate: {} ({})\n",
            p.call.action,
            compact(&p.call.params),
            p.outcome,
            p.reason
        ));
        if let Some(u) = &p.undo {
            s.push_str(&format!(
                "      undo: {} {}\n",
                u.action,
                compact(&u.params)
            ));
        }
        s.push_str(&format!("      check: {}\n", p.verify));
        if !p.missing.is_empty() {
            s.push_str(&format!(
                "      incomplete: no value for {}; a person fills it in\n",
                p.missing.join(", ")
            ));
        }
    }
    for l in &plan.left_out {
        s.push_str(&format!("      left out: {l}\n"));
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
            format!("{k}={shown}")
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
