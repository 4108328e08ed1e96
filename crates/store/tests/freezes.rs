//! The per-actor kill switch, on both backends (SQLite in a temp file, the machine's
//! PostgreSQL in a fresh schema of database `test`; `PARAPET_TEST_POSTGRES` for
//! another server).

use parapet_store::{
    new_secret, open, verify_chain, NewFreeze, NewRequest, Request, State, Store, StoreError,
};

fn pg_base() -> String {
    std::env::var("PARAPET_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".into())
}

fn both(test: impl Fn(Box<dyn Store>)) {
    let dir = std::env::temp_dir().join(format!("parapet-freeze-{}", new_secret()));
    std::fs::create_dir_all(&dir).unwrap();
    test(open(dir.join("p.db").to_str().unwrap()).unwrap());
    let schema = format!("parapet_t_{}", &new_secret()[..12]);
    let mut c = postgres::Client::connect(&pg_base(), postgres::NoTls)
        .expect("PostgreSQL at 127.0.0.1:5432 (database test) must be running for these tests");
    c.batch_execute(&format!("CREATE SCHEMA {schema}")).unwrap();
    let sep = if pg_base().contains('?') { '&' } else { '?' };
    let url = format!("{}{sep}options=-c%20search_path%3D{schema}", pg_base());
    test(open(&url).unwrap());
    let _ = c.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"));
}

fn review(s: &dyn Store, requester: &str, delay: u64) -> Request {
    s.create_request(NewRequest {
        requester: requester.into(),
        kind: "call".into(),
        content_hash: "h1".into(),
        outcome: "review".into(),
        approvers_required: 1,
        delay_seconds: delay,
        ttl_seconds: 3600,
        report: serde_json::value::to_raw_value(&serde_json::json!({"decision": {}})).unwrap(),
    })
    .unwrap()
}

fn freeze(actor: &str, by: &str) -> NewFreeze {
    NewFreeze {
        actor: actor.into(),
        reason: "lateral movement".into(),
        incident: Some("INC-7".into()),
        expires_at: None,
        by: by.into(),
    }
}

#[test]
fn a_freeze_rejects_pending_requests_and_blocks_approval_until_cleared() {
    both(|s| {
        let s = s.as_ref();
        let pending = review(s, "agent:kiro", 0);
        let cooling = review(s, "agent:kiro", 3600);
        s.vote(&cooling.id, "human:bob", true, "h1", None).unwrap();
        let other = review(s, "agent:other", 0);
        let done = s.freeze(&freeze("agent:kiro", "human:alice")).unwrap();
        let mut rejected = done.rejected.clone();
        rejected.sort();
        let mut want = vec![pending.id.clone(), cooling.id.clone()];
        want.sort();
        assert_eq!(rejected, want);
        assert_eq!(done.freeze.frozen_by, "human:alice");
        let now = parapet_store::now();
        for id in [&pending.id, &cooling.id] {
            let r = s.request(id).unwrap().unwrap();
            assert_eq!(r.state(now), State::Rejected, "{id}");
        }
        // Someone else's request is untouched.
        assert_eq!(
            s.request(&other.id).unwrap().unwrap().state(now),
            State::Pending
        );
        // A second freeze of the same actor is a conflict naming the first.
        match s.freeze(&freeze("agent:kiro", "human:carol")) {
            Err(StoreError::Conflict(m)) => assert!(m.contains("human:alice"), "{m}"),
            other => panic!("{other:?}"),
        }
        // A request that lands after the freeze (judged before it) cannot be approved.
        let late = review(s, "agent:kiro", 0);
        match s.vote(&late.id, "human:bob", true, "h1", None) {
            Err(StoreError::Conflict(m)) => {
                assert!(m.contains("agent:kiro is frozen by human:alice"), "{m}");
                assert!(m.contains("INC-7 lateral movement"), "{m}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(s.freezes(false).unwrap().len(), 1);
        // The frozen agent cannot clear itself; a person can.
        assert!(matches!(
            s.clear_freeze("agent:kiro", "agent:kiro"),
            Err(StoreError::Forbidden(_))
        ));
        let cleared = s.clear_freeze("agent:kiro", "human:bob").unwrap().unwrap();
        assert_eq!(cleared.cleared_by.as_deref(), Some("human:bob"));
        assert!(s.clear_freeze("agent:kiro", "human:bob").unwrap().is_none());
        assert!(s.freezes(false).unwrap().is_empty());
        // History keeps the cleared freeze.
        let history = s.freezes(true).unwrap();
        assert_eq!(history.len(), 1);
        assert!(history[0].cleared_at.is_some());
        s.vote(&late.id, "human:bob", true, "h1", None).unwrap();
        // Everything is in the chain, and the chain holds.
        let audit = s.audit().unwrap();
        let kinds: Vec<&str> = audit
            .iter()
            .filter(|e| e.kind == "freeze")
            .map(|e| e.payload.as_str())
            .collect();
        assert_eq!(kinds.len(), 2, "{kinds:?}");
        assert!(kinds[0].contains("\"frozen\"") && kinds[1].contains("\"cleared\""));
        assert!(audit
            .iter()
            .any(|e| e.kind == "rejection" && e.subject == pending.id));
        assert_eq!(verify_chain(&audit), None);
        assert!(s.verify().unwrap().problem.is_none());
    });
}

#[test]
fn kind_patterns_expiry_and_bad_input() {
    both(|s| {
        let s = s.as_ref();
        let a = review(s, "agent:one", 0);
        let p = review(s, "pipeline:deploy", 0);
        let done = s.freeze(&freeze("agent:*", "human:alice")).unwrap();
        assert_eq!(done.rejected, vec![a.id.clone()]);
        let now = parapet_store::now();
        assert_eq!(
            s.request(&p.id).unwrap().unwrap().state(now),
            State::Pending
        );
        let active = s.freezes(false).unwrap();
        assert!(parapet_store::frozen(&active, "agent:two", now).is_some());
        assert!(parapet_store::frozen(&active, "pipeline:deploy", now).is_none());
        // A pattern is cleared by its own name, and an agent it covers cannot.
        assert!(s.clear_freeze("agent:*", "human:bob").unwrap().is_some());
        // An expired freeze no longer applies.
        let mut short = freeze("agent:kiro", "human:alice");
        short.expires_at = Some(now + 1);
        s.freeze(&short).unwrap();
        assert_eq!(s.freezes(false).unwrap().len(), 1);
        std::thread::sleep(std::time::Duration::from_millis(2100));
        assert!(s.freezes(false).unwrap().is_empty());
        // Bad input is refused, naming what is wrong.
        for (actor, reason, expires) in [
            ("human:*", "x", None),
            ("agent:k*", "x", None),
            ("robot:x", "x", None),
            ("agent:kiro", "  ", None),
            ("agent:kiro", "x\u{7}", None),
            ("agent:kiro", "x", Some(now - 10)),
        ] {
            let mut n = freeze(actor, "human:alice");
            n.reason = reason.into();
            n.expires_at = expires;
            assert!(
                matches!(s.freeze(&n), Err(StoreError::Invalid(_))),
                "{actor} {reason:?} {expires:?}"
            );
        }
    });
}
