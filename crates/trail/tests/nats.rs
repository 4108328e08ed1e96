//! The JetStream reader against the machine's NATS server (127.0.0.1:4222, or
//! `PARAPET_TEST_NATS`): stream and durable consumer created, messages fetched in order,
//! acknowledged ones not redelivered after a restart, bad payloads skipped.

use parapet_trail::nats::Consumer;
use std::time::Duration;

fn url() -> String {
    std::env::var("PARAPET_TEST_NATS").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

#[test]
fn durable_consumer_resumes_after_acks() {
    let id = std::process::id();
    let (stream, subject) = (format!("PARAPET_T{id}"), format!("parapet.test.{id}"));
    let mut c = Consumer::open(&url(), &stream, &subject, "reader")
        .expect("NATS with JetStream on the machine");
    for i in 0..5 {
        let rec = format!(
            r#"{{"eventSource": "iam.amazonaws.com", "eventName": "CreateUser", "eventTime": "2026-11-02T09:00:0{i}Z", "eventID": "m{i}"}}"#
        );
        c.client().publish(&subject, None, rec.as_bytes()).unwrap();
    }
    c.client().publish(&subject, None, b"{not json").unwrap();
    let mut got = Vec::new();
    let mut skipped = 0;
    while got.len() + skipped < 6 {
        let batch = c.fetch(4, Duration::from_secs(2)).unwrap();
        assert!(!batch.is_empty(), "fetch timed out with {} read", got.len());
        for m in &batch {
            let (events, bad) = parapet_trail::read_all("nats", &m.payload);
            got.extend(events.into_iter().map(|e| e.id));
            skipped += bad.len();
            c.will_ack(m);
        }
        // Acknowledge only the first batch, then "crash".
        if got.len() >= 4 && skipped == 0 {
            c.ack_pending().unwrap();
            break;
        }
    }
    assert_eq!(got, ["m0", "m1", "m2", "m3"]);
    drop(c);
    std::thread::sleep(Duration::from_millis(100));
    let mut c = Consumer::open(&url(), &stream, &subject, "reader").unwrap();
    let batch = c.fetch(10, Duration::from_secs(2)).unwrap();
    let rest: Vec<String> = batch
        .iter()
        .flat_map(|m| parapet_trail::read_all("nats", &m.payload).0)
        .map(|e| e.id)
        .collect();
    assert_eq!(
        rest,
        ["m4"],
        "acknowledged messages came back or m4 was lost"
    );
    assert_eq!(
        batch.len(),
        2,
        "the bad payload is still delivered (to be skipped)"
    );
    for m in &batch {
        c.will_ack(m);
    }
    c.ack_pending().unwrap();
    // Clean up the test stream.
    let _ = c.client().request(
        &format!("$JS.API.STREAM.DELETE.{stream}"),
        b"",
        Duration::from_secs(2),
    );
}
