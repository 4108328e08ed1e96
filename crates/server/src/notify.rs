//! Chat-ops: each new review is posted to a Slack-compatible incoming webhook as Block
//! Kit, with the plain-language explanation and a link to the approval page. Delivery
//! never delays or changes a decision; failures are retried, then logged and counted.

use crate::api::App;
use parapet_store::Request;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// Slack rejects section text over 3,000 characters.
const SECTION_LIMIT: usize = 2900;

/// Post a new review in the background, if a webhook is configured.
pub fn review_created(app: &Arc<App>, r: &Request) {
    let Some(url) = app.config.slack_webhook.clone() else {
        return;
    };
    let message = message(r, &app.config.public_url);
    let app = app.clone();
    let id = r.id.clone();
    tokio::task::spawn_blocking(move || {
        let body = message.to_string();
        for attempt in 0..3u32 {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(500 << attempt));
            }
            match post(&url, &body) {
                Ok(()) => {
                    app.metrics
                        .notifications_sent
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::info!(%id, "review posted to chat");
                    return;
                }
                // The URL is a credential: log the failure, never the URL.
                Err(e) => tracing::warn!(%id, attempt, error = %e, "chat webhook failed"),
            }
        }
        app.metrics
            .notifications_failed
            .fetch_add(1, Ordering::Relaxed);
    });
}

fn post(url: &str, body: &str) -> Result<(), String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .build()
        .into();
    let resp = agent
        .post(url)
        .header("content-type", "application/json")
        .send(body)
        .map_err(|e| format!("delivery failed: {}", strip_url(&e.to_string())))?;
    match resp.status().as_u16() {
        200..=299 => Ok(()),
        s => Err(format!("the webhook answered HTTP {s}")),
    }
}

/// Error texts can carry the request URL, which holds the webhook's secret path.
fn strip_url(s: &str) -> String {
    s.split_whitespace()
        .map(|w| {
            if w.contains("://") {
                "<webhook url>"
            } else {
                w
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Slack mrkdwn needs &, < and > escaped; everything else is literal.
fn mrkdwn(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn clip(mut s: String) -> String {
    if s.len() > SECTION_LIMIT {
        let mut cut = SECTION_LIMIT;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str("\n…");
    }
    s
}

/// `(sign, text)` of a diff's `detail` (statements or rules removed, then added).
pub(crate) fn detail_lines(detail: &Value) -> Vec<(char, &str)> {
    let mut out = Vec::new();
    for (key, sign) in [("removed", '-'), ("added", '+'), ("changed", '~')] {
        for item in detail[key].as_array().into_iter().flatten() {
            if let Some(t) = item["text"].as_str() {
                out.push((sign, t));
            }
        }
    }
    out
}

/// The policy statements and network rules a plan removes and adds, in full (the
/// stored report is masked already): what the approver is asked to approve.
fn changed_documents(report: &Value) -> String {
    let mut out = String::new();
    for c in report["changes"].as_array().into_iter().flatten() {
        for d in c["diff"].as_array().into_iter().flatten() {
            let lines = detail_lines(&d["detail"]);
            if lines.is_empty() {
                continue;
            }
            out.push_str(&format!(
                "*{}* `{}`\n",
                mrkdwn(c["address"].as_str().unwrap_or("?")),
                mrkdwn(d["path"].as_str().unwrap_or("?"))
            ));
            for (sign, text) in lines {
                out.push_str(&format!("`{sign}` {}\n", mrkdwn(text)));
            }
        }
    }
    if out.is_empty() {
        out = "No policy or rule changes.".into();
    }
    out
}

/// The Block Kit message for a new review.
pub fn message(r: &Request, public_url: &str) -> Value {
    let report = &r.report_value();
    let what = match report["action"].as_str() {
        Some(action) => format!(
            "call {action} on {}",
            report["resource"].as_str().unwrap_or("(no resource)")
        ),
        None => format!(
            "Terraform plan with {} changes",
            report["counts"]["changes"].as_u64().unwrap_or(0)
        ),
    };
    let link = format!("{public_url}/ui/decisions/{}", r.id);
    let mut explained = String::new();
    for f in crate::api::findings(report) {
        explained.push_str(&format!(
            "• *{}* {}\n    _{}_\n",
            mrkdwn(f["severity"].as_str().unwrap_or("info")),
            mrkdwn(f["summary"].as_str().unwrap_or("")),
            mrkdwn(f["explanation"].as_str().unwrap_or("")),
        ));
    }
    if explained.is_empty() {
        explained = "No effects beyond the change itself.".into();
    }
    let changes = changed_documents(report);
    let why: Vec<String> = report["decision"]["policies"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["outcome"] == "review")
        .filter_map(|p| p["reason"].as_str().map(mrkdwn))
        .collect();
    let delay = if r.delay_seconds > 0 {
        format!(
            ", then a {}-minute cooling-off",
            r.delay_seconds.div_ceil(60)
        )
    } else {
        String::new()
    };
    json!({
        "text": format!("parapet: review needed for {what} requested by {}", r.requester),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": clip(format!("Review needed: {what}")).chars().take(150).collect::<String>()}},
            {"type": "section", "text": {"type": "mrkdwn", "text": clip(format!(
                "*Requested by* {}\n*Needs* {} approvals from people other than the requester{delay}\n*Why*: {}",
                mrkdwn(&r.requester), r.approvers_required, why.join(" ")))}},
            {"type": "section", "text": {"type": "mrkdwn", "text": clip(explained)}},
            {"type": "section", "text": {"type": "mrkdwn", "text": clip(changes)}},
            {"type": "actions", "elements": [
                {"type": "button", "style": "primary", "text": {"type": "plain_text", "text": "Review and approve"}, "url": link}
            ]},
            {"type": "context", "elements": [
                {"type": "mrkdwn", "text": format!("{} · content sha256 {} · expires {}", r.id, &r.content_hash[..12.min(r.content_hash.len())], parapet_store::rfc3339(r.expires_at))}
            ]}
        ]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_statements_and_rules_are_in_the_message() {
        let report = json!({"counts": {"changes": 1}, "decision": {"policies": []}, "changes": [{"address": "aws_iam_role_policy.p",
            "diff": [{"path": "policy", "detail": {"kind": "policy", "removed": [{"text": "Allow s3:GetObject on arn:aws:s3:::b/*"}],
                "added": [{"text": "Allow iam:* on *"}]}}]}]});
        let text = changed_documents(&report);
        assert_eq!(
            text,
            "*aws_iam_role_policy.p* `policy`\n`-` Allow s3:GetObject on arn:aws:s3:::b/*\n`+` Allow iam:* on *\n"
        );
    }

    #[test]
    fn escapes_and_links() {
        let r = Request {
            id: "dec_1".into(),
            created_at: 0,
            requester: "agent:<kiro>".into(),
            kind: "call".into(),
            content_hash: "abcdef0123456789".into(),
            outcome: "review".into(),
            approvers_required: 2,
            delay_seconds: 900,
            expires_at: 3600,
            approved_at: None,
            rejected: false,
            executed_at: None,
            executed_by: None,
            votes: vec![],
            report: serde_json::value::to_raw_value(&json!({"action": "iam:AttachUserPolicy", "resource": "arn:aws:iam::1:user/x",
                "decision": {"policies": [{"outcome": "review", "reason": "two & more"}]},
                "findings": [{"severity": "critical", "summary": "grants <admin>", "explanation": "full control"}]})).unwrap(),
        };
        let m = message(&r, "https://parapet.example.com");
        let text = m.to_string();
        assert!(text.contains("https://parapet.example.com/ui/decisions/dec_1"));
        assert!(text.contains("grants &lt;admin&gt;"));
        assert!(text.contains("two &amp; more"));
        assert!(text.contains("15-minute cooling-off"));
        assert_eq!(m["blocks"][0]["type"], "header");
        assert_eq!(m["blocks"][3]["text"]["text"], "No policy or rule changes.");
        assert!(
            strip_url("error for https://hooks.slack.com/services/T/B/X: refused")
                .contains("<webhook url>")
        );
    }
}
