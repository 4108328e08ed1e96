//! The kill switch in the web UI, over plain HTTP against the real `parapet serve`: a
//! decision page of an agent's request offers a freeze button (with the session's
//! CSRF token), freezing from it rejects the request and shows the freeze, the
//! freezes page lists it, and a form without the CSRF token freezes nobody.

use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;

mod common;
use common::*;

/// A raw HTTP exchange: status line and headers, and the body.
fn raw(port: u16, request: &str) -> (String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let (head, body) = resp.split_once("\r\n\r\n").unwrap_or((&resp, ""));
    (head.to_string(), body.to_string())
}

fn get(port: u16, path: &str, cookie: &str) -> (String, String) {
    raw(port, &format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: parapet_session={cookie}\r\nConnection: close\r\n\r\n"))
}

fn post(port: u16, path: &str, cookie: &str, form: &str) -> String {
    raw(port, &format!("POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: http://127.0.0.1:{port}\r\nCookie: parapet_session={cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{form}", form.len())).0
}

fn login(port: u16, token: &str) -> String {
    let form = format!("token={token}");
    let (head, _) = raw(port, &format!("POST /ui/login HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{form}", form.len()));
    let line = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("set-cookie: ")
                .or_else(|| l.strip_prefix("Set-Cookie: "))
        })
        .unwrap_or_else(|| panic!("no cookie in {head}"));
    line.split(';')
        .next()
        .unwrap()
        .strip_prefix("parapet_session=")
        .unwrap()
        .to_string()
}

/// The value of the first `name=csrf` input on a page.
fn csrf(page: &str) -> String {
    let at = page.find("name=csrf value=\"").expect("a CSRF field") + 17;
    page[at..].split('"').next().unwrap().to_string()
}

#[test]
fn a_reviewer_freezes_an_agent_from_its_decision_page() {
    let dir = tmpdir("freeze-ui");
    let db = dir.join("parapet.db");
    let kiro = token(&db, "kiro", "agent", "agent:kiro");
    let alice = token(&db, "alice", "approver", "human:alice");
    let srv = start(&dir, None);
    let p = srv.port;
    let call =
        r#"{"call": {"action": "iam:CreateAccessKey", "params": {"UserName": "deploy-bot"}}}"#;
    let (s, v): (u16, Value) = http(p, "POST", "/v1/decisions", Some(&kiro), Some(call));
    assert_eq!(s, 201, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    let session = login(p, &alice);

    let (head, page) = get(p, &format!("/ui/decisions/{id}"), &session);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        page.contains("id=freeze-requester"),
        "a freeze button: {page}"
    );
    assert!(page.contains("<a href=/ui/freezes>Freezes</a>"), "{page}");
    let token = csrf(&page);

    // Without the CSRF token nobody is frozen.
    let form = "actor=agent%3Akiro&reason=lateral+movement";
    let h = post(p, "/ui/freezes", &session, form);
    assert!(h.starts_with("HTTP/1.1 403"), "{h}");
    let (_, v) = http(p, "GET", "/v1/freezes", Some(&alice), None);
    assert_eq!(v, serde_json::json!([]));

    // With it, the freeze lands, the request is rejected, and the page says so.
    let form = format!(
        "csrf={token}&actor=agent%3Akiro&reason=lateral+movement&incident=INC-7&back=%2Fui%2Fdecisions%2F{id}"
    );
    let h = post(p, "/ui/freezes", &session, &form);
    assert!(h.starts_with("HTTP/1.1 303"), "{h}");
    assert!(h.contains(&format!("/ui/decisions/{id}")), "{h}");
    let (_, page) = get(p, &format!("/ui/decisions/{id}"), &session);
    assert!(page.contains("id=frozen-banner"), "{page}");
    assert!(
        page.contains("agent:kiro is frozen by human:alice since"),
        "{page}"
    );
    assert!(page.contains("INC-7 lateral movement"), "{page}");
    let (_, v) = http(p, "GET", &format!("/v1/decisions/{id}"), Some(&kiro), None);
    assert_eq!(v["state"], "rejected", "{v}");

    // The freezes page lists it; an approver sees no clear button (admins clear).
    let (_, page) = get(p, "/ui/freezes", &session);
    assert!(page.contains("<table id=freezes>"), "{page}");
    assert!(page.contains("<b>agent:kiro</b>"), "{page}");
    assert!(!page.contains("action=/ui/freezes/clear"), "{page}");
    let h = post(
        p,
        "/ui/freezes/clear",
        &session,
        &format!("csrf={}&actor=agent%3Akiro", csrf(&page)),
    );
    assert!(h.starts_with("HTTP/1.1 403"), "{h}");
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}
