//! The web UI in a real browser: Debian's headless Chromium driven over WebDriver
//! (chromedriver), against the real `parapet serve`. A reviewer logs in with a token,
//! reads the plain-language explanation, approves, and the pipeline that was waiting
//! on `plan check --server` proceeds. The new review is also posted, as Slack Block
//! Kit, to a local incoming-webhook receiver.

mod common;
use common::*;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

struct Driver {
    child: Child,
    base: String,
    session: String,
    agent: ureq::Agent,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self
            .agent
            .delete(&format!("{}/session/{}", self.base, self.session))
            .call();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    fn start() -> Driver {
        assert!(
            std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists(),
            "the browser test needs Debian's chromium and chromium-driver (scripts/test installs them)"
        );
        let port = free_port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let base = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if agent.get(&format!("{base}/status")).call().is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let mut d = Driver {
            child,
            base,
            session: String::new(),
            agent,
        };
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"
            ]}
        }}});
        let v = d.call("POST", "/session", Some(caps));
        d.session = v["sessionId"]
            .as_str()
            .expect("a WebDriver session")
            .to_string();
        d
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let v = self.raw(method, path, body);
        assert!(v.get("error").is_none(), "WebDriver {method} {path}: {v}");
        v
    }

    /// The command's `value`, errors included.
    fn raw(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = if path == "/session" {
            format!("{}{path}", self.base)
        } else {
            format!("{}/session/{}{path}", self.base, self.session)
        };
        let mut resp = match method {
            "GET" => self.agent.get(&url).call().unwrap(),
            _ => self
                .agent
                .post(&url)
                .header("content-type", "application/json")
                .send(body.unwrap_or(json!({})).to_string())
                .unwrap(),
        };
        let text = resp.body_mut().read_to_string().unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        v["value"].clone()
    }

    fn go(&self, url: &str) {
        self.call("POST", "/url", Some(json!({"url": url})));
    }

    fn find(&self, css: &str) -> String {
        let v = self.call(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        // The W3C element reference is the object's one value.
        let reference = v.as_object().and_then(|o| o.values().next());
        reference
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element for {css}: {v}"))
            .to_string()
    }

    fn text(&self, css: &str) -> String {
        let e = self.find(css);
        self.call("GET", &format!("/element/{e}/text"), None)
            .as_str()
            .unwrap()
            .to_string()
    }

    fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css);
        self.call(
            "POST",
            &format!("/element/{e}/value"),
            Some(json!({"text": text})),
        );
    }

    /// Click something that navigates (every click in these tests posts a form or
    /// follows a link), and wait until the old page is gone so the next lookup reads
    /// the new one.
    fn click(&self, css: &str) {
        let old = self.find("html");
        let e = self.find(css);
        self.call("POST", &format!("/element/{e}/click"), None);
        for _ in 0..200 {
            let v = self.raw("GET", &format!("/element/{old}/name"), None);
            if v["error"] == "stale element reference" {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("clicking {css} did not leave the page");
    }

    fn url(&self) -> String {
        self.call("GET", "/url", None).as_str().unwrap().to_string()
    }

    fn cookie(&self, name: &str) -> String {
        self.call("GET", &format!("/cookie/{name}"), None)["value"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

/// A local incoming-webhook receiver: every POST body arrives on the channel.
fn receiver() -> (String, mpsc::Receiver<Value>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://127.0.0.1:{}/services/T000/B000/secretpath",
        listener.local_addr().unwrap().port()
    );
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut len = 0usize;
            let mut line = String::new();
            while r.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                line.clear();
            }
            let mut body = vec![0; len];
            r.read_exact(&mut body).unwrap();
            let _ =
                s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
            if let Ok(v) = serde_json::from_slice(&body) {
                let _ = tx.send(v);
            }
        }
    });
    (url, rx)
}

/// A raw form post, for the checks a browser would never let us fail.
fn form_post(port: u16, path: &str, cookie: &str, origin: Option<&str>, body: &str) -> u16 {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let origin = origin
        .map(|o| format!("Origin: {o}\r\n"))
        .unwrap_or_default();
    write!(s, "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{origin}Cookie: parapet_session={cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    resp.split(' ').nth(1).unwrap().parse().unwrap()
}

#[test]
fn reviewer_approves_in_the_browser_and_the_pipeline_proceeds() {
    let dir = tmpdir("webui");
    let db = dir.join("parapet.db");
    let agent = token(&db, "ci", "agent", "pipeline:deploy");
    let alice = token(&db, "alice", "approver", "human:alice");
    let (hook, posted) = receiver();
    let port = free_port();
    let public = format!("http://127.0.0.1:{port}");
    let srv = start_args(&[
        "serve".into(),
        "--database".into(),
        db.display().to_string(),
        "--listen".into(),
        format!("127.0.0.1:{port}"),
        "--slack-webhook".into(),
        hook,
        "--public-url".into(),
        public.clone(),
    ]);
    assert_eq!(srv.port, port);

    // The pipeline submits a plan that needs one approval and waits.
    let pipeline = pipeline(
        "testdata/plans/checkov/plan_nested_child_modules/tfplan.json",
        &public,
        &agent,
        "120s",
    );

    // Chat: the review arrives as Block Kit with a link to its page.
    let msg = posted
        .recv_timeout(Duration::from_secs(60))
        .expect("the review was posted to the webhook");
    let text = msg.to_string();
    assert!(
        msg["blocks"].as_array().is_some_and(|b| b.len() >= 4),
        "{text}"
    );
    let link = msg["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "actions")
        .map(|b| b["elements"][0]["url"].as_str().unwrap().to_string())
        .expect("an approve button");
    assert!(
        link.starts_with(&format!("{public}/ui/decisions/dec_")),
        "{link}"
    );
    assert!(text.contains("pipeline:deploy"), "{text}");

    let b = Driver::start();
    // Not logged in: the UI sends us to the login page.
    b.go(&format!("{public}/ui"));
    assert!(b.url().ends_with("/ui/login"), "{}", b.url());
    // An agent token cannot use the UI.
    b.type_into("#token", &agent);
    b.click("#login");
    assert!(b.text("#flash").contains("approver and admin"));
    b.type_into("#token", &alice);
    b.click("#login");
    assert_eq!(b.text("#who"), "human:alice (approver)");

    // The queue shows the waiting plan; its page explains it.
    let row = b.text("#queue");
    assert!(row.contains("pipeline:deploy"), "{row}");
    b.click("#queue a.request");
    assert!(b.url().starts_with(&format!("{public}/ui/decisions/dec_")));
    assert_eq!(
        b.url(),
        link,
        "the chat link is the page the queue leads to"
    );
    assert_eq!(b.text("#state"), "pending");
    let policy = b.text(".policy");
    assert!(policy.contains("review"), "{policy}");
    let explanation = b.text(".explanation");
    assert!(!explanation.is_empty());
    let diff = b.text("table.diff");
    assert!(diff.contains("Attribute"), "{diff}");

    // The session cookie is HttpOnly and forms without the CSRF token are refused,
    // as are posts from another origin.
    let session = b.cookie("parapet_session");
    let id = link.rsplit('/').next().unwrap().to_string();
    let path = format!("/ui/decisions/{id}/vote");
    assert_eq!(
        form_post(
            port,
            &path,
            &session,
            None,
            "verdict=approve&content_hash=x"
        ),
        403
    );
    assert_eq!(
        form_post(
            port,
            &path,
            &session,
            Some("https://evil.example"),
            "verdict=approve"
        ),
        403
    );

    // One click approves; the waiting pipeline proceeds.
    b.type_into("#reason", "checked the module wiring");
    b.click("#approve");
    assert_eq!(b.text("#state"), "approved");
    assert!(b.text("#votes").contains("human:alice approved"));
    let out = exited(pipeline.wait_with_output().unwrap(), 0);
    assert!(out.contains("approved by human:alice"), "{out}");

    // History, incidents (read-only for approvers), pins and the verified audit log.
    b.go(&format!("{public}/ui/history"));
    assert!(b.text("#history").contains(&id));
    b.go(&format!("{public}/ui/incidents"));
    assert!(b.text("#no-incident").contains("No incident"));
    b.go(&format!("{public}/ui/audit"));
    assert!(
        b.text("#audit-status").starts_with("Intact"),
        "{}",
        b.text("#audit-status")
    );
    assert!(b.text("#audit").contains("approval"));
    drop(b);
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn admin_switches_incident_mode_and_pins_in_the_browser() {
    let dir = tmpdir("webui-admin");
    let db = dir.join("parapet.db");
    let admin = token(&db, "root", "admin", "human:root");
    let srv = start(&dir, None);
    let base = format!("http://127.0.0.1:{}", srv.port);
    let b = Driver::start();
    b.go(&format!("{base}/ui/login"));
    b.type_into("#token", &admin);
    b.click("#login");
    b.go(&format!("{base}/ui/incidents"));
    b.type_into("input[name=id]", "INC-42");
    b.type_into("input[name=title]", "credential leak");
    b.click("#open-incident");
    let banner = b.text("#incident-banner");
    assert!(
        banner.contains("INC-42") && banner.contains("credential leak"),
        "{banner}"
    );
    // Decisions now run in incident mode: an automation write is held or denied.
    let (_, v) = http(srv.port, "GET", "/v1/incidents", Some(&admin), None);
    assert_eq!(v[0]["id"], "INC-42");

    b.go(&format!("{base}/ui/pins"));
    b.type_into("input[name=resource]", "aws_security_group.api");
    b.type_into("input[name=attribute]", "ingress");
    b.type_into("input[name=reason]", "blocked attacker range");
    b.type_into("input[name=incident]", "INC-42");
    b.click("#add-pin");
    assert!(b.text("#pins").contains("aws_security_group.api"));

    b.go(&format!("{base}/ui/incidents"));
    b.click("#incidents button");
    assert!(b.text("#no-incident").contains("No incident"));
    drop(b);
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}
