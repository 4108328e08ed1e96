//! An IAM change through `parapet proxy mcp` in front of the AWS API MCP server: the
//! agent's `aws iam attach-user-policy ... AdministratorAccess` waits for two approvers
//! (approved through the server's API with their tokens) and then runs, once.
//!
//! With a client that supports elicitation the call waits: the client is shown the
//! approval link, progress notifications arrive while it waits, and the approvals let
//! it through. Without elicitation the gateway answers pending, naming the approval URL
//! and the decision; a retry of the same call attaches to the same request and, once
//! approved, runs; the next identical call needs a new approval and a changed one its
//! own. Both revisions of the specification, each path.

mod common;
mod mcp_common;
mod proxy_common;

use mcp_common::*;
use proxy_common::*;
use serde_json::{json, Value};

/// Replaces the built-in 30-privilege.cedar (which denies automation an admin grant):
/// two people must agree instead, as an organisation might decide.
const PACK: &str = r#"
@id("review-admin-or-escalation-two-approvers")
@outcome("review")
@approvals("2")
@reason("Granting administrator access or escalation primitives needs two approvers.")
forbid (principal, action, resource)
when { context.effects.containsAny(["privilege_admin", "privilege_escalation"]) };

@id("review-privilege")
@outcome("review")
@approvals("2")
@reason("The change grants permissions, trust or credentials; two approvers must agree.")
forbid (principal, action, resource)
when { context.effects.containsAny(["privilege_grant", "trust_opened", "new_credential"]) };
"#;

const ADMIN: &str = "arn:aws:iam::aws:policy/AdministratorAccess";

fn start(tag: &str) -> Mcp {
    Mcp::start(
        tag,
        Opts {
            pack: &[("30-privilege.cedar", PACK)],
            ..Opts::default()
        },
    )
}

fn attach(user: &str) -> String {
    format!("aws iam attach-user-policy --user-name {user} --policy-arn {ADMIN}")
}

fn attached(m: &Mcp, user: &str) -> Vec<Value> {
    let v =
        m.s.moto
            .aws(&["iam", "list-attached-user-policies", "--user-name", user]);
    v["AttachedPolicies"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// AttachUserPolicy requests for `user` that reached moto since it started recording.
fn attach_requests(m: &Mcp, user: &str) -> usize {
    m.s.moto
        .recorded()
        .into_iter()
        .filter(|r| {
            let body = r["body"].as_str().unwrap_or("");
            body.contains("Action=AttachUserPolicy") && body.contains(&format!("UserName={user}"))
        })
        .count()
}

/// A pending decision of agent:kiro not among `seen`.
fn new_pending(m: &Mcp, seen: &[String]) -> Value {
    wait_for("the held call's request", || {
        m.pending()
            .into_iter()
            .find(|d| d["requester"] == "agent:kiro" && !seen.iter().any(|s| d["id"] == s.as_str()))
    })
}

/// The pending answer names the decision and its approval page: the decision's id.
fn pending_id(m: &Mcp, out: &Value) -> String {
    let text = out["text"].as_str().unwrap_or_default();
    let id = decision_id(text);
    let url = format!("{}/ui/decisions/{id}", m.s.server.url());
    assert!(text.contains(&url), "the approval URL {url}: {out}");
    let d = m.s.decision(&id);
    assert_eq!(d["state"], "pending", "{d}");
    assert_eq!(d["requester"], "agent:kiro", "{d}");
    assert_eq!(d["approval"]["approvers_required"], 2, "{d}");
    id
}

#[test]
fn an_admin_grant_waits_in_an_eliciting_client_for_two_approvers_then_runs_once() {
    let m = start("elicit");
    m.s.moto.record();
    let mut seen = Vec::new();
    for mode in REVISIONS {
        let user = format!("dev-{}", mode.replace('-', ""));
        m.s.moto.aws(&["iam", "create-user", "--user-name", &user]);
        let events_file = m.s.dir.join(format!("events-{mode}.jsonl"));
        let steps =
            json!([{"op": "call", "tool": "call_aws", "args": {"cli_command": attach(&user)}}]);
        let gateway = m.gateway(Upstream::Aws, &["--hold", "120s"]);
        let args = with_events(
            client_args(mode, &steps, Some("accept"), &gateway),
            &events_file,
        );
        let mut client = m.spawn(&args);

        let d = new_pending(&m, &seen);
        let id = d["id"].as_str().unwrap().to_string();
        seen.push(id.clone());
        assert_eq!(d["outcome"], "review", "{mode}: {d}");
        assert_eq!(d["approval"]["approvers_required"], 2, "{mode}: {d}");
        // The client was shown the approval link, and hears progress while it waits.
        let shown = wait_for("the elicitation", || {
            events(&events_file)
                .into_iter()
                .find(|e| e["event"] == "elicitation")
        });
        assert!(
            shown.to_string().contains(&id),
            "{mode}: the elicitation names the request: {shown}"
        );
        wait_for("a progress notification", || {
            events(&events_file)
                .into_iter()
                .find(|e| e["event"] == "progress")
        });
        assert!(attached(&m, &user).is_empty(), "{mode}: nothing ran yet");

        // One approval of two: still waiting.
        let (status, v) = m.s.vote(&m.s.alice, &id, "approve");
        assert_eq!(status, 200, "{v}");
        assert!(
            client.try_wait().unwrap().is_none(),
            "{mode}: still waiting after one approval"
        );
        assert!(attached(&m, &user).is_empty(), "{mode}");
        let (status, v) = m.s.vote(&m.s.bob, &id, "approve");
        assert_eq!(status, 200, "{v}");

        let o = client.wait_with_output().unwrap();
        m.s.keep(&o);
        let out = lines(&m.finished(o, &args)).remove(0);
        aws_response(&out);
        let got = attached(&m, &user);
        assert_eq!(got.len(), 1, "{mode}: {got:?}");
        assert_eq!(got[0]["PolicyArn"], ADMIN);
        assert_eq!(m.s.decision(&id)["state"], "executed", "{mode}");
        assert_eq!(attach_requests(&m, &user), 1, "{mode}: ran once");
    }
    m.finish();
}

#[test]
fn without_elicitation_the_call_answers_pending_and_a_retry_runs_once_approved() {
    let m = start("pending");
    m.s.moto.record();
    let mut all: Vec<String> = Vec::new();
    for mode in REVISIONS {
        let user = format!("ops-{}", mode.replace('-', ""));
        m.s.moto.aws(&["iam", "create-user", "--user-name", &user]);
        let call = |cli: &str| {
            let steps = json!([{"op": "call", "tool": "call_aws", "args": {"cli_command": cli}}]);
            m.steps(mode, Upstream::Aws, &["--hold", "1s"], steps)
                .remove(0)
        };

        let first = call(&attach(&user));
        let id = pending_id(&m, &first);
        assert!(!all.contains(&id), "{mode}: a new request");
        all.push(id.clone());
        assert!(attached(&m, &user).is_empty(), "{mode}: held, not run");
        // The same call again: the same request.
        let again = call(&attach(&user));
        assert_eq!(pending_id(&m, &again), id, "{mode}: a retry attaches");
        assert_eq!(attach_requests(&m, &user), 0, "{mode}");

        m.approve_twice(&id);
        let done = call(&attach(&user));
        aws_response(&done);
        assert_eq!(attached(&m, &user).len(), 1, "{mode}");
        assert_eq!(m.s.decision(&id)["state"], "executed", "{mode}");
        assert_eq!(attach_requests(&m, &user), 1, "{mode}");

        // One approval, one execution: the same call once more needs a new approval.
        let next = call(&attach(&user));
        let next_id = pending_id(&m, &next);
        assert_ne!(next_id, id, "{mode}");
        all.push(next_id.clone());
        // A changed argument (another user) does not ride on it, approved or not.
        m.approve_twice(&next_id);
        let other = format!("{user}-2");
        m.s.moto.aws(&["iam", "create-user", "--user-name", &other]);
        let changed = pending_id(&m, &call(&attach(&other)));
        assert!(!all.contains(&changed), "{mode}: its own request");
        all.push(changed);
        assert!(attached(&m, &other).is_empty(), "{mode}");
        assert_eq!(m.s.decision(&next_id)["state"], "approved", "{mode}");
        assert_eq!(attach_requests(&m, &user), 1, "{mode}");
    }
    m.finish();
}
