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
    // One message per pull, so that exactly four are delivered (a delivered message
    // that is not acknowledged would only come back after the ack wait).
    let mut got = Vec::new();
    while got.len() < 4 {
        let batch = c.fetch(1, Duration::from_secs(2)).unwrap();
        assert!(!batch.is_empty(), "fetch timed out with {} read", got.len());
        for m in &batch {
            let (events, bad) = parapet_trail::read_all("nats", &m.payload);
            assert!(bad.is_empty());
            got.extend(events.into_iter().map(|e| e.id));
            c.will_ack(m);
        }
    }
    // Acknowledge those, then "crash".
    c.ack_pending().unwrap();
    assert_eq!(got, ["m0", "m1", "m2", "m3"]);
    drop(c);
    std::thread::sleep(Duration::from_millis(100));
    let mut c = Consumer::open(&url(), &stream, &subject, "reader").unwrap();
    // Messages are handed over as they arrive: fetch until both are here.
    let mut batch = Vec::new();
    let until = std::time::Instant::now() + Duration::from_secs(5);
    while batch.len() < 2 && std::time::Instant::now() < until {
        batch.extend(c.fetch(10, Duration::from_secs(1)).unwrap());
    }
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

/// On a stream where messages keep coming, a fetch hands over what has arrived rather
/// than holding the batch open while more trickle in (which delayed alerts by up to a
/// whole batch).
#[test]
fn fetch_hands_over_a_trickle_without_waiting_for_the_batch() {
    let id = std::process::id();
    let (stream, subject) = (
        format!("PARAPET_TRICKLE{id}"),
        format!("parapet.trickle.{id}"),
    );
    let mut c = Consumer::open(&url(), &stream, &subject, "reader")
        .expect("NATS with JetStream on the machine");
    let (url, subj) = (url(), subject.clone());
    let publisher = std::thread::spawn(move || {
        let mut p = parapet_trail::nats::Client::connect(&url).unwrap();
        for i in 0..1000 {
            p.publish(&subj, None, format!("{{\"n\": {i}}}").as_bytes())
                .unwrap();
            std::thread::sleep(Duration::from_micros(500));
        }
    });
    let first = c.fetch(2000, Duration::from_secs(5)).unwrap();
    assert!(!first.is_empty(), "nothing arrived");
    assert!(
        first.len() < 1000,
        "the first fetch waited for the whole trickle ({} messages)",
        first.len()
    );
    let mut total = first.len();
    for m in &first {
        c.will_ack(m);
    }
    while total < 1000 {
        let batch = c.fetch(2000, Duration::from_secs(2)).unwrap();
        assert!(
            !batch.is_empty(),
            "fetch timed out with {total} of 1000 read"
        );
        total += batch.len();
        for m in &batch {
            c.will_ack(m);
        }
    }
    c.ack_pending().unwrap();
    publisher.join().unwrap();
    assert_eq!(total, 1000);
    let _ = c.client().request(
        &format!("$JS.API.STREAM.DELETE.{stream}"),
        b"",
        Duration::from_secs(2),
    );
}
