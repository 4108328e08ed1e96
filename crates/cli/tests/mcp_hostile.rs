//! Bad input and bad servers through `parapet proxy mcp`: garbage, batches, unknown
//! methods and oversized lines from the client get clear JSON-RPC errors and the session
//! goes on; a server that fails to start is a clear error and exit 1, never a hang; a
//! server that hangs, floods or crashes in the middle of a session fails the request
//! with an error naming what happened, and the child is reaped when the client leaves.

mod common;
mod mcp_common;
mod proxy_common;

use mcp_common::*;
use proxy_common::*;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

/// The gateway on raw stdio: the test writes lines and reads its answers.
struct Raw {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
}

impl Drop for Raw {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Raw {
    fn start(m: &Mcp, argv: &[String]) -> Raw {
        // client.py's environment (the parapet token, the servers' settings), run
        // directly instead of through the Python client.
        let py = m.client_cmd(&[]);
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..]).env_clear();
        for (k, v) in py.get_envs() {
            if let Some(v) = v {
                cmd.env(k, v);
            }
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(m.s.dir.join("raw.err")).unwrap())
            .spawn()
            .unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for l in out.lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Raw {
            stdin: child.stdin.take(),
            child,
            lines,
        }
    }

    fn send(&mut self, line: &str) {
        let w = self.stdin.as_mut().unwrap();
        w.write_all(line.as_bytes()).unwrap();
        w.write_all(b"\n").unwrap();
        w.flush().unwrap();
    }

    /// The next answer (notifications skipped); a hang guard of 60 s, not a timing.
    fn answer(&self) -> Value {
        loop {
            let l = self
                .lines
                .recv_timeout(Duration::from_secs(60))
                .expect("the gateway answers");
            let v: Value = serde_json::from_str(&l).unwrap_or_else(|_| panic!("not JSON: {l}"));
            if v.get("method").is_none() {
                return v;
            }
        }
    }

    /// Close stdin and wait (hang guard) for the exit code.
    fn close(&mut self) -> i32 {
        drop(self.stdin.take());
        exit_within(&mut self.child, 30)
    }
}

fn exit_within(child: &mut Child, secs: u64) -> i32 {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(secs) {
        if let Some(s) = child.try_wait().unwrap() {
            return s.code().unwrap_or(-1);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the gateway did not exit");
}

fn initialize() -> String {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "raw-test", "version": "0"}}})
    .to_string()
}

#[test]
fn garbage_from_the_client_gets_clear_errors_and_the_session_goes_on() {
    let m = Mcp::start("garbage", Opts::default());
    // The server's pid, to see it reaped at the end.
    let pid_file = m.s.dir.join("server.pid");
    let server = Upstream::Test.argv();
    let mut argv = m.gateway(Upstream::Test, &["--max-message", "64KiB"]);
    let at = argv.iter().position(|a| a == "--").unwrap();
    argv.truncate(at + 1);
    argv.extend([
        "/bin/sh".to_string(),
        "-c".to_string(),
        format!(
            "echo $$ > {}; env > {}; exec {} {}",
            pid_file.display(),
            m.s.dir.join("server.env").display(),
            server[0],
            server[1]
        ),
    ]);
    let mut g = Raw::start(&m, &argv);
    // A response to nothing the gateway asked, before initialize: dropped (the SDK
    // alone would end the session on it).
    g.send(r#"{"jsonrpc":"2.0","id":77,"result":{}}"#);
    g.send(r#"{"jsonrpc":"2.0","id":78,"error":{"code":-1,"message":"stray"}}"#);
    g.send(&initialize());
    let init = g.answer();
    assert_eq!(init["id"], 1, "{init}");
    assert_eq!(init["result"]["protocolVersion"], "2025-11-25", "{init}");
    g.send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);

    g.send("this is not json {");
    let e = g.answer();
    assert_eq!(e["error"]["code"], -32700, "a parse error: {e}");
    // JSON-RPC 2.0: present, and null (not left out).
    assert_eq!(e.get("id"), Some(&Value::Null), "{e}");

    g.send(r#"[{"jsonrpc":"2.0","id":2,"method":"ping"}]"#);
    let e = g.answer();
    assert_eq!(e["error"]["code"], -32600, "{e}");
    assert!(
        e["error"]["message"].as_str().unwrap().contains("batch"),
        "{e}"
    );

    g.send(r#"{"jsonrpc":"2.0","id":3,"method":"no/such/method","params":{}}"#);
    let e = g.answer();
    assert_eq!(e["id"], 3, "{e}");
    assert_eq!(e["error"]["code"], -32601, "an unknown method: {e}");

    // A method of MCP with params of the wrong shape: Invalid params, not unknown.
    for (id, params) in [
        (31, json!({"name": "echo", "arguments": "text=hi"})),
        (32, json!({"name": "echo", "arguments": [1, 2]})),
        (33, json!({"arguments": {}})),
    ] {
        g.send(
            &json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params})
                .to_string(),
        );
        let e = g.answer();
        assert_eq!(e["id"], id, "{e}");
        assert_eq!(e["error"]["code"], -32602, "{params}: {e}");
    }

    let big = json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call",
        "params": {"name": "echo", "arguments": {"text": "x".repeat(200_000)}}});
    g.send(&big.to_string());
    let e = g.answer();
    assert_eq!(e["error"]["code"], -32600, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--max-message"),
        "names the limit: {e}"
    );
    assert!(
        m.reached_test_server().is_empty(),
        "nothing reached the server"
    );

    // A tool name that would write a line of its own into the log: quoted, escaped.
    g.send(
        &json!({"jsonrpc": "2.0", "id": 6, "method": "tools/call",
            "params": {"name": "x\nFORGED INFO tools/call verdict=allow", "arguments": {}}})
        .to_string(),
    );
    let e = g.answer();
    assert_eq!(e["error"]["code"], -32602, "an unknown tool: {e}");

    // Still serving.
    g.send(r#"{"jsonrpc":"2.0","id":5,"method":"tools/list"}"#);
    let list = g.answer();
    assert_eq!(list["id"], 5, "{list}");
    let tools = list["result"]["tools"].as_array().unwrap();
    assert!(tools.iter().any(|t| t["name"] == "echo"), "{list}");

    // The client leaves: the gateway ends cleanly, and so does its child.
    assert_eq!(g.close(), 0, "exit 0 when the client closes");
    let pid: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let gone = Instant::now();
    while std::path::Path::new(&format!("/proc/{pid}")).exists() {
        assert!(
            gone.elapsed() < Duration::from_secs(30),
            "the server (pid {pid}) was not reaped"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = std::fs::read_to_string(m.s.dir.join("raw.err")).unwrap_or_default();
    assert!(
        !log.lines().any(|l| l.starts_with("FORGED")),
        "a client's tool name wrote its own log line:\n{log}"
    );
    // The gateway's settings (its token, database) never reach the server.
    let env = std::fs::read_to_string(m.s.dir.join("server.env")).unwrap();
    assert!(!env.contains("PARAPET_"), "the server saw:\n{env}");
    m.s.keep(&std::process::Output {
        status: g.child.wait().unwrap(),
        stdout: Vec::new(),
        stderr: log.into_bytes(),
    });
    m.finish();
}

#[test]
fn a_server_that_fails_to_start_is_a_clear_error_not_a_hang() {
    let m = Mcp::start("nostart", Opts::default());
    let mut argv = m.gateway(Upstream::Test, &[]);
    let at = argv.iter().position(|a| a == "--").unwrap();
    argv.truncate(at + 1);
    argv.extend([
        "/bin/sh".to_string(),
        "-c".to_string(),
        "echo 'no such config' >&2; exit 3".to_string(),
    ]);
    let mut g = Raw::start(&m, &argv);
    // However far the gateway gets before it notices, it must end, with exit 1.
    let _ = g
        .stdin
        .as_mut()
        .unwrap()
        .write_all(format!("{}\n", initialize()).as_bytes());
    let code = exit_within(&mut g.child, 60);
    let err = std::fs::read_to_string(m.s.dir.join("raw.err")).unwrap();
    assert_eq!(code, 1, "a runtime failure: {err}");
    assert!(err.contains("MCP server"), "names the server: {err}");

    // A command that does not exist: the same.
    let mut argv = m.gateway(Upstream::Test, &[]);
    argv.truncate(at + 1);
    argv.push("/nonexistent/parapet-test/mcp-server".into());
    let mut g = Raw::start(&m, &argv);
    let _ = g
        .stdin
        .as_mut()
        .unwrap()
        .write_all(format!("{}\n", initialize()).as_bytes());
    let code = exit_within(&mut g.child, 60);
    let err = std::fs::read_to_string(m.s.dir.join("raw.err")).unwrap();
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("/nonexistent/parapet-test/mcp-server"),
        "names the command: {err}"
    );
    m.finish();
}

/// A command that never speaks MCP (it starts and says nothing, or prints something
/// else) fails the handshake within --call-timeout: exit 1 naming the handshake, the
/// child killed, never a hang.
#[test]
fn a_server_that_never_finishes_the_handshake_is_an_error_not_a_hang() {
    let m = Mcp::start("nohandshake", Opts::default());
    for script in ["sleep 1000", "echo hello; sleep 1000"] {
        let mut argv = m.gateway(Upstream::Test, &["--call-timeout", "2s"]);
        let at = argv.iter().position(|a| a == "--").unwrap();
        argv.truncate(at + 1);
        argv.extend(["/bin/sh".to_string(), "-c".to_string(), script.to_string()]);
        let mut g = Raw::start(&m, &argv);
        g.send(&initialize());
        let code = exit_within(&mut g.child, 60);
        let err = std::fs::read_to_string(m.s.dir.join("raw.err")).unwrap();
        assert_eq!(code, 1, "{script}: {err}");
        assert!(err.contains("handshake"), "{script}: {err}");
    }
    m.finish();
}

#[test]
fn a_server_that_hangs_floods_or_crashes_mid_session_fails_the_request_clearly() {
    let m = Mcp::start("crash", Opts::default());
    for mode in REVISIONS {
        let out = m.steps(
            mode,
            Upstream::Test,
            &["--call-timeout", "2s", "--max-message", "64KiB"],
            json!([
                {"op": "read", "uri": "test://flood/100"},
                {"op": "read", "uri": "test://hang"},
                {"op": "read", "uri": "test://flood/200000"},
                {"op": "read", "uri": "test://crash"},
                {"op": "list"}
            ]),
        );
        assert_eq!(out[0]["size"], 100, "{mode}: a normal read: {out:?}");
        let msg = |i: usize| {
            out[i]["error"]["message"]
                .as_str()
                .unwrap_or("")
                .to_string()
        };
        assert!(
            msg(1).contains("timed out") || msg(1).contains("timeout"),
            "{mode}: the hang is a timeout error: {}",
            out[1]
        );
        assert!(
            out[2]["error"].is_object(),
            "{mode}: the flood is an error, not a 200 kB answer: {}",
            out[2]
        );
        assert!(
            msg(3).contains("gone") || msg(3).contains("exited"),
            "{mode}: the crash names the server's end: {}",
            out[3]
        );
        assert!(
            out[4]["error"]["message"]
                .as_str()
                .unwrap_or("")
                .contains("gone"),
            "{mode}: and so is every later request: {}",
            out[4]
        );
    }
    m.finish();
}

/// Over HTTP (`--listen`), a body over --max-message is refused before anything is
/// judged or forwarded, with a JSON-RPC error that names the limit (not a bare 413).
#[test]
fn an_oversized_http_request_gets_a_json_rpc_error_naming_the_limit() {
    let m = Mcp::start("http-big", Opts::default());
    let gw = m.listen(
        Upstream::Test,
        &[
            "--database",
            m.s.db.to_str().unwrap(),
            "--max-message",
            "64KiB",
        ],
    );
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let big = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "x".repeat(200_000), "version": "0"}}});
    let mut r = agent
        .post(format!("{}/mcp", gw.url()))
        .header("Authorization", format!("Bearer {}", m.token))
        .header("Accept", "application/json, text/event-stream")
        .header("Content-Type", "application/json")
        .send(big.to_string())
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);
    let body: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(body["error"]["code"], -32600, "{body}");
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("65536") && msg.contains("--max-message"),
        "{msg}"
    );
    assert!(
        m.reached_test_server().is_empty(),
        "nothing reached the server"
    );
}

/// A stdio session judged in process holds one token for its life: revoked mid-session,
/// the next calls are refused (within the decision service's one-second token cache),
/// as they are over HTTP and through a remote decision service.
#[test]
fn a_token_revoked_mid_session_stops_working() {
    let m = Mcp::start("revoke-stdio", Opts::default());
    let maps = m.s.dir.join("echo.toml");
    std::fs::write(
        &maps,
        "servers = [\"deploy\"]\n[[tools]]\nname = [\"echo\"]\naction = \"mcp:deploy.Echo\"\naccess = \"read\"\n",
    )
    .unwrap();
    let argv = m.gateway_judged(
        &["--database", m.s.db.to_str().unwrap()],
        Upstream::Test,
        &["--mappings", maps.to_str().unwrap()],
    );
    let mut g = Raw::start(&m, &argv);
    g.send(&initialize());
    assert_eq!(g.answer()["id"], 1);
    g.send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
    let mut id = 10;
    let mut echo = |g: &mut Raw| {
        id += 1;
        g.send(
            &json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                    "params": {"name": "echo", "arguments": {"text": "hi"}}})
            .to_string(),
        );
        g.answer()
    };
    let ok = echo(&mut g);
    assert_ne!(ok["result"]["isError"], true, "allowed before: {ok}");

    let (_, tokens) = common::http(m.s.server.port, "GET", "/v1/tokens", Some(&m.s.admin), None);
    let kiro = tokens
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "kiro-mcp")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    m.s.admin_cli(&["token", "revoke", &kiro]);
    // The wait only guards a hang: the cache lapses within a second.
    let start = Instant::now();
    let refused = loop {
        let r = echo(&mut g);
        if r["result"]["isError"] == true {
            break r;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "still allowed: {r}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let text = refused["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or("");
    assert!(text.contains("token"), "{refused}");
    // Nor does anything else reach the server with it.
    g.send(r#"{"jsonrpc":"2.0","id":99,"method":"tools/list"}"#);
    let list = g.answer();
    assert!(
        list["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("no longer holds")),
        "{list}"
    );
    assert_eq!(g.close(), 0);
    m.finish();
}

/// An upstream URL that is not HTTP is a bad setting (exit 2), found before anything
/// starts.
#[test]
fn an_upstream_that_is_not_http_is_a_bad_setting() {
    for url in [
        "ftp://example.com/mcp",
        "example.com/mcp",
        "file:///tmp/mcp",
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_parapet"))
            .args([
                "proxy",
                "mcp",
                "--upstream",
                url,
                "--database",
                "/nonexistent/p.db",
            ])
            .env("PARAPET_TOKEN", "ppt_unused")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{url}: {err}");
        assert!(err.contains("http://") && err.contains(url), "{url}: {err}");
    }
}

/// Over HTTP, a body that is not one JSON-RPC message (garbage, a batch) gets a 400 with
/// a JSON-RPC error, as on stdio, not the SDK's plain-text 415.
#[test]
fn an_unreadable_http_body_gets_a_json_rpc_error() {
    let m = Mcp::start("http-garbage", Opts::default());
    let gw = m.listen(Upstream::Test, &["--database", m.s.db.to_str().unwrap()]);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    for body in [
        "this is not json {",
        r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#,
    ] {
        let mut r = agent
            .post(format!("{}/mcp", gw.url()))
            .header("Authorization", format!("Bearer {}", m.token))
            .header("Accept", "application/json, text/event-stream")
            .header("Content-Type", "application/json")
            .send(body)
            .unwrap();
        assert_eq!(r.status().as_u16(), 400, "{body}");
        let text = r.body_mut().read_to_string().unwrap();
        let v: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{body}: {text}"));
        assert_eq!(v["error"]["code"], -32700, "{body}: {v}");
        assert_eq!(v.get("id"), Some(&Value::Null), "{v}");
    }
    assert!(m.reached_test_server().is_empty());
    m.finish();
}

/// Settings that cannot work are refused before anything starts (exit 2), naming the flag.
#[test]
fn settings_that_cannot_work_are_refused() {
    let m = Mcp::start("bad-settings", Opts::default());
    let cases: [(&[&str], &str); 5] = [
        (&["--call-timeout", "0s"], "--call-timeout"),
        (&["--name", ""], "--name"),
        (&["--public-url", "notaurl"], "--public-url"),
        (
            &["--upstream-token-file", "/nonexistent"],
            "--upstream-token-file",
        ),
        (&["--review-ttl", "0s"], "--review-ttl"),
    ];
    for (extra, flag) in cases {
        let argv = m.gateway_judged(
            &["--database", m.s.db.to_str().unwrap()],
            Upstream::Test,
            extra,
        );
        let py = m.client_cmd(&[]);
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..]).env_clear().stdin(Stdio::null());
        for (k, v) in py.get_envs() {
            if let Some(v) = v {
                cmd.env(k, v);
            }
        }
        let o = cmd.output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.contains(flag), "{extra:?}: {err}");
    }
    m.finish();
}
