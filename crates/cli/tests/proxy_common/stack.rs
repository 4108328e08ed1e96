//! One test's stack: moto, `parapet serve` and `parapet proxy aws` on one SQLite
//! database, the people who approve, an agent with AWS keys, and every output kept for
//! the no-leak check at the end.

use super::*;
use crate::common::http;

/// How the stack runs.
pub struct Opts<'a> {
    /// Policy files added to the built-in pack (name, text), for serve and proxy alike.
    pub pack: &'a [(&'a str, &'a str)],
    /// `--hold`: how long a call under review waits for approval.
    pub hold: &'a str,
    pub mode: &'a str,
}

impl Default for Opts<'_> {
    fn default() -> Self {
        Opts {
            pack: &[],
            hold: "20s",
            mode: "enforce",
        }
    }
}

pub struct Stack {
    pub dir: PathBuf,
    pub db: PathBuf,
    pub key_file: PathBuf,
    pack: Option<PathBuf>,
    pub moto: Moto,
    pub server: Proc,
    pub proxies: Vec<Proc>,
    pub admin: String,
    pub alice: String,
    pub bob: String,
    pub agent: AgentKeys,
    outputs: Mutex<Vec<String>>,
}

/// `parapet ARGS` with no server or AWS settings from the test's environment.
pub fn parapet() -> Command {
    let mut c = bin();
    for v in [
        "PARAPET_SERVER",
        "PARAPET_TOKEN",
        "PARAPET_CREDENTIAL_KEY_FILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
    ] {
        c.env_remove(v);
    }
    c.env("PARAPET_LOG", "debug");
    c
}

impl Stack {
    pub fn start(tag: &str, opts: Opts) -> Stack {
        let dir = tmpdir(&format!("proxy-{tag}"));
        let db = dir.join("parapet.db");
        let key_file = dir.join("credential.key");
        let o = parapet()
            .args(["credential-key", "generate"])
            .arg(&key_file)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "credential-key generate: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let pack = (!opts.pack.is_empty()).then(|| {
            let p = dir.join("pack");
            std::fs::create_dir_all(&p).unwrap();
            for (name, text) in opts.pack {
                std::fs::write(p.join(name), text).unwrap();
            }
            p
        });
        // Directly into the database while it has no admin (the bootstrap rule); the
        // agent's keys come later, through the server.
        let alice = token(&db, "alice", "approver", "human:alice");
        let bob = token(&db, "bob", "approver", "human:bob");
        let admin = token(&db, "root", "admin", "human:root");
        let moto = Moto::start(&dir);

        // serve on a port known in advance: its public URL is where approvals happen.
        let port = free_port();
        let public = format!("http://127.0.0.1:{port}");
        let mut cmd = parapet();
        cmd.args(["serve", "--database"])
            .arg(&db)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--public-url", &public])
            .arg("--credential-key-file")
            .arg(&key_file);
        if let Some(p) = &pack {
            cmd.arg("--policies").arg(p);
        }
        let server = Proc::spawn(cmd, dir.join("serve.err"));
        assert_eq!(server.port, port);

        let mut stack = Stack {
            dir,
            db,
            key_file,
            pack,
            moto,
            server,
            proxies: Vec::new(),
            admin,
            alice,
            bob,
            agent: AgentKeys {
                key_id: String::new(),
                secret: String::new(),
            },
            outputs: Mutex::new(Vec::new()),
        };
        stack.agent = stack.aws_keys("agent:kiro");
        stack.add_proxy(opts.hold, opts.mode);
        stack
    }

    /// Another `parapet proxy aws` on the same database and upstream; its index in
    /// `proxies`.
    pub fn add_proxy(&mut self, hold: &str, mode: &str) -> usize {
        let n = self.proxies.len();
        let mut cmd = parapet();
        cmd.args(["proxy", "aws", "--listen", "127.0.0.1:0", "--database"])
            .arg(&self.db)
            .arg("--credential-key-file")
            .arg(&self.key_file)
            .args(["--upstream", &self.moto.url()])
            .args(["--public-url", &self.server.url()])
            .args(["--hold", hold, "--mode", mode])
            .env("AWS_ACCESS_KEY_ID", REAL_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", REAL_SECRET)
            .env("AWS_REGION", "eu-west-1")
            .env("AWS_CONFIG_FILE", "/nonexistent/parapet-test/config")
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                "/nonexistent/parapet-test/credentials",
            )
            .env("AWS_EC2_METADATA_DISABLED", "true");
        if let Some(p) = &self.pack {
            cmd.arg("--policies").arg(p);
        }
        let p = Proc::spawn(cmd, self.dir.join(format!("proxy{n}.err")));
        self.proxies.push(p);
        n
    }

    /// New AWS keys for `actor`, made through the server with the admin's token.
    pub fn aws_keys(&self, actor: &str) -> AgentKeys {
        let o = parapet()
            .args(["token", "create", "--server", &self.server.url()])
            .args([
                "--name", actor, "--role", "agent", "--actor", actor, "--aws",
            ])
            .env("PARAPET_TOKEN", &self.admin)
            .output()
            .unwrap();
        let text = self.keep(&o);
        assert!(o.status.success(), "token create --aws: {text}");
        let keys = parse_keys(&String::from_utf8_lossy(&o.stdout));
        assert!(keys.key_id.starts_with("PKIA"), "{}", keys.key_id);
        keys
    }

    /// Keep a command's output for the no-leak check; both streams as text.
    pub fn keep(&self, o: &Output) -> String {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        self.outputs.lock().unwrap().push(text.clone());
        text
    }

    /// The AWS CLI as the agent, through proxy `n`.
    pub fn aws_via(&self, n: usize, keys: &AgentKeys, args: &[&str]) -> Command {
        aws_command(&self.proxies[n].url(), &keys.key_id, &keys.secret, args)
    }

    /// `aws ARGS` as agent:kiro through the first proxy; the finished output.
    pub fn agent(&self, args: &[&str]) -> Output {
        let o = self
            .aws_via(0, &self.agent, args)
            .current_dir(&self.dir)
            .output()
            .unwrap();
        self.keep(&o);
        o
    }

    /// The agent's call must have succeeded: its JSON output.
    pub fn agent_ok(&self, args: &[&str]) -> Value {
        let o = self.agent(args);
        assert!(
            o.status.success(),
            "aws {args:?} through the proxy: exit {:?}\n{}\nproxy: {}",
            o.status.code(),
            String::from_utf8_lossy(&o.stderr),
            self.proxies[0].output()
        );
        serde_json::from_slice(&o.stdout).unwrap_or(Value::Null)
    }

    /// The agent's call must have been refused the way the CLI reports a service
    /// error: exit 254 or 255, standard error returned.
    pub fn agent_refused(&self, args: &[&str]) -> String {
        let o = self.agent(args);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(
            matches!(o.status.code(), Some(254 | 255)),
            "aws {args:?} should have been refused: exit {:?}\n{}{err}",
            o.status.code(),
            String::from_utf8_lossy(&o.stdout)
        );
        err
    }

    /// client.py COMMAND ARGS with boto3, as `keys`, through proxy `n`, however it
    /// ends.
    pub fn python_via(&self, n: usize, keys: &AgentKeys, args: &[&str]) -> Output {
        let script = root().join("crates/cli/tests/proxy_common/client.py");
        let o = Command::new(venv().join("bin/python"))
            .arg(script)
            .args(args)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", std::env::temp_dir())
            .env("AWS_ENDPOINT_URL", self.proxies[n].url())
            .env("AWS_ACCESS_KEY_ID", &keys.key_id)
            .env("AWS_SECRET_ACCESS_KEY", &keys.secret)
            .env("AWS_DEFAULT_REGION", "eu-west-1")
            .env("AWS_CONFIG_FILE", "/nonexistent/parapet-test/config")
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                "/nonexistent/parapet-test/credentials",
            )
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .unwrap();
        self.keep(&o);
        o
    }

    /// client.py as agent:kiro through the first proxy, which must succeed: its JSON
    /// lines.
    pub fn python(&self, args: &[&str]) -> Vec<Value> {
        let o = self.python_via(0, &self.agent, args);
        assert!(
            o.status.success(),
            "client.py {args:?}: {}\nproxy: {}",
            String::from_utf8_lossy(&o.stderr),
            self.proxies[0].output()
        );
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
            .collect()
    }

    /// `parapet ARGS --server URL` as the admin; must succeed.
    pub fn admin_cli(&self, args: &[&str]) -> String {
        let o = parapet()
            .args(args)
            .args(["--server", &self.server.url()])
            .env("PARAPET_TOKEN", &self.admin)
            .output()
            .unwrap();
        let text = self.keep(&o);
        assert!(o.status.success(), "parapet {args:?}: {text}");
        text
    }

    /// A decision as the API shows it to the admin.
    pub fn decision(&self, id: &str) -> Value {
        let (status, v) = http(
            self.server.port,
            "GET",
            &format!("/v1/decisions/{id}"),
            Some(&self.admin),
            None,
        );
        assert_eq!(status, 200, "decision {id}: {v}");
        v
    }

    /// An approver's vote (`approve` or `reject`) through the API, bound to the
    /// content the request shows.
    pub fn vote(&self, token: &str, id: &str, verdict: &str) -> (u16, Value) {
        let hash = self.decision(id)["content_hash"].clone();
        let body = serde_json::json!({"content_hash": hash, "reason": "checked in the proxy test"});
        http(
            self.server.port,
            "POST",
            &format!("/v1/decisions/{id}/{verdict}"),
            Some(token),
            Some(&body.to_string()),
        )
    }

    /// Metrics of the server and of every proxy, as scraped.
    pub fn metrics(&self) -> String {
        let get = |port: u16, path: &str| {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .into();
            agent
                .get(&format!("http://127.0.0.1:{port}{path}"))
                .call()
                .map(|mut r| r.body_mut().read_to_string().unwrap_or_default())
                .unwrap_or_default()
        };
        let mut all = get(self.server.port, "/metrics");
        for p in &self.proxies {
            all.push_str(&get(p.port, "/_parapet/metrics"));
        }
        all
    }

    /// The no-leak check: the real credentials appear in no command's output, in no
    /// process's standard output or error, in no database file (the WAL too) and in no
    /// metric; nor does any agent's secret access key appear in the database.
    pub fn finish(self) {
        let metrics = self.metrics();
        assert!(
            metrics.contains("parapet_"),
            "the metrics were scraped: {metrics}"
        );
        let mut places: Vec<(String, Vec<u8>)> = vec![("metrics".into(), metrics.into_bytes())];
        for (i, o) in self.outputs.lock().unwrap().iter().enumerate() {
            places.push((format!("command output {i}"), o.clone().into_bytes()));
        }
        places.push(("serve output".into(), self.server.output().into_bytes()));
        for (i, p) in self.proxies.iter().enumerate() {
            places.push((format!("proxy {i} output"), p.output().into_bytes()));
        }
        let mut db_files = 0;
        for e in std::fs::read_dir(&self.dir).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("parapet.db") {
                db_files += 1;
                places.push((name, std::fs::read(e.path()).unwrap()));
            }
        }
        assert!(db_files >= 2, "the database and its WAL were read");
        let encoded = REAL_SECRET.replace('/', "%2F").replace('+', "%2B");
        let needles = [REAL_KEY_ID, REAL_SECRET, encoded.as_str()];
        for (place, bytes) in &places {
            for needle in needles {
                assert!(
                    !contains(bytes, needle.as_bytes()),
                    "a real credential ({}...) leaked into {place}",
                    &needle[..8]
                );
            }
        }
        // The agent's secret is shown once (to whoever made it) and derived again by
        // the proxy: never stored, logged or counted.
        for (place, bytes) in places.iter().filter(|(p, _)| !p.starts_with("command")) {
            assert!(
                !contains(bytes, self.agent.secret.as_bytes()),
                "the agent's secret access key is in {place}"
            );
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// The decision id (`dec_...`) a refusal names.
pub fn decision_id(text: &str) -> String {
    let at = text
        .find("dec_")
        .unwrap_or_else(|| panic!("no decision id in {text:?}"));
    text[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect()
}
