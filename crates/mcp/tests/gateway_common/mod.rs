//! Harness for the gateway's tests: the real test MCP server (examples/mcp_test_server)
//! behind the real gateway, rmcp's own client in front, over stdio-like pipes or HTTP.
//!
//! The judge is a scripted [`Gatekeeper`] here: these tests cover the protocol
//! plumbing (forwarding, elicitation, progress, pending, faults), not the policies;
//! the judge's own tests and crates/cli/tests/mcp_*.rs run the real one.

#![allow(dead_code)]

use parapet_mcp::gateway::{GateError, Gatekeeper, Gateway, Settings, UpstreamSpec};
use parapet_mcp::{Caller, MappedAction, Mapping, ToolCall, Verdict};
use rmcp::model::*;
use rmcp::service::{
    ClientLifecycleMode, ClientServiceExt, NotificationContext, RequestContext, RoleClient,
    RunningService,
};
use rmcp::ClientHandler;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const APPROVAL_URL: &str = "https://parapet.example.com/ui/decisions/dec_review1";

/// Verdicts by tool: `delete_db` on `prod` denied, on anything else reviewed; `admin`
/// hidden and denied; everything else allowed. A review is approved once `approved`.
#[derive(Default)]
pub struct Scripted {
    pub approved: AtomicBool,
    pub judged: AtomicUsize,
    pub waits: AtomicUsize,
}

type Fut<'a, T> = Pin<Box<dyn Future<Output = Result<T, GateError>> + Send + 'a>>;

fn err(s: &str) -> GateError {
    GateError(s.to_string().into())
}

impl Gatekeeper for Scripted {
    fn authenticate<'a>(&'a self, token: &'a str) -> Fut<'a, Caller> {
        Box::pin(async move {
            match token {
                "agent-token" => Ok(Caller {
                    actor: "agent:test".into(),
                }),
                "other-token" => Ok(Caller {
                    actor: "agent:other".into(),
                }),
                _ => Err(err("unknown token")),
            }
        })
    }

    fn map(&self, call: &ToolCall<'_>) -> Mapping {
        Mapping::Actions(vec![MappedAction {
            action: format!("test:{}", call.tool),
            resource: None,
            params: serde_json::Value::Object(call.arguments.clone()),
            access: None,
        }])
    }

    fn static_actions(&self, _server: &str, _tool: &str) -> Option<Vec<MappedAction>> {
        None
    }

    fn judge<'a>(
        &'a self,
        _caller: &'a Caller,
        call: &'a ToolCall<'a>,
        _mapping: &'a Mapping,
    ) -> Fut<'a, Verdict> {
        self.judged.fetch_add(1, Ordering::SeqCst);
        let id = call.arguments.get("id").and_then(|v| v.as_str());
        let v = match (call.tool, id) {
            ("admin", _) => Verdict::Deny {
                decision: Some("dec_hidden".into()),
                reason: "policy forbids admin for agents".into(),
            },
            ("delete_db", Some("prod")) => Verdict::Deny {
                decision: Some("dec_deny1".into()),
                reason: "deleting the production database is forbidden".into(),
            },
            ("delete_db", _) if self.approved.load(Ordering::SeqCst) => Verdict::Allow {
                decision: Some("dec_review1".into()),
            },
            ("delete_db", _) => Verdict::Review {
                decision: "dec_review1".into(),
                reason: "deleting a database needs one approval".into(),
                explanation: "The database and its data would be destroyed.".into(),
                approval_url: Some(APPROVAL_URL.into()),
            },
            _ => Verdict::Allow { decision: None },
        };
        Box::pin(async move { Ok(v) })
    }

    fn wait<'a>(
        &'a self,
        _caller: &'a Caller,
        decision: &'a str,
        deadline: Instant,
        tick: &'a mut (dyn FnMut(Duration) + Send),
    ) -> Fut<'a, Verdict> {
        self.waits.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            let start = Instant::now();
            loop {
                if self.approved.load(Ordering::SeqCst) {
                    return Ok(Verdict::Allow {
                        decision: Some(decision.into()),
                    });
                }
                if Instant::now() >= deadline {
                    return Ok(Verdict::Review {
                        decision: decision.into(),
                        reason: "deleting a database needs one approval".into(),
                        explanation: "The database and its data would be destroyed.".into(),
                        approval_url: Some(APPROVAL_URL.into()),
                    });
                }
                tick(start.elapsed());
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    }

    fn visible<'a>(
        &'a self,
        _caller: &'a Caller,
        _server: &'a str,
        tool: &'a str,
        _actions: Option<&'a [MappedAction]>,
    ) -> Fut<'a, bool> {
        Box::pin(async move { Ok(tool != "admin") })
    }
}

/// The test server binary (examples/mcp_test_server). `cargo test` builds examples;
/// nextest does not, so it is built here when missing (cargo serialises concurrent
/// builds).
pub fn test_server() -> String {
    let exe = std::env::current_exe().expect("test executable");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let path = dir.join("examples").join("mcp_test_server");
    if !path.exists() {
        let status = std::process::Command::new(env!("CARGO"))
            .args([
                "build",
                "--quiet",
                "-p",
                "parapet-mcp",
                "--example",
                "mcp_test_server",
            ])
            .status()
            .expect("run cargo");
        assert!(status.success(), "building the test server failed");
    }
    assert!(path.exists(), "{} is missing", path.display());
    path.to_string_lossy().into_owned()
}

pub fn stdio_server() -> UpstreamSpec {
    UpstreamSpec::Command {
        program: test_server(),
        args: vec![],
    }
}

/// Start the test server over HTTP; returns its URL and the process.
pub async fn http_server() -> (String, tokio::process::Child) {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(test_server())
        .args(["--http", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the test server");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    tokio::io::BufReader::new(stdout)
        .read_line(&mut line)
        .await
        .expect("first line");
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .expect("listening line")
        .to_string();
    (url, child)
}

/// What the test client saw.
#[derive(Default)]
pub struct Seen {
    pub elicitations: Mutex<Vec<ElicitRequestParams>>,
    pub progress: AtomicUsize,
}

/// rmcp's client with elicitation (form and URL) when `elicit` is set: it approves the
/// review (as an approver would, elsewhere) and accepts to wait.
#[derive(Clone)]
pub struct TestClient {
    pub seen: Arc<Seen>,
    pub gate: Arc<Scripted>,
    pub elicit: bool,
}

impl ClientHandler for TestClient {
    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _ctx: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        self.seen.elicitations.lock().unwrap().push(request);
        self.gate.approved.store(true, Ordering::SeqCst);
        Ok(ElicitResult::new(ElicitationAction::Accept))
    }

    async fn on_progress(
        &self,
        _params: ProgressNotificationParam,
        _ctx: NotificationContext<RoleClient>,
    ) {
        self.seen.progress.fetch_add(1, Ordering::SeqCst);
    }

    fn get_info(&self) -> ClientConfig {
        let mut caps = ClientCapabilities::default();
        if self.elicit {
            caps = ClientCapabilities::builder().enable_elicitation().build();
            if let Some(e) = caps.elicitation.as_mut() {
                e.form = Some(Default::default());
                e.url = Some(Default::default());
            }
        }
        ClientConfig::new(caps, Implementation::new("test-client", "1.0.0"))
    }
}

/// Which specification revision the client speaks.
#[derive(Clone, Copy, Debug)]
pub enum Rev {
    V2025,
    V2026,
}

pub fn lifecycle(rev: Rev) -> ClientLifecycleMode {
    match rev {
        Rev::V2025 => ClientLifecycleMode::Initialize,
        Rev::V2026 => ClientLifecycleMode::Discover {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        },
    }
}

pub struct Session {
    pub client: RunningService<RoleClient, TestClient>,
    pub seen: Arc<Seen>,
    pub gate: Arc<Scripted>,
    pub served: tokio::task::JoinHandle<Result<(), parapet_mcp::gateway::GatewayError>>,
    pub upstream_pid: Option<u32>,
}

pub fn settings() -> Settings {
    Settings {
        hold: Duration::from_secs(5),
        call_timeout: Duration::from_secs(10),
        max_message: 1 << 20,
    }
}

/// A gateway on pipes (as stdio) in front of `spec`, and a client speaking `rev`.
pub async fn stdio_session(
    spec: UpstreamSpec,
    rev: Rev,
    elicit: bool,
    settings: Settings,
) -> Session {
    let gate = Arc::new(Scripted::default());
    let gateway = Gateway::start(gate.clone(), &spec, None, settings)
        .await
        .expect("gateway starts");
    assert_eq!(gateway.server_name(), "test-server");
    let upstream_pid = gateway.upstream_pid();
    let (client_io, gateway_io) = tokio::io::duplex(1 << 16);
    let (read, write) = tokio::io::split(gateway_io);
    let caller = Caller {
        actor: "agent:test".into(),
    };
    let served = tokio::spawn(gateway.serve_stdio(caller, read, write));
    let seen = Arc::new(Seen::default());
    let handler = TestClient {
        seen: seen.clone(),
        gate: gate.clone(),
        elicit,
    };
    let client = handler
        .serve_with_lifecycle(client_io, lifecycle(rev))
        .await
        .expect("client connects");
    Session {
        client,
        seen,
        gate,
        served,
        upstream_pid,
    }
}

pub fn call(tool: &str, args: serde_json::Value) -> CallToolRequestParams {
    let mut p = CallToolRequestParams::new(tool.to_string());
    if let serde_json::Value::Object(m) = args {
        p.arguments = Some(m);
    }
    p
}

pub fn text_of(r: &CallToolResult) -> String {
    r.content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Is process `pid` gone (exited and reaped)? A zombie counts as not gone.
pub fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(s) => s
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('X')),
    }
}

/// Wait (bounded) until `pid` is gone; false if it is still there after 10 s.
pub async fn wait_gone(pid: u32) -> bool {
    for _ in 0..200 {
        if gone(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}
