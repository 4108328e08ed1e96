//! `plan check --server`: submit to the decision service and wait for the outcome.

use crate::{EXIT_ALLOW, EXIT_HELD};
use anyhow::{bail, Context, Result};
use clap::parser::ValueSource;
use clap::ArgMatches;
use serde_json::Value;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// A one-line spinner on standard error, only on a terminal.
struct Spinner {
    stop: Arc<AtomicBool>,
    message: Arc<Mutex<String>>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Spinner {
    fn start() -> Spinner {
        let stop = Arc::new(AtomicBool::new(false));
        let message = Arc::new(Mutex::new(String::new()));
        let handle = std::io::stderr().is_terminal().then(|| {
            let (stop, message) = (stop.clone(), message.clone());
            std::thread::spawn(move || {
                let frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let m = message.lock().map(|m| m.clone()).unwrap_or_default();
                    eprint!("\r\x1b[2K{} {m}", frames[i % frames.len()]);
                    let _ = std::io::stderr().flush();
                    i += 1;
                    std::thread::sleep(Duration::from_millis(100));
                }
                eprint!("\r\x1b[2K");
            })
        });
        Spinner {
            stop,
            message,
            handle,
        }
    }

    /// Show `m`: on a terminal as the spinner's line, elsewhere as a line of its own
    /// when it differs from the last one (a log gets each change once).
    fn say(&self, m: String) {
        if let Ok(mut g) = self.message.lock() {
            if self.handle.is_none() && *g != m {
                eprintln!("{m}");
            }
            *g = m;
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn request(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    token: &str,
    body: Option<String>,
) -> Result<(u16, Value)> {
    let auth = format!("Bearer {token}");
    let mut resp = match (method, body) {
        ("POST", Some(b)) => agent
            .post(url)
            .header("Authorization", &auth)
            .content_type("application/json")
            .send(b),
        _ => agent.get(url).header("Authorization", &auth).call(),
    }
    .with_context(|| format!("contacting the decision service at {url}"))?;
    let status = resp.status().as_u16();
    let text = resp
        .body_mut()
        .with_config()
        .limit(1 << 30)
        .read_to_string()
        .context("reading the decision service's answer")?;
    let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok((status, v))
}

fn state_line(v: &Value) -> String {
    let a = &v["approval"];
    match v["state"].as_str().unwrap_or("?") {
        "pending" => format!(
            "{}: waiting for approval: {}/{} approvals, review at {}",
            v["id"].as_str().unwrap_or("?"),
            a["approvals"],
            a["approvers_required"],
            v["review_url"].as_str().unwrap_or("(no web UI link)")
        ),
        "cooling_off" => format!(
            "{}: approved, cooling off until {}",
            v["id"].as_str().unwrap_or("?"),
            a["executable_at"]
        ),
        s => format!("{}: {s}", v["id"].as_str().unwrap_or("?")),
    }
}

/// Submit a plan (already decoded to text) and wait for a final answer.
/// `actor`, when given, is sent for the server to check against the token's: a
/// different one is refused there, never used.
pub fn submit_plan(
    server: &str,
    token: &str,
    actor: Option<String>,
    plan_text: &str,
    max_wait: Duration,
) -> Result<u8> {
    let base = server.trim_end_matches('/');
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into();
    let spinner = Spinner::start();
    spinner.say("submitting the plan to the decision service".into());
    let (status, v) = request(
        &agent,
        "POST",
        &format!("{base}/v1/decisions"),
        token,
        Some(match actor {
            Some(a) => format!("{{\"actor\": {}, \"plan\": {plan_text}}}", Value::String(a)),
            None => format!("{{\"plan\": {plan_text}}}"),
        }),
    )?;
    if status != 201 {
        drop(spinner);
        bail!(
            "the decision service answered {status}: {}",
            v["error"].as_str().unwrap_or(&v.to_string())
        );
    }
    let id = v["id"]
        .as_str()
        .context("the decision service gave no id")?
        .to_string();
    let started = Instant::now();
    let mut current = v;
    while matches!(current["state"].as_str(), Some("pending" | "cooling_off")) {
        if started.elapsed() >= max_wait {
            drop(spinner);
            println!("{}", state_line(&current));
            println!(
                "still not executable after {}s; the request stays open as {id}",
                max_wait.as_secs()
            );
            return Ok(EXIT_HELD);
        }
        spinner.say(state_line(&current));
        let (status, v) = request(
            &agent,
            "GET",
            &format!("{base}/v1/decisions/{id}?wait=30&report=false"),
            token,
            None,
        )?;
        if status != 200 {
            drop(spinner);
            bail!(
                "the decision service answered {status} for {id}: {}",
                v["error"].as_str().unwrap_or(&v.to_string())
            );
        }
        let report = current["report"].take();
        current = v;
        current["report"] = report;
    }
    drop(spinner);
    print_final(&current);
    Ok(if current["executable"] == Value::Bool(true) {
        EXIT_ALLOW
    } else {
        EXIT_HELD
    })
}

fn print_final(v: &Value) {
    println!("{}", state_line(v));
    let r = &v["report"];
    if let Some(changes) = r["changes"].as_array() {
        for c in changes
            .iter()
            .filter(|c| c["decision"]["outcome"] != "allow")
        {
            println!(
                "  {} {}",
                c["decision"]["outcome"]
                    .as_str()
                    .unwrap_or("?")
                    .to_uppercase(),
                c["address"].as_str().unwrap_or("?")
            );
            for f in c["findings"].as_array().into_iter().flatten() {
                println!(
                    "    {:<8} {}",
                    f["severity"].as_str().unwrap_or(""),
                    f["summary"].as_str().unwrap_or("")
                );
            }
        }
    }
    for p in r["decision"]["policies"].as_array().into_iter().flatten() {
        println!(
            "  policy {}: {}",
            p["id"].as_str().unwrap_or("?"),
            p["reason"].as_str().unwrap_or("")
        );
    }
    for vote in v["votes"].as_array().into_iter().flatten() {
        let what = if vote["approve"] == Value::Bool(true) {
            "approved"
        } else {
            "rejected"
        };
        println!("  {what} by {}", vote["approver"].as_str().unwrap_or("?"));
    }
}

/// `--server` and `--token` for commands that talk to a running decision service.
#[derive(clap::Args, Clone)]
pub struct ServerArgs {
    /// The decision service (`parapet serve`) to act through, e.g.
    /// https://parapet.example.com. Who did it is the token's actor, recorded by the
    /// server in its audit log.
    #[arg(long, value_name = "URL", env = "PARAPET_SERVER")]
    pub server: Option<String>,

    /// API token for --server (its role decides what is allowed).
    #[arg(long, env = "PARAPET_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

/// Where `--server` and `--database` came from on this run, so an explicit flag
/// wins over the environment: `--database p.db` with PARAPET_SERVER set works on
/// p.db, as asked.
#[derive(Clone, Copy, Default, Debug)]
pub struct Sources {
    /// --server was not on the command line but PARAPET_SERVER set it.
    pub server_from_env: bool,
    /// --database was given on the command line.
    pub database_on_command_line: bool,
}

static SOURCES: OnceLock<Sources> = OnceLock::new();

/// Record, from the parsed command line, where --server and --database came from.
pub fn record_sources(m: &ArgMatches) {
    let mut leaf = m;
    while let Some((_, sub)) = leaf.subcommand() {
        leaf = sub;
    }
    let source = |id: &str| {
        leaf.ids()
            .any(|i| i.as_str() == id)
            .then(|| leaf.value_source(id))
            .flatten()
    };
    let _ = SOURCES.set(Sources {
        server_from_env: source("server") == Some(ValueSource::EnvVariable),
        database_on_command_line: source("location") == Some(ValueSource::CommandLine),
    });
}

impl ServerArgs {
    /// A client when --server is given; --token is then required.
    pub fn client(&self) -> Result<Option<Client>> {
        self.client_with(SOURCES.get().copied().unwrap_or_default())
    }

    fn client_with(&self, sources: Sources) -> Result<Option<Client>> {
        let Some(server) = self.server.as_deref().filter(|s| !s.trim().is_empty()) else {
            return Ok(None);
        };
        if sources.server_from_env && sources.database_on_command_line {
            // An explicit --database wins over PARAPET_SERVER from the environment.
            return Ok(None);
        }
        let token = self.token.clone().filter(|t| !t.trim().is_empty());
        let Some(token) = token else {
            if sources.server_from_env {
                bail!(
                    "PARAPET_SERVER is set in the environment ({server}) but there is no token: \
                     give --token or set PARAPET_TOKEN to act through that server, or give \
                     --database FILE|URL to work on a database directly"
                );
            }
            bail!("--server needs --token (or PARAPET_TOKEN)");
        };
        Ok(Some(Client::new(server, token)))
    }
}

/// A JSON client for the decision service's API.
pub struct Client {
    base: String,
    token: String,
    agent: ureq::Agent,
}

impl Client {
    pub fn new(server: &str, token: String) -> Client {
        Client {
            base: server.trim_end_matches('/').to_string(),
            token,
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(60)))
                .build()
                .into(),
        }
    }

    /// `method path` with an optional JSON body; a non-2xx answer is an error that
    /// quotes the server's reason.
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value> {
        let url = format!("{}{path}", self.base);
        let auth = format!("Bearer {}", self.token);
        let sent = match (method, body) {
            ("GET", _) => self.agent.get(&url).header("Authorization", &auth).call(),
            ("DELETE", _) => self
                .agent
                .delete(&url)
                .header("Authorization", &auth)
                .call(),
            (_, b) => self
                .agent
                .post(&url)
                .header("Authorization", &auth)
                .content_type("application/json")
                .send(b.map(Value::to_string).unwrap_or_else(|| "{}".into())),
        };
        let mut resp = sent.with_context(|| format!("contacting the decision service at {url}"))?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_string()
            .context("reading the decision service's answer")?;
        let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if !(200..300).contains(&status) {
            bail!(
                "the decision service answered {status} to {method} {path}: {}",
                v["error"]
                    .as_str()
                    .map(String::from)
                    .unwrap_or_else(|| v.to_string())
            );
        }
        Ok(v)
    }
}

/// One path segment, percent-encoded (ids such as pin ids hold `/`).
pub fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
