//! `parapet trail watch --sqs` against moto server (target/moto, made by scripts/test) as
//! AWS: CloudTrail files land in a bucket, S3 notifications (direct and SNS-wrapped)
//! reach a queue, the watch fetches each object, detects the takeover and deletes the
//! messages it processed; a notification naming a missing object stays on the queue.
//!
//! Credentials come from the standard chain, never from keys in the environment: a
//! named profile in shared config files, and a web-identity token file exchanged at
//! moto's STS (as IRSA and pod identity do). moto's request recorder shows which key
//! signed each request. Metrics, readiness and the drain on SIGTERM are tested on the
//! real binary too.

mod common;
#[allow(unused_imports)] // its `Stack` is for the proxy tests
mod proxy_common;
use common::{bin, free_port, root, tmpdir};
use proxy_common::{venv, Moto};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

const REGION: &str = "eu-west-1";

/// boto3 against moto with moto's own test keys (setting up and reading back only).
fn py(moto: &Moto, script: &str, args: &[&str]) -> String {
    let o = Command::new(venv().join("bin/python"))
        .args(["-c", script])
        .arg(moto.url())
        .args(args)
        .env_clear()
        .env("HOME", std::env::temp_dir())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_DEFAULT_REGION", REGION)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap().trim().to_string()
}

const SETUP: &str = r#"
import boto3, json, os, sys
ep, src = sys.argv[1], sys.argv[2]
s3, sqs = boto3.client("s3", endpoint_url=ep), boto3.client("sqs", endpoint_url=ep)
s3.create_bucket(Bucket="trail-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
q = sqs.create_queue(QueueName="cloudtrail")["QueueUrl"]
def note(key):
    return json.dumps({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "trail-bucket"}, "object": {"key": key}}}]})
for i, name in enumerate(sorted(os.listdir(src))):
    key = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/02/" + name
    s3.put_object(Bucket="trail-bucket", Key=key, Body=open(os.path.join(src, name), "rb").read())
    # Every other notification arrives wrapped by SNS.
    body = note(key) if i % 2 == 0 else json.dumps({"Type": "Notification", "Message": note(key)})
    sqs.send_message(QueueUrl=q, MessageBody=body)
sqs.send_message(QueueUrl=q, MessageBody=note("AWSLogs/gone.json.gz"))
sqs.send_message(QueueUrl=q, MessageBody=json.dumps({"Event": "s3:TestEvent"}))
boto3.client("iam", endpoint_url=ep).create_role(RoleName="watcher", AssumeRolePolicyDocument="{}")
print(q)
"#;

const LEFT: &str = r#"
import boto3, sys
a = boto3.client("sqs", endpoint_url=sys.argv[1]).get_queue_attributes(QueueUrl=sys.argv[2],
    AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
print(int(a["ApproximateNumberOfMessages"]) + int(a["ApproximateNumberOfMessagesNotVisible"]))
"#;

/// moto with the takeover's 27 CloudTrail files announced on a queue.
fn world(dir: &Path) -> (Moto, String) {
    let moto = Moto::start(dir);
    let src = root().join("demo/trail/takeover");
    let queue = py(&moto, SETUP, &[src.to_str().unwrap()]);
    (moto, queue)
}

/// The watch with nothing from the machine's AWS setup: a home of its own, no keys in
/// the environment, no instance metadata; `env` says where credentials come from.
fn watch(dir: &Path, moto: &Moto, queue: &str, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut c = bin();
    c.args([
        "trail",
        "watch",
        "--sqs",
        queue,
        "--endpoint-url",
        &moto.url(),
    ])
    .args(["--format", "jsonl", "-v"])
    .args(args)
    .env_clear()
    .env("HOME", dir)
    .env("AWS_CONFIG_FILE", dir.join("no-config"))
    .env("AWS_SHARED_CREDENTIALS_FILE", dir.join("no-credentials"))
    .env("AWS_EC2_METADATA_DISABLED", "true");
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

/// What a finished watch found: the takeover incident in full, the missing object
/// named, no secret anywhere, and only the missing object's message left on the queue.
fn check_run(o: &Output, moto: &Moto, queue: &str, secret: &str) {
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("189 events"), "{err}");
    assert!(
        err.contains("gone.json.gz"),
        "the missing object is named: {err}"
    );
    assert!(!err.contains(secret) && !out.contains(secret), "{err}");
    let attack: Value = out
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|v| v["type"] == "incident" && v["root"].as_str().unwrap().ends_with("svc-reporting"))
        .expect("the takeover incident");
    assert_eq!(attack["phases"].as_array().unwrap().len(), 9);
    assert_eq!(
        py(moto, LEFT, &[queue]),
        "1",
        "only the missing object's message waits"
    );
}

/// The key ids that signed the requests moto recorded for `service`.
fn signers(moto: &Moto, service: &str) -> Vec<String> {
    signers_in(&moto.recorded(), service)
}

fn signers_in(recorded: &[Value], service: &str) -> Vec<String> {
    let scope = format!("/{REGION}/{service}/aws4_request");
    recorded
        .iter()
        .filter_map(|r| r["headers"]["Authorization"].as_str().map(String::from))
        .filter(|a| a.contains(&scope))
        .map(|a| {
            a.split("Credential=")
                .nth(1)
                .unwrap_or("")
                .split('/')
                .next()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[test]
fn credentials_from_a_named_profile() {
    let dir = tmpdir("sqs-profile");
    let (moto, queue) = world(&dir);
    std::fs::write(
        dir.join("config"),
        format!("[profile watcher]\nregion = {REGION}\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("credentials"),
        "[watcher]\naws_access_key_id = AKIAWATCHERPROFILE01\naws_secret_access_key = Pr0fileS3cretWatcher\n",
    )
    .unwrap();
    moto.record();
    // The region comes from the profile too.
    let o = watch(
        &dir,
        &moto,
        &queue,
        &["--until-idle", "3s", "--profile", "watcher"],
        &[],
    )
    .env("AWS_CONFIG_FILE", dir.join("config"))
    .env("AWS_SHARED_CREDENTIALS_FILE", dir.join("credentials"))
    .output()
    .unwrap();
    // Read before check_run, whose own queue query (moto's test keys) is recorded too.
    let (sqs, s3) = (signers(&moto, "sqs"), signers(&moto, "s3"));
    check_run(&o, &moto, &queue, "Pr0fileS3cretWatcher");
    assert!(!sqs.is_empty() && !s3.is_empty(), "{sqs:?} {s3:?}");
    assert!(
        sqs.iter().chain(&s3).all(|k| k == "AKIAWATCHERPROFILE01"),
        "{sqs:?} {s3:?}"
    );
}

#[test]
fn credentials_from_a_web_identity_token_file() {
    let dir = tmpdir("sqs-web-identity");
    let (moto, queue) = world(&dir);
    let token = dir.join("token");
    std::fs::write(
        &token,
        "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6cGFyYXBldDp3YXRjaCJ9.c2ln",
    )
    .unwrap();
    moto.record();
    let url = moto.url();
    let o = watch(
        &dir,
        &moto,
        &queue,
        &["--until-idle", "3s"],
        &[
            ("AWS_REGION", REGION),
            ("AWS_WEB_IDENTITY_TOKEN_FILE", token.to_str().unwrap()),
            ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/watcher"),
            ("AWS_ROLE_SESSION_NAME", "parapet-watch"),
            // Only STS goes to moto through the SDK's own setting; SQS and S3 by the flag.
            ("AWS_ENDPOINT_URL_STS", &url),
        ],
    )
    .output()
    .unwrap();
    let recorded = moto.recorded();
    check_run(&o, &moto, &queue, "eyJhbGciOiJSUzI1NiJ9");
    let exchanged = recorded.iter().any(|r| {
        r["body"]
            .as_str()
            .unwrap_or("")
            .contains("Action=AssumeRoleWithWebIdentity")
    });
    assert!(exchanged, "the token was exchanged at STS");
    let sqs = signers_in(&recorded, "sqs");
    assert!(!sqs.is_empty());
    // Session keys (ASIA...) from STS, with their session token on every request.
    assert!(sqs.iter().all(|k| k.starts_with("ASIA")), "{sqs:?}");
    assert!(recorded
        .iter()
        .filter(|r| r["headers"]["Authorization"]
            .as_str()
            .is_some_and(|a| a.contains("/sqs/")))
        .all(|r| r["headers"]["X-Amz-Security-Token"].is_string()));
}

#[test]
fn no_credentials_fails_at_start_naming_the_chain() {
    let dir = tmpdir("sqs-nocreds");
    let (moto, queue) = world(&dir);
    let o = watch(
        &dir,
        &moto,
        &queue,
        &["--until-idle", "3s", "--region", REGION],
        &[],
    )
    .output()
    .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("no AWS credentials"), "{err}");
    // Nothing was taken off the queue.
    assert_eq!(py(&moto, LEFT, &[&queue]), "29");
}

/// The watch process, killed if the test fails before it ends.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// GET on the metrics listener: (status, body), or None while it is not up.
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split(' ').nth(1)?.parse().ok()?;
    Some((
        status,
        text.split("\r\n\r\n").nth(1).unwrap_or("").to_string(),
    ))
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("{name} in {text}"))
        .parse()
        .unwrap()
}

/// Poll until `f` holds (the test's only waiting; it asserts no timing).
fn until(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..600 {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("never: {what}");
}

#[test]
fn metrics_readiness_and_a_drain_on_sigterm() {
    let dir = tmpdir("sqs-sigterm");
    let (moto, queue) = world(&dir);
    std::fs::write(
        dir.join("credentials"),
        "[default]\naws_access_key_id = AKIAWATCHERDEFAULT01\naws_secret_access_key = DefaultS3cretWatcher\n",
    )
    .unwrap();
    let port = free_port();
    let checkpoint: PathBuf = dir.join("state.json");
    let listen = format!("127.0.0.1:{port}");
    // Checkpoints far apart: only the drain saves and acknowledges.
    let mut child = Running(
        watch(
            &dir,
            &moto,
            &queue,
            &[
                "--region",
                REGION,
                "--metrics-listen",
                &listen,
                "--checkpoint",
                checkpoint.to_str().unwrap(),
                "--checkpoint-every",
                "1h",
            ],
            &[],
        )
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.join("credentials"))
        // Files, not pipes: nothing reads them until the end.
        .stdout(std::fs::File::create(dir.join("out")).unwrap())
        .stderr(std::fs::File::create(dir.join("err")).unwrap())
        .spawn()
        .unwrap(),
    );
    until("ready", || {
        get(port, "/ready").is_some_and(|(s, _)| s == 200)
    });
    assert_eq!(get(port, "/healthz").unwrap().0, 200);
    let mut text = String::new();
    until("all 189 events processed", || {
        text = get(port, "/metrics").unwrap().1;
        metric(&text, "parapet_watch_events_total") == 189.0
    });
    assert_eq!(metric(&text, "parapet_watch_ready"), 1.0);
    assert!(metric(&text, "parapet_watch_alerts_total") > 0.0, "{text}");
    assert!(
        metric(&text, "parapet_watch_skipped_total") >= 1.0,
        "the missing object"
    );
    assert!(
        metric(&text, "parapet_watch_unacked_messages") >= 27.0,
        "{text}"
    );
    assert_eq!(metric(&text, "parapet_watch_checkpoints_total"), 0.0);
    assert!(
        text.contains("parapet_watch_state_entries{kind=\"incidents\"}"),
        "{text}"
    );
    assert!(text.contains("parapet_watch_events_per_second"), "{text}");
    assert!(
        metric(&text, "parapet_watch_stream_lag_seconds") >= 0.0,
        "{text}"
    );
    assert!(!checkpoint.exists(), "no checkpoint before the drain");
    assert_eq!(
        py(&moto, LEFT, &[&queue]),
        "29",
        "nothing deleted before a checkpoint"
    );

    let ok = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let status = child.0.wait().unwrap();
    let err = std::fs::read_to_string(dir.join("err")).unwrap();
    assert_eq!(status.code(), Some(0), "SIGTERM drains and exits 0: {err}");
    assert!(!err.contains("DefaultS3cretWatcher"));
    // The drain saved the state and then deleted what it covers.
    let saved: Value = serde_json::from_slice(&std::fs::read(&checkpoint).unwrap()).unwrap();
    assert_eq!(
        saved["stats"]["events"],
        189,
        "{}",
        &saved.to_string()[..200]
    );
    assert_eq!(py(&moto, LEFT, &[&queue]), "1");
    // Incidents are written at the end, as when the watch ends idle.
    let out = std::fs::read_to_string(dir.join("out")).unwrap();
    assert!(out.contains("\"type\":\"incident\""), "{out}");
}
