//! Every request botocore wrote for every operation of the services parapet knows effects
//! for (tests/data/corpus.jsonl.gz, made by scripts/gen-wire-corpus) routes to botocore's
//! operation and reads back the parameters botocore was given.
//!
//! Normalisations (documented in the crate docs): a timestamp is kept as the request wrote
//! it (ISO 8601, RFC 822 or epoch seconds, text or number), so it is compared as the instant
//! it names; numbers compare as numbers; a blob/streaming payload member is never read
//! (BodyUse::Stream); requests that are byte for byte another operation's route to that one
//! (`wire_twin`). Nothing may be read that botocore was not given.

use std::io::Read;

use base64::Engine;
use http::{HeaderMap, HeaderName, HeaderValue};
use parapet_wire::{needs_body_to_route, parameters, route, BodyUse, Head, ServiceModels};
use serde_json::Value;

/// Operations whose requests are the same bytes as another's, so a request is routed to
/// that one: botocore's deprecated S3 names and the current ones; docdb's and neptune's
/// management APIs, which are rds's (same signing name, API version, actions and endpoint;
/// their IAM actions are rds:*).
fn wire_twin(service: &str, op: &str) -> Option<(&'static str, String)> {
    match (service, op) {
        ("docdb" | "neptune", _) => Some(("rds", op.to_string())),
        (
            "s3",
            "GetBucketLifecycle"
            | "PutBucketLifecycle"
            | "GetBucketNotification"
            | "PutBucketNotification",
        ) => Some(("s3", format!("{op}Configuration"))),
        _ => None,
    }
}

fn records() -> Vec<Value> {
    let gz = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/corpus.jsonl.gz"
    ))
    .unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_string(&mut text)
        .unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Seconds since the epoch of a timestamp in any of the forms AWS protocols write.
fn epoch(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s
            .parse::<f64>()
            .ok()
            .or_else(|| iso8601(s))
            .or_else(|| rfc822(s)),
        _ => None,
    }
}

fn days(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468
}

fn iso8601(s: &str) -> Option<f64> {
    // 2024-01-02T03:04:05[.fff]Z
    let s = s.strip_suffix('Z').or_else(|| s.strip_suffix("+00:00"))?;
    let (date, time) = s.split_once('T')?;
    let d: Vec<i64> = date
        .split('-')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let t: Vec<i64> = hms
        .split(':')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    let frac: f64 = format!("0.{frac}").parse().ok()?;
    Some((days(d[0], d[1], d[2]) * 86400 + t[0] * 3600 + t[1] * 60 + t[2]) as f64 + frac)
}

fn rfc822(s: &str) -> Option<f64> {
    // Tue, 02 Jan 2024 03:04:05 GMT
    let parts: Vec<&str> = s.split_whitespace().collect();
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mon = *parts.get(2)?;
    let m = months.iter().position(|x| *x == mon)? as i64 + 1;
    let t: Vec<i64> = parts
        .get(4)?
        .split(':')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    let d = days(parts.get(3)?.parse().ok()?, m, parts.get(1)?.parse().ok()?);
    Some((d * 86400 + t[0] * 3600 + t[1] * 60 + t[2]) as f64)
}

fn compare(expected: &Value, actual: &Value, at: &str, diffs: &mut Vec<String>) {
    if let Some(ts) = expected
        .as_object()
        .and_then(|o| o.get("$ts"))
        .and_then(Value::as_f64)
    {
        match epoch(actual) {
            Some(a) if (a - ts).abs() < 1e-3 => {}
            _ => diffs.push(format!("{at}: timestamp {ts} != {actual}")),
        }
        return;
    }
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                match a.get(k) {
                    Some(av) => compare(ev, av, &format!("{at}.{k}"), diffs),
                    None => diffs.push(format!("{at}.{k}: missing (expected {ev})")),
                }
            }
            for k in a.keys() {
                if !e.contains_key(k) {
                    diffs.push(format!("{at}.{k}: unexpected {}", a[k]));
                }
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                diffs.push(format!("{at}: {} items != {}", e.len(), a.len()));
                return;
            }
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                compare(ev, av, &format!("{at}[{i}]"), diffs);
            }
        }
        (Value::Number(e), Value::Number(a)) if e.as_f64() == a.as_f64() => {}
        _ if expected == actual => {}
        _ => diffs.push(format!("{at}: expected {expected} got {actual}")),
    }
}

#[test]
fn every_captured_request_routes_and_reads_back() {
    let models = ServiceModels::embedded();
    let recs = records();
    assert!(recs.len() > 5000, "{} records", recs.len());
    let mut failures = Vec::new();
    let mut passed = 0;
    for r in &recs {
        let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
        let mut headers = HeaderMap::new();
        for h in r["headers"].as_array().unwrap() {
            let name = HeaderName::from_bytes(h[0].as_str().unwrap().as_bytes()).unwrap();
            headers.append(name, HeaderValue::from_str(h[1].as_str().unwrap()).unwrap());
        }
        let body = base64::engine::general_purpose::STANDARD
            .decode(s("body"))
            .unwrap();
        let (method, host, path, query, sn) = (
            s("method"),
            s("host"),
            s("path"),
            s("query"),
            s("signing_name"),
        );
        let head = Head {
            method: &method,
            host: Some(&host),
            path: &path,
            query: &query,
            headers: &headers,
        };
        let id = format!(
            "{} {} ({} {} {}?{})",
            s("label"),
            s("operation"),
            method,
            host,
            path,
            query
        );
        // As the proxy does: the body only when the signing name's protocols need it.
        let route_body = needs_body_to_route(models, &sn).then_some(&body[..]);
        let route = match route(models, &head, &sn, route_body) {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{id}: route: {e}"));
                continue;
            }
        };
        let same = route.service.id == s("service") && route.operation == s("operation");
        let twin = wire_twin(&s("service"), &s("operation"))
            .is_some_and(|(svc, op)| route.service.id == svc && route.operation == op);
        if !same && !twin {
            failures.push(format!(
                "{id}: routed to {}:{}",
                route.service.id, route.operation
            ));
            continue;
        }
        if (route.body == BodyUse::Stream) != r["streamed"].is_string() {
            failures.push(format!(
                "{id}: body use {:?}, streamed member {}",
                route.body, r["streamed"]
            ));
            continue;
        }
        // A deprecated S3 twin has its own (older) input shape: its route is what matters.
        if twin && route.service.id == "s3" {
            passed += 1;
            continue;
        }
        match parameters(&route, &head, &body) {
            Ok(actual) => {
                let mut diffs = Vec::new();
                compare(&r["expected"], &actual, "", &mut diffs);
                if diffs.is_empty() {
                    passed += 1;
                } else {
                    failures.push(format!("{id}: {}", diffs.join("; ")));
                }
            }
            Err(e) => failures.push(format!("{id}: parameters: {e}")),
        }
    }
    eprintln!(
        "wire corpus: {passed}/{} requests route and read back",
        recs.len()
    );
    for f in failures.iter().take(60) {
        eprintln!("FAIL {f}");
    }
    assert!(
        failures.is_empty(),
        "{} of {} failed",
        failures.len(),
        recs.len()
    );
}
