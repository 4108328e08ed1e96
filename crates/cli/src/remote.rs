//! `plan check --server`: submit to the decision service and wait for the outcome.

use crate::{EXIT_ALLOW, EXIT_HELD};
use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
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

    fn say(&self, m: String) {
        if self.handle.is_none() {
            eprintln!("{m}");
        } else if let Ok(mut g) = self.message.lock() {
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
            "{}: waiting for approval ({}/{} approvers)",
            v["id"].as_str().unwrap_or("?"),
            a["approvals"],
            a["approvers_required"]
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
pub fn submit_plan(server: &str, token: &str, plan_text: &str, max_wait: Duration) -> Result<u8> {
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
        Some(format!("{{\"plan\": {plan_text}}}")),
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
