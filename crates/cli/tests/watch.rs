//! `parapet trail watch` on the machine's NATS JetStream: the takeover published event by
//! event is detected as it streams, and a checkpoint carries the incident across a restart.

mod common;
mod nats_common;
use common::{bin, exited, tmpdir};
use nats_common::{machine_url as url, takeover, Js};
use serde_json::Value;

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
    let publisher = Js::connect(&url(), async_nats::ConnectOptions::new());
    publisher.stream(&stream, &subject);
    let events = takeover();
    let half = events
        .iter()
        .position(|e| e.contains("\"CreateUser\""))
        .unwrap();
    for e in &events[..half] {
        publisher.publish(&subject, e.as_bytes());
    }
    publisher.publish(&subject, b"{\"truncated\": ");
    // Hostile nesting is skipped too; the stream goes on.
    let deep = format!("{}{}", "[".repeat(30_000), "]".repeat(30_000));
    publisher.publish(&subject, deep.as_bytes());
    let (first, err) = watch(&stream, &subject, &cp);
    assert!(err.contains("2 unreadable records skipped"), "{err}");
    assert!(err.contains("alert latency from stream arrival"), "{err}");
    // Before the back door exists, the hijacked role minting a key is already critical.
    assert!(first.contains("parapet-lambda-role-escalates"), "{first}");

    for e in &events[half..] {
        publisher.publish(&subject, e.as_bytes());
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
    publisher.delete_stream(&stream);
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
    assert!(err.contains("NATS nats://127.0.0.1:1"), "{err}");
    // The cause once, not twice (the client prints its source in its own message).
    let refused = err.matches("Connection refused").count();
    assert!(refused <= 1, "{err}");
    let _ = exited;
}

#[test]
fn a_missing_tls_file_is_named_before_connecting() {
    for (flag, what) in [
        ("--nats-ca", "NATS CA file"),
        ("--nats-creds", "NATS credentials file"),
    ] {
        let o = bin()
            .args(["trail", "watch", "--nats", &url(), "--until-idle", "1s"])
            .args([flag, "/nonexistent/parapet-test.pem"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(
            err.contains(&format!("{what} /nonexistent/parapet-test.pem")),
            "{flag}: {err}"
        );
    }
}

/// SIGTERM while connecting (a server that accepts and never speaks keeps the client
/// waiting up to its connection timeout) ends the watch at once, exit 0.
#[test]
fn a_stop_signal_while_connecting_ends_the_watch_at_once() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let mut child = bin()
        .args(["trail", "watch", "--nats", &format!("nats://{addr}")])
        .args(["--until-idle", "30s"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Accept the connection so the client is inside its connect, then signal.
    let (_held, _) = silent.accept().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "the watch did not stop"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(
        err.contains("stopped by a signal while connecting"),
        "{err}"
    );
}
