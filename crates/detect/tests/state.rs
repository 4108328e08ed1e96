//! Bounded state, late events, hostile input: the properties a stream needs.

use parapet_detect::sigma::{self, Doc, Engine, StateLimits};
use parapet_detect::{Config, Detector};
use proptest::prelude::*;
use serde_json::json;

fn event(i: u64, t_ms: i64, key: &str, name: &str) -> parapet_trail::Event {
    parapet_trail::Event::from_value(json!({
        "eventID": format!("e{i}"),
        "eventTime": parapet_model::time::rfc3339_ms(t_ms),
        "eventSource": "iam.amazonaws.com",
        "eventName": name,
        "sourceIPAddress": format!("10.0.{}.{}", i % 7, i % 11),
        "userAgent": "aws-cli/2",
        "userIdentity": {"type": "IAMUser", "arn": format!("arn:aws:iam::1:user/{key}"), "accessKeyId": format!("AKIA{key}"), "userName": key},
        "requestParameters": {"userName": format!("u{i}")},
        "responseElements": {"accessKey": {"accessKeyId": format!("AKIANEW{i}")}},
    }))
    .unwrap()
}

#[test]
fn memory_stays_flat_on_an_endless_stream() {
    // 200k events over ~23 days of event time, a new identity every few events: state
    // is evicted by time (lineage TTL two hours here) and never grows with the stream.
    let mut config = Config::builtin();
    config.lineage_ttl_ms = 2 * 3_600_000;
    let mut d = Detector::new(config).unwrap();
    let mut peak = (0, 0, 0);
    for i in 0..200_000u64 {
        let t = 1_700_000_000_000 + i as i64 * 10_000;
        let name = if i % 3 == 0 {
            "CreateAccessKey"
        } else {
            "ListUsers"
        };
        d.process(&event(i, t, &format!("K{}", i / 4), name));
        if i > 0 && i % 65_536 == 0 {
            let s = d.state_size();
            peak = (peak.0.max(s.0), peak.1.max(s.1), peak.2.max(s.2));
        }
    }
    // Eviction runs every 65,536 events; what is held stays below that many events'
    // identities (16k) plus two hours' worth, far below the 50k identities streamed.
    assert!(peak.0 < 20_000, "identities held: {peak:?}");
    assert!(peak.1 < 20_000, "windows held: {peak:?}");
    assert!(peak.2 < 20_000, "incidents held: {peak:?}");
    assert_eq!(d.stats().events, 200_000);
}

const COUNT_RULES: &str = r#"
title: denied
id: denied
name: denied
detection:
    sel:
        errorCode: AccessDenied
    condition: sel
---
title: storm
id: storm
correlation:
    type: event_count
    rules: [denied]
    group-by: [userIdentity.arn]
    timespan: 5m
    condition: {gte: 3}
"#;

fn doc(t: i64, arn: &str) -> serde_json::Value {
    json!({"eventName": "ListUsers", "errorCode": "AccessDenied", "eventTime": t, "userIdentity": {"arn": arn}})
}

#[test]
fn windows_take_late_events_within_lateness_and_count_the_rest() {
    let rules = sigma::rule::parse_file("t.yml", COUNT_RULES).unwrap();
    let mut e = Engine::new(
        rules,
        StateLimits {
            lateness_ms: 10 * 60_000,
            ..Default::default()
        },
    )
    .unwrap();
    let mut fired = 0;
    let feed = |e: &mut Engine, t: i64, arn: &str| {
        let v = doc(t, arn);
        let d = Doc {
            raw: &v,
            extra: None,
        };
        let mut m = Vec::new();
        e.evaluate(&d, &mut m);
        e.correlate(&d, t, "id", &m).len()
    };
    // Arrives newest first, all within one window: still one alert.
    for t in [240_000, 120_000, 0] {
        fired += feed(&mut e, t, "a");
    }
    assert_eq!(fired, 1);
    // Another actor's events spread wider than the window: no alert.
    for t in [0, 400_000, 800_000] {
        assert_eq!(feed(&mut e, t, "b"), 0);
    }
    // Far in the future, then something older than lateness + window: counted as late.
    feed(&mut e, 10_000_000, "c");
    feed(&mut e, 0, "c");
    assert_eq!(e.late_events, 1);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn readers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parapet_trail::read_all("p", &bytes);
    }

    #[test]
    fn almost_records_are_read_or_skipped(
        name in "[A-Za-z0-9]{0,20}",
        time in "[0-9TZ:.+-]{0,25}",
        extra in proptest::collection::vec(("[a-zA-Z.]{1,12}", "[ -~]{0,20}"), 0..5),
    ) {
        let mut v = json!({"eventSource": "s3.amazonaws.com", "eventName": name, "eventTime": time});
        for (k, x) in extra { v[k] = json!(x); }
        let text = v.to_string();
        let (events, skipped) = parapet_trail::read_all("p", text.as_bytes());
        prop_assert_eq!(events.len() + skipped.len(), 1);
        let mut d = Detector::new(Config::builtin()).unwrap();
        for e in &events { d.process(e); }
    }

    #[test]
    fn sigma_text_loads_or_is_refused(text in "[a-z|:*?() \n_'-]{0,300}") {
        let _ = sigma::rule::parse_file("p.yml", &text);
        let _ = sigma::cond::parse(&text, &["selection".to_string(), "filter_a".to_string()]);
    }
}
