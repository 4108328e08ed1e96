//! The MCP gateway tests' world, on top of the proxy tests' one ([`Stack`]: moto server
//! as AWS, `parapet serve` with its approvers, the no-leak check): the real AWS API MCP
//! server (PyPI awslabs.aws-api-mcp-server, target/mcp-aws) pointed at moto, a small
//! server made with the Python `mcp` SDK for tools nobody mapped (server.py), and the
//! Python SDK's client (client.py, target/mcp) that launches `parapet proxy mcp` over
//! stdio as an agent's MCP client would, on either revision of the specification.
//!
//! The AWS server holds the proxy tests' canary credentials, so [`Stack::finish`]
//! also proves the gateway never shows them to anyone.
#![allow(dead_code)]

use crate::common::{http, root};
use crate::proxy_common::*;
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The client modes client.py takes: the initialize handshake (2025-11-25) and the
/// stateless revision (no initialize, protocol version per request).
pub const REVISIONS: [&str; 2] = ["legacy", "2026-07-28"];

/// The name the AWS API MCP server goes by in mappings and policies.
pub const AWS_SERVER: &str = "aws-api";
/// The name of server.py.
pub const TEST_SERVER: &str = "deploy";

/// target/mcp: the Python MCP SDK (client.py, server.py).
pub fn client_venv() -> PathBuf {
    venv_at("mcp", "MCP_PINS")
}

/// target/mcp-aws: the AWS API MCP server (it needs mcp<2, so a venv of its own).
pub fn aws_venv() -> PathBuf {
    venv_at("mcp-aws", "MCP_AWS_PINS")
}

fn script(name: &str) -> String {
    root()
        .join("crates/cli/tests/mcp_common")
        .join(name)
        .display()
        .to_string()
}

/// Which MCP server sits behind the gateway.
#[derive(Clone, Copy, PartialEq)]
pub enum Upstream {
    /// The AWS API MCP server, against moto.
    Aws,
    /// server.py (echo, deploy_service, crash, flood).
    Test,
}

impl Upstream {
    pub fn name(self) -> &'static str {
        match self {
            Upstream::Aws => AWS_SERVER,
            Upstream::Test => TEST_SERVER,
        }
    }

    /// The command that starts the server on stdio.
    pub fn argv(self) -> Vec<String> {
        match self {
            Upstream::Aws => vec![
                aws_venv().join("bin/python").display().to_string(),
                script("aws_server.py"),
            ],
            Upstream::Test => vec![
                client_venv().join("bin/python").display().to_string(),
                script("server.py"),
            ],
        }
    }
}

/// A test's stack with an agent that holds a parapet token (not AWS keys).
pub struct Mcp {
    pub s: Stack,
    /// agent:kiro's parapet token: all the gateway learns identity from.
    pub token: String,
    /// The AWS server's working directory.
    pub work: PathBuf,
    /// Where server.py writes down every call that reached it.
    pub calls: PathBuf,
}

impl Mcp {
    pub fn start(tag: &str, opts: Opts) -> Mcp {
        let s = Stack::start(&format!("mcp-{tag}"), opts);
        let o = parapet()
            .args(["token", "create", "--server", &s.server.url()])
            .args([
                "--name",
                "kiro-mcp",
                "--role",
                "agent",
                "--actor",
                "agent:kiro",
            ])
            .env("PARAPET_TOKEN", &s.admin)
            .output()
            .unwrap();
        let text = s.keep(&o);
        assert!(o.status.success(), "token create: {text}");
        let token = String::from_utf8_lossy(&o.stdout).trim().to_string();
        let work = s.dir.join("mcp-work");
        std::fs::create_dir_all(&work).unwrap();
        let calls = s.dir.join("calls.jsonl");
        Mcp {
            s,
            token,
            work,
            calls,
        }
    }

    /// `parapet proxy mcp --server URL --name NAME EXTRA... -- SERVER`: the command an
    /// agent's MCP client is configured to launch.
    pub fn gateway(&self, up: Upstream, extra: &[&str]) -> Vec<String> {
        let url = self.s.server.url();
        self.gateway_judged(&["--server", &url], up, extra)
    }

    /// `parapet proxy mcp JUDGE... --name NAME EXTRA... -- SERVER`.
    pub fn gateway_judged(&self, judge: &[&str], up: Upstream, extra: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = vec![
            env!("CARGO_BIN_EXE_parapet").into(),
            "proxy".into(),
            "mcp".into(),
        ];
        v.extend(judge.iter().map(|s| s.to_string()));
        v.extend(["--name".into(), up.name().into()]);
        v.extend(extra.iter().map(|s| s.to_string()));
        v.push("--".into());
        v.extend(up.argv());
        v
    }

    /// The gateway as a service: `--listen 127.0.0.1:0` with `judge` settings, in the
    /// servers' environment but without the agent's token (each request brings one).
    pub fn listen(&self, up: Upstream, judge: &[&str]) -> Proc {
        let argv = self.gateway_judged(judge, up, &["--listen", "127.0.0.1:0"]);
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..]).env_clear();
        for (k, v) in self.client_cmd(&[]).get_envs() {
            if let (Some(v), false) = (v, k == "PARAPET_TOKEN") {
                cmd.env(k, v);
            }
        }
        Proc::spawn(cmd, self.s.dir.join("gateway.err"))
    }

    /// client.py with `args` (`--mode ... --steps ... -- COMMAND`), in the environment
    /// an agent's MCP configuration gives it: the parapet token for the gateway, and
    /// for the AWS server moto's endpoint, a region and the credentials only it holds.
    pub fn client_cmd(&self, args: &[String]) -> Command {
        let mut c = Command::new(client_venv().join("bin/python"));
        c.arg(script("client.py"))
            .args(args)
            .current_dir(&self.s.dir)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", std::env::temp_dir())
            .env("PARAPET_TOKEN", &self.token)
            .env("PARAPET_LOG", "debug")
            .env("MCP_TEST_CALLS", &self.calls)
            .env("AWS_ENDPOINT_URL", self.s.moto.url())
            .env("AWS_REGION", "eu-west-1")
            .env("AWS_ACCESS_KEY_ID", REAL_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", REAL_SECRET)
            .env("AWS_CONFIG_FILE", "/nonexistent/parapet-test/config")
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                "/nonexistent/parapet-test/credentials",
            )
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_MAX_ATTEMPTS", "1")
            .env("AWS_API_MCP_WORKING_DIR", &self.work)
            .env("AWS_API_MCP_TELEMETRY", "false")
            .env("AWS_API_MCP_SUPPRESS_DEPRECATION_WARNING", "true");
        c
    }

    /// Run client.py to its end: its output, kept for the no-leak check.
    pub fn run(&self, args: &[String]) -> Output {
        let o = self.client_cmd(args).output().unwrap();
        self.s.keep(&o);
        o
    }

    /// Start client.py in the background (a call that waits for approval).
    pub fn spawn(&self, args: &[String]) -> Child {
        self.client_cmd(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// The steps through the gateway in front of `up`, on revision `mode`; every
    /// step's JSON line. The client must have ended cleanly.
    pub fn steps(&self, mode: &str, up: Upstream, extra: &[&str], steps: Value) -> Vec<Value> {
        let args = client_args(mode, &steps, None, &self.gateway(up, extra));
        lines(&self.finished(self.run(&args), &args))
    }

    /// One `tools/call` through the gateway; its JSON line.
    pub fn call(&self, mode: &str, up: Upstream, tool: &str, args: Value) -> Value {
        let steps = serde_json::json!([{"op": "call", "tool": tool, "args": args}]);
        self.steps(mode, up, &[], steps).remove(0)
    }

    /// `call_aws` with this command line through the gateway.
    pub fn aws(&self, mode: &str, cli: &str) -> Value {
        self.call(
            mode,
            Upstream::Aws,
            "call_aws",
            serde_json::json!({ "cli_command": cli }),
        )
    }

    /// The output of a client that must have succeeded.
    pub fn finished(&self, o: Output, args: &[String]) -> Output {
        assert!(
            o.status.success(),
            "client.py {args:?}: exit {:?}\n{}{}",
            o.status.code(),
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        o
    }

    /// The calls that reached server.py.
    pub fn reached_test_server(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.calls)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The decisions waiting for approvers, newest first, as alice sees them.
    pub fn pending(&self) -> Vec<Value> {
        let (_, v) = http(
            self.s.server.port,
            "GET",
            "/v1/decisions?state=pending",
            Some(&self.s.alice),
            None,
        );
        v.as_array().cloned().unwrap_or_default()
    }

    /// Both approvers approve `id` through the API.
    pub fn approve_twice(&self, id: &str) {
        for t in [&self.s.alice, &self.s.bob] {
            let (status, v) = self.s.vote(t, id, "approve");
            assert_eq!(status, 200, "approve {id}: {v}");
        }
    }

    pub fn finish(self) {
        self.s.finish();
    }
}

/// client.py's arguments: mode, steps, elicitation answer, then the command.
pub fn client_args(mode: &str, steps: &Value, elicit: Option<&str>, cmd: &[String]) -> Vec<String> {
    let mut v = vec![
        "--mode".to_string(),
        mode.to_string(),
        "--steps".to_string(),
        steps.to_string(),
    ];
    if let Some(e) = elicit {
        v.extend(["--elicit".to_string(), e.to_string()]);
    }
    v.push("--".into());
    v.extend(cmd.iter().cloned());
    v
}

/// `args` with client.py writing elicitations and progress to `events` as they come.
pub fn with_events(mut args: Vec<String>, events: &std::path::Path) -> Vec<String> {
    args.splice(0..0, ["--events".to_string(), events.display().to_string()]);
    args
}

/// The events client.py wrote so far.
pub fn events(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Standard output's JSON lines.
pub fn lines(o: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect()
}

/// What the AWS server answered `call_aws` with: the AWS response as JSON.
pub fn aws_response(step: &Value) -> Value {
    assert_eq!(step["is_error"], false, "the call succeeded: {step}");
    let r = &step["structured"]["result"][0]["response"];
    assert_eq!(r["status_code"], 200, "{step}");
    serde_json::from_str(r["as_json"].as_str().unwrap()).unwrap()
}

/// Keep a process's output for the no-leak check.
pub fn keep_text(s: &Stack, text: String) {
    s.keep(&Output {
        status: std::process::ExitStatus::default(),
        stdout: text.into_bytes(),
        stderr: Vec::new(),
    });
}

/// Poll until something is true; a hang guard, not a timing assertion.
pub fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(90) {
        if let Some(t) = f() {
            return t;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("gave up waiting for {what}");
}
