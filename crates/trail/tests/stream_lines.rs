//! JSON-lines files are read a line at a time; what comes out must be exactly what a
//! whole read of the same bytes gives (events, and skipped records with their place and
//! reason), and a file past the whole-document limit must still be read.

use parapet_trail::{read_bytes, read_file, Item, Limits};
use proptest::prelude::*;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

fn temp_file(bytes: &[u8]) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let p = std::env::temp_dir().join(format!(
        "parapet-stream-{}-{}.jsonl",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&p, bytes).unwrap();
    p
}

fn gz(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

fn items(read: impl FnOnce(&mut dyn FnMut(Item))) -> Vec<String> {
    let mut got = Vec::new();
    read(&mut |i| {
        got.push(match i {
            Item::Event(e) => format!("event {} {}", e.id, e.name),
            Item::Skipped { at, reason } => format!("skipped {at}: {reason}"),
        })
    });
    got
}

fn record(i: usize) -> String {
    format!(
        r#"{{"eventVersion": "1.08", "eventTime": "2026-11-02T09:00:00Z", "eventSource": "iam.amazonaws.com", "eventName": "CreateUser", "eventID": "e{i}", "userIdentity": {{"type": "IAMUser", "arn": "arn:aws:iam::1:user/u{i}"}}}}"#
    )
}

const LIMITS: Limits = Limits {
    max_document: 1 << 20,
    max_record: 400,
};

fn line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => (0usize..100).prop_map(|i| record(i).into_bytes()),
        1 => Just(b"".to_vec()),
        1 => Just(b"   \t".to_vec()),
        1 => Just(b"{not json".to_vec()),
        1 => Just(b"[1, 2]".to_vec()),
        1 => Just(b"{\"eventName\": \"\xff\xfe\"}".to_vec()),
        1 => (0usize..100).prop_map(|i| format!("{}\r", record(i)).into_bytes()),
        // Over the record limit, with and without a final `\r`.
        1 => (375usize..900, any::<bool>()).prop_map(|(n, cr)| {
            let mut l = format!("{{\"eventName\": \"{}\"}}", "x".repeat(n)).into_bytes();
            if cr {
                l.push(b'\r');
            }
            l
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn streamed_lines_equal_a_whole_read(
        rest in prop::collection::vec(line(), 0..30),
        bom in any::<bool>(),
        final_newline in any::<bool>(),
    ) {
        // The first line is a record, so the file is recognised as JSON lines.
        let mut bytes = if bom { b"\xef\xbb\xbf".to_vec() } else { Vec::new() };
        bytes.extend(record(1000).as_bytes());
        for l in &rest {
            bytes.push(b'\n');
            bytes.extend(l);
        }
        if final_newline {
            bytes.push(b'\n');
        }
        let path = temp_file(&bytes);
        let name = path.display().to_string();
        let whole = items(|out| read_bytes(&name, &bytes, LIMITS, out));
        let streamed = items(|out| read_file(&path, LIMITS, out));
        // The same bytes gzipped, under the same name: decompressed as they stream.
        std::fs::write(&path, gz(&bytes)).unwrap();
        let gunzipped = items(|out| read_file(&path, LIMITS, out));
        std::fs::remove_file(&path).unwrap();
        prop_assert_eq!(&streamed, &whole);
        prop_assert_eq!(gunzipped, whole);
    }
}

#[test]
fn json_lines_past_the_document_limit_are_still_read() {
    let lines: Vec<String> = (0..200).map(record).collect();
    let text = lines.join("\n");
    let small = Limits {
        max_document: 4096,
        max_record: 4096,
    };
    assert!(text.len() > 4 * small.max_document);
    let path = temp_file(text.as_bytes());
    let got = items(|out| read_file(&path, small, out));
    std::fs::remove_file(&path).unwrap();
    assert_eq!(got.len(), 200);
    assert!(
        got.iter().all(|g| g.starts_with("event ")),
        "{:?}",
        &got[..3]
    );

    // A single document (an array) that large is still refused whole, with a reason.
    let array = format!("[{}]", lines.join(","));
    let path = temp_file(array.as_bytes());
    let got = items(|out| read_file(&path, small, out));
    std::fs::remove_file(&path).unwrap();
    assert_eq!(got.len(), 1);
    assert!(got[0].contains("byte limit"), "{got:?}");
}

#[test]
fn gzip_json_lines_stream_past_the_document_limit() {
    let lines: Vec<String> = (0..200).map(record).collect();
    let small = Limits {
        max_document: 4096,
        max_record: 4096,
    };
    let text = lines.join("\n");
    let path = temp_file(&gz(text.as_bytes()));
    let got = items(|out| read_file(&path, small, out));
    assert_eq!(got.len(), 200, "{:?}", &got[..3.min(got.len())]);
    assert!(got.iter().all(|g| g.starts_with("event ")));

    // One gzip document that large is refused, with a reason, as a plain one is.
    std::fs::write(&path, gz(format!("[{}]", lines.join(",")).as_bytes())).unwrap();
    let got = items(|out| read_file(&path, small, out));
    std::fs::remove_file(&path).unwrap();
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].contains("decompresses past"), "{got:?}");
}

#[test]
fn gzip_cut_short_keeps_the_lines_before_the_cut() {
    // Several MiB decompressed: the cut falls past the first read, while streaming.
    let text: String = (0..12_000).map(|i| record(i) + "\n").collect();
    assert!(text.len() > 2 << 20);
    let z = gz(text.as_bytes());
    let path = temp_file(&z[..z.len() * 3 / 4]);
    let got = items(|out| read_file(&path, Limits::default(), out));
    std::fs::remove_file(&path).unwrap();
    let events = got.iter().filter(|g| g.starts_with("event ")).count();
    assert!(events > 6_000 && events < 12_000, "{events}");
    let skipped: Vec<_> = got.iter().filter(|g| g.starts_with("skipped ")).collect();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert!(
        skipped[0].contains("gzip stream broken at line"),
        "{skipped:?}"
    );
    // Every event before the cut came out, in order.
    for (i, g) in got.iter().take(events).enumerate() {
        assert_eq!(g, &format!("event e{i} CreateUser"));
    }
}
