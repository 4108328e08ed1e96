//! Hostile nesting never takes a reader down: every shape is refused in linear time
//! with its reason, and the records around it are still read. The fuzz target
//! `trail_read` found the first of these (a stack overflow on `[` * 30,000).

use parapet_trail::{read_all, read_file, Item, Limits};
use std::path::PathBuf;

const ONE: &str = r#"{"eventSource": "iam.amazonaws.com", "eventName": "CreateUser", "eventTime": "2024-08-01T13:52:02Z", "eventID": "e1"}"#;

fn nested(open: &str, close: &str, n: usize, inner: &str) -> String {
    format!("{}{inner}{}", open.repeat(n), close.repeat(n))
}

/// Read without a crash (linear time on nesting is the `trail_nesting` fuzz target's
/// job: libFuzzer reports slow units).
fn read_hostile(name: &str, text: &str) -> (usize, Vec<(String, String)>) {
    let (events, skipped) = read_all(name, text.as_bytes());
    (events.len(), skipped)
}

#[test]
fn deep_arrays_are_skipped_not_a_crash() {
    // The fuzz target's crash, and deeper.
    let crash = include_str!("../../../fuzz/corpus/trail_read/regress-deep-arrays.json");
    for text in [
        crash.to_string(),
        nested("[", "]", 30_000, ""),
        nested("[", "]", 1_000_000, ONE),
    ] {
        let (events, skipped) = read_hostile("n.json", &text);
        assert_eq!(events, 0);
        assert_eq!(skipped.len(), 1, "{skipped:?}");
        assert!(skipped[0].1.contains("nested"), "{skipped:?}");
    }
    // A few levels are fine: arrays of pages of records.
    let (events, skipped) = read_hostile("ok.json", &nested("[", "]", 3, ONE));
    assert_eq!((events, skipped.len()), (1, 0), "{skipped:?}");
}

#[test]
fn every_container_shape_is_bounded() {
    let envelope = |inner: &str| {
        format!(r#"{{"detail-type": "AWS API Call via CloudTrail", "detail": {inner}}}"#)
    };
    let records = |inner: &str| format!(r#"{{"Records": [{inner}]}}"#);
    let source = |inner: &str| format!(r#"{{"_source": {inner}}}"#);
    let lookup = |inner: &str| {
        format!(
            r#"{{"Events": [{{"CloudTrailEvent": {}}}]}}"#,
            serde_json::to_string(inner).unwrap()
        )
    };
    let shapes: [&dyn Fn(&str) -> String; 4] = [&envelope, &records, &source, &lookup];
    for (k, wrap) in shapes.iter().enumerate() {
        // Two levels read; past the limit skipped (and, with `{`, past JSON's own).
        let mut ok = ONE.to_string();
        for _ in 0..2 {
            ok = wrap(&ok);
        }
        let (events, skipped) = read_hostile("ok.json", &ok);
        assert_eq!((events, skipped.len()), (1, 0), "shape {k}: {skipped:?}");
        let levels = if k == 3 { 12 } else { 5_000 };
        let mut deep = ONE.to_string();
        for _ in 0..levels {
            deep = wrap(&deep);
        }
        let (events, skipped) = read_hostile("deep.json", &deep);
        assert_eq!((events, skipped.len()), (0, 1), "shape {k}: {skipped:?}");
    }
}

#[test]
fn a_hostile_line_is_skipped_and_the_stream_goes_on() {
    let bomb = nested("[", "]", 100_000, "");
    let obj = format!(r#"{{"a": {}}}"#, nested("[", "]", 100_000, ""));
    let text = format!("{ONE}\n{bomb}\n{ONE}\n{obj}\n{ONE}\n");
    let (events, skipped) = read_hostile("lines.jsonl", &text);
    assert_eq!(events, 3, "{skipped:?}");
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    assert!(skipped[0].0.starts_with("lines.jsonl:2"), "{skipped:?}");
    assert_eq!(skipped[1].0, "lines.jsonl:4");
    // The same from a file, read as a stream.
    let p: PathBuf =
        std::env::temp_dir().join(format!("parapet-hostile-{}.jsonl", std::process::id()));
    std::fs::write(&p, &text).unwrap();
    let mut n = (0, 0);
    read_file(&p, Limits::default(), &mut |i| match i {
        Item::Event(_) => n.0 += 1,
        Item::Skipped { .. } => n.1 += 1,
    });
    std::fs::remove_file(&p).unwrap();
    assert_eq!(n, (3, 2));
}

#[test]
fn elastic_documents_and_search_responses() {
    let logstash = r#"{"eventSource": "iam.amazonaws.com", "eventName": "CreateUser", "@timestamp": "2024-08-01T13:52:02.000Z", "@version": "1"}"#;
    let doc = format!(r#"{{"_index": "cloudtrail", "_id": "x", "_source": {logstash}}}"#);
    let search =
        format!(r#"{{"took": 3, "hits": {{"total": {{"value": 2}}, "hits": [{doc}, {doc}]}}}}"#);
    for (text, want) in [
        (logstash.to_string(), 1),
        (format!("{doc}\n{doc}\n"), 2),
        (search, 2),
    ] {
        let (events, skipped) = read_all("es.json", text.as_bytes());
        assert_eq!(
            (events.len(), skipped.len()),
            (want, 0),
            "{text}: {skipped:?}"
        );
        assert_eq!(events[0].time_rfc3339(), "2024-08-01T13:52:02Z");
    }
    let (_, skipped) = read_all("es.json", br#"{"hits": {"total": 0}}"#);
    assert!(skipped[0].1.contains("hits"), "{skipped:?}");
}

#[test]
fn utf16_exports_are_read() {
    // Windows PowerShell's Out-File: UTF-16LE with a byte-order mark.
    let text = format!("[{ONE}, {ONE}]");
    let le: Vec<u8> = [0xff, 0xfe]
        .into_iter()
        .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let be: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
    for bytes in [le.clone(), be] {
        let (events, skipped) = read_all("ps.json", &bytes);
        assert_eq!((events.len(), skipped.len()), (2, 0), "{skipped:?}");
    }
    let (events, skipped) = read_all("odd.json", &le[..le.len() - 1]);
    assert_eq!((events.len(), skipped.len()), (0, 1));
    assert!(skipped[0].1.contains("UTF-16"), "{skipped:?}");
    let lone = [0xff, 0xfe, b'[', 0, 0x00, 0xd8, b']', 0];
    let (_, skipped) = read_all("lone.json", &lone);
    assert!(skipped[0].1.contains("surrogate at byte 4"), "{skipped:?}");
}
