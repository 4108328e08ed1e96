//! What `parapet proxy aws` keeps, on both backends (SQLite in a temp file, the
//! machine's PostgreSQL in a fresh schema of database `test`; `PARAPET_TEST_POSTGRES`
//! for another server): agent AWS keys, approvals bound to content and used once, and
//! the fresh freeze lookup.

use parapet_store::{
    is_access_key_id, new_secret, open, NewFreeze, NewRequest, Request, Role, State, Store,
    StoreError,
};
use std::sync::Arc;

fn pg_base() -> String {
    std::env::var("PARAPET_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".into())
}

fn both(test: impl Fn(Arc<dyn Store>)) {
    let dir = std::env::temp_dir().join(format!("parapet-aws-{}", new_secret()));
    std::fs::create_dir_all(&dir).unwrap();
    test(Arc::from(open(dir.join("p.db").to_str().unwrap()).unwrap()));
    let _ = std::fs::remove_dir_all(&dir);
    let schema = format!("parapet_t_{}", &new_secret()[..12]);
    let mut c = postgres::Client::connect(&pg_base(), postgres::NoTls)
        .expect("PostgreSQL at 127.0.0.1:5432 (database test) must be running for these tests");
    c.batch_execute(&format!("CREATE SCHEMA {schema}")).unwrap();
    let sep = if pg_base().contains('?') { '&' } else { '?' };
    let url = format!("{}{sep}options=-c%20search_path%3D{schema}", pg_base());
    test(Arc::from(open(&url).unwrap()));
    let _ = c.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"));
}

fn now() -> i64 {
    parapet_store::now()
}

fn decide(s: &dyn Store, requester: &str, hash: &str, outcome: &str, delay: u64) -> Request {
    s.create_request(NewRequest {
        requester: requester.into(),
        kind: "call".into(),
        content_hash: hash.into(),
        outcome: outcome.into(),
        approvers_required: u32::from(outcome == "review"),
        delay_seconds: delay,
        ttl_seconds: 3600,
        report: serde_json::value::to_raw_value(&serde_json::json!({
            "decision": {"policies": []},
            "request": {"params": {}, "source": "proxy"},
        }))
        .unwrap(),
    })
    .unwrap()
}

fn approve(s: &dyn Store, r: &Request) -> Request {
    s.vote(&r.id, "human:bob", true, &r.content_hash, None)
        .unwrap()
}

#[test]
fn aws_keys_belong_to_live_agent_or_admin_tokens_and_hold_no_secret() {
    both(|s| {
        let (info, id) = s
            .create_aws_token("kiro", Role::Agent, "agent:kiro", None, "human:root")
            .unwrap();
        assert!(is_access_key_id(&id), "{id}");
        assert_eq!(info.aws_access_key_id.as_deref(), Some(id.as_str()));
        let found = s.aws_key(&id).unwrap().expect("live");
        assert_eq!(
            (found.id.as_str(), found.actor.as_str()),
            (info.id.as_str(), "agent:kiro")
        );
        assert!(s.aws_key("PKIAAAAAAAAAAAAAAAAA").unwrap().is_none());
        // Listed with its id; the listing has no secret to show.
        let listed = s.tokens().unwrap();
        assert_eq!(listed[0].aws_access_key_id.as_deref(), Some(id.as_str()));
        // Two keys never share an id; an admin (a person) may have one too.
        let (_, other) = s
            .create_aws_token("alice", Role::Admin, "human:alice", None, "human:root")
            .unwrap();
        assert_ne!(id, other);
        // Approvers approve: no AWS key; roles still bound actors.
        for (role, actor) in [
            (Role::Approver, "human:bob"),
            (Role::Agent, "human:bob"),
            (Role::Admin, "agent:kiro"),
        ] {
            let e = s
                .create_aws_token("x", role, actor, None, "human:root")
                .unwrap_err();
            assert!(matches!(e, StoreError::Invalid(_)), "{role:?} {actor}: {e}");
        }
        let past = s.create_aws_token("x", Role::Agent, "agent:x", Some(now() - 1), "human:root");
        assert!(matches!(past, Err(StoreError::Invalid(_))));
        // Revoked: refused at once.
        assert!(s.revoke_token(&info.id, "human:root").unwrap());
        assert!(s.aws_key(&id).unwrap().is_none());
        // The audit log records the key id with the token.
        let audit = s.audit().unwrap();
        let created = audit
            .iter()
            .find(|e| e.kind == "token" && e.subject == info.id)
            .unwrap();
        assert!(created.payload.contains(&id), "{}", created.payload);
        assert!(s.verify().unwrap().problem.is_none());
    });
}

#[test]
fn an_aws_key_stops_at_its_expiry() {
    both(|s| {
        let (_, id) = s
            .create_aws_token("kiro", Role::Agent, "agent:kiro", Some(now() + 1), "h")
            .unwrap();
        assert!(s.aws_key(&id).unwrap().is_some());
        // A hang guard, not a timing assertion: the key must expire within 5 s.
        let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while s.aws_key(&id).unwrap().is_some() {
            assert!(std::time::Instant::now() < until, "the key never expired");
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    });
}

#[test]
fn approvals_are_found_by_requester_and_content_while_usable() {
    both(|s| {
        let s = &*s;
        assert!(s.approved_for("agent:kiro", "h1", now()).unwrap().is_none());
        let old = decide(s, "agent:kiro", "h1", "review", 0);
        let new = decide(s, "agent:kiro", "h1", "review", 0);
        decide(s, "agent:other", "h1", "review", 0);
        decide(s, "agent:kiro", "h2", "review", 0);
        decide(s, "agent:kiro", "h3", "allow", 0);
        let got = s.approved_for("agent:kiro", "h1", now()).unwrap().unwrap();
        assert_eq!(got.id, new.id, "the newest");
        // Not another caller's, not other content, not a decision without review.
        let other = s.approved_for("agent:other", "h1", now()).unwrap().unwrap();
        assert_ne!(other.id, new.id);
        assert!(s.approved_for("agent:kiro", "h3", now()).unwrap().is_none());
        // Rejected: the older one is next.
        s.vote(&new.id, "human:bob", false, "h1", Some("no"))
            .unwrap();
        let got = s.approved_for("agent:kiro", "h1", now()).unwrap().unwrap();
        assert_eq!(got.id, old.id);
        // Approved (with its votes) until executed.
        approve(s, &old);
        let got = s.approved_for("agent:kiro", "h1", now()).unwrap().unwrap();
        assert_eq!(got.state(now()), State::Approved);
        assert_eq!(got.votes.len(), 1);
        // Past its expiry nothing is usable.
        assert!(s
            .approved_for("agent:kiro", "h1", now() + 7200)
            .unwrap()
            .is_none());
        assert!(s.consume(&old.id, "proxy:test").unwrap());
        assert!(s.approved_for("agent:kiro", "h1", now()).unwrap().is_none());
    });
}

#[test]
fn an_approval_executes_once() {
    both(|s| {
        let s = &*s;
        let pending = decide(s, "agent:kiro", "h1", "review", 0);
        assert!(!s.consume(&pending.id, "agent:kiro").unwrap(), "pending");
        let cooling = decide(s, "agent:kiro", "h2", "review", 3600);
        approve(s, &cooling);
        assert!(
            !s.consume(&cooling.id, "agent:kiro").unwrap(),
            "cooling off"
        );
        let allowed = decide(s, "agent:kiro", "h3", "allow", 0);
        assert!(
            !s.consume(&allowed.id, "agent:kiro").unwrap(),
            "no approval"
        );
        assert!(matches!(
            s.consume("dec_nope", "agent:kiro"),
            Err(StoreError::NotFound(_))
        ));
        approve(s, &pending);
        assert!(s.consume(&pending.id, "agent:kiro").unwrap());
        assert!(!s.consume(&pending.id, "agent:kiro").unwrap(), "once");
        let r = s.request(&pending.id).unwrap().unwrap();
        assert_eq!(r.state(now()), State::Executed);
        assert!(!r.state(now()).executable() && r.state(now()).is_final());
        assert_eq!(r.executed_by.as_deref(), Some("agent:kiro"));
        assert!(r.executed_at.is_some());
        assert!(s
            .recent(10)
            .unwrap()
            .iter()
            .any(|x| x.id == r.id && x.state(now()) == State::Executed));
        // Executed takes no more votes, not even a rejection.
        assert!(s.vote(&r.id, "human:carol", false, "h1", None).is_err());
        let entries: Vec<_> = s
            .audit()
            .unwrap()
            .into_iter()
            .filter(|e| e.kind == "executed")
            .collect();
        assert_eq!(entries.len(), 1);
        assert_eq!(
            (entries[0].subject.as_str(), entries[0].actor.as_str()),
            (r.id.as_str(), "agent:kiro")
        );
        assert!(s.verify().unwrap().problem.is_none());
        // The decision's own audit entry says where the call came from.
        let decided = s
            .audit()
            .unwrap()
            .into_iter()
            .find(|e| e.kind == "decision" && e.subject == r.id)
            .unwrap();
        assert!(
            decided.payload.contains(r#""source":"proxy""#),
            "{}",
            decided.payload
        );
    });
}

#[test]
fn concurrent_consumers_execute_an_approval_once() {
    both(|s| {
        let r = decide(&*s, "agent:kiro", "h1", "review", 0);
        approve(&*s, &r);
        let wins: usize = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|i| {
                    let (s, id) = (s.clone(), r.id.clone());
                    scope.spawn(move || s.consume(&id, &format!("proxy:{i}")).unwrap())
                })
                .collect();
            handles
                .into_iter()
                .map(|h| usize::from(h.join().unwrap()))
                .sum()
        });
        assert_eq!(wins, 1);
        assert!(s.verify().unwrap().problem.is_none());
    });
}

fn freeze(actor: &str) -> NewFreeze {
    NewFreeze {
        actor: actor.into(),
        reason: "lateral movement".into(),
        incident: None,
        expires_at: None,
        by: "human:alice".into(),
    }
}

/// The freeze covering `actor` at `at` (its actor), read both ways a caller may read it:
/// the fast path (when the backend offers one) must agree with the plain one.
fn covering(s: &dyn Store, actor: &str, at: i64) -> Option<String> {
    let plain = s.freeze_covering(actor, at).unwrap().map(|f| f.actor);
    if let Some(fast) = s.try_freeze_covering_now(actor, at) {
        assert_eq!(fast.unwrap().map(|f| f.actor), plain, "{actor} at {at}");
    }
    plain
}

#[test]
fn a_frozen_requester_cannot_execute_and_freezes_are_read_fresh() {
    both(|s| {
        let s = &*s;
        // SQLite answers at once (no thread hop per proxied call) when its reader is free.
        assert_eq!(
            s.try_freeze_covering_now("agent:kiro", now()).is_some(),
            s.backend() == "sqlite",
            "{}",
            s.backend()
        );
        assert!(covering(s, "agent:kiro", now()).is_none());
        let r = decide(s, "agent:kiro", "h1", "review", 0);
        approve(s, &r);
        s.freeze(&freeze("agent:*")).unwrap();
        let f = s.freeze_covering("agent:kiro", now()).unwrap().unwrap();
        assert_eq!(f.actor, "agent:*");
        assert!(covering(s, "pipeline:deploy", now()).is_none());
        assert!(covering(s, "agent:", now()).is_none());
        match s.consume(&r.id, "agent:kiro") {
            Err(StoreError::Conflict(m)) => assert!(m.contains("frozen"), "{m}"),
            other => panic!("{other:?}"),
        }
        s.freeze(&freeze("agent:kiro")).unwrap();
        let both = s.freeze_covering("agent:kiro", now()).unwrap().unwrap();
        assert!(["agent:*", "agent:kiro"].contains(&both.actor.as_str()));
        s.clear_freeze("agent:*", "human:bob").unwrap().unwrap();
        assert_eq!(covering(s, "agent:kiro", now()).unwrap(), "agent:kiro");
        assert!(covering(s, "agent:other", now()).is_none());
        s.clear_freeze("agent:kiro", "human:bob").unwrap().unwrap();
        assert!(covering(s, "agent:kiro", now()).is_none());
        // Cleared, the approval is still there to use once.
        assert!(s.consume(&r.id, "agent:kiro").unwrap());
        // A freeze with an expiry stops covering at it without a write.
        let mut timed = freeze("agent:kiro");
        timed.expires_at = Some(now() + 60);
        s.freeze(&timed).unwrap();
        assert!(covering(s, "agent:kiro", now()).is_some());
        assert!(covering(s, "agent:kiro", now() + 61).is_none());
    });
}
