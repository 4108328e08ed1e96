//! What a verdict means in each mode: forward (with the metric label and, for an
//! approval, the consumed request's id) or refuse, naming the decision, its reasons
//! and where to approve. Reviews are held here.

use crate::config::Mode;
use crate::handle::{Cx, Shared};
use crate::hold::{hold, Held};
use crate::judge::{self, Verdict};
use crate::reply::Refusal;
use parapet_store::{Request as Stored, State};
use std::sync::Arc;

/// Turn a verdict into "forward" (with its metric label and a consumed approval's id)
/// or the refusal the mode calls for. Holds here.
pub async fn settle(
    s: &Arc<Shared>,
    actor: &str,
    action: &str,
    verdict: Verdict,
    cx: &mut Cx,
) -> Result<(&'static str, Option<String>), Refusal> {
    // `AccessDeniedException` in the json protocols (see `Refusal::response`).
    let code = "AccessDenied";
    let request = match verdict {
        Verdict::Read => return Ok(("read", None)),
        Verdict::Unrecorded(report) => {
            let would = report.decision.outcome.as_str();
            let why = judge::report_reasons(&report);
            tracing::info!(actor, action, would, mode = s.config.mode.as_str(), reasons = %why, "judged (not recorded)");
            return match s.config.mode {
                Mode::Observe => Ok(("observed", None)),
                // Dry-run forwards every read, whatever enforce would do with it.
                _ if !report.writes => Ok(("read", None)),
                _ => Err(Refusal::new(
                    403,
                    code,
                    format!(
                        "parapet dry-run: {action} would be {} ({why}); it was not sent to AWS",
                        would_be(would)
                    ),
                    "dry_run_blocked",
                )),
            };
        }
        Verdict::Approved(r) => {
            cx.decision = Some(r.id.clone());
            return Ok(("approved", Some(r.id)));
        }
        Verdict::Waiting(r) => *r,
        Verdict::Recorded(r) => *r,
    };
    cx.decision = Some(request.id.clone());
    let id = request.id.clone();
    match request.outcome.as_str() {
        "allow" => return Ok(("allow", None)),
        "deny" => {
            let why = judge::reasons(&request.report_value());
            return Err(Refusal::new(
                403,
                code,
                format!("parapet denied {action} (decision {id}): {why}"),
                "deny",
            ));
        }
        _ => {}
    }
    match hold(s, actor, request).await? {
        Held::Approved(r) => Ok(("approved", Some(r.id))),
        Held::Ended(r, state) => {
            let what = match state {
                State::Rejected => "was rejected".to_string(),
                State::Expired => "expired without approval".to_string(),
                State::Executed => {
                    "was approved once and that approval is used; retry for a new review"
                        .to_string()
                }
                other => format!("ended as {other:?}"),
            };
            let why = judge::reasons(&r.report_value());
            Err(Refusal::new(
                403,
                code,
                format!("parapet: the review of {action} (decision {id}) {what}: {why}"),
                "rejected",
            ))
        }
        Held::Waiting(r, state) => Err(Refusal::new(
            403,
            code,
            waiting_message(s, action, &r, state),
            "review_timeout",
        )),
    }
}

fn would_be(outcome: &str) -> &'static str {
    match outcome {
        "allow" => "allowed",
        "deny" => "denied",
        _ => "held for review",
    }
}

fn waiting_message(s: &Shared, action: &str, r: &Stored, state: State) -> String {
    let why = judge::reasons(&r.report_value());
    let why = why.trim_end_matches('.');
    let url = if s.config.public_url.is_empty() {
        format!("the parapet web UI (decision {})", r.id)
    } else {
        format!(
            "{}/ui/decisions/{}",
            s.config.public_url.trim_end_matches('/'),
            r.id
        )
    };
    let approvals = r.votes.iter().filter(|v| v.approve).count();
    match state {
        State::CoolingOff => format!(
            "parapet: {action} (decision {}) is approved and cooling off until {}; retry the same call then. {url}",
            r.id,
            r.executable_at().map(parapet_store::rfc3339).unwrap_or_default()
        ),
        _ => format!(
            "parapet is holding {action} for review (decision {}; {approvals} of {} approvals): {why}. Approve it at {url}, then retry the same call",
            r.id, r.approvers_required
        ),
    }
}
