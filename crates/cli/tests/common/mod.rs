//! Helpers shared by the end-to-end tests: the real binary, tokens, a server on
//! loopback, a minimal HTTP client.
#![allow(dead_code)]

pub mod identity;

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_parapet"));
    c.env_remove("PARAPET_DATABASE").env_remove("PARAPET_ACTOR");
    c
}

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub struct Server {
    pub child: Child,
    pub port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn token(db: &Path, name: &str, role: &str, actor: &str) -> String {
    token_at(db.to_str().unwrap(), name, role, actor)
}

/// A token in the database at `location` (SQLite path or PostgreSQL URL).
pub fn token_at(location: &str, name: &str, role: &str, actor: &str) -> String {
    let o = bin()
        .args([
            "token",
            "create",
            "--database",
            location,
            "--name",
            name,
            "--role",
            role,
            "--actor",
            actor,
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap().trim().to_string()
}

pub fn start(dir: &Path, policies: Option<&Path>) -> Server {
    let db = dir.join("parapet.db");
    let mut args = vec![
        "serve".to_string(),
        "--database".into(),
        db.display().to_string(),
        "--listen".into(),
        "127.0.0.1:0".into(),
    ];
    if let Some(p) = policies {
        args.extend(["--policies".into(), p.display().to_string()]);
    }
    start_args(&args)
}

/// `parapet serve ARGS`, waiting for the line that says where it listens.
pub fn start_args(args: &[String]) -> Server {
    start_env(args, &[])
}

/// `start_args` with environment variables set for the server.
pub fn start_env(args: &[String], env: &[(&str, &str)]) -> Server {
    let mut cmd = bin();
    cmd.args(args)
        .envs(env.iter().copied())
        .stderr(Stdio::inherit());
    start_command(cmd)
}

/// Spawn a prepared `parapet serve` command and read the port it prints first.
pub fn start_command(mut cmd: Command) -> Server {
    let mut child = cmd.stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("no port in {line:?}"));
    Server { child, port }
}

/// A pipeline: `parapet plan check PLAN --server URL` with an agent token, waiting
/// up to `max_wait` for the decision.
pub fn pipeline(plan: &str, url: &str, token: &str, max_wait: &str) -> Child {
    bin()
        .args([
            "plan",
            "check",
            plan,
            "--server",
            url,
            "--max-wait",
            max_wait,
        ])
        .env("PARAPET_TOKEN", token)
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Standard output of a finished command that must have exited with `code`
/// (both streams shown if not).
pub fn exited(o: std::process::Output, code: i32) -> String {
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(
        o.status.code(),
        Some(code),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A minimal HTTP/1.1 client: enough for JSON requests on loopback.
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, Value) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let body = body.unwrap_or("");
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(s, "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let (head, payload) = resp.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let v = serde_json::from_str(payload).unwrap_or(Value::String(payload.to_string()));
    (status, v)
}

pub fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("parapet-srv-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A fresh schema in the test PostgreSQL (`PARAPET_TEST_POSTGRES`, default the machine's
/// `test` database), dropped when this is dropped. `url` points a server at it.
pub struct PgSchema {
    /// The database without the schema (for `pg_dump --schema`).
    pub base: String,
    pub name: String,
    /// `base` with `search_path` set to the schema.
    pub url: String,
    pub client: postgres::Client,
}

impl PgSchema {
    pub fn new(prefix: &str) -> PgSchema {
        let base = std::env::var("PARAPET_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".into());
        let name = format!(
            "parapet_{prefix}_{}_{}",
            std::process::id(),
            parapet_store::now()
        );
        let mut client = postgres::Client::connect(&base, postgres::NoTls)
            .expect("PostgreSQL at 127.0.0.1:5432 (database test) must be running");
        client
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .unwrap();
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-c%20search_path%3D{name}");
        PgSchema {
            base,
            name,
            url,
            client,
        }
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let _ = self
            .client
            .batch_execute(&format!("DROP SCHEMA {} CASCADE", self.name));
    }
}
