//! `parapet trail scan` holds events by event time, not by count: an ordered million
//! events in near-constant memory, a region-by-region tree put back in delivery order,
//! events later than --lateness counted, and the --max-held cap failing closed.

mod common;
use common::{bin, exited, root, tmpdir};
use serde_json::Value;
use std::io::{BufWriter, Read, Write};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

const DEMO: &str = "demo/trail/takeover";

/// Real CloudTrail records of an ordinary morning (the demo's first delivery).
fn benign_records() -> Vec<Value> {
    let dir = root().join(DEMO);
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&names[0]).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let records = doc["Records"].as_array().unwrap().clone();
    assert!(records.len() >= 4, "{}", records.len());
    records
}

/// Each record as text around its time and id (inside their quotes), so a million
/// lines are cheap to write.
fn templates(records: &[Value]) -> Vec<[String; 3]> {
    records
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r["eventTime"] = "@TIME@".into();
            r["eventID"] = "@ID@".into();
            let s = r.to_string();
            let (a, rest) = s.split_once("@TIME@").unwrap();
            let (b, c) = rest.split_once("@ID@").unwrap();
            [a.to_string(), b.to_string(), c.to_string()]
        })
        .collect()
}

/// Standard error of a finished scan that must have exited with `code`.
fn stderr_of(o: std::process::Output, code: i32) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    exited(o, code);
    err
}

/// The peak resident memory of a running process, in kB (0 once it is gone).
fn peak_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn an_ordered_million_events_stay_in_flat_memory() {
    const N: u64 = 1_000_000;
    let records = benign_records();
    let parts = templates(&records);
    let mut child = bin()
        .args(["trail", "scan", "-", "--format", "jsonl", "-o", "/dev/null"])
        .args(["--fail-on", "never"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let stdin = child.stdin.take().unwrap();
    // Ten events a second of event time: 28 hours, each an ordinary record with its own
    // id. The old buffer held 250,000 of them (0.6-1 GB); by time, 15 minutes' worth.
    let writer = std::thread::spawn(move || {
        let mut w = BufWriter::with_capacity(1 << 20, stdin);
        let start = 1_793_577_600_000i64;
        for i in 0..N {
            let t = start + i as i64 * 100;
            let [a, b, c] = &parts[i as usize % parts.len()];
            let time = parapet_model::time::rfc3339(t.div_euclid(1000));
            writeln!(w, "{a}{time}{b}memory-{i:012}{c}").unwrap();
        }
        w.flush().unwrap();
    });
    let mut peak = 0;
    while child.try_wait().unwrap().is_none() {
        peak = peak.max(peak_kb(pid));
        std::thread::sleep(Duration::from_millis(20));
    }
    writer.join().unwrap();
    let err = stderr_of(child.wait_with_output().unwrap(), 0);
    assert!(err.contains(&format!("{N} events")), "{err}");
    assert!(!err.contains("out of order"), "{err}");
    assert!(peak > 0, "no memory reading");
    assert!(peak < 150_000, "peak resident memory {peak} kB");
}

/// A scan's results: alert and incident lines, and what it said on stderr.
fn scan(args: &[&str]) -> (String, String, i32) {
    let o = bin()
        .args(["trail", "scan", "--format", "jsonl"])
        .args(args)
        .current_dir(root())
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        o.status.code().unwrap_or(-1),
    )
}

#[test]
fn a_tree_listed_region_by_region_is_read_in_delivery_order() {
    // The demo's deliveries split between two region directories: in name order the
    // second region's files come hours after the first's, far past --lateness.
    let dir = tmpdir("trail-tree");
    let mut names: Vec<_> = std::fs::read_dir(root().join(DEMO))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    for (i, f) in names.iter().enumerate() {
        let region = if i % 2 == 0 { "us-east-1" } else { "us-west-2" };
        let to = dir.join(region).join("2026/11/02");
        std::fs::create_dir_all(&to).unwrap();
        std::fs::copy(f, to.join(f.file_name().unwrap())).unwrap();
    }
    let tree = dir.to_str().unwrap();
    let (want, want_err, want_code) = scan(&[DEMO]);
    let (got, got_err, got_code) = scan(&[tree]);
    assert_eq!(got_code, want_code, "{got_err}");
    assert_eq!(got, want, "{got_err}");
    assert!(!got_err.contains("out of order"), "{got_err}");
    assert!(want.contains("\"critical\""), "{want}");
    assert!(want_err.contains("189 events"), "{want_err}");
}

fn write_lines(path: &Path, records: &[Value], times: &[&str]) {
    let lines: Vec<String> = times
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mut r = records[i % records.len()].clone();
            r["eventTime"] = (*t).into();
            r["eventID"] = format!("late-{i}").into();
            r.to_string()
        })
        .collect();
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

#[test]
fn later_than_lateness_is_counted_and_the_cap_fails_closed() {
    let dir = tmpdir("trail-late");
    let file = dir.join("late.jsonl");
    let records = benign_records();
    write_lines(
        &file,
        &records,
        &[
            "2026-11-02T09:00:00Z",
            "2026-11-02T10:00:00Z",
            "2026-11-02T09:50:00Z",
            "2026-11-02T08:59:00Z",
        ],
    );
    let f = file.to_str().unwrap();
    // 10:00 lets 09:00 go on; 09:50 is within 15 minutes of 10:00 and waits; 08:59
    // comes after 09:00 went on: processed at once, out of order, and counted.
    let (_, err, code) = scan(&[f, "--fail-on", "never"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("4 events"), "{err}");
    assert!(
        err.contains("1 event arrived more than --lateness (15m)"),
        "{err}"
    );
    // A larger lateness puts it back in order.
    let (_, err, code) = scan(&[f, "--fail-on", "never", "--lateness", "2h"]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("out of order"), "{err}");
    // More events within the lateness than --max-held: all are still scanned, and the
    // scan is incomplete.
    let o = bin()
        .args(["trail", "scan", f, "--fail-on", "never", "--max-held", "1"])
        .current_dir(root())
        .output()
        .unwrap();
    let err = stderr_of(o, 2);
    assert!(err.contains("4 events"), "{err}");
    assert!(
        err.contains("the scan is incomplete: more than --max-held (1)"),
        "{err}"
    );
}
