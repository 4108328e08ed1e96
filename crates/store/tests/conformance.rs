//! One behaviour, two backends: every test here runs against SQLite (a temp file) and
//! the machine's PostgreSQL (a fresh schema in database `test`; set
//! `PARAPET_TEST_POSTGRES` to use another server).

use parapet_store::{
    new_secret, open, NewRequest, Request, Role, State, Store, StoreError, StoredPin,
};
use std::sync::Arc;

fn pg_base() -> String {
    std::env::var("PARAPET_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".into())
}

/// A fresh PostgreSQL schema; returns the URL that uses it and the schema name.
fn pg_schema() -> (String, String) {
    let schema = format!("parapet_t_{}", &new_secret()[..12]);
    let mut c = postgres::Client::connect(&pg_base(), postgres::NoTls)
        .expect("PostgreSQL at 127.0.0.1:5432 (database test) must be running for these tests");
    c.batch_execute(&format!("CREATE SCHEMA {schema}")).unwrap();
    let sep = if pg_base().contains('?') { '&' } else { '?' };
    (
        format!("{}{sep}options=-c%20search_path%3D{schema}", pg_base()),
        schema,
    )
}

/// A new SQLite file's path.
fn sqlite_path() -> String {
    let dir = std::env::temp_dir().join(format!("parapet-conf-{}", new_secret()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("p.db").to_str().unwrap().to_string()
}

fn sqlite() -> Box<dyn Store> {
    open(&sqlite_path()).unwrap()
}

fn drop_schema(schema: &str) {
    if let Ok(mut c) = postgres::Client::connect(&pg_base(), postgres::NoTls) {
        let _ = c.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"));
    }
}

fn both(test: impl Fn(Box<dyn Store>)) {
    test(sqlite());
    let (url, schema) = pg_schema();
    test(open(&url).unwrap());
    drop_schema(&schema);
}

fn review(s: &dyn Store, approvers: u32, delay: u64) -> Request {
    s.create_request(NewRequest {
        requester: "agent:kiro".into(),
        kind: "call".into(),
        content_hash: "h1".into(),
        outcome: "review".into(),
        approvers_required: approvers,
        delay_seconds: delay,
        ttl_seconds: 3600,
        report: serde_json::value::to_raw_value(
            &serde_json::json!({"decision": {"policies": ["review-iam"]}}),
        )
        .unwrap(),
    })
    .unwrap()
}

fn now() -> i64 {
    parapet_store::now()
}

#[test]
fn two_person_rule() {
    both(|s| {
        let r = review(&*s, 2, 0);
        assert_eq!(r.state(now()), State::Pending);
        assert!(matches!(
            s.vote(&r.id, "agent:kiro", true, "h1", None),
            Err(StoreError::Forbidden(_))
        ));
        assert!(matches!(
            s.vote(&r.id, "human:a", true, "other", None),
            Err(StoreError::Conflict(_))
        ));
        let r1 = s.vote(&r.id, "human:a", true, "h1", None).unwrap();
        assert_eq!(r1.state(now()), State::Pending);
        let again = s.vote(&r.id, "human:a", true, "h1", None).unwrap();
        assert_eq!(again.votes.len(), 1, "counted once");
        assert_eq!(s.pending().unwrap().len(), 1);
        let r2 = s.vote(&r.id, "human:b", true, "h1", None).unwrap();
        assert_eq!(r2.state(now()), State::Approved);
        assert!(s.vote(&r.id, "human:c", true, "h1", None).is_err());
        assert!(s.pending().unwrap().is_empty());
        assert_eq!(s.recent(10).unwrap()[0].id, r.id);
        assert!(s.verify().unwrap().problem.is_none());
    });
}

#[test]
fn reports_are_kept_as_sent_and_their_policies_audited() {
    both(|s| {
        let r = review(&*s, 2, 0);
        let stored = s.request(&r.id).unwrap().unwrap();
        assert_eq!(stored.report.get(), r.report.get());
        assert_eq!(
            stored.report_value()["decision"]["policies"][0],
            "review-iam"
        );
        let entry = s
            .audit()
            .unwrap()
            .into_iter()
            .find(|e| e.subject == r.id)
            .unwrap();
        let payload: serde_json::Value = serde_json::from_str(&entry.payload).unwrap();
        assert_eq!(payload["policies"], serde_json::json!(["review-iam"]));
        assert_eq!(payload["outcome"], "review");
    });
}

#[test]
fn cooling_off_and_reject_during_it() {
    both(|s| {
        let r = review(&*s, 1, 600);
        let r = s.vote(&r.id, "human:a", true, "h1", None).unwrap();
        let t = now();
        assert_eq!(r.state(t), State::CoolingOff);
        assert_eq!(r.state(t + 600), State::Approved);
        let r = s
            .vote(
                &r.id,
                "human:b",
                false,
                "h1",
                Some("not during the incident"),
            )
            .unwrap();
        assert_eq!(r.state(t + 600), State::Rejected);
        assert_eq!(
            r.votes[1].reason.as_deref(),
            Some("not during the incident")
        );
    });
}

#[test]
fn tokens_are_stored_hashed_and_resolved() {
    both(|s| {
        let (info, secret) = s
            .create_token("kiro", Role::Agent, "agent:kiro", None, "admin:cli")
            .unwrap();
        let found = s.token(&secret).unwrap().unwrap();
        assert_eq!((found.id, found.role), (info.id, Role::Agent));
        assert!(s.token("ppt_wrong").unwrap().is_none());
        let log = serde_json::to_string(&s.audit().unwrap()).unwrap();
        assert!(!log.contains(&secret), "secret in the audit log");
    });
}

#[test]
fn a_tokens_role_bounds_its_actor() {
    both(|s| {
        for (role, actor) in [
            (Role::Agent, "human:kiro2"),
            (Role::Agent, "unknown:x"),
            (Role::Approver, "agent:kiro"),
            (Role::Admin, "pipeline:deploy"),
            (Role::Approver, "not-an-actor"),
        ] {
            let e = s
                .create_token("t", role, actor, None, "human:root")
                .unwrap_err();
            assert!(matches!(e, StoreError::Invalid(_)), "{role:?} {actor}: {e}");
        }
        for (role, actor) in [
            (Role::Agent, "agent:kiro"),
            (Role::Agent, "pipeline:deploy"),
            (Role::Agent, "service:lambda"),
            (Role::Approver, "human:alice"),
            (Role::Admin, "human:root"),
        ] {
            s.create_token("t", role, actor, None, "human:root")
                .unwrap();
        }
        // Nothing refused was stored or audited.
        assert_eq!(s.tokens().unwrap().len(), 5);
        assert_eq!(s.audit().unwrap().len(), 5);
    });
}

#[test]
fn tokens_expire_are_listed_without_secrets_and_revoke_at_once() {
    both(|s| {
        assert!(matches!(
            s.create_token("old", Role::Agent, "agent:a", Some(now() - 1), "human:root"),
            Err(StoreError::Invalid(_))
        ));
        let (soon, soon_secret) = s
            .create_token(
                "soon",
                Role::Agent,
                "agent:a",
                Some(now() + 2),
                "human:root",
            )
            .unwrap();
        let (kiro, kiro_secret) = s
            .create_token("kiro", Role::Agent, "agent:kiro", None, "human:root")
            .unwrap();
        assert!(s.token(&soon_secret).unwrap().is_some());
        let listed = s.tokens().unwrap();
        let text = serde_json::to_string(&listed).unwrap();
        assert!(!text.contains(&soon_secret) && !text.contains(&kiro_secret));
        let by_id = |id: &str| {
            s.tokens()
                .unwrap()
                .into_iter()
                .find(|t| t.id == id)
                .unwrap()
        };
        assert_eq!(by_id(&soon.id).expires_at, soon.expires_at);
        assert!(listed.iter().all(|t| t.revoked_at.is_none()));

        assert!(s.revoke_token(&kiro.id, "human:root").unwrap());
        assert!(
            s.token(&kiro_secret).unwrap().is_none(),
            "revoked token resolved"
        );
        assert!(!s.revoke_token(&kiro.id, "human:root").unwrap());
        assert!(!s.revoke_token("tok_none", "human:root").unwrap());
        let listed = s.tokens().unwrap();
        let k = listed.iter().find(|t| t.id == kiro.id).unwrap();
        assert!(k.revoked_at.is_some() && !k.live(now()));
        let last = s.audit().unwrap().pop().unwrap();
        assert_eq!(
            (
                last.kind.as_str(),
                last.actor.as_str(),
                last.subject.as_str()
            ),
            ("token", "human:root", kiro.id.as_str())
        );

        s.touch_token(&soon.id, now()).unwrap();
        assert!(by_id(&soon.id).last_used_at.is_some());
        assert!(by_id(&kiro.id).last_used_at.is_none());
        std::thread::sleep(std::time::Duration::from_millis(2100));
        assert!(
            s.token(&soon_secret).unwrap().is_none(),
            "expired token resolved"
        );
    });
}

#[test]
fn sessions_are_hashed_bound_to_their_token_and_end_with_it() {
    both(|s| {
        let (alice, _) = s
            .create_token(
                "alice",
                Role::Approver,
                "human:alice",
                Some(now() + 3600),
                "human:root",
            )
            .unwrap();
        let sid = s.create_session(&alice, 43200).unwrap();
        assert!(sid.starts_with("pps_") && sid.len() > 60);
        let (t, expires) = s.session(&sid).unwrap().unwrap();
        assert_eq!(
            (t.id.as_str(), t.actor.as_str()),
            (alice.id.as_str(), "human:alice")
        );
        // Never past the token's own expiry.
        assert_eq!(Some(expires), alice.expires_at);
        assert!(s.session("pps_forged").unwrap().is_none());
        let log = serde_json::to_string(&s.audit().unwrap()).unwrap();
        assert!(!log.contains(&sid), "session id in the audit log");
        assert!(log.contains("\"login\""));

        assert!(s.end_session(&sid).unwrap());
        assert!(s.session(&sid).unwrap().is_none());
        assert!(!s.end_session(&sid).unwrap());

        let sid = s.create_session(&alice, 43200).unwrap();
        assert!(s.revoke_token(&alice.id, "human:root").unwrap());
        assert!(
            s.session(&sid).unwrap().is_none(),
            "session outlived its token"
        );
        assert!(matches!(
            s.create_session(&alice, 60),
            Err(StoreError::Forbidden(_))
        ));
    });
}

#[test]
fn incidents_pins_and_replays() {
    both(|s| {
        s.open_incident("INC-1", "manual", "db down", "human:dana")
            .unwrap();
        s.open_incident("INC-1", "manual", "db down", "human:dana")
            .unwrap();
        assert_eq!(s.open_incidents().unwrap().len(), 1);
        assert!(s.resolve_incident("INC-1", "human:dana").unwrap());
        assert!(!s.resolve_incident("INC-1", "human:dana").unwrap());
        assert!(s.open_incidents().unwrap().is_empty());
        s.open_incident("INC-1", "pagerduty", "again", "webhook:pagerduty")
            .unwrap();
        assert_eq!(s.open_incidents().unwrap()[0].source, "pagerduty");

        assert!(s.first_delivery("pagerduty", "ev-1").unwrap());
        assert!(!s.first_delivery("pagerduty", "ev-1").unwrap());
        assert!(s.first_delivery("opsgenie", "ev-1").unwrap());

        let p = StoredPin {
            id: "INC-1-sg".into(),
            resource: "aws_security_group.api".into(),
            attribute: "ingress".into(),
            value: Some("{\"from_port\":22}".into()),
            mode: Some("excludes".into()),
            reason: "closed".into(),
            incident: Some("INC-1".into()),
            expires: None,
            created_by: "human:dana".into(),
            created_at: 1,
        };
        s.add_pin(&p).unwrap();
        assert!(matches!(s.add_pin(&p), Err(StoreError::Conflict(_))));
        assert_eq!(s.pins().unwrap().len(), 1);
        assert!(s.remove_pin("INC-1-sg", "human:dana").unwrap());
        assert!(s.pins().unwrap().is_empty());
        s.add_pin(&p).unwrap();
        s.audit_event("webhook_rejected", "webhook:pagerduty", "pagerduty", "{}")
            .unwrap();
        let kinds: Vec<String> = s.audit().unwrap().into_iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [
                "incident",
                "incident",
                "incident",
                "pin",
                "pin",
                "pin",
                "webhook_rejected"
            ]
        );
        assert!(s.verify().unwrap().problem.is_none());
    });
}

#[test]
fn concurrent_approvers_are_counted_exactly() {
    both(|s| {
        let s: Arc<dyn Store> = Arc::from(s);
        let r = review(&*s, 3, 0);
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let s = s.clone();
                let id = r.id.clone();
                std::thread::spawn(move || {
                    // Each approver clicks twice.
                    let who = format!("human:{}", i % 4);
                    let _ = s.vote(&id, &who, true, "h1", None);
                    let _ = s.vote(&id, &who, true, "h1", None);
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let r = s.request(&r.id).unwrap().unwrap();
        let mut who: Vec<&str> = r.votes.iter().map(|v| v.approver.as_str()).collect();
        who.sort();
        who.dedup();
        assert_eq!(who.len(), r.votes.len(), "nobody counted twice");
        assert!(r.votes.len() >= 3);
        assert_eq!(r.state(now()), State::Approved);
        let v = s.verify().unwrap();
        assert!(v.problem.is_none(), "{:?}", v.problem);
        assert_eq!(v.entries, 1 + r.votes.len());
    });
}

#[test]
fn concurrent_writers_keep_one_chain() {
    both(|s| {
        let s: Arc<dyn Store> = Arc::from(s);
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let s = s.clone();
                std::thread::spawn(move || {
                    for _ in 0..25 {
                        review(&*s, 1, 0);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let v = s.verify().unwrap();
        assert_eq!(v.entries, 100);
        assert!(v.problem.is_none(), "{:?}", v.problem);
    });
}

/// Two replicas (two stores on one database) racing on the same request.
#[test]
fn replicas_share_one_database() {
    let (url, schema) = pg_schema();
    let a: Arc<dyn Store> = Arc::from(open(&url).unwrap());
    let b: Arc<dyn Store> = Arc::from(open(&url).unwrap());
    let r = review(&*a, 2, 0);
    let handles: Vec<_> = ["human:x", "human:y"]
        .into_iter()
        .zip([a.clone(), b.clone()])
        .map(|(who, s)| {
            let id = r.id.clone();
            std::thread::spawn(move || s.vote(&id, who, true, "h1", None).unwrap())
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(
        b.request(&r.id).unwrap().unwrap().state(now()),
        State::Approved
    );
    assert!(a.verify().unwrap().problem.is_none());
    drop((a, b));
    drop_schema(&schema);
}

/// Two replicas' decision writers and their locked appenders (votes) on one log: each
/// writer keeps the head it last wrote, so every append by the other side makes it
/// chain a batch again. Nothing is lost, nothing is written twice, the chain holds.
#[test]
fn replicas_deciding_at_once_keep_one_chain() {
    let (url, schema) = pg_schema();
    let a: Arc<dyn Store> = Arc::from(open(&url).unwrap());
    let b: Arc<dyn Store> = Arc::from(open(&url).unwrap());
    let target = review(&*a, 50, 0);
    let handles: Vec<_> = (0..6)
        .map(|t| {
            let s = if t % 2 == 0 { a.clone() } else { b.clone() };
            let id = target.id.clone();
            std::thread::spawn(move || {
                let mut ids = Vec::new();
                for i in 0..40 {
                    ids.push(review(&*s, 1, 0).id);
                    if i % 8 == 0 {
                        s.vote(&id, &format!("human:{t}-{i}"), true, "h1", None)
                            .unwrap();
                    }
                }
                ids
            })
        })
        .collect();
    let mut ids: Vec<String> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let decided = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), decided, "every decision has its own id");
    for id in &ids {
        assert!(
            b.request(id).unwrap().is_some(),
            "{id} was acknowledged but not kept"
        );
    }
    let v = a.verify().unwrap();
    assert!(v.problem.is_none(), "{:?}", v.problem);
    // The target, 240 decisions and 30 votes.
    assert_eq!(v.entries, 1 + 240 + 30);
    drop((a, b));
    drop_schema(&schema);
}

#[test]
fn postgres_tampering_is_detected() {
    let (url, schema) = pg_schema();
    let s = open(&url).unwrap();
    let r = review(&*s, 2, 0);
    s.vote(&r.id, "human:a", true, "h1", None).unwrap();
    s.vote(&r.id, "human:b", false, "h1", None).unwrap();
    assert!(s.verify().unwrap().problem.is_none());
    let mut c = postgres::Client::connect(&pg_base(), postgres::NoTls).unwrap();
    c.batch_execute(&format!(
        "UPDATE {schema}.audit SET payload = '{{}}' WHERE seq = 2"
    ))
    .unwrap();
    let p = s.verify().unwrap().problem.unwrap();
    assert_eq!(p.seq, 2);
    assert!(p.what.contains("edited"), "{}", p.what);
    c.batch_execute(&format!("DELETE FROM {schema}.audit WHERE seq >= 2"))
        .unwrap();
    let p = s.verify().unwrap().problem.unwrap();
    assert!(p.what.contains("removed from the end"), "{}", p.what);
    drop(s);
    drop_schema(&schema);
}

#[test]
fn unreachable_postgres_is_a_clear_error() {
    let e = open("postgres://app:hunter2@127.0.0.1:1/none?connect_timeout=2")
        .err()
        .expect("nothing listens on port 1");
    let msg = e.to_string();
    assert!(msg.starts_with("database error"), "{msg}");
    assert!(!msg.contains("hunter2"), "password in {msg}");
}

#[test]
fn sqlite_file_holds_no_token_secret() {
    let path = sqlite_path();
    let s = open(&path).unwrap();
    let (_, secret) = s
        .create_token("kiro", Role::Agent, "agent:kiro", None, "admin:cli")
        .unwrap();
    drop(s);
    // The database and its write-ahead log, whichever holds the row now.
    let mut raw = std::fs::read(&path).unwrap();
    raw.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
    let raw = String::from_utf8_lossy(&raw);
    assert!(!raw.contains(&secret), "secret stored in clear");
    assert!(
        raw.contains(&parapet_store::hex_sha256(secret.as_bytes())),
        "the token's hash is what is stored"
    );
}

#[test]
fn sqlite_tampering_is_detected() {
    let path = sqlite_path();
    let s = open(&path).unwrap();
    let r = review(&*s, 2, 0);
    s.vote(&r.id, "human:a", true, "h1", None).unwrap();
    s.vote(&r.id, "human:b", false, "h1", None).unwrap();
    let v = s.verify().unwrap();
    assert_eq!(v.entries, 3);
    assert!(v.problem.is_none());
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute("UPDATE audit SET payload = '{}' WHERE seq = 2", [])
        .unwrap();
    let p = s.verify().unwrap().problem.unwrap();
    assert_eq!(p.seq, 2);
    c.execute("DELETE FROM audit WHERE seq >= 2", []).unwrap();
    let p = s.verify().unwrap().problem.unwrap();
    assert!(p.what.contains("removed from the end"), "{}", p.what);
}

#[test]
fn tokens_made_before_expiry_and_sessions_keep_working_after_the_migration() {
    // The tokens table as migration 1 made it, at schema version 2.
    let path = sqlite_path();
    let secret = "ppt_made-by-an-older-parapet";
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(
            "CREATE TABLE schema_version (version INTEGER NOT NULL);
             INSERT INTO schema_version VALUES (1), (2);
             CREATE TABLE tokens (id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL,
               actor TEXT NOT NULL, secret_hash TEXT NOT NULL UNIQUE, created_at INTEGER NOT NULL,
               revoked INTEGER NOT NULL DEFAULT 0);
             CREATE TABLE requests (id TEXT PRIMARY KEY, created_at INTEGER NOT NULL,
               requester TEXT NOT NULL, kind TEXT NOT NULL, content_hash TEXT NOT NULL,
               outcome TEXT NOT NULL, approvers_required INTEGER NOT NULL,
               delay_seconds INTEGER NOT NULL, expires_at INTEGER NOT NULL, approved_at INTEGER,
               rejected INTEGER NOT NULL DEFAULT 0, report TEXT NOT NULL);",
        )
        .unwrap();
        c.execute(
            "INSERT INTO tokens (id, name, role, actor, secret_hash, created_at) VALUES ('tok_old', 'old', 'approver', 'human:alice', ?1, 5)",
            [parapet_store::hex_sha256(secret.as_bytes())],
        )
        .unwrap();
    }
    let s = open(&path).unwrap();
    let t = s
        .token(secret)
        .unwrap()
        .expect("the old token still resolves");
    assert_eq!(
        (t.id.as_str(), t.created_at, t.expires_at),
        ("tok_old", 5, None)
    );
    assert!(t.live(now()));
    let listed = s.tokens().unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].revoked_at.is_none() && listed[0].last_used_at.is_none());
}

#[test]
fn a_postgres_store_is_dropped_cleanly_where_an_async_runtime_runs() {
    // The server drops its store inside its runtime when it shuts down (Ctrl-C): the
    // synchronous client's own close must not panic there.
    let (url, schema) = pg_schema();
    let store = open(&url).unwrap();
    store.ping().unwrap();
    store.tokens().unwrap();
    store.aws_key("PKIANOSUCHKEY0000000").unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async move { drop(store) });
    drop_schema(&schema);
}
