//! The proxy tests' world: moto server as AWS (target/moto, with the AWS CLI and boto3
//! that scripts/test installs next to it), `parapet serve` and `parapet proxy aws`
//! sharing one SQLite database and one credential key, agent AWS keys, and the real
//! clients (`aws`, boto3) pointed at the proxy with `AWS_ENDPOINT_URL`.
//!
//! The proxy gets "real" AWS credentials that are unique strings; [`Stack::finish`]
//! checks they appear in nothing anyone outside the proxy sees.
#![allow(dead_code)]

pub mod browser;

use crate::common::{bin, free_port, root, tmpdir, token};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The credentials only the proxy holds (moto accepts any). Unique strings, searched
/// for in every output at the end of each test.
pub const REAL_KEY_ID: &str = "AKIAPARAPETCANARY7Q3";
pub const REAL_SECRET: &str = "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";

/// The pins scripts/test sets in `var` (one list for the script and the tests).
pub fn pins(var: &str) -> Vec<String> {
    let script = std::fs::read_to_string(root().join("scripts/test")).unwrap();
    let prefix = format!("{var}=");
    let line = script
        .lines()
        .find_map(|l| l.trim().strip_prefix(prefix.as_str()))
        .unwrap_or_else(|| panic!("scripts/test sets {var}"));
    line.trim_matches('"')
        .split_whitespace()
        .map(String::from)
        .collect()
}

/// target/moto with moto server, the AWS CLI and boto3 at the pinned versions.
pub fn venv() -> PathBuf {
    venv_at("moto", "MOTO_PINS")
}

/// target/NAME with the pins scripts/test sets in `var`; made here when a test runs
/// before scripts/test did (one process at a time, by a lock).
pub fn venv_at(name: &str, var: &str) -> PathBuf {
    let dir = root().join("target").join(name);
    let pins = pins(var).join(" ");
    let ready = || std::fs::read_to_string(dir.join(".ready")).is_ok_and(|s| s.trim() == pins);
    if !ready() {
        let lock = root().join(format!("target/{name}.lock"));
        while std::fs::create_dir(&lock).is_err() {
            std::thread::sleep(Duration::from_millis(200));
        }
        if !ready() {
            if !dir.join("bin/pip").exists() {
                let ok = Command::new("python3")
                    .args(["-m", "venv"])
                    .arg(&dir)
                    .status()
                    .unwrap();
                assert!(ok.success());
            }
            let ok = Command::new(dir.join("bin/pip"))
                .args(["install", "-q", "--disable-pip-version-check"])
                .args(pins.split_whitespace())
                .status()
                .unwrap();
            assert!(ok.success(), "pip install {pins}");
            std::fs::write(dir.join(".ready"), format!("{pins}\n")).unwrap();
        }
        let _ = std::fs::remove_dir(&lock);
    }
    dir
}

/// A child process killed when dropped.
pub struct Proc {
    pub child: Child,
    pub port: u16,
    /// Everything it wrote to standard output (after the first line, which is read
    /// for the port, and is kept here too).
    pub stdout: Arc<Mutex<String>>,
    pub stderr: PathBuf,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    /// Spawn `cmd` with standard error to `stderr` and read the port from the first
    /// line of standard output (`... listening on http://127.0.0.1:PORT`).
    pub fn spawn(mut cmd: Command, stderr: PathBuf) -> Proc {
        let err = std::fs::File::create(&stderr).unwrap();
        let mut child = cmd.stdout(Stdio::piped()).stderr(err).spawn().unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let port = line
            .trim()
            .rsplit(':')
            .next()
            // `...:PORT` or `...:PORT/path`
            .and_then(|p| p.split('/').next()?.parse().ok())
            .unwrap_or_else(|| {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "no port in {line:?}; stderr: {}",
                    std::fs::read_to_string(&stderr).unwrap_or_default()
                )
            });
        let stdout = Arc::new(Mutex::new(line));
        let sink = stdout.clone();
        std::thread::spawn(move || {
            let mut rest = String::new();
            let mut buf = [0u8; 8192];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                rest.push_str(&String::from_utf8_lossy(&buf[..n]));
                sink.lock().unwrap().push_str(&rest);
                rest.clear();
            }
        });
        Proc {
            child,
            port,
            stdout,
            stderr,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// What it wrote on both streams so far.
    pub fn output(&self) -> String {
        format!(
            "{}{}",
            self.stdout.lock().unwrap(),
            std::fs::read_to_string(&self.stderr).unwrap_or_default()
        )
    }
}

/// moto server on a free port, recording what reaches it on request ([`Moto::record`]).
pub struct Moto {
    pub child: Child,
    pub port: u16,
    dir: PathBuf,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    pub fn start(dir: &Path) -> Moto {
        let server = venv().join("bin/moto_server");
        let port = free_port();
        let mut child = Command::new(server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .current_dir(dir)
            .env("MOTO_ENABLE_RECORDING", "true")
            // AWS's managed policies (AdministratorAccess...), as in a real account.
            .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
            .env("MOTO_RECORDER_FILEPATH", dir.join("moto_recording"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        for _ in 0..300 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                let m = Moto {
                    child,
                    port,
                    dir: dir.to_path_buf(),
                };
                // The recorder starts on; it records only when a test asks.
                m.api("POST", "/moto-api/recorder/stop-recording");
                return m;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("moto server did not start");
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn api(&self, method: &str, path: &str) -> String {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let url = format!("{}{path}", self.url());
        let mut r = match method {
            "GET" => agent.get(&url).call().unwrap(),
            _ => agent.post(&url).send_empty().unwrap(),
        };
        r.body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_string()
            .unwrap()
    }

    /// Start moto's request recorder afresh (every request that reaches moto from now
    /// on is written down, headers and body).
    pub fn record(&self) {
        self.api("POST", "/moto-api/recorder/stop-recording");
        self.api("POST", "/moto-api/recorder/reset-recording");
        self.api("POST", "/moto-api/recorder/start-recording");
    }

    /// The requests that reached moto since [`Moto::record`]: one JSON object each,
    /// the body decoded.
    pub fn recorded(&self) -> Vec<Value> {
        self.api("GET", "/moto-api/recorder/download-recording")
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let mut v: Value = serde_json::from_str(l).unwrap();
                if v["body_encoded"] == true {
                    let b = v["body"].as_str().unwrap_or("");
                    v["body"] = Value::String(String::from_utf8_lossy(&b64(b)).into_owned());
                }
                v
            })
            .collect()
    }

    /// The AWS CLI straight at moto (setting things up, reading what really happened).
    pub fn aws(&self, args: &[&str]) -> Value {
        let o = aws_command(&self.url(), "testing", "testing", args)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "direct aws {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        serde_json::from_slice(&o.stdout).unwrap_or(Value::Null)
    }
}

/// Standard base64 (what moto's recorder writes bodies in).
fn b64(s: &str) -> Vec<u8> {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter(|&c| c != b'=' && !c.is_ascii_whitespace()) {
        let v = A.iter().position(|&x| x == c).expect("base64") as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// `aws ARGS` against `endpoint` with these keys and nothing from the machine's own
/// AWS configuration; JSON output, no retries. Region eu-west-1: in us-east-1 AWS CLI
/// v1 sends rds (and docdb, neptune) to rds.amazonaws.com whatever
/// `AWS_ENDPOINT_URL` says (its `overridesslcommonname` customization; sqs in every
/// region), which docs/proxy.md warns about.
pub fn aws_command(endpoint: &str, key_id: &str, secret: &str, args: &[&str]) -> Command {
    let dir = venv();
    let mut c = Command::new(dir.join("bin/aws"));
    c.args(args)
        .args(["--output", "json"])
        .env_clear()
        .env(
            "PATH",
            format!("{}:/usr/bin:/bin", dir.join("bin").display()),
        )
        .env("HOME", std::env::temp_dir())
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", key_id)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_DEFAULT_REGION", "eu-west-1")
        .env("AWS_CONFIG_FILE", "/nonexistent/parapet-test/config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/parapet-test/credentials",
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_MAX_ATTEMPTS", "1")
        .env("AWS_RETRY_MODE", "standard");
    c
}

/// A token's AWS keys as `parapet token create --aws` printed them.
#[derive(Clone)]
pub struct AgentKeys {
    pub key_id: String,
    pub secret: String,
}

/// Read `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` from the command's output,
/// whether written as `NAME=value`, `NAME: value` or `export NAME=value`.
pub fn parse_keys(out: &str) -> AgentKeys {
    let value = |name: &str| {
        out.lines()
            .find_map(|l| {
                let at = l.find(name)?;
                let rest = l[at + name.len()..].trim_start_matches([' ', '=', ':', '"', '\'']);
                let v: String = rest
                    .chars()
                    .take_while(|c| !c.is_whitespace() && *c != '"' && *c != '\'')
                    .collect();
                (!v.is_empty()).then_some(v)
            })
            .unwrap_or_else(|| panic!("no {name} in {out:?}"))
    };
    AgentKeys {
        key_id: value("AWS_ACCESS_KEY_ID"),
        secret: value("AWS_SECRET_ACCESS_KEY"),
    }
}

mod stack;
pub use stack::*;
