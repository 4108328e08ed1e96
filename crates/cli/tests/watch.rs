//! `parapet trail watch` on the machine's NATS JetStream: the takeover published event by
//! event is detected as it streams, and a checkpoint carries the incident across a restart.

mod common;
use common::{bin, exited, root, tmpdir};
use parapet_trail::nats::Consumer;
use serde_json::Value;

fn url() -> String {
    std::env::var("PARAPET_TEST_NATS").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

fn takeover() -> Vec<String> {
    let mut events = Vec::new();
    parapet_trail::read_path(
        &root().join("demo/trail/takeover"),
        Default::default(),
        &mut |i| {
            if let parapet_trail::Item::Event(e) = i {
                events.push(*e);
            }
        },
    );
    events.sort_by_key(|e| e.time_ms);
    events.iter().map(|e| e.record.text().to_string()).collect()
}

fn watch(stream: &str, subject: &str, cp: &std::path::Path) -> (String, String) {
    let o = bin()
        .args([
            "trail",
            "watch",
            "--nats",
            &url(),
            "--stream",
            stream,
            "--subject",
            subject,
        ])
        .args([
            "--until-idle",
            "2s",
            "--format",
            "jsonl",
            "--stats",
            "--checkpoint",
        ])
        .arg(cp)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(matches!(o.status.code(), Some(0 | 1)), "{err}");
    (String::from_utf8_lossy(&o.stdout).into_owned(), err)
}

#[test]
fn the_takeover_is_detected_as_it_streams_and_survives_a_restart() {
    let id = std::process::id();
    let (stream, subject) = (format!("PARAPET_W{id}"), format!("parapet.watch.{id}"));
    let dir = tmpdir("watch");
    let cp = dir.join("state.json");
    let mut publisher =
        Consumer::open(&url(), &stream, &subject, "setup").expect("NATS with JetStream");
    let events = takeover();
    let half = events
        .iter()
        .position(|e| e.contains("\"CreateUser\""))
        .unwrap();
    for e in &events[..half] {
        publisher
            .client()
            .publish(&subject, None, e.as_bytes())
            .unwrap();
    }
    publisher
        .client()
        .publish(&subject, None, b"{\"truncated\": ")
        .unwrap();
    // Hostile nesting is skipped too; the stream goes on.
    let deep = format!("{}{}", "[".repeat(30_000), "]".repeat(30_000));
    publisher
        .client()
        .publish(&subject, None, deep.as_bytes())
        .unwrap();
    let (first, err) = watch(&stream, &subject, &cp);
    assert!(err.contains("2 unreadable records skipped"), "{err}");
    assert!(err.contains("alert latency from stream arrival"), "{err}");
    // Before the back door exists, the hijacked role minting a key is already critical.
    assert!(first.contains("parapet-lambda-role-escalates"), "{first}");

    for e in &events[half..] {
        publisher
            .client()
            .publish(&subject, None, e.as_bytes())
            .unwrap();
    }
    let (second, _) = watch(&stream, &subject, &cp);
    let attack: Value = second
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|v| v["type"] == "incident" && v["root"].as_str().unwrap().ends_with("svc-reporting"))
        .expect("one incident across both runs");
    assert_eq!(attack["phases"].as_array().unwrap().len(), 9, "{attack}");
    // Nothing was read twice: the second run's alerts are all from the second half.
    assert!(
        !second
            .lines()
            .any(|l| l.contains("\"type\":\"alert\"") && l.contains("parapet-recon-burst")),
        "{second}"
    );
    let _ = publisher.client().request(
        &format!("$JS.API.STREAM.DELETE.{stream}"),
        b"",
        std::time::Duration::from_secs(2),
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_server_that_is_not_there_is_a_clear_error() {
    let o = bin()
        .args([
            "trail",
            "watch",
            "--nats",
            "nats://127.0.0.1:1",
            "--until-idle",
            "1s",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("NATS 127.0.0.1:1"), "{err}");
    let _ = exited;
}
