//! HTML for the web UI: server-rendered, no scripts, everything escaped.

use parapet_store::{AuditEntry, Incident, Request, StoredPin, TokenInfo};
use serde_json::Value;
use std::fmt::Write;

pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1b1f24;background:#f6f7f9}
header{background:#14213d;color:#fff;padding:.6em 1.2em;display:flex;gap:1.2em;align-items:center}
header a{color:#fff;text-decoration:none}header b{margin-right:1em}
main{max-width:1100px;margin:1em auto;padding:0 1em}
.banner{background:#b42318;color:#fff;padding:.7em 1.2em;font-weight:600}
.card{background:#fff;border:1px solid #d0d5dd;border-radius:6px;padding:1em;margin:.8em 0}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #eaecf0;padding:.35em .5em;text-align:left;vertical-align:top}
.deny,.critical{color:#b42318;font-weight:600}.review,.high{color:#b54708;font-weight:600}.allow{color:#067647;font-weight:600}
.medium{color:#b54708}.low,.info{color:#475467}
code,pre{font:13px ui-monospace,monospace;background:#f2f4f7;border-radius:3px;padding:.1em .3em;white-space:pre-wrap;word-break:break-all}
button{font:inherit;padding:.4em 1em;border-radius:4px;border:1px solid #98a2b3;background:#fff;cursor:pointer}
button.approve{background:#067647;color:#fff;border-color:#067647}button.reject{background:#b42318;color:#fff;border-color:#b42318}
input,textarea{font:inherit;padding:.3em;border:1px solid #98a2b3;border-radius:4px}
.err{background:#fef3f2;border:1px solid #b42318;padding:.6em;border-radius:4px}
.ok{background:#ecfdf3;border:1px solid #067647;padding:.6em;border-radius:4px}
.muted{color:#667085}";

/// A whole page. `who` is None on the login page.
pub fn page(
    title: &str,
    who: Option<&TokenInfo>,
    incidents: &[Incident],
    flash: Option<&str>,
    body: &str,
) -> String {
    let mut o = format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport content=\"width=device-width\"><title>{} - parapet</title><style>{STYLE}</style></head><body><header><b>parapet</b>",
        esc(title)
    );
    if let Some(t) = who {
        let _ = write!(
            o,
            "<a href=/ui>Queue</a><a href=/ui/history>History</a><a href=/ui/incidents>Incidents</a><a href=/ui/pins>Pins</a><a href=/ui/freezes>Freezes</a><a href=/ui/audit>Audit</a><span style=margin-left:auto id=who>{} ({})</span><form method=post action=/ui/logout style=margin:0><button>Log out</button></form>",
            esc(&t.actor),
            t.role.as_str()
        );
    }
    o.push_str("</header>");
    if !incidents.is_empty() {
        let names: Vec<String> = incidents
            .iter()
            .map(|i| format!("{} ({})", esc(&i.id), esc(&i.title)))
            .collect();
        let _ = write!(
            o,
            "<div class=banner id=incident-banner>INCIDENT MODE: {} open. Automation's writes are denied or held for review.</div>",
            names.join(", ")
        );
    }
    o.push_str("<main>");
    if let Some(f) = flash {
        let _ = write!(o, "<p class=err id=flash>{}</p>", esc(f));
    }
    o.push_str(body);
    o.push_str("</main></body></html>");
    o
}

pub fn login(error: Option<&str>) -> String {
    let body = format!(
        "<div class=card><h1>Log in</h1><p>Paste an approver or admin API token (from <code>parapet token create</code>).</p>\
<form method=post action=/ui/login><p><input type=password name=token id=token size=70 autocomplete=off required></p><p><button id=login>Log in</button></p></form></div>{}",
        error.map(|e| format!("<p class=err id=flash>{}</p>", esc(e))).unwrap_or_default()
    );
    page("Log in", None, &[], None, &body)
}

fn outcome_span(o: &str) -> String {
    format!("<span class={0}>{0}</span>", esc(o))
}

fn when(epoch: i64) -> String {
    parapet_store::rfc3339(epoch)
}

/// One line of what a request is about: its first findings' summaries.
fn headline(r: &Request) -> String {
    let report = r.report_value();
    let findings = crate::api::findings(&report);
    let mut s: Vec<String> = findings
        .iter()
        .take(2)
        .filter_map(|f| f["summary"].as_str().map(str::to_string))
        .collect();
    if findings.len() > 2 {
        s.push(format!("and {} more", findings.len() - 2));
    }
    if s.is_empty() {
        match report["action"].as_str() {
            Some(a) => a.to_string(),
            None => format!(
                "{} changes",
                report["counts"]["changes"].as_u64().unwrap_or(0)
            ),
        }
    } else {
        s.join("; ")
    }
}

pub fn queue(pending: &[Request]) -> String {
    let mut o = String::from("<h1>Waiting for review</h1>");
    if pending.is_empty() {
        o.push_str("<p class=muted id=empty>Nothing is waiting for review.</p>");
        return o;
    }
    o.push_str("<table id=queue><tr><th>Request</th><th>Requested by</th><th>What it does</th><th>Approvals</th></tr>");
    for r in pending {
        let approvals = r.votes.iter().filter(|v| v.approve).count();
        let _ = write!(
            o,
            "<tr><td><a class=request href=\"/ui/decisions/{id}\">{id}</a><br><span class=muted>{}</span></td><td>{}</td><td>{}</td><td>{approvals} of {}</td></tr>",
            when(r.created_at),
            esc(&r.requester),
            esc(&headline(r)),
            r.approvers_required,
            id = esc(&r.id),
        );
    }
    o.push_str("</table>");
    o
}

pub fn history(recent: &[Request], now: i64) -> String {
    let mut o = String::from("<h1>Decision history</h1><table id=history><tr><th>Request</th><th>When</th><th>Requested by</th><th>Outcome</th><th>State</th><th>What it does</th></tr>");
    for r in recent {
        let _ = write!(
            o,
            "<tr><td><a href=\"/ui/decisions/{id}\">{id}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            when(r.created_at),
            esc(&r.requester),
            outcome_span(&r.outcome),
            esc(&format!("{:?}", r.state(now)).to_lowercase()),
            esc(&headline(r)),
            id = esc(&r.id),
        );
    }
    o.push_str("</table>");
    o
}

fn findings_list(findings: &[&Value]) -> String {
    let mut o = String::from("<ul class=findings>");
    for f in findings {
        let sev = f["severity"].as_str().unwrap_or("info");
        let _ = write!(
            o,
            "<li><span class={sev}>{sev}</span> <b class=summary>{}</b><br><span class=explanation>{}</span> <span class=muted>({})</span></li>",
            esc(f["summary"].as_str().unwrap_or("")),
            esc(f["explanation"].as_str().unwrap_or("")),
            esc(f["id"].as_str().unwrap_or("")),
        );
    }
    o.push_str("</ul>");
    o
}

fn short(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn plan_changes(report: &Value) -> String {
    let mut o = String::new();
    for c in report["changes"].as_array().into_iter().flatten() {
        let outcome = c["decision"]["outcome"].as_str().unwrap_or("allow");
        let findings: Vec<&Value> = c["findings"].as_array().into_iter().flatten().collect();
        let _ = write!(
            o,
            "<div class=\"card change\"><h3><code>{}</code> {} {}</h3>",
            esc(c["address"].as_str().unwrap_or("?")),
            esc(c["kind"].as_str().unwrap_or("")),
            outcome_span(outcome)
        );
        if !findings.is_empty() {
            o.push_str(&findings_list(&findings));
        }
        let diff: Vec<&Value> = c["diff"].as_array().into_iter().flatten().collect();
        if !diff.is_empty() {
            o.push_str(
                "<table class=diff><tr><th>Attribute</th><th>Before</th><th>After</th></tr>",
            );
            for d in diff.iter().take(200) {
                let _ = write!(
                    o,
                    "<tr><td><code>{}</code></td><td><code>{}</code></td><td><code>{}</code></td></tr>",
                    esc(d["path"].as_str().unwrap_or("")),
                    esc(&short(&d["before"])),
                    esc(&short(&d["after"])),
                );
                // Policy statements and network rules removed and added, in full.
                let lines = crate::notify::detail_lines(&d["detail"]);
                if !lines.is_empty() {
                    o.push_str("<tr class=detail><td></td><td colspan=2><ul class=detail>");
                    for (sign, text) in lines {
                        let class = match sign {
                            '-' => "removed",
                            '+' => "added",
                            _ => "changed",
                        };
                        let _ = write!(
                            o,
                            "<li class={class}><code>{sign} {}</code></li>",
                            esc(text)
                        );
                    }
                    o.push_str("</ul></td></tr>");
                }
            }
            if diff.len() > 200 {
                let _ = write!(
                    o,
                    "<tr><td colspan=3 class=muted>{} more attributes</td></tr>",
                    diff.len() - 200
                );
            }
            o.push_str("</table>");
        }
        o.push_str("</div>");
    }
    o
}

/// The decision page: explanation, the change itself, votes and the buttons.
pub fn decision(r: &Request, now: i64, who: &TokenInfo, csrf: &str) -> String {
    let state = r.state(now);
    let state_name = format!("{state:?}").to_lowercase();
    let mut o = format!(
        "<h1>Decision <code id=decision-id>{}</code></h1><div class=card><p>Requested by <b id=requester>{}</b> at {}: {} change, outcome {}, state <b id=state>{}</b>.</p>",
        esc(&r.id),
        esc(&r.requester),
        when(r.created_at),
        esc(&r.kind),
        outcome_span(&r.outcome),
        esc(&state_name),
    );
    let report = r.report_value();
    for p in report["decision"]["policies"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let _ = write!(
            o,
            "<p class=policy>{} <b>{}</b>: {}</p>",
            outcome_span(p["outcome"].as_str().unwrap_or("")),
            esc(p["id"].as_str().unwrap_or("")),
            esc(p["reason"].as_str().unwrap_or(""))
        );
    }
    if r.outcome == "review" {
        let approvals = r.votes.iter().filter(|v| v.approve).count();
        let _ = write!(
            o,
            "<p id=approvals>{approvals} of {} approvals; cooling-off {} after the last; expires {}.</p>",
            r.approvers_required,
            duration(r.delay_seconds),
            when(r.expires_at)
        );
        if let Some(at) = r.executable_at() {
            let _ = write!(o, "<p>Executable from {}.</p>", when(at));
        }
    }
    if let Some(at) = r.executed_at {
        let _ = write!(
            o,
            "<p id=executed>Executed at {} by {}: this approval is used up; the same call again needs a new one.</p>",
            when(at),
            esc(r.executed_by.as_deref().unwrap_or("?"))
        );
    }
    o.push_str("</div>");
    if let Some(action) = report["action"].as_str() {
        let findings = crate::api::findings(&report);
        let _ = write!(
            o,
            "<div class=card><h2>What it makes possible</h2>{}</div><div class=card><h2>The call</h2><p><code id=action>{}</code> on <code>{}</code> by <b>{}</b></p>{}<pre id=params>{}</pre></div>",
            if findings.is_empty() { "<p class=muted>No effects beyond the call itself.</p>".into() } else { findings_list(&findings) },
            esc(action),
            esc(report["resource"].as_str().unwrap_or("(no resource)")),
            esc(&r.requester),
            call_origin(r, &report["request"]),
            esc(&serde_json::to_string_pretty(&report["request"]["params"]).unwrap_or_default()),
        );
    } else {
        let _ = write!(
            o,
            "<h2>What it makes possible, change by change</h2>{}",
            plan_changes(&report)
        );
    }
    if !r.votes.is_empty() {
        o.push_str("<div class=card><h2>Votes</h2><ul id=votes>");
        for v in &r.votes {
            let _ = write!(
                o,
                "<li>{} {} at {}{}</li>",
                esc(&v.approver),
                if v.approve { "approved" } else { "rejected" },
                when(v.at),
                v.reason
                    .as_deref()
                    .map(|x| format!(": {}", esc(x)))
                    .unwrap_or_default()
            );
        }
        o.push_str("</ul></div>");
    }
    let can_vote = r.outcome == "review"
        && r.requester != who.actor
        && !r.votes.iter().any(|v| v.approver == who.actor)
        && matches!(
            state,
            parapet_store::State::Pending | parapet_store::State::CoolingOff
        );
    if can_vote {
        let _ = write!(
            o,
            "<div class=card><h2>Your decision</h2><form method=post action=\"/ui/decisions/{id}/vote\"><input type=hidden name=csrf value=\"{csrf}\"><input type=hidden name=content_hash value=\"{hash}\"><p><input name=reason id=reason size=60 placeholder=\"Reason (optional)\"></p><p>{}<button class=reject name=verdict value=reject id=reject>Reject</button></p><p class=muted>Your vote is bound to content {hash}.</p></form></div>",
            if state == parapet_store::State::Pending { "<button class=approve name=verdict value=approve id=approve>Approve</button> " } else { "" },
            id = esc(&r.id),
            csrf = esc(csrf),
            hash = esc(&r.content_hash),
        );
    }
    o
}

/// Where a call came from and what its approval binds to.
fn call_origin(r: &Request, request: &Value) -> String {
    let source = request["source"].as_str().unwrap_or("api");
    let how = match source {
        "proxy" => "Made through <b>parapet proxy aws</b>: the agent's own AWS request, held at the proxy. Approved, it runs once when the agent sends the same request again (or while the proxy still holds it).",
        "api" => "Submitted to the decision API.",
        _ => "",
    };
    let mut o = format!("<p id=source>Source <b>{}</b>. {how}</p>", esc(source));
    let bound = if request["binding"].is_string() {
        "caller, operation, parameters and policy pack"
    } else {
        "action, resource and parameters"
    };
    let _ = write!(
        o,
        "<p class=muted id=binding>Approval bound to {bound}: <code>{}</code>",
        esc(&r.content_hash)
    );
    if let Some(v) = request["policy_version"].as_str() {
        let _ = write!(
            o,
            "; policy pack <code>{}</code>",
            esc(&v[..v.len().min(16)])
        );
    }
    o.push_str(".</p>");
    o
}

fn duration(s: u64) -> String {
    match s {
        0 => "none".into(),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

pub fn incidents(open: &[Incident], admin: bool, csrf: &str) -> String {
    let mut o = String::from("<h1>Incident mode</h1>");
    if open.is_empty() {
        o.push_str("<p id=no-incident>No incident is open: decisions run normally.</p>");
    } else {
        o.push_str(
            "<table id=incidents><tr><th>Incident</th><th>Source</th><th>Opened</th><th></th></tr>",
        );
        for i in open {
            let resolve = if admin {
                format!("<form method=post action=\"/ui/incidents/{id}/resolve\" style=margin:0><input type=hidden name=csrf value=\"{}\"><button>Resolve</button></form>", esc(csrf), id = esc(&i.id))
            } else {
                String::new()
            };
            let _ = write!(
                o,
                "<tr><td><b>{}</b> {}</td><td>{}</td><td>{} by {}</td><td>{resolve}</td></tr>",
                esc(&i.id),
                esc(&i.title),
                esc(&i.source),
                when(i.opened_at),
                esc(&i.opened_by)
            );
        }
        o.push_str("</table>");
    }
    if admin {
        let _ = write!(
            o,
            "<div class=card><h2>Open an incident</h2><form method=post action=/ui/incidents><input type=hidden name=csrf value=\"{}\"><p><input name=id placeholder=\"INC-123\" required> <input name=title size=50 placeholder=\"What is happening\"> <button id=open-incident>Open</button></p></form></div>",
            esc(csrf)
        );
    }
    o
}

pub fn pins(pins: &[StoredPin], admin: bool, csrf: &str, now: i64) -> String {
    let mut o = String::from("<h1>Pins</h1><p class=muted>Emergency changes that no decision may revert.</p><table id=pins><tr><th>Pin</th><th>Protects</th><th>Why</th><th>Expires</th><th></th></tr>");
    for p in pins {
        let expired = p.expires.is_some_and(|e| e <= now);
        let remove = if admin {
            format!("<form method=post action=\"/ui/pins/remove\" style=margin:0><input type=hidden name=csrf value=\"{}\"><input type=hidden name=id value=\"{}\"><button>Remove</button></form>", esc(csrf), esc(&p.id))
        } else {
            String::new()
        };
        let _ = write!(
            o,
            "<tr><td><code>{}</code></td><td><code>{}</code> {} {}</td><td>{}{}</td><td>{}</td><td>{remove}</td></tr>",
            esc(&p.id),
            esc(&p.resource),
            esc(&p.attribute),
            p.value.as_deref().map(|v| format!("{} <code>{}</code>", esc(p.mode.as_deref().unwrap_or("equals")), esc(v))).unwrap_or_default(),
            esc(&p.reason),
            p.incident.as_deref().map(|i| format!(" ({})", esc(i))).unwrap_or_default(),
            match p.expires { Some(e) if expired => format!("expired {}", when(e)), Some(e) => when(e), None => "never".into() },
        );
    }
    o.push_str("</table>");
    if admin {
        let _ = write!(
            o,
            "<div class=card><h2>Pin an emergency change</h2><form method=post action=/ui/pins><input type=hidden name=csrf value=\"{}\">\
<p><input name=resource placeholder=\"aws_security_group.api\" required> <input name=attribute placeholder=\"ingress\" required></p>\
<p><input name=value size=50 placeholder='protected value as JSON (optional)'> <input name=mode placeholder=\"equals|contains|excludes\"></p>\
<p><input name=reason size=50 placeholder=\"Why\" required> <input name=incident placeholder=\"INC-123\"> <input name=expires placeholder=\"2026-12-01T00:00:00Z\"></p>\
<p><button id=add-pin>Pin</button></p></form></div>",
            esc(csrf)
        );
    }
    o
}

pub fn audit(entries: &[AuditEntry], problem: Option<&parapet_store::ChainProblem>) -> String {
    let mut o = String::from("<h1>Audit log</h1>");
    match problem {
        None => {
            let _ = write!(o, "<p class=ok id=audit-status>Intact: {} entries, each chained to the one before.</p>", entries.len());
        }
        Some(p) => {
            let _ = write!(
                o,
                "<p class=err id=audit-status>TAMPERED at entry {}: {}</p>",
                p.seq,
                esc(&p.what)
            );
        }
    }
    o.push_str("<table id=audit><tr><th>#</th><th>When</th><th>What</th><th>Who</th><th>Subject</th><th>Hash</th></tr>");
    for e in entries.iter().rev().take(200) {
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td><code>{}</code></td></tr>",
            e.seq,
            when(e.at),
            esc(&e.kind),
            esc(&e.actor),
            esc(&e.subject),
            esc(&e.hash[..12.min(e.hash.len())])
        );
    }
    o.push_str("</table>");
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn policy_and_rule_details_are_shown_in_full() {
        let report = json!({"changes": [{"address": "aws_iam_role_policy.p", "kind": "update",
            "decision": {"outcome": "review"}, "findings": [],
            "diff": [{"path": "policy", "before": "(policy, 1 statement(s))", "after": "(policy, 2 statement(s))",
                "detail": {"kind": "policy", "removed": [], "added": [{"text": "Allow iam:* on * when <x>"}]}},
                {"path": "ingress", "before": "1 rule(s)", "after": "1 rule(s)",
                "detail": {"kind": "rules", "removed": [{"text": "tcp port 22 from 10.0.0.0/8"}],
                    "added": [{"text": "tcp port 22 from 0.0.0.0/0"}]}}]}]});
        let html = plan_changes(&report);
        assert!(
            html.contains("<li class=added><code>+ Allow iam:* on * when &lt;x&gt;</code></li>"),
            "{html}"
        );
        assert!(
            html.contains("<li class=removed><code>- tcp port 22 from 10.0.0.0/8</code></li>"),
            "{html}"
        );
        assert!(html.contains("+ tcp port 22 from 0.0.0.0/0"), "{html}");
    }

    fn proxied(executed: bool) -> Request {
        Request {
            id: "dec_1".into(),
            created_at: 0,
            requester: "agent:kiro".into(),
            kind: "call".into(),
            content_hash: "ab".repeat(32),
            outcome: "review".into(),
            approvers_required: 2,
            delay_seconds: 0,
            expires_at: 3600,
            approved_at: Some(10),
            rejected: false,
            executed_at: executed.then_some(20),
            executed_by: executed.then(|| "agent:kiro".into()),
            votes: vec![],
            report: serde_json::value::to_raw_value(&json!({
                "action": "iam:AttachRolePolicy", "resource": "arn:aws:iam::1:role/<r>",
                "decision": {"outcome": "review", "policies": []}, "findings": [],
                "request": {"params": {"RoleName": "<r>"}, "source": "proxy",
                    "binding": "ab".repeat(32), "policy_version": "0123456789abcdef0123"},
            }))
            .unwrap(),
        }
    }

    #[test]
    fn a_proxied_call_shows_caller_operation_source_and_binding() {
        let who = TokenInfo {
            id: "tok_1".into(),
            name: "bob".into(),
            role: parapet_store::Role::Approver,
            actor: "human:bob".into(),
            created_at: 0,
            expires_at: None,
            revoked_at: None,
            last_used_at: None,
            aws_access_key_id: None,
        };
        let html = decision(&proxied(false), 100, &who, "csrf");
        assert!(
            html.contains("<code id=action>iam:AttachRolePolicy</code>"),
            "{html}"
        );
        assert!(html.contains("by <b>agent:kiro</b>"), "{html}");
        assert!(
            html.contains("&lt;r&gt;") && !html.contains("<r>"),
            "{html}"
        );
        assert!(
            html.contains("Source <b>proxy</b>") && html.contains("parapet proxy aws"),
            "{html}"
        );
        assert!(
            html.contains("caller, operation, parameters and policy pack"),
            "{html}"
        );
        assert!(html.contains(&"ab".repeat(32)), "{html}");
        assert!(
            html.contains("policy pack <code>0123456789abcdef</code>"),
            "{html}"
        );
        assert!(html.contains("state <b id=state>approved</b>"), "{html}");
        assert!(!html.contains("id=executed"), "{html}");
        let html = decision(&proxied(true), 100, &who, "csrf");
        assert!(html.contains("state <b id=state>executed</b>"), "{html}");
        assert!(
            html.contains("<p id=executed>Executed at 1970-01-01T00:00:20Z by agent:kiro"),
            "{html}"
        );
        // The history lists it as executed.
        assert!(history(&[proxied(true)], 100).contains("<td>executed</td>"));
    }
}
