//! No secret leaks, end to end: every marker of `testdata/secrets/corpus.json` (Lambda
//! environments, ECS container definitions in a string, tags in map and list shape,
//! user data, RDS and login passwords, SecureString parameters, Step Functions
//! definitions, private keys, JWTs, bearer, GitHub and Slack tokens, URL passwords, an
//! AWS secret key next to its key id) goes through every output format of `plan check`
//! and `call check`, and through the decision service on SQLite (the database file and
//! its write-ahead log, API answers, web UI pages, chat messages, the server's log) and
//! on PostgreSQL (a `pg_dump` of its schema). No marker may appear anywhere.

mod common;
use common::*;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

fn corpus() -> Value {
    let text = std::fs::read_to_string(root().join("testdata/secrets/corpus.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    // The test can fail: every marker is really in the input.
    for m in markers(&v) {
        assert!(text.contains(&m), "marker {m} is not in the corpus input");
    }
    v
}

fn markers(c: &Value) -> Vec<String> {
    let m: Vec<String> = c["markers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect();
    assert!(m.len() >= 20);
    m
}

/// Every marker found in `haystack`.
fn leaks(c: &Value, haystack: &[u8]) -> Vec<String> {
    markers(c)
        .into_iter()
        .filter(|m| haystack.windows(m.len()).any(|w| w == m.as_bytes()))
        .collect()
}

fn assert_clean(c: &Value, what: &str, haystack: &[u8]) {
    let found = leaks(c, haystack);
    assert!(found.is_empty(), "{what} leaks {found:?}");
}

#[test]
fn the_grep_finds_markers_when_they_are_there() {
    let c = corpus();
    let raw = serde_json::to_vec(&c["plan"]).unwrap();
    assert!(
        leaks(&c, &raw).len() >= 15,
        "the plan itself holds the markers"
    );
}

#[test]
fn plan_and_call_reports_in_every_format_leak_nothing() {
    let c = corpus();
    let dir = tmpdir("secrets-cli");
    let plan = dir.join("plan.json");
    std::fs::write(&plan, serde_json::to_vec(&c["plan"]).unwrap()).unwrap();
    for format in ["text", "json", "sarif", "junit", "github"] {
        for verbose in [false, true] {
            let mut cmd = bin();
            cmd.args([
                "plan",
                "check",
                plan.to_str().unwrap(),
                "--actor",
                "agent:kiro",
                "--format",
                format,
            ]);
            if verbose {
                cmd.arg("--verbose");
            }
            let o = cmd.output().unwrap();
            assert!(
                matches!(o.status.code(), Some(0 | 1)),
                "{}",
                String::from_utf8_lossy(&o.stderr)
            );
            assert!(!o.stdout.is_empty());
            assert_clean(&c, &format!("plan check --format {format}"), &o.stdout);
            assert_clean(
                &c,
                &format!("plan check --format {format} (stderr)"),
                &o.stderr,
            );
        }
    }
    // The reviewer still sees what changes: the secret's name, the instance type.
    let o = bin()
        .args(["plan", "check", plan.to_str().unwrap(), "--format", "json"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("API_TOKEN") && text.contains("t3.small"),
        "{text}"
    );
    for call in c["calls"].as_array().unwrap() {
        let params = call["params"].to_string();
        for format in ["text", "json"] {
            let o = bin()
                .args(["call", "check", "--actor", "agent:kiro", "--action"])
                .arg(call["action"].as_str().unwrap())
                .args(["--params", &params, "--format", format])
                .output()
                .unwrap();
            assert!(
                matches!(o.status.code(), Some(0 | 1)),
                "{}",
                String::from_utf8_lossy(&o.stderr)
            );
            let what = format!("call check {} --format {format}", call["action"]);
            assert_clean(&c, &what, &o.stdout);
            assert_clean(&c, &what, &o.stderr);
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// A chat webhook that records every body posted to it.
fn chat_sink() -> (u16, Arc<Mutex<Vec<u8>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let got: Arc<Mutex<Vec<u8>>> = Arc::default();
    let g = got.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut len = 0;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; len];
            let _ = r.read_exact(&mut body);
            g.lock().unwrap().extend(body);
            let _ =
                s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        }
    });
    (port, got)
}

/// `parapet serve` with its log written to `log`.
fn serve(database: &str, chat: u16, log: &Path) -> Server {
    let mut cmd = bin();
    cmd.args(["serve", "--database", database, "--listen", "127.0.0.1:0"])
        .args(["--slack-webhook", &format!("http://127.0.0.1:{chat}/hook")])
        .env("RUST_LOG", "debug")
        .stderr(std::fs::File::create(log).unwrap());
    start_command(cmd)
}

/// A raw HTTP exchange: the whole response.
fn raw(port: u16, request: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// Every request of the corpus through the service; everything it answers or shows,
/// concatenated.
fn exercise(c: &Value, port: u16, agent: &str, approver: &str) -> Vec<u8> {
    let mut seen = Vec::new();
    let mut ids = Vec::new();
    let mut bodies = vec![json!({"plan": c["plan"]})];
    bodies.extend(
        c["calls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|call| json!({"call": call})),
    );
    for b in &bodies {
        let (s, v) = http(
            port,
            "POST",
            "/v1/decisions",
            Some(agent),
            Some(&b.to_string()),
        );
        assert_eq!(s, 201, "{v}");
        seen.extend(v.to_string().into_bytes());
        ids.push(v["id"].as_str().unwrap().to_string());
    }
    let form = format!("token={approver}");
    let login = raw(port, &format!("POST /ui/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{form}", form.len()));
    let cookie = login
        .lines()
        .find_map(|l| {
            l.strip_prefix("set-cookie: ")
                .or_else(|| l.strip_prefix("Set-Cookie: "))
        })
        .and_then(|c| c.split(';').next())
        .unwrap_or_else(|| panic!("no session cookie: {login}"))
        .to_string();
    let mut pages = vec!["/ui".to_string(), "/ui/history".into(), "/ui/audit".into()];
    pages.extend(ids.iter().map(|id| format!("/ui/decisions/{id}")));
    for p in pages {
        let page = raw(port, &format!("GET {p} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"));
        assert!(page.starts_with("HTTP/1.1 200"), "{p}: {page}");
        seen.extend(page.into_bytes());
    }
    for id in &ids {
        let (_, v) = http(
            port,
            "GET",
            &format!("/v1/decisions/{id}"),
            Some(agent),
            None,
        );
        seen.extend(v.to_string().into_bytes());
    }
    seen
}

fn wait_for_chat(got: &Arc<Mutex<Vec<u8>>>) -> Vec<u8> {
    for _ in 0..100 {
        if !got.lock().unwrap().is_empty() {
            std::thread::sleep(std::time::Duration::from_millis(500));
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    got.lock().unwrap().clone()
}

#[test]
fn the_decision_service_on_sqlite_stores_and_shows_no_secret() {
    let c = corpus();
    let dir = tmpdir("secrets-sqlite");
    let db = dir.join("parapet.db");
    let agent = token(&db, "kiro", "agent", "agent:kiro");
    let alice = token(&db, "alice", "approver", "human:alice");
    let (chat, got) = chat_sink();
    let log = dir.join("serve.log");
    let srv = serve(db.to_str().unwrap(), chat, &log);
    let seen = exercise(&c, srv.port, &agent, &alice);
    assert_clean(&c, "API answers and web UI pages", &seen);
    let text = String::from_utf8_lossy(&seen);
    for v in c["visible"].as_array().unwrap() {
        assert!(
            text.contains(v.as_str().unwrap()),
            "{v} (a reference) must stay visible"
        );
    }
    let chat_bodies = wait_for_chat(&got);
    assert!(!chat_bodies.is_empty(), "reviews are posted to chat");
    assert_clean(&c, "chat messages", &chat_bodies);
    // Killed, not shut down: the write-ahead log is still there to be read.
    drop(srv);
    let main = std::fs::read(&db).unwrap();
    assert_clean(&c, "parapet.db", &main);
    let wal = dir.join("parapet.db-wal");
    if let Ok(w) = std::fs::read(&wal) {
        assert_clean(&c, "parapet.db-wal", &w);
    }
    assert_clean(&c, "the server's log", &std::fs::read(&log).unwrap());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_decision_service_on_postgres_stores_no_secret() {
    let c = corpus();
    let mut pg = PgSchema::new("secrets");
    let url = pg.url.clone();
    let agent = token_at(&url, "kiro", "agent", "agent:kiro");
    let alice = token_at(&url, "alice", "approver", "human:alice");
    let (chat, got) = chat_sink();
    let dir = tmpdir("secrets-pg");
    let srv = serve(&url, chat, &dir.join("serve.log"));
    let seen = exercise(&c, srv.port, &agent, &alice);
    assert_clean(&c, "API answers and web UI pages (PostgreSQL)", &seen);
    assert_clean(&c, "chat messages (PostgreSQL)", &wait_for_chat(&got));
    drop(srv);
    // Everything stored, as pg_dump writes it (when the machine has pg_dump).
    let rows: i64 = pg
        .client
        .query_one(&format!("SELECT count(*) FROM {}.requests", pg.name), &[])
        .map(|r| r.get(0))
        .unwrap_or(-1);
    assert!(rows != 0, "the decisions were stored");
    match Command::new("pg_dump")
        .args(["--dbname", &pg.base, "--schema", &pg.name, "--data-only"])
        .output()
    {
        Ok(o) if o.status.success() => {
            assert!(!o.stdout.is_empty());
            assert_clean(&c, "pg_dump of the schema", &o.stdout);
        }
        Ok(o) => panic!("pg_dump failed: {}", String::from_utf8_lossy(&o.stderr)),
        Err(_) => eprintln!("pg_dump not installed: the dump check is skipped"),
    }
    let _ = std::fs::remove_dir_all(dir);
}
