//! Identity in the web UI and on the wire: the UI cookie is a server-side session id that
//! ends with its token, a waiting pipeline shows the review link and each approval, a
//! revoke on one PostgreSQL replica ends tokens and sessions on the other, and the bearer
//! scheme is case-insensitive. The real `parapet` binary, servers on loopback.

use serde_json::json;
use std::io::{BufRead, BufReader};
use std::time::Duration;

mod common;
use common::identity::*;
use common::*;

#[test]
fn the_web_ui_cookie_is_a_session_id_that_ends_with_its_token() {
    let dir = tmpdir("session");
    let db = dir.join("parapet.db");
    let alice = token(&db, "alice", "approver", "human:alice");
    let admin = token(&db, "root", "admin", "human:root");
    let srv = start(&dir, None);
    let p = srv.port;
    let session = login(p, &alice);
    assert!(session.starts_with("pps_"), "{session}");
    assert!(ui_get(p, "/ui", &session).starts_with("HTTP/1.1 200"));
    // The token itself is no cookie, and a forged session is no login.
    let h = ui_get(p, "/ui", &alice);
    assert!(h.starts_with("HTTP/1.1 303"), "{h}");
    assert!(ui_get(p, "/ui", "pps_forged").starts_with("HTTP/1.1 303"));
    // The database keeps only the session's hash.
    let raw_db = std::fs::read(&db).unwrap();
    let wal = std::fs::read(dir.join("parapet.db-wal")).unwrap_or_default();
    for bytes in [raw_db, wal] {
        assert!(
            !String::from_utf8_lossy(&bytes).contains(&session),
            "session id stored in clear"
        );
    }

    // Logout ends it on the server, not only in the browser.
    let (head, _) = raw(p, &format!("POST /ui/logout HTTP/1.1\r\nHost: 127.0.0.1:{p}\r\nCookie: parapet_session={session}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"));
    assert!(head.contains("Max-Age=0"), "{head}");
    assert!(ui_get(p, "/ui", &session).starts_with("HTTP/1.1 303"));

    // Revoking the token ends its sessions.
    let session = login(p, &alice);
    assert!(ui_get(p, "/ui", &session).starts_with("HTTP/1.1 200"));
    let (_, v) = http(p, "GET", "/v1/tokens", Some(&admin), None);
    let id = v
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["actor"] == "human:alice")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        http(
            p,
            "POST",
            &format!("/v1/tokens/{id}/revoke"),
            Some(&admin),
            None
        )
        .0,
        200
    );
    assert!(ui_get(p, "/ui", &session).starts_with("HTTP/1.1 303"));
    drop(srv);
    let log = audit(&db);
    assert!(
        log.iter()
            .any(|(k, a, _)| k == "login" && a == "human:alice"),
        "{log:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_waiting_pipeline_shows_the_review_link_and_each_approval() {
    let dir = tmpdir("progress");
    let pol = dir.join("policies");
    std::fs::create_dir_all(&pol).unwrap();
    std::fs::write(
        pol.join("90-all.cedar"),
        "@id(\"review-all\")\n@outcome(\"review\")\n@approvals(\"2\")\n@reason(\"two people look at everything\")\nforbid(principal, action, resource);\n",
    )
    .unwrap();
    let db = dir.join("parapet.db");
    let agent = token(&db, "ci", "agent", "pipeline:deploy");
    let alice = token(&db, "alice", "approver", "human:alice");
    let bob = token(&db, "bob", "approver", "human:bob");
    let srv = start(&dir, Some(&pol));
    let url = format!("http://127.0.0.1:{}", srv.port);
    let mut child = pipeline(
        "testdata/plans/checkov/plan_nested_child_modules/tfplan.json",
        &url,
        &agent,
        "60s",
    );
    // Standard error, line by line, as the pipeline writes it.
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let reader = {
        let (err, lines) = (child.stderr.take().unwrap(), lines.clone());
        std::thread::spawn(move || {
            for l in BufReader::new(err).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(l);
            }
        })
    };
    let seen = |needle: &str| lines.lock().unwrap().iter().any(|l| l.contains(needle));
    assert!(
        within(Duration::from_secs(20), || seen("0/2 approvals")).is_some(),
        "{:?}",
        lines.lock().unwrap()
    );
    let (_, queue) = http(
        srv.port,
        "GET",
        "/v1/decisions?state=pending",
        Some(&alice),
        None,
    );
    let id = queue[0]["id"].as_str().unwrap().to_string();
    let link = format!("{url}/ui/decisions/{id}");
    assert_eq!(queue[0]["review_url"], link.as_str());
    assert!(seen(&link), "no review link: {:?}", lines.lock().unwrap());
    let vote = json!({"content_hash": queue[0]["content_hash"]}).to_string();
    let approve = |t: &str| {
        let (s, v) = http(
            srv.port,
            "POST",
            &format!("/v1/decisions/{id}/approve"),
            Some(t),
            Some(&vote),
        );
        assert_eq!(s, 200, "{v}");
    };
    approve(&alice);
    // The count moves as the vote lands, not at the next poll timeout.
    assert!(
        within(Duration::from_secs(30), || seen("1/2 approvals")).is_some(),
        "{:?}",
        lines.lock().unwrap()
    );
    approve(&bob);
    let out = exited(child.wait_with_output().unwrap(), 0);
    assert!(
        out.contains("approved by human:alice") && out.contains("approved by human:bob"),
        "{out}"
    );
    reader.join().unwrap();
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_revoke_on_one_postgres_replica_ends_tokens_and_sessions_on_the_other() {
    let pg = PgSchema::new("id");
    let url = pg.url.clone();
    let admin = token_at(&url, "root", "admin", "human:root");
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
    let a_url = format!("http://127.0.0.1:{}", a.port);
    let kiro = remote_token(&a_url, &admin, "agent", "agent:kiro", &[]);
    let alice = remote_token(&a_url, &admin, "approver", "human:alice", &[]);
    let call = json!({"call": {"action": "s3:GetObject"}}).to_string();
    let decide = |port: u16| http(port, "POST", "/v1/decisions", Some(&kiro), Some(&call)).0;
    assert_eq!(decide(b.port), 201);
    let session = login(b.port, &alice);
    assert!(ui_get(b.port, "/ui", &session).starts_with("HTTP/1.1 200"));

    let (_, v) = http(a.port, "GET", "/v1/tokens", Some(&admin), None);
    let id_of = |actor: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|t| t["actor"] == actor)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    for actor in ["agent:kiro", "human:alice"] {
        let o = run(
            &["token", "revoke", &id_of(actor), "--server", &a_url],
            &[("PARAPET_TOKEN", &admin)],
        );
        exited(o, 0);
    }
    assert_eq!(decide(a.port), 401);
    // The wait only guards a hang: replica B's caches lapse within a second.
    let ended = within(Duration::from_secs(30), || {
        decide(b.port) == 401 && ui_get(b.port, "/ui", &session).starts_with("HTTP/1.1 303")
    });
    assert!(
        ended.is_some(),
        "replica B still accepts the token or its session"
    );
    drop((a, b));
}

#[test]
fn the_bearer_scheme_is_case_insensitive() {
    let dir = tmpdir("bearer");
    let db = dir.join("parapet.db");
    let admin = token(&db, "root", "admin", "human:root");
    let srv = start(&dir, None);
    let p = srv.port;
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let (head, body) = raw(
            p,
            &format!(
                "GET /v1/tokens HTTP/1.1\r\nHost: 127.0.0.1:{p}\r\nAuthorization: {scheme} {admin}\r\nConnection: close\r\n\r\n"
            ),
        );
        assert!(head.starts_with("HTTP/1.1 200"), "{scheme}: {head}\n{body}");
    }
    // Another scheme, or a wrong token, is still refused.
    for auth in [
        format!("Basic {admin}"),
        "bearer nope".to_string(),
        format!("Bearer{admin}"),
    ] {
        let (head, _) = raw(
            p,
            &format!(
                "GET /v1/tokens HTTP/1.1\r\nHost: 127.0.0.1:{p}\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\n"
            ),
        );
        assert!(head.starts_with("HTTP/1.1 401"), "{auth}: {head}");
    }
}
