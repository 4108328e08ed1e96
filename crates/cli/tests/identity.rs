//! Identity is proven, not claimed: a token's role bounds its actor, tokens are listed
//! without secrets, expire and are revoked at once on every server sharing the
//! database, incidents and pins go through the server under the token's actor, and
//! the web UI's cookie holds a server-side session id, never the token. The real
//! `parapet` binary, servers on loopback, one SQLite file.

use serde_json::json;
use std::time::Duration;

mod common;
use common::identity::*;
use common::*;

#[test]
fn a_tokens_role_bounds_its_actor() {
    let dir = tmpdir("roles");
    let db = db_arg(&dir.join("parapet.db"));
    // An agent is never judged as a person, a person's token never acts as automation.
    for (role, actor) in [
        ("agent", "human:kiro2"),
        ("agent", "unknown:x"),
        ("approver", "agent:x"),
        ("admin", "pipeline:deploy"),
    ] {
        let o = run(
            &[
                "token",
                "create",
                "--database",
                &db,
                "--name",
                "x",
                "--role",
                role,
                "--actor",
                actor,
            ],
            &[],
        );
        assert_eq!(o.status.code(), Some(2), "{role} {actor}: {}", stderr(&o));
        assert!(stderr(&o).contains(actor), "{}", stderr(&o));
        assert!(o.stdout.is_empty(), "no secret for a refused token");
        // The message says which kinds each role may act as, and does not call
        // `unknown:` a person.
        let e = stderr(&o);
        assert!(
            e.contains("agent tokens act as agent:NAME, pipeline:NAME or service:NAME"),
            "{e}"
        );
        assert!(
            e.contains("approver and admin tokens act as human:NAME"),
            "{e}"
        );
        if actor.starts_with("unknown:") {
            assert!(!e.contains("person"), "{e}");
            assert!(e.contains("no token acts as unknown:"), "{e}");
        }
    }
    let admin = token(&dir.join("parapet.db"), "root", "admin", "human:root");
    // Once an admin exists, tokens are made through the server (or forced).
    let o = run(
        &[
            "token",
            "create",
            "--database",
            &db,
            "--name",
            "k",
            "--role",
            "agent",
            "--actor",
            "agent:kiro",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--write-db-directly"), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("through the server (--server"),
        "no broken string continuation: {}",
        stderr(&o)
    );

    let srv = start(&dir, None);
    let p = srv.port;
    let body = json!({"name": "x", "role": "agent", "actor": "human:kiro2"}).to_string();
    let (s, v) = http(p, "POST", "/v1/tokens", Some(&admin), Some(&body));
    assert_eq!(s, 400, "{v}");
    assert!(v["error"].as_str().unwrap().contains("human:kiro2"), "{v}");

    // A token stored before roles bounded actors is refused, not trusted.
    let legacy = "ppt_legacy-agent-acting-as-a-person";
    let c = rusqlite::Connection::open(dir.join("parapet.db")).unwrap();
    c.execute(
        "INSERT INTO tokens (id, name, role, actor, secret_hash, created_at) VALUES ('tok_legacy', 'old', 'agent', 'human:kiro2', ?1, 0)",
        [parapet_store::hex_sha256(legacy.as_bytes())],
    )
    .unwrap();
    let call = json!({"call": {"action": "s3:GetObject"}}).to_string();
    let (s, v) = http(p, "POST", "/v1/decisions", Some(legacy), Some(&call));
    assert_eq!(s, 403, "{v}");
    assert!(v["error"].as_str().unwrap().contains("tok_legacy"), "{v}");
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn tokens_are_listed_without_secrets_expire_and_revoke_on_every_server() {
    let dir = tmpdir("revoke");
    let db = dir.join("parapet.db");
    let admin = token(&db, "root", "admin", "human:root");
    // Two servers over one database, as replicas.
    let a = start(&dir, None);
    let b = start(&dir, None);
    let url = format!("http://127.0.0.1:{}", a.port);
    let kiro = remote_token(&url, &admin, "agent", "agent:kiro", &[]);
    let brief = remote_token(
        &url,
        &admin,
        "agent",
        "pipeline:brief",
        &["--expires", "3s"],
    );
    let call = json!({"call": {"action": "s3:GetObject"}}).to_string();
    let decide = |port: u16, t: &str| http(port, "POST", "/v1/decisions", Some(t), Some(&call)).0;
    for port in [a.port, b.port] {
        assert_eq!(decide(port, &kiro), 201);
        assert_eq!(decide(port, &brief), 201);
    }

    // Listing shows who, what and when; never a secret.
    let o = run(
        &["token", "list", "--server", &url],
        &[("PARAPET_TOKEN", &admin)],
    );
    let listed = exited(o, 0);
    assert!(
        listed.starts_with("ID\tNAME\tROLE\tACTOR\tSTATE"),
        "{listed}"
    );
    assert!(
        listed.contains("agent:kiro") && listed.contains("pipeline:brief"),
        "{listed}"
    );
    for secret in [&admin, &kiro, &brief] {
        assert!(!listed.contains(secret.as_str()), "a secret is listed");
    }
    let (_, v) = http(a.port, "GET", "/v1/tokens", Some(&admin), None);
    let text = v.to_string();
    assert!(!text.contains(&kiro) && !text.contains("secret"), "{text}");
    let kiro_row = v
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["actor"] == "agent:kiro")
        .unwrap()
        .clone();
    assert_eq!(kiro_row["state"], "active");
    assert!(kiro_row["last_used_at"].is_string(), "{kiro_row}");
    let brief_row = v
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["actor"] == "pipeline:brief")
        .unwrap();
    assert!(brief_row["expires_at"].is_string(), "{brief_row}");
    // Only admins manage tokens.
    assert_eq!(http(a.port, "GET", "/v1/tokens", Some(&kiro), None).0, 403);

    // Revoked through one server: refused there at once, and by the other within
    // its one-second cache.
    let id = kiro_row["id"].as_str().unwrap();
    let o = run(
        &["token", "revoke", id, "--server", &url],
        &[("PARAPET_TOKEN", &admin)],
    );
    exited(o, 0);
    assert_eq!(decide(a.port, &kiro), 401);
    // Replica B refuses once its token cache (1 s) lapses; the wait only guards a hang.
    assert!(
        within(Duration::from_secs(30), || decide(b.port, &kiro) == 401).is_some(),
        "replica B still accepts the revoked token"
    );
    let (_, v) = http(b.port, "GET", "/v1/tokens", Some(&admin), None);
    assert!(v.to_string().contains("\"revoked\""), "{v}");
    // Revoking again says so.
    let o = run(
        &["token", "revoke", id, "--server", &url],
        &[("PARAPET_TOKEN", &admin)],
    );
    assert_eq!(o.status.code(), Some(2));

    // The expiring token stops at its time, on both.
    let took = within(Duration::from_secs(6), || {
        decide(a.port, &brief) == 401 && decide(b.port, &brief) == 401
    });
    assert!(took.is_some(), "an expired token still works");
    let o = run(&["token", "list", "--database", &db_arg(&db)], &[]);
    assert!(exited(o, 0).contains("expired"));
    // An expiry in the past, or unreadable, is refused.
    let o = run(
        &[
            "token",
            "create",
            "--server",
            &url,
            "--name",
            "x",
            "--role",
            "agent",
            "--actor",
            "agent:x",
            "--expires",
            "soon",
        ],
        &[("PARAPET_TOKEN", &admin)],
    );
    assert_eq!(o.status.code(), Some(2));
    drop((a, b));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The audit log's (kind, actor, subject) triples.

#[test]
fn incidents_and_pins_go_through_the_server_as_the_token() {
    let dir = tmpdir("ops");
    let db = dir.join("parapet.db");
    let agent = token(&db, "bot", "agent", "pipeline:drift-bot");
    let alice = token(&db, "alice", "approver", "human:alice");
    let admin = token(&db, "root", "admin", "human:root");
    let srv = start(&dir, None);
    let url = format!("http://127.0.0.1:{}", srv.port);
    let with = |t: &str| {
        vec![
            ("PARAPET_SERVER", url.clone()),
            ("PARAPET_TOKEN", t.to_string()),
        ]
    };
    let cli = |args: &[&str], t: &str| {
        let env = with(t);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        run(args, &env)
    };

    // An approver (a person on call) opens an incident; who did it is the token's.
    exited(
        cli(&["incident", "open", "INC-7", "--title", "db down"], &alice),
        0,
    );
    let listed = exited(cli(&["incident", "list"], &agent), 0);
    assert!(
        listed.contains("INC-7") && listed.contains("human:alice"),
        "{listed}"
    );
    // Nobody claims to be someone else: the flag is gone, a body claim is refused.
    let o = cli(&["incident", "open", "INC-8", "--by", "human:root"], &alice);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("comes from the token"),
        "{}",
        stderr(&o)
    );
    let body = json!({"id": "INC-8", "actor": "human:root"}).to_string();
    let (s, v) = http(srv.port, "POST", "/v1/incidents", Some(&alice), Some(&body));
    assert_eq!(s, 403, "{v}");
    assert!(v["error"].as_str().unwrap().contains("human:alice"), "{v}");
    // Automation cannot switch incident mode; resolving needs an admin.
    let o = cli(&["incident", "open", "INC-9"], &agent);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("403"), "{}", stderr(&o));
    assert_eq!(
        cli(&["incident", "resolve", "INC-7"], &alice).status.code(),
        Some(2)
    );
    exited(cli(&["incident", "resolve", "INC-7"], &admin), 0);

    // Pins likewise: an approver adds (ids hold slashes), only an admin removes.
    let add = [
        "pin",
        "add",
        "--resource",
        "aws_security_group.api",
        "--attribute",
        "ingress",
        "--reason",
        "closed during INC-7",
        "--mode",
        "excludes",
        "--value",
        r#"{"from_port": 22}"#,
    ];
    exited(cli(&add, &alice), 0);
    let body = json!({"resource": "r", "attribute": "a", "reason": "x", "actor": "human:root"})
        .to_string();
    assert_eq!(
        http(srv.port, "POST", "/v1/pins", Some(&alice), Some(&body)).0,
        403
    );
    let listed = exited(cli(&["pin", "list"], &agent), 0);
    assert!(
        listed.contains("aws_security_group.api/ingress") && listed.contains("human:alice"),
        "{listed}"
    );
    let remove = ["pin", "remove", "aws_security_group.api/ingress"];
    assert_eq!(cli(&remove, &alice).status.code(), Some(2));
    exited(cli(&remove, &admin), 0);
    assert!(!exited(cli(&["pin", "list"], &agent), 0).contains("aws_security_group.api"));
    drop(srv);

    // The audit log names the token's actor for every one of them.
    let log = audit(&db);
    let has = |kind: &str, actor: &str, subject: &str| {
        log.iter()
            .any(|(k, a, s)| k == kind && a == actor && s == subject)
    };
    assert!(has("incident", "human:alice", "INC-7"), "{log:?}");
    assert!(has("incident", "human:root", "INC-7"), "{log:?}");
    assert!(
        has("pin", "human:alice", "aws_security_group.api/ingress"),
        "{log:?}"
    );
    assert!(
        has("pin", "human:root", "aws_security_group.api/ingress"),
        "{log:?}"
    );
    assert!(
        !log.iter().any(|(_, _, s)| s == "INC-8" || s == "INC-9"),
        "{log:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A raw HTTP exchange: status line and headers, and the body.
#[test]
fn an_explicit_database_wins_over_parapet_server_in_the_environment() {
    let dir = tmpdir("flagwins");
    let db = dir.join("parapet.db");
    token(&db, "root", "admin", "human:root");
    let env = [("PARAPET_SERVER", "http://127.0.0.1:9")];
    // --database on the command line: the database is read, the environment's server
    // is not contacted.
    let o = run(&["incident", "list", "--database", &db_arg(&db)], &env);
    exited(o, 0);
    let o = run(&["token", "list", "--database", &db_arg(&db)], &env);
    assert!(exited(o, 0).contains("root"));
    // Without --database the environment's server is used, and the error names
    // PARAPET_SERVER, which the user set, not a --server flag they never gave.
    let o = run(&["incident", "list"], &env);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("PARAPET_SERVER is set"),
        "{}",
        stderr(&o)
    );
    // An explicit --server still needs a token.
    let o = run(
        &[
            "incident",
            "list",
            "--server",
            "http://127.0.0.1:9",
            "--database",
            &db_arg(&db),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--server needs --token"),
        "{}",
        stderr(&o)
    );
}
