//! What is stored and shown of an MCP tool call: the call's report (the worst action's
//! fields on top, so every reader of call reports shows it, and every action below),
//! the arguments with secrets masked, a plain-language explanation for approvers and
//! the agent's client, and the reasons a decision gives.

use crate::tool::{tool_address, Judged, ToolAction, ToolInput, ToolMapping};
use parapet_model::{Actor, Decision, CALL_REPORT_SCHEMA};
use serde_json::{json, Map, Value};

/// The report stored with the decision (serialised once).
pub(crate) fn report(
    version: &str,
    actor: &Actor,
    incident: &Option<String>,
    input: &ToolInput,
    binding: &str,
    judged: &[Judged],
    decision: &Decision,
) -> Result<Box<serde_json::value::RawValue>, crate::call::DecideError> {
    // The action shown on top: the first with the combined outcome.
    let top = judged
        .iter()
        .find(|j| j.decision.outcome == decision.outcome)
        .or(judged.first())
        .expect("every call is judged as at least one action");
    let mut findings: Vec<&parapet_model::Finding> =
        judged.iter().flat_map(|j| &j.findings).collect();
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    let effects: Vec<&parapet_model::Effect> = judged.iter().flat_map(|j| &j.effects).collect();
    let notes: Vec<&String> = judged.iter().flat_map(|j| &j.notes).collect();
    let actions: Vec<Value> = judged
        .iter()
        .map(|j| {
            json!({
                "action": j.action,
                "resource": j.resource,
                "resource_type": j.resource_type,
                "access_level": j.access_level,
                "writes": j.writes,
                "params": j.params,
                "outcome": j.decision.outcome,
                "policies": j.decision.policies,
                "findings": j.findings.iter().map(|f| &f.summary).collect::<Vec<_>>(),
            })
        })
        .collect();
    let (mapping, why) = match &input.mapping {
        ToolMapping::Actions(_) => ("mapped", None),
        ToolMapping::Unmapped(w) => ("unmapped", Some(w.as_str())),
        ToolMapping::Unreadable(w) => ("unreadable", Some(w.as_str())),
    };
    let explanation = explain(input, judged);
    let report = json!({
        "schema": CALL_REPORT_SCHEMA,
        "tool": {"name": "parapet", "version": env!("CARGO_PKG_VERSION")},
        "actor": actor,
        "incident": incident,
        "action": top.action,
        "access_level": top.access_level,
        "resource": top.resource,
        "resource_type": top.resource_type,
        "critical": judged.iter().any(|j| j.critical),
        "data_bearing": judged.iter().any(|j| j.data_bearing),
        "writes": judged.iter().any(|j| j.writes),
        "decision": decision,
        "effects": effects,
        "findings": findings,
        "notes": notes,
        "explanation": explanation,
        "mcp": {
            "server": input.server,
            "tool": input.tool,
            "address": tool_address(&input.server, &input.tool),
            "mapping": mapping,
            "why": why,
            "actions": actions,
        },
        "request": request_shown(input, binding, version),
    });
    serde_json::value::to_raw_value(&report).map_err(|e| {
        crate::call::DecideError::Internal(format!("the report does not serialise: {e}"))
    })
}

/// What approvers see of the call itself: the arguments with secrets masked, where it
/// came from, what the approval binds.
pub(crate) fn request_shown(input: &ToolInput, binding: &str, policy_version: &str) -> Value {
    let actions: &[ToolAction] = match &input.mapping {
        ToolMapping::Actions(a) => a,
        _ => &[],
    };
    json!({
        "params": masked_arguments(&input.arguments, actions),
        "source": "mcp",
        "server": input.server,
        "tool": input.tool,
        "binding": binding,
        "policy_version": policy_version,
    })
}

/// The arguments masked by the shared rules, and then every secret the mapped actions
/// hold (values their parameters' names mark secret, such as `--secret-string` of an
/// `aws` command line) cut out of the arguments' text as well.
pub fn masked_arguments(arguments: &Map<String, Value>, actions: &[ToolAction]) -> Value {
    let mut shown = parapet_mask::masked(&Value::Object(arguments.clone()));
    let mut secrets = Vec::new();
    for a in actions {
        secrets_in(&a.params, &parapet_mask::masked(&a.params), &mut secrets);
    }
    // Longest first, so a secret that contains another is cut whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets.dedup();
    if !secrets.is_empty() {
        scrub(&mut shown, &secrets);
    }
    shown
}

/// Shorter values are not cut from text: they would mangle it and hide nothing.
const MIN_SECRET: usize = 4;

/// The values `masked` replaced: walk the original and its masked copy together.
fn secrets_in(raw: &Value, masked: &Value, out: &mut Vec<String>) {
    match (raw, masked) {
        (Value::Object(r), Value::Object(m)) => {
            for (k, v) in r {
                match m.get(k) {
                    Some(mv) => secrets_in(v, mv, out),
                    None => leaves(v, out),
                }
            }
        }
        (Value::Array(r), Value::Array(m)) if r.len() == m.len() => {
            r.iter().zip(m).for_each(|(a, b)| secrets_in(a, b, out))
        }
        (r, m) if r != m => leaves(r, out),
        _ => {}
    }
}

fn leaves(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) if s.len() >= MIN_SECRET => out.push(s.clone()),
        Value::Number(n) if n.to_string().len() >= MIN_SECRET => out.push(n.to_string()),
        Value::Array(a) => a.iter().for_each(|x| leaves(x, out)),
        Value::Object(o) => o.values().for_each(|x| leaves(x, out)),
        _ => {}
    }
}

fn scrub(v: &mut Value, secrets: &[String]) {
    match v {
        Value::String(s) => {
            for secret in secrets {
                if s.contains(secret.as_str()) {
                    *s = s.replace(secret.as_str(), parapet_mask::MASK);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| scrub(x, secrets)),
        Value::Object(o) => o.values_mut().for_each(|x| scrub(x, secrets)),
        _ => {}
    }
}

/// What the call would do, in plain language: each action with what it makes possible.
fn explain(input: &ToolInput, judged: &[Judged]) -> String {
    let mut out = match &input.mapping {
        ToolMapping::Actions(a) if !a.is_empty() => format!(
            "{}/{} would call {}",
            input.server,
            input.tool,
            if judged.len() == 1 {
                "one action".to_string()
            } else {
                format!("{} actions", judged.len())
            }
        ),
        ToolMapping::Unreadable(why) => format!(
            "{}/{}: parapet could not read what this call would do ({why})",
            input.server, input.tool
        ),
        _ => format!(
            "{}/{}: no mapping says what this tool does",
            input.server, input.tool
        ),
    };
    if matches!(&input.mapping, ToolMapping::Actions(a) if !a.is_empty()) {
        out.push(':');
        for j in judged {
            out.push_str(&format!("\n- {} on {}", j.action, j.resource));
            let said: Vec<&str> = j.findings.iter().map(|f| f.summary.as_str()).collect();
            if !said.is_empty() {
                out.push_str(&format!(": {}", said.join("; ")));
            }
        }
    }
    out
}

/// The reasons a stored decision gives (its deciding policies, else its errors, else its
/// first finding), for the agent's client.
pub fn reasons(report: &Value) -> String {
    let outcome = report["decision"]["outcome"].as_str().unwrap_or("");
    let mut out: Vec<String> = report["decision"]["policies"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["outcome"].as_str() == Some(outcome) || outcome.is_empty())
        .filter_map(|p| p["reason"].as_str().map(String::from))
        .collect();
    out.dedup();
    if out.is_empty() {
        out.extend(
            report["decision"]["errors"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| e.as_str().map(String::from)),
        );
    }
    if out.is_empty() {
        // No policy gave a reason: the first finding says what the call would do.
        if let Some(f) = report["findings"][0]["summary"].as_str() {
            out.push(f.to_string());
        }
    }
    if out.is_empty() {
        "no reason recorded".into()
    } else {
        // Sentences joined into one: their own full stops would double up.
        let parts: Vec<&str> = out.iter().map(|r| r.trim_end_matches('.')).collect();
        parts.join("; ")
    }
}
