//! Helpers of the identity tests: the binary without the server variables, raw HTTP,
//! web UI logins.

use super::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

pub fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    bin()
        .args(args)
        .env_remove("PARAPET_SERVER")
        .env_remove("PARAPET_TOKEN")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn db_arg(db: &Path) -> String {
    db.display().to_string()
}

/// `parapet token create` through a server with an admin token: the new secret.
pub fn remote_token(url: &str, admin: &str, role: &str, actor: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "token", "create", "--server", url, "--name", "n", "--role", role, "--actor", actor,
    ];
    args.extend_from_slice(extra);
    let o = run(&args, &[("PARAPET_TOKEN", admin)]);
    exited(o, 0).trim().to_string()
}

/// Poll `f` until it is true or `limit` passes; how long it took.
pub fn within(limit: Duration, f: impl Fn() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

pub fn raw(port: u16, request: &str) -> (String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let (head, body) = resp.split_once("\r\n\r\n").unwrap_or((&resp, ""));
    (head.to_string(), body.to_string())
}

pub fn ui_get(port: u16, path: &str, cookie: &str) -> String {
    raw(port, &format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: parapet_session={cookie}\r\nConnection: close\r\n\r\n")).0
}

pub fn login(port: u16, token: &str) -> String {
    let form = format!("token={token}");
    let (head, _) = raw(port, &format!("POST /ui/login HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{form}", form.len()));
    let cookie = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("set-cookie: ")
                .or_else(|| l.strip_prefix("Set-Cookie: "))
        })
        .unwrap_or_else(|| panic!("no cookie in {head}"))
        .to_string();
    assert!(
        !cookie.contains(token),
        "the cookie holds the token: {cookie}"
    );
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    cookie
        .split(';')
        .next()
        .unwrap()
        .strip_prefix("parapet_session=")
        .unwrap()
        .to_string()
}

pub fn audit(db: &Path) -> Vec<(String, String, String)> {
    let o = run(&["audit", "export", "--database", &db_arg(db)], &[]);
    exited(o, 0)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|v| {
            let f = |k: &str| v[k].as_str().unwrap().to_string();
            (f("kind"), f("actor"), f("subject"))
        })
        .collect()
}
