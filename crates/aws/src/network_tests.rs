use super::*;
use ExposureScope::{BroadPublicRange as Broad, Internet};

#[test]
fn classifies() {
    assert_eq!(classify_source("0.0.0.0/0"), Some(Internet));
    assert_eq!(classify_source("::/0"), Some(Internet));
    assert_eq!(classify_source("208.236.235.254/0"), Some(Internet));
    assert_eq!(classify_source("3.0.0.0/8"), Some(Broad));
    assert_eq!(classify_source("10.0.0.0/8"), None);
    assert_eq!(classify_source("203.0.113.7/32"), None);
    assert_eq!(classify_source("2000::/3"), Some(Internet));
    assert_eq!(classify_source("2600::/12"), Some(Broad));
    assert_eq!(classify_source("fd00::/8"), None);
}

#[test]
fn forms_aws_normalises_read_as_what_they_mean() {
    for c in [
        "0.0.0.0/00",
        "::/00",
        "0.0.0.0/0.0.0.0",
        "::ffff:0.0.0.0/96",
        "::ffff:0:0/96",
        " 0.0.0.0/0 ",
        "0.0.0.0/1",
        "128.0.0.0/1",
        "::/1",
        "64:ff9b::/96",
    ] {
        assert_eq!(classify(c), Source::Exposed(Internet), "{c}");
    }
    assert_eq!(classify("3.0.0.0/255.0.0.0"), Source::Exposed(Broad));
    assert_eq!(classify("::ffff:3.0.0.0/104"), Source::Exposed(Broad));
    assert_eq!(classify("::ffff:10.0.0.0/104"), Source::Narrow);
    assert_eq!(classify("203.0.113.7"), Source::Narrow);
    assert_eq!(classify("2001:db8::1"), Source::Narrow);
    assert_eq!(classify("10.0.0.0/008"), Source::Narrow);
}

#[test]
fn values_that_are_not_cidrs_are_unknown_never_narrow() {
    for c in [
        "0.0.0.0",
        "::",
        "0.0.0.0/ 0",
        "0.0.0.0/0x0",
        "::/0%eth0",
        "0.0.0.0/-0",
        "0.0.0.0/+0",
        "0.0.0.0/33",
        "::/129",
        "0.0.0.0/255.0.255.0",
        "::/0.0.0.0",
        "garbage",
        "0.0.0.0/",
        "0.0.0.0/0/0",
    ] {
        assert_eq!(classify(c), Source::Unparseable, "{c:?}");
        assert_eq!(classify_source(c), Some(Internet), "{c:?}");
    }
}

#[test]
fn split_ranges_covering_the_internet_are_the_internet() {
    let halves = classify_rule(&["0.0.0.0/1", "128.0.0.0/1"]);
    assert_eq!(halves, vec![Source::Exposed(Internet); 2]);
    let ninths: Vec<String> = (0..512u32)
        .map(|i| format!("{}.{}.0.0/9", i / 2, (i % 2) * 128))
        .collect();
    let refs: Vec<&str> = ninths.iter().map(String::as_str).collect();
    let got = classify_rule(&refs);
    assert_eq!(got[6], Source::Exposed(Internet)); // 3.0.0.0/9
    assert_eq!(got[20], Source::Narrow); // 10.0.0.0/9 stays private
    let v6: Vec<String> = (0..32u32)
        .map(|i| format!("{:x}00::/8", 0x20 + i))
        .collect();
    let refs: Vec<&str> = v6.iter().map(String::as_str).collect();
    assert!(classify_rule(&refs)
        .iter()
        .all(|s| *s == Source::Exposed(Internet)));
    assert_eq!(
        classify_rule(&["203.0.113.0/24", "10.0.0.0/8", "nope"]),
        vec![Source::Narrow, Source::Narrow, Source::Unparseable]
    );
}

#[test]
fn empty_is_no_source_and_everything_is_spelled_many_ways() {
    assert_eq!(classify_source(""), None);
    assert_eq!(classify(""), Source::Unparseable);
    for c in [
        "0.0.0.0/0",
        "0.0.0.0/00",
        "0.0.0.0/0.0.0.0",
        "::/0",
        "::ffff:0:0/96",
    ] {
        assert!(is_everything(c), "{c}");
    }
    assert!(!is_everything("0.0.0.0/1"));
}
