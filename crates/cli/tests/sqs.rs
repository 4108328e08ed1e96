//! `parapet trail watch --sqs` against moto server (PyPI `moto[server]`, installed by
//! scripts/test into target/moto) as the AWS API: CloudTrail files land in a bucket,
//! S3 notifications (direct and SNS-wrapped) reach a queue, the watch fetches each object,
//! detects the takeover and deletes the messages it processed; a notification naming a
//! missing object stays on the queue.

mod common;
use common::{bin, root};
use parapet_trail::sigv4::{amz_now, sign, Credentials, Request};
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};

struct Moto(Child, u16);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn moto() -> Moto {
    let server = root().join("target/moto/bin/moto_server");
    if !server.exists() {
        let dir = root().join("target/moto");
        let lock = root().join("target/moto.lock");
        while std::fs::create_dir(&lock).is_err() {
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        if !server.exists() {
            assert!(Command::new("python3")
                .args(["-m", "venv"])
                .arg(&dir)
                .status()
                .unwrap()
                .success());
            assert!(Command::new(dir.join("bin/pip"))
                .args(["install", "-q", "moto[server]==5.2.5"])
                .status()
                .unwrap()
                .success());
        }
        let _ = std::fs::remove_dir(&lock);
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(server)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Moto(child, port);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("moto server did not start");
}

fn creds() -> Credentials {
    Credentials {
        access_key_id: "AKIATESTTESTTEST".into(),
        secret_access_key: "test-secret".into(),
        session_token: None,
    }
}

/// A signed request to moto.
fn aws(
    port: u16,
    method: &str,
    path: &str,
    service: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    let host = format!("127.0.0.1:{port}");
    let r = Request {
        method,
        host: &host,
        path,
        query: &[],
        headers,
        payload: body,
    };
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let url = format!("http://{host}{path}");
    let mut req = if method == "PUT" {
        agent.put(&url)
    } else {
        agent.post(&url)
    };
    let signed = sign(&r, "us-east-1", service, &creds(), &amz_now());
    for (k, v) in headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .chain(signed)
    {
        req = req.header(&k, &v);
    }
    let mut resp = req.send(body).unwrap();
    (
        resp.status().as_u16(),
        resp.body_mut().read_to_string().unwrap(),
    )
}

fn sqs(port: u16, action: &str, body: Value) -> Value {
    let target = format!("AmazonSQS.{action}");
    let (s, text) = aws(
        port,
        "POST",
        "/",
        "sqs",
        &[
            ("content-type", "application/x-amz-json-1.0"),
            ("x-amz-target", &target),
        ],
        body.to_string().as_bytes(),
    );
    assert_eq!(s, 200, "{action}: {text}");
    serde_json::from_str(&text).unwrap()
}

#[test]
fn s3_notifications_through_sqs() {
    let m = moto();
    let port = m.1;
    let (s, t) = aws(port, "PUT", "/trail-bucket", "s3", &[], b"");
    assert_eq!(s, 200, "{t}");
    let queue = sqs(port, "CreateQueue", json!({"QueueName": "cloudtrail"}))["QueueUrl"]
        .as_str()
        .unwrap()
        .to_string();
    let mut files: Vec<_> = std::fs::read_dir(root().join("demo/trail/takeover"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for (i, f) in files.iter().enumerate() {
        let key = format!(
            "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/02/{}",
            f.file_name().unwrap().to_str().unwrap()
        );
        let (s, t) = aws(
            port,
            "PUT",
            &format!("/trail-bucket/{key}"),
            "s3",
            &[],
            &std::fs::read(f).unwrap(),
        );
        assert_eq!(s, 200, "{t}");
        let note = json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": "trail-bucket"}, "object": {"key": key}}}]}).to_string();
        // Every other notification arrives wrapped by SNS.
        let body = if i % 2 == 0 {
            note
        } else {
            json!({"Type": "Notification", "Message": note}).to_string()
        };
        sqs(
            port,
            "SendMessage",
            json!({"QueueUrl": queue, "MessageBody": body}),
        );
    }
    let missing = json!({"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "trail-bucket"}, "object": {"key": "AWSLogs/gone.json.gz"}}}]});
    sqs(
        port,
        "SendMessage",
        json!({"QueueUrl": queue, "MessageBody": missing.to_string()}),
    );
    sqs(
        port,
        "SendMessage",
        json!({"QueueUrl": queue, "MessageBody": "{\"Event\": \"s3:TestEvent\"}"}),
    );

    let o = bin()
        .args([
            "trail",
            "watch",
            "--sqs",
            &queue,
            "--endpoint-url",
            &format!("http://127.0.0.1:{port}"),
        ])
        .args([
            "--region",
            "us-east-1",
            "--until-idle",
            "3s",
            "--format",
            "jsonl",
            "-v",
        ])
        .env("AWS_ACCESS_KEY_ID", "AKIATESTTESTTEST")
        .env("AWS_SECRET_ACCESS_KEY", "test-secret")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("189 events"), "{err}");
    assert!(
        err.contains("gone.json.gz"),
        "the missing object is named: {err}"
    );
    assert!(!err.contains("test-secret"), "{err}");
    let attack: Value = out
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|v| v["type"] == "incident" && v["root"].as_str().unwrap().ends_with("svc-reporting"))
        .expect("the takeover incident");
    assert_eq!(attack["phases"].as_array().unwrap().len(), 9);
    // Processed messages are gone; the one whose object is missing waits for redelivery.
    let left = sqs(
        port,
        "GetQueueAttributes",
        json!({"QueueUrl": queue, "AttributeNames": ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]}),
    );
    let n = |k: &str| {
        left["Attributes"][k]
            .as_str()
            .unwrap()
            .parse::<u32>()
            .unwrap()
    };
    assert_eq!(
        n("ApproximateNumberOfMessages") + n("ApproximateNumberOfMessagesNotVisible"),
        1,
        "{left}"
    );
}
