//! The per-agent kill switch end to end: the real `parapet` binary serving on
//! loopback (SQLite file, and two replicas on the machine's PostgreSQL), `parapet
//! freeze` / `parapet unfreeze` through the server, HTTP over a plain socket.

use serde_json::{json, Value};
use std::process::Output;
use std::time::Duration;

mod common;
use common::identity::within;
use common::*;

fn run(args: &[&str], token: &str) -> Output {
    bin()
        .args(args)
        .env_remove("PARAPET_SERVER")
        .env("PARAPET_TOKEN", token)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const ALLOWED: &str = r#"{"call": {"action": "s3:GetObject"}}"#;

fn review_call() -> String {
    json!({"call": {"action": "iam:CreateAccessKey", "params": {"UserName": "deploy-bot"}}})
        .to_string()
}

/// The one deciding reason of a decision answer.
fn reason(v: &Value) -> String {
    v["report"]["decision"]["policies"][0]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_frozen_agent_is_denied_its_pending_requests_rejected_until_a_person_clears_it() {
    let dir = tmpdir("freeze");
    let db = dir.join("parapet.db");
    let alice = token(&db, "alice", "approver", "human:alice");
    let kiro = token(&db, "kiro", "agent", "agent:kiro");
    let other = token(&db, "other", "agent", "agent:other");
    // The first admin last: after it, tokens are made through the server.
    let root = token(&db, "root", "admin", "human:root");
    let srv = start(&dir, None);
    let p = srv.port;
    let url = format!("http://127.0.0.1:{p}");

    // Before: an allowed call is allowed, and a review waits for people.
    let (s, v) = http(p, "POST", "/v1/decisions", Some(&kiro), Some(ALLOWED));
    assert_eq!((s, v["outcome"].as_str()), (201, Some("allow")), "{v}");
    let (s, v) = http(
        p,
        "POST",
        "/v1/decisions",
        Some(&kiro),
        Some(&review_call()),
    );
    assert_eq!((s, v["state"].as_str()), (201, Some("pending")), "{v}");
    let pending = v["id"].as_str().unwrap().to_string();
    let hash = v["content_hash"].as_str().unwrap().to_string();

    // An agent cannot freeze (nor clear) on its own say: freezing is for people, and for
    // the detection pipeline only one other actor, naming the incident.
    for body in [
        json!({"actor": "agent:other", "reason": "x"}),
        json!({"actor": "agent:*", "reason": "x", "incident": "INC-1"}),
        json!({"actor": "agent:kiro", "reason": "x", "incident": "INC-1"}),
        json!({"actor": "human:root", "reason": "x", "incident": "INC-1"}),
    ] {
        let (s, _) = http(
            p,
            "POST",
            "/v1/freezes",
            Some(&kiro),
            Some(&body.to_string()),
        );
        assert_eq!(s, 403, "{body}");
    }

    // An approver freezes it, through the CLI.
    let o = run(
        &[
            "freeze",
            "agent:kiro",
            "--reason",
            "lateral movement",
            "--incident",
            "INC-7",
            "--server",
            &url,
        ],
        &alice,
    );
    let out = exited(o, 0);
    assert!(out.contains("agent:kiro frozen by human:alice"), "{out}");
    assert!(
        out.contains(&pending),
        "the pending request is rejected: {out}"
    );

    // The very next request is denied before any policy, with who, since when, why.
    let (s, v) = http(p, "POST", "/v1/decisions", Some(&kiro), Some(ALLOWED));
    assert_eq!((s, v["outcome"].as_str()), (201, Some("deny")), "{v}");
    let why = reason(&v);
    assert!(
        why.starts_with("agent:kiro is frozen by human:alice since 20"),
        "{why}"
    );
    assert!(why.ends_with(": INC-7 lateral movement"), "{why}");
    assert_eq!(v["report"]["decision"]["policies"][0]["id"], "frozen");
    // Plans too, even ones that are not valid plans: nothing is judged.
    let (s, v) = http(
        p,
        "POST",
        "/v1/decisions",
        Some(&kiro),
        Some(r#"{"plan": {}}"#),
    );
    assert_eq!((s, v["outcome"].as_str()), (201, Some("deny")), "{v}");
    assert_eq!(v["kind"], "plan", "{v}");
    // Someone else is not affected.
    let (_, v) = http(p, "POST", "/v1/decisions", Some(&other), Some(ALLOWED));
    assert_eq!(v["outcome"], "allow", "{v}");

    // The pending request was rejected and cannot be approved any more.
    let (_, v) = http(
        p,
        "GET",
        &format!("/v1/decisions/{pending}"),
        Some(&kiro),
        None,
    );
    assert_eq!(v["state"], "rejected", "{v}");
    let vote = json!({"content_hash": hash}).to_string();
    let (s, v) = http(
        p,
        "POST",
        &format!("/v1/decisions/{pending}/approve"),
        Some(&root),
        Some(&vote),
    );
    assert_eq!(s, 409, "{v}");

    // Listed, by the CLI and the API.
    let out = exited(run(&["freeze", "--list", "--server", &url], &alice), 0);
    assert!(out.starts_with("agent:kiro\t"), "{out}");
    assert!(
        out.contains("INC-7") && out.contains("lateral movement"),
        "{out}"
    );

    // The frozen agent cannot clear its own freeze, nor can an approver: admins only.
    let (s, _) = http(p, "POST", "/v1/freezes/agent:kiro/clear", Some(&kiro), None);
    assert_eq!(s, 403);
    let (s, _) = http(p, "DELETE", "/v1/freezes/agent:kiro", Some(&kiro), None);
    assert_eq!(s, 403);
    let o = run(&["unfreeze", "agent:kiro", "--server", &url], &alice);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("admin"), "{}", stderr(&o));
    let (_, v) = http(p, "POST", "/v1/decisions", Some(&kiro), Some(ALLOWED));
    assert_eq!(v["outcome"], "deny", "still frozen: {v}");

    // An admin clears it: the next request is judged by policy again.
    let out = exited(run(&["unfreeze", "agent:kiro", "--server", &url], &root), 0);
    assert!(out.contains("agent:kiro cleared by human:root"), "{out}");
    let (_, v) = http(p, "POST", "/v1/decisions", Some(&kiro), Some(ALLOWED));
    assert_eq!(v["outcome"], "allow", "{v}");
    // Clearing again says there is nothing to clear (exit 2).
    let o = run(&["unfreeze", "agent:kiro", "--server", &url], &root);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    // History keeps who cleared it; the audit chain holds and names both.
    let out = exited(
        run(&["freeze", "--list", "--history", "--server", &url], &alice),
        0,
    );
    assert!(
        out.contains("cleared") && out.contains("human:root"),
        "{out}"
    );
    let (_, v) = http(p, "GET", "/v1/audit/verify", Some(&root), None);
    assert_eq!(v["intact"], true, "{v}");
    let audit = parapet_store::open(db.to_str().unwrap())
        .unwrap()
        .audit()
        .unwrap();
    let freezes: Vec<_> = audit.iter().filter(|e| e.kind == "freeze").collect();
    assert_eq!(freezes.len(), 2);
    assert_eq!(freezes[0].actor, "human:alice");
    assert_eq!(freezes[1].actor, "human:root");

    // Bad input is refused with a clear error, never a freeze.
    for (body, want) in [
        (json!({"actor": "human:*", "reason": "x"}), "human:*"),
        (json!({"actor": "agent:k*", "reason": "x"}), "agent:k*"),
        (json!({"actor": "agent:kiro", "reason": " "}), "reason"),
        (
            json!({"actor": "agent:kiro", "reason": "x", "expires": "tomorrow"}),
            "RFC 3339",
        ),
        (
            json!({"actor": "agent:kiro", "reason": "x", "by": "human:root"}),
            "unknown field",
        ),
    ] {
        let (s, v) = http(
            p,
            "POST",
            "/v1/freezes",
            Some(&alice),
            Some(&body.to_string()),
        );
        assert_eq!(s, 400, "{body}: {v}");
        assert!(v["error"].as_str().unwrap().contains(want), "{body}: {v}");
    }
    let (_, v) = http(p, "GET", "/v1/freezes", Some(&alice), None);
    assert_eq!(v, json!([]));
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_kind_freeze_covers_every_agent_and_expires() {
    let dir = tmpdir("freeze-kind");
    let db = dir.join("parapet.db");
    let alice = token(&db, "alice", "approver", "human:alice");
    let kiro = token(&db, "kiro", "agent", "agent:kiro");
    let ci = token(&db, "ci", "agent", "pipeline:deploy");
    let srv = start(&dir, None);
    let p = srv.port;
    let url = format!("http://127.0.0.1:{p}");
    let until = parapet_store::rfc3339(parapet_store::now() + 3);
    exited(
        run(
            &[
                "freeze",
                "agent:*",
                "--reason",
                "key leak",
                "--expires",
                &until,
                "--server",
                &url,
            ],
            &alice,
        ),
        0,
    );
    let (_, v) = http(p, "POST", "/v1/decisions", Some(&kiro), Some(ALLOWED));
    assert_eq!(v["outcome"], "deny", "{v}");
    assert!(
        reason(&v).contains("agent:kiro is frozen (by the freeze of agent:*) by human:alice"),
        "{v}"
    );
    let (_, v) = http(p, "POST", "/v1/decisions", Some(&ci), Some(ALLOWED));
    assert_eq!(v["outcome"], "allow", "a pipeline is not an agent: {v}");
    // After its expiry the freeze no longer applies.
    std::thread::sleep(Duration::from_millis(4200));
    let (_, v) = http(p, "POST", "/v1/decisions", Some(&kiro), Some(ALLOWED));
    assert_eq!(v["outcome"], "allow", "{v}");
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_freeze_on_one_replica_holds_on_another_within_a_second() {
    let pg = PgSchema::new("frz");
    let url = pg.url.clone();
    let kiro = token_at(&url, "kiro", "agent", "agent:kiro");
    let alice = token_at(&url, "alice", "approver", "human:alice");
    let root = token_at(&url, "root", "admin", "human:root");
    let serve = || {
        start_args(&[
            "serve".into(),
            "--database".into(),
            url.clone(),
            "--listen".into(),
            "127.0.0.1:0".into(),
        ])
    };
    let (a, b) = (serve(), serve());
    // Replica B has just read the (empty) freeze list into its cache.
    let (_, v) = http(b.port, "POST", "/v1/decisions", Some(&kiro), Some(ALLOWED));
    assert_eq!(v["outcome"], "allow", "{v}");
    let body = json!({"actor": "agent:kiro", "reason": "lateral movement", "incident": "INC-7"})
        .to_string();
    let (s, v) = http(a.port, "POST", "/v1/freezes", Some(&alice), Some(&body));
    assert_eq!(s, 201, "{v}");
    // Replica A denies at once; replica B within its state cache (about a second).
    let (_, v) = http(a.port, "POST", "/v1/decisions", Some(&kiro), Some(ALLOWED));
    assert_eq!(v["outcome"], "deny", "{v}");
    // The wait only guards a hang: replica B's state cache lapses within a second.
    let decide_b = || http(b.port, "POST", "/v1/decisions", Some(&kiro), Some(ALLOWED)).1;
    assert!(
        within(Duration::from_secs(30), || decide_b()["outcome"] == "deny").is_some(),
        "replica B still allows agent:kiro"
    );
    let v = decide_b();
    assert!(reason(&v).contains("INC-7 lateral movement"), "{v}");
    // Cleared on B, allowed again on A within about a second.
    let (s, v) = http(
        b.port,
        "DELETE",
        "/v1/freezes/agent:kiro",
        Some(&root),
        None,
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["cleared_by"], "human:root");
    let allowed_on_a = within(Duration::from_secs(30), || {
        http(a.port, "POST", "/v1/decisions", Some(&kiro), Some(ALLOWED)).1["outcome"] == "allow"
    });
    assert!(allowed_on_a.is_some(), "replica A still denies agent:kiro");
    drop((a, b));
}
