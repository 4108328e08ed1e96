//! A call under review through `parapet proxy aws`: the AWS CLI's `iam
//! attach-role-policy ... AdministratorAccess` is held while two approvers approve it
//! in the web UI (headless Chromium), then runs, and moto shows the policy attached.
//! One approval is one execution: the same call later needs a new approval; a changed
//! call (another role) needs its own; the same call retried after approval goes
//! through. The pack is one an organisation might write: automation may grant
//! administrator access when two people agree (the built-in pack denies it).

mod common;
mod proxy_common;

use common::http;
use proxy_common::browser::Browser;
use proxy_common::*;
use serde_json::Value;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Replaces the built-in 30-privilege.cedar: admin grants and escalation primitives
/// by automation are reviewed by two people (no cooling-off) instead of denied.
const PACK: &str = r#"
@id("review-admin-or-escalation-two-approvers")
@outcome("review")
@approvals("2")
@reason("Granting administrator access or escalation primitives needs two approvers.")
forbid (principal, action, resource)
when { context.effects.containsAny(["privilege_admin", "privilege_escalation"]) };

@id("deny-automation-open-trust")
@reason("Automation may not open trust to anyone or to unpinned identity providers.")
forbid (principal, action, resource)
when {
  principal.kind != "human" &&
  context.effects.containsAny(["trust_public", "trust_federated_unconditioned"])
};

@id("review-privilege")
@outcome("review")
@approvals("2")
@reason("The change grants permissions, trust or credentials; two approvers must agree.")
forbid (principal, action, resource)
when { context.effects.containsAny(["privilege_grant", "trust_opened", "new_credential"]) };
"#;

const ADMIN: &str = "arn:aws:iam::aws:policy/AdministratorAccess";

fn attach(role: &str) -> Vec<String> {
    [
        "iam",
        "attach-role-policy",
        "--role-name",
        role,
        "--policy-arn",
        ADMIN,
        "--cli-read-timeout",
        "120",
    ]
    .map(String::from)
    .to_vec()
}

fn attached(s: &Stack, role: &str) -> Vec<Value> {
    let v = s
        .moto
        .aws(&["iam", "list-attached-role-policies", "--role-name", role]);
    v["AttachedPolicies"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Poll until something is true; a hang guard, not a timing assertion.
fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        if let Some(t) = f() {
            return t;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("gave up waiting for {what}");
}

/// One approver's click in the browser, from the queue to the request's page.
fn approve_in_browser(b: &Browser, s: &Stack, token: &str, id: &str, reason: &str) -> String {
    let base = s.server.url();
    b.login(&base, token);
    b.go(&format!("{base}/ui"));
    let queue = b.text("#queue");
    assert!(queue.contains("agent:kiro"), "{queue}");
    b.click("#queue a.request");
    assert!(
        b.url().ends_with(id),
        "the queue leads to {id}: {}",
        b.url()
    );
    let page = b.page();
    assert!(page.contains("iam:AttachRolePolicy"), "{page}");
    b.type_into("#reason", reason);
    b.click("#approve");
    b.text("#state")
}

/// The agent's call through proxy `n`, refused after its hold: the approval URL it
/// names and the request's id.
fn held_then_refused(s: &Stack, n: usize, role: &str) -> (String, String) {
    // A new call: botocore signs to the second, so the same call in the same second as
    // one just carried out would be those very bytes again, a replay.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let args = attach(role);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = s.aws_via(n, &s.agent, &args).output().unwrap();
    let err = s.keep(&o);
    assert!(
        matches!(o.status.code(), Some(254 | 255)),
        "held and then refused: {err}"
    );
    assert!(err.to_lowercase().contains("parapet"), "{err}");
    let base = format!("{}/ui/", s.server.url());
    let at = err
        .find(&base)
        .unwrap_or_else(|| panic!("no approval URL under {base} in {err}"));
    let url: String = err[at..]
        .chars()
        .take_while(|c| !c.is_whitespace() && !matches!(c, ')' | '"' | '\'' | ',' | ';'))
        .collect();
    let url = url.trim_end_matches('.').to_string();
    let id = url.rsplit('/').next().unwrap().to_string();
    assert!(id.starts_with("dec_"), "{url}");
    (url, id)
}

#[test]
fn an_admin_grant_waits_for_two_approvers_in_the_browser_then_runs_once() {
    let mut s = Stack::start(
        "approve",
        Opts {
            pack: &[("30-privilege.cedar", PACK)],
            hold: "50s",
            ..Opts::default()
        },
    );
    for role in ["r", "r2"] {
        s.moto.aws(&[
            "iam",
            "create-role",
            "--role-name",
            role,
            "--assume-role-policy-document",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        ]);
    }
    let b = Browser::start();

    // The agent's call is held.
    let args = attach("r");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut cli = s
        .aws_via(0, &s.agent, &args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pending = wait_for("the held call's request", || {
        let (_, v) = http(
            s.server.port,
            "GET",
            "/v1/decisions?state=pending",
            Some(&s.alice),
            None,
        );
        v.as_array().and_then(|a| a.first().cloned())
    });
    let id = pending["id"].as_str().unwrap().to_string();
    assert_eq!(pending["requester"], "agent:kiro", "{pending}");
    assert_eq!(pending["outcome"], "review", "{pending}");
    assert_eq!(pending["approval"]["approvers_required"], 2, "{pending}");
    assert!(attached(&s, "r").is_empty(), "nothing ran while held");

    // Alice approves in the browser: one of two, still held.
    let state = approve_in_browser(&b, &s, &s.alice, &id, "agreed in the change review");
    assert_eq!(state, "pending");
    assert!(
        cli.try_wait().unwrap().is_none(),
        "still held after one approval"
    );
    assert!(attached(&s, "r").is_empty());
    // Bob approves: the held call runs.
    let state = approve_in_browser(&b, &s, &s.bob, &id, "second pair of eyes");
    assert!(state == "approved" || state == "executed", "{state}");
    let out = cli.wait_with_output().unwrap();
    let text = s.keep(&out);
    assert!(out.status.success(), "the approved call ran: {text}");
    let got = attached(&s, "r");
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["PolicyArn"], ADMIN);
    assert_eq!(s.decision(&id)["state"], "executed", "consumed by the call");

    // The same call again (through a proxy that holds only briefly) needs a new
    // approval: refused, naming a new request's approval page, which approvers can open.
    let quick = s.add_proxy("1s", "enforce");
    let (url, again) = held_then_refused(&s, quick, "r");
    assert_ne!(again, id);
    b.login(&s.server.url(), &s.alice);
    b.go(&url);
    assert!(b.url().ends_with(&again), "{}", b.url());
    assert_eq!(b.text("#state"), "pending");
    // Retrying while it is pending reuses the same request.
    let (_, same) = held_then_refused(&s, quick, "r");
    assert_eq!(same, again, "a retry waits on the same request");

    // Approved (through the API this time), the same call retried goes through.
    for t in [&s.alice, &s.bob] {
        let (status, v) = s.vote(t, &again, "approve");
        assert_eq!(status, 200, "{v}");
    }
    let args = attach("r");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = s.aws_via(quick, &s.agent, &args).output().unwrap();
    assert!(o.status.success(), "{}", s.keep(&o));
    assert_eq!(s.decision(&again)["state"], "executed");

    // Approve one more for role r; a changed call (role r2) does not ride on it.
    let (_, third) = held_then_refused(&s, quick, "r");
    assert!(third != again && third != id);
    for t in [&s.alice, &s.bob] {
        assert_eq!(s.vote(t, &third, "approve").0, 200);
    }
    let (_, changed) = held_then_refused(&s, quick, "r2");
    assert!(![&id, &again, &third].contains(&&changed));
    assert!(
        attached(&s, "r2").is_empty(),
        "the changed call did not run"
    );
    assert_eq!(
        s.decision(&third)["state"],
        "approved",
        "the approval of the other call is untouched"
    );
    drop(b);
    s.finish();
}
