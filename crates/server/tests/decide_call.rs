//! `decide_call`, the in-process decide path `parapet proxy aws` uses, and what it
//! relies on: approvals bound to content and used once, and a freeze read fresh by
//! every replica. On SQLite (a temp file) and the machine's PostgreSQL (a fresh schema
//! in database `test`; `PARAPET_TEST_POSTGRES` for another server).

use parapet_policy::PolicyEngine;
use parapet_server::{decide_call, App, CallInput, DecideError, ServerConfig, WebhookSecrets};
use parapet_store::{hex_sha256, new_secret, open, NewFreeze, Request, State, Store};
use serde_json::{json, Value};
use std::sync::Arc;

fn pg_base() -> String {
    std::env::var("PARAPET_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".into())
}

/// A fresh schema; its URL, and a guard that drops it.
struct Schema {
    url: String,
    name: String,
}

impl Schema {
    fn new() -> Schema {
        let name = format!("parapet_t_{}", &new_secret()[..12]);
        let mut c = postgres::Client::connect(&pg_base(), postgres::NoTls)
            .expect("PostgreSQL at 127.0.0.1:5432 (database test) must be running");
        c.batch_execute(&format!("CREATE SCHEMA {name}")).unwrap();
        let sep = if pg_base().contains('?') { '&' } else { '?' };
        let url = format!("{}{sep}options=-c%20search_path%3D{name}", pg_base());
        Schema { url, name }
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&pg_base(), postgres::NoTls) {
            let _ = c.batch_execute(&format!("DROP SCHEMA {} CASCADE", self.name));
        }
    }
}

fn app(store: Box<dyn Store>) -> Arc<App> {
    Arc::new(App::new(
        store,
        PolicyEngine::load(None).unwrap(),
        ServerConfig::default(),
        WebhookSecrets::default(),
    ))
}

/// Each backend's location: a SQLite file, a PostgreSQL schema.
fn locations() -> Vec<(String, Option<Schema>)> {
    let dir = std::env::temp_dir().join(format!("parapet-decide-{}", new_secret()));
    std::fs::create_dir_all(&dir).unwrap();
    let pg = Schema::new();
    vec![
        (dir.join("p.db").to_str().unwrap().to_string(), None),
        (pg.url.clone(), Some(pg)),
    ]
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// `decide_call` from synchronous code (the store's PostgreSQL client is synchronous
/// and may not run inside the runtime, so tests call the store outside it).
fn decide(a: &Arc<App>, actor: &str, call: CallInput) -> Result<Request, DecideError> {
    rt().block_on(decide_call(a, actor, call))
}

fn frozen(a: &Arc<App>, actor: &str) -> Option<parapet_store::Freeze> {
    rt().block_on(a.frozen_now(actor)).unwrap()
}

/// The agent shares a snapshot with another account: reviewed for automation.
fn share(binding: &str) -> CallInput {
    CallInput {
        action: "ec2:ModifySnapshotAttribute".into(),
        resource: None,
        params: json!({
            "SnapshotId": "snap-1",
            "Attribute": "createVolumePermission",
            "CreateVolumePermission": {"Add": [{"UserId": "098797384747"}]},
            "Description": "token ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        }),
        account: Some("111122223333".into()),
        binding: Some(binding.into()),
        source: "proxy".into(),
    }
}

fn binding(n: u8) -> String {
    hex_sha256(&[n])
}

#[test]
fn a_proxied_review_binds_its_approval_and_runs_once() {
    for (loc, _guard) in locations() {
        let a = app(open(&loc).unwrap());
        {
            let b = binding(1);
            let r = decide(&a, "agent:kiro", share(&b)).unwrap();
            assert_eq!(r.outcome, "review", "{}", r.report.get());
            assert_eq!(r.content_hash, b, "the approval binds the caller's digest");
            assert_eq!(
                (r.requester.as_str(), r.kind.as_str()),
                ("agent:kiro", "call")
            );
            // What approvers see: the call, masked, where it came from, what it binds.
            let report = r.report_value();
            assert_eq!(report["request"]["source"], "proxy");
            assert_eq!(report["request"]["binding"], Value::String(b.clone()));
            assert_eq!(report["request"]["policy_version"], a.engine.version());
            let shown = report["request"]["params"].to_string();
            assert!(shown.contains("snap-1"), "{shown}");
            assert!(
                !shown.contains("ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
                "{shown}"
            );
            // The audit entry says where the call came from.
            let entry = a
                .store
                .audit()
                .unwrap()
                .into_iter()
                .find(|e| e.subject == r.id)
                .unwrap();
            assert!(
                entry.payload.contains(r#""source":"proxy""#),
                "{}",
                entry.payload
            );

            // The same request retried finds it; a changed one, or another caller, not.
            let s = &a.store;
            let found = s
                .approved_for("agent:kiro", &b, parapet_store::now())
                .unwrap();
            assert_eq!(found.unwrap().id, r.id);
            assert!(s
                .approved_for("agent:kiro", &binding(2), parapet_store::now())
                .unwrap()
                .is_none());
            assert!(s
                .approved_for("agent:other", &b, parapet_store::now())
                .unwrap()
                .is_none());
            // Not executable before its approvals; then once.
            assert!(!s.consume(&r.id, "agent:kiro").unwrap());
            for who in ["human:alice", "human:bob"] {
                s.vote(&r.id, who, true, &b, None).unwrap();
            }
            let approved = s
                .approved_for("agent:kiro", &b, parapet_store::now())
                .unwrap();
            assert_eq!(
                approved.unwrap().state(parapet_store::now()),
                State::Approved
            );
            assert!(s.consume(&r.id, "agent:kiro").unwrap());
            assert!(
                !s.consume(&r.id, "agent:kiro").unwrap(),
                "one approval, one run"
            );
            assert_eq!(
                s.request(&r.id)
                    .unwrap()
                    .unwrap()
                    .state(parapet_store::now()),
                State::Executed
            );
            // The same call later is a new review.
            assert!(s
                .approved_for("agent:kiro", &b, parapet_store::now())
                .unwrap()
                .is_none());
            let again = decide(&a, "agent:kiro", share(&b)).unwrap();
            assert_ne!(again.id, r.id);
            assert_eq!(again.state(parapet_store::now()), State::Pending);
            assert!(s.verify().unwrap().problem.is_none());
        }
    }
}

#[test]
fn calls_through_the_api_keep_their_digest_and_source() {
    for (loc, _guard) in locations() {
        let a = app(open(&loc).unwrap());
        {
            let mut call = share(&binding(0));
            call.binding = None;
            call.source = "api".into();
            let r = decide(&a, "agent:kiro", call.clone()).unwrap();
            let digest = hex_sha256(
                &serde_json::to_vec(&json!({"action": call.action, "resource": call.resource, "params": call.params}))
                    .unwrap(),
            );
            assert_eq!(r.content_hash, digest);
            let report = r.report_value();
            assert_eq!(report["request"]["source"], "api");
            assert!(report["request"].get("binding").is_none());
            // A pure read is allowed and recorded as such.
            let read = CallInput {
                action: "s3:ListBuckets".into(),
                resource: None,
                params: json!({}),
                account: None,
                binding: None,
                source: "proxy".into(),
            };
            let r = decide(&a, "agent:kiro", read).unwrap();
            assert_eq!(r.outcome, "allow");
            assert_eq!(r.state(parapet_store::now()), State::Allowed);
        }
    }
}

#[test]
fn bad_input_gets_no_decision() {
    let (loc, _guard) = locations().remove(0);
    let a = app(open(&loc).unwrap());
    {
        let e = decide(&a, "agent:kiro", share("ABC")).unwrap_err();
        assert!(matches!(e, DecideError::Binding(_)), "{e}");
        let upper = binding(1).to_uppercase();
        assert!(matches!(
            decide(&a, "agent:kiro", share(&upper)),
            Err(DecideError::Binding(_))
        ));
        let e = decide(&a, "kiro", share(&binding(1))).unwrap_err();
        assert!(matches!(e, DecideError::Actor { .. }), "{e}");
        let mut bad = share(&binding(1));
        bad.params = json!(["not", "an", "object"]);
        let e = decide(&a, "agent:kiro", bad).unwrap_err();
        assert!(matches!(e, DecideError::Call(_)), "{e}");
        assert!(a.store.recent(10).unwrap().is_empty(), "nothing recorded");
    }
}

#[test]
fn a_freeze_through_another_replica_applies_to_the_next_call() {
    for (loc, _guard) in locations() {
        // Two replicas (or a proxy and a server) sharing one database.
        let (proxy, server) = (app(open(&loc).unwrap()), app(open(&loc).unwrap()));
        {
            assert!(frozen(&proxy, "agent:kiro").is_none());
            let r = decide(&proxy, "agent:kiro", share(&binding(3))).unwrap();
            assert_eq!(r.outcome, "review");
            server
                .store
                .freeze(&NewFreeze {
                    actor: "agent:kiro".into(),
                    reason: "acting up".into(),
                    incident: Some("INC-9".into()),
                    expires_at: None,
                    by: "human:alice".into(),
                })
                .unwrap();
            // No cache between the freeze and the next request.
            let f = frozen(&proxy, "agent:kiro").unwrap();
            assert_eq!(f.actor, "agent:kiro");
            assert!(frozen(&proxy, "agent:other").is_none());
            let denied = decide(&proxy, "agent:kiro", share(&binding(3))).unwrap();
            assert_eq!(denied.outcome, "deny");
            let report = denied.report_value();
            assert_eq!(report["decision"]["policies"][0]["id"], "frozen");
            assert_eq!(report["request"]["source"], "proxy");
            assert_eq!(report["action"], "ec2:ModifySnapshotAttribute");
            assert!(!report
                .to_string()
                .contains("ghp_abcdefghijklmnopqrstuvwxyz0123456789"));
            // The pending review was rejected by the freeze: nothing left to run.
            let pending = proxy.store.request(&r.id).unwrap().unwrap();
            assert_eq!(pending.state(parapet_store::now()), State::Rejected);
            server
                .store
                .clear_freeze("agent:kiro", "human:bob")
                .unwrap();
            assert!(frozen(&proxy, "agent:kiro").is_none());
        }
    }
}
