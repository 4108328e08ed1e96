//! Structure-aware: CloudTrail containers (arrays, `Records`, EventBridge envelopes,
//! LookupEvents strings, Elastic `_source`/`hits`, plain objects) nested as the input
//! says, to depths byte-level mutation of JSON rarely reaches with brackets balanced.
//! Found quadratic time and a stack overflow in `read::unwrap_raw` (seeds regress-*.bin).
#![no_main]
use libfuzzer_sys::fuzz_target;

const ONE: &str = r#"{"eventSource":"iam.amazonaws.com","eventName":"CreateUser","eventTime":"2024-08-01T13:52:02Z"}"#;

fuzz_target!(|data: &[u8]| {
    // Each byte: a container kind (low 3 bits) repeated (high 5 bits + 1) * 64 times.
    let mut core = ONE.to_string();
    let (mut opens, mut closes) = (String::new(), Vec::<&str>::new());
    let mut levels = 0usize;
    for &b in data.iter().take(64) {
        let times = (usize::from(b >> 3) + 1) * 64;
        for _ in 0..times {
            if levels >= 100_000 {
                break;
            }
            levels += 1;
            let (open, close) = match b & 7 {
                0 => ("[", "]"),
                1 => (r#"{"Records":["#, "]}"),
                2 => (r#"{"detail-type":"x","detail":"#, "}"),
                3 => (r#"{"_source":"#, "}"),
                4 => (r#"{"hits":{"hits":["#, "]}}"),
                5 => ("[", r#",{"eventSource":"s3.amazonaws.com"}]"#),
                6 => {
                    // LookupEvents: everything so far becomes one JSON string.
                    let doc = whole(&core, &opens, &closes);
                    if doc.len() > 1 << 16 {
                        continue;
                    }
                    core = format!(
                        r#"{{"Events":[{{"CloudTrailEvent":{}}}]}}"#,
                        serde_json::to_string(&doc).unwrap()
                    );
                    opens.clear();
                    closes.clear();
                    continue;
                }
                _ => (r#"{"a":"#, "}"),
            };
            opens.push_str(open);
            closes.push(close);
        }
    }
    let doc = whole(&core, &opens, &closes);
    let _ = parapet_trail::read_all("fuzz", doc.as_bytes());
});

fn whole(core: &str, opens: &str, closes: &[&str]) -> String {
    let mut doc = String::with_capacity(opens.len() + core.len() + closes.len() * 4);
    doc.push_str(opens);
    doc.push_str(core);
    for c in closes.iter().rev() {
        doc.push_str(c);
    }
    doc
}
