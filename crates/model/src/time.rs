//! RFC 3339 times without a date crate: the one place parapet turns civil dates into
//! Unix time and back (pins' expiries, audit and BOM timestamps, CloudTrail's
//! `eventTime`). Days from and to the civil calendar follow Howard Hinnant's algorithms.

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `2026-12-31T00:00:00Z`, `2026-12-31T01:00:00.5+01:00`, `2026-12-31` (midnight UTC)
/// to Unix milliseconds. Fractions past milliseconds are dropped.
pub fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    canonical_ms(s.as_bytes()).or_else(|| general_ms(s))
}

/// `2024-08-01T13:52:02Z` exactly, the way CloudTrail writes every `eventTime`, read
/// in place (splitting and parsing each part cost 4% of the detector's pipeline).
/// `None` for anything else, which `general_ms` then reads (or refuses).
fn canonical_ms(b: &[u8]) -> Option<i64> {
    let shape = b.len() == 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'Z';
    if !shape {
        return None;
    }
    let n = |at: usize, len: usize| {
        b[at..at + len].iter().try_fold(0i64, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
        })
    };
    let (y, m, d) = (n(0, 4)?, n(5, 2)?, n(8, 2)?);
    let (h, mi, sec) = (n(11, 2)?, n(14, 2)?, n(17, 2)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    Some((days_from_civil(y, m, d) * 86_400 + h * 3600 + mi * 60 + sec) * 1000)
}

fn general_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    let (date, time) = match s.split_once(['T', 't', ' ']) {
        Some((d, t)) => (d, t),
        None => (s, "00:00:00Z"),
    };
    let mut d = date.split('-');
    let y: i64 = d.next()?.parse().ok()?;
    let m: i64 = d.next()?.parse().ok()?;
    let day: i64 = d.next()?.parse().ok()?;
    if d.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return None;
    }
    let (clock, offset) = if let Some(c) = time.strip_suffix(['Z', 'z']) {
        (c, 0)
    } else if let Some(i) = time.rfind(['+', '-']) {
        let (c, o) = time.split_at(i);
        let sign = if o.starts_with('-') { -1 } else { 1 };
        let (oh, om) = o[1..].split_once(':')?;
        (
            c,
            sign * (oh.parse::<i64>().ok()? * 3600 + om.parse::<i64>().ok()? * 60),
        )
    } else {
        return None;
    };
    let mut c = clock.split(':');
    let h: i64 = c.next()?.parse().ok()?;
    let mi: i64 = c.next()?.parse().ok()?;
    let seconds = c.next().unwrap_or("0");
    if c.next().is_some() {
        return None;
    }
    let (sec, frac) = seconds.split_once('.').unwrap_or((seconds, ""));
    let sec: i64 = sec.parse().ok()?;
    if h > 23 || mi > 59 || sec > 60 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let ms = frac
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(3)
        .fold(0, |acc, b| acc * 10 + i64::from(b - b'0'));
    let days = days_from_civil(y, m, day);
    Some((days * 86_400 + h * 3600 + mi * 60 + sec - offset) * 1000 + ms)
}

/// The same, in Unix seconds.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    parse_rfc3339_ms(s).map(|ms| ms.div_euclid(1000))
}

/// Unix seconds to `2026-11-22T09:30:00Z` (UTC).
pub fn rfc3339(epoch: i64) -> String {
    let (y, m, d) = civil_from_days(epoch.div_euclid(86_400));
    let secs = epoch.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Unix milliseconds to RFC 3339, with `.mmm` only when there are milliseconds.
pub fn rfc3339_ms(ms: i64) -> String {
    let base = rfc3339(ms.div_euclid(1000));
    match ms.rem_euclid(1000) {
        0 => base,
        frac => format!("{}.{frac:03}Z", &base[..base.len() - 1]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_000_000), "2026-11-18T11:06:40Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn parses_what_it_formats_and_more() {
        for t in [
            "2024-08-01T13:52:02Z",
            "1970-01-01T00:00:00Z",
            "2000-02-29T23:59:59.123Z",
        ] {
            assert_eq!(rfc3339_ms(parse_rfc3339_ms(t).unwrap()), t);
        }
        assert_eq!(
            parse_rfc3339_ms("2024-08-01T13:52:02Z"),
            Some(1_722_520_322_000)
        );
        assert_eq!(parse_rfc3339("2026-11-22T06:32:55Z"), Some(1_795_329_175));
        assert_eq!(parse_rfc3339("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:00.5Z"), Some(500));
        assert_eq!(
            parse_rfc3339("2026-11-22"),
            parse_rfc3339("2026-11-22T00:00:00Z")
        );
        for bad in [
            "",
            "yesterday",
            "2026-13-01T00:00:00Z",
            "2024-08-01T13:52:02Q",
            "2024-08-01T13:52:02.x1Z",
            "2024-08-01T13:52:02:01Z",
        ] {
            assert_eq!(parse_rfc3339_ms(bad), None, "{bad}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2048))]
        /// The in-place reading of the canonical shape agrees with the general parser,
        /// on valid times, on each part one past its range, and on stray characters.
        #[test]
        fn canonical_times_read_as_the_general_parser_reads_them(
            (y, mo, d) in (0u32..=9999, 0u32..=13, 0u32..=32),
            (h, mi, sec) in (0u32..=24, 0u32..=60, 0u32..=61),
            stray in proptest::option::of((0usize..20, proptest::char::range('+', ':'))),
        ) {
            let mut s = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{sec:02}Z");
            if let Some((at, c)) = stray {
                s.replace_range(at..at + 1, &c.to_string());
            }
            proptest::prop_assert_eq!(parse_rfc3339_ms(&s), general_ms(&s), "{}", s);
            // And the canonical shape is read in place, not by the fallback.
            if stray.is_none() && general_ms(&s).is_some() {
                proptest::prop_assert_eq!(canonical_ms(s.as_bytes()), general_ms(&s), "{}", s);
            }
        }
    }
}
