//! crates/wire's botocore request corpus, read for the knowledge layer's tests.

use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::sync::OnceLock;

const WIRE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../wire");

/// (botocore service id, operation, IAM action, parameters), one per operation.
pub fn corpus() -> Vec<(String, String, String, Value)> {
    let gz = std::fs::read(format!("{WIRE}/tests/data/corpus.jsonl.gz")).unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_string(&mut text)
        .unwrap();
    // The IAM prefix of services that do not sign as it (cloudwatch signs as monitoring).
    let overrides: BTreeMap<String, String> =
        std::fs::read_to_string(format!("{WIRE}/data/iam-prefix-overrides.tsv"))
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| {
                let mut c = l.split('\t');
                (c.next().unwrap().into(), c.next().unwrap().into())
            })
            .collect();
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for line in text.lines() {
        let r: Value = serde_json::from_str(line).unwrap();
        let s = |k: &str| r[k].as_str().unwrap().to_string();
        let (service, op) = (s("service"), s("operation"));
        if !seen.insert((service.clone(), op.clone())) {
            continue;
        }
        let prefix = overrides
            .get(&service)
            .cloned()
            .unwrap_or_else(|| s("signing_name"));
        out.push((
            service,
            op.clone(),
            format!("{prefix}:{op}"),
            r["expected"].clone(),
        ));
    }
    out
}

/// CloudTrail's spelling of API parameters. EC2 records them by their query names (the
/// model's `locationName`: `UserIdGroupPairs` is `groups`), starting lowercase, with
/// lists as `{"items": [...]}`; other services by the member name starting lowercase.
/// (Map keys are data, but lowering them changes no name's meaning for these tests.)
pub fn cloudtrail(service: &str, op: &str, v: &Value) -> Value {
    if service == "ec2" {
        let ec2 = &models()["services"]["ec2"];
        let input = ec2["operations"][op]["input"]["shape"].as_str().unwrap();
        return ec2_spelling(&ec2["shapes"], input, v);
    }
    lower(v)
}

fn lower_first(k: &str) -> String {
    let mut c = k.chars();
    c.next().map_or(String::new(), |f| {
        f.to_ascii_lowercase().to_string() + c.as_str()
    })
}

fn lower(v: &Value) -> Value {
    match v {
        // A policy document is recorded as written, not re-spelt.
        Value::Object(m) if m.keys().any(|k| k == "Statement") => v.clone(),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (lower_first(k), lower(v)))
                .collect::<Map<_, _>>(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(lower).collect()),
        other => other.clone(),
    }
}

/// The service models crates/wire embeds (botocore's input shapes).
fn models() -> &'static Value {
    static M: OnceLock<Value> = OnceLock::new();
    M.get_or_init(|| {
        let gz = std::fs::read(format!("{WIRE}/data/service-models.json.gz")).unwrap();
        let mut text = String::new();
        // One gzip member per service: decompressed together they are one document.
        flate2::read::MultiGzDecoder::new(&gz[..])
            .read_to_string(&mut text)
            .unwrap();
        serde_json::from_str(&text).unwrap()
    })
}

/// An input with every member of the operation's input shape, to `depth` levels of
/// structure (botocore's corpus requests hold only some members): strings `x`, numbers
/// 1, booleans false, one item per list and one entry per map.
pub fn full_input(service: &str, op: &str) -> Value {
    fn fill(shapes: &Value, shape: &str, depth: usize) -> Value {
        let s = &shapes[shape];
        match s["type"].as_str().unwrap_or_default() {
            "structure" if depth > 0 => Value::Object(
                s["members"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, m)| {
                        let inner = m["shape"].as_str().unwrap_or_default();
                        (k.clone(), fill(shapes, inner, depth - 1))
                    })
                    .collect(),
            ),
            "structure" => Value::Object(Default::default()),
            "list" => {
                let inner = s["member"]["shape"].as_str().unwrap_or_default();
                Value::Array(vec![fill(shapes, inner, depth)])
            }
            "map" => {
                let inner = s["value"]["shape"].as_str().unwrap_or_default();
                serde_json::json!({ "k": fill(shapes, inner, depth) })
            }
            "boolean" => Value::Bool(false),
            "integer" | "long" | "double" | "float" => serde_json::json!(1),
            _ => Value::String("x".into()),
        }
    }
    let svc = &models()["services"][service];
    let input = svc["operations"][op]["input"]["shape"].as_str().unwrap();
    fill(&svc["shapes"], input, 5)
}

fn ec2_spelling(shapes: &Value, shape: &str, v: &Value) -> Value {
    let s = &shapes[shape];
    match (s["type"].as_str(), v) {
        (Some("structure"), Value::Object(m)) => Value::Object(
            m.iter()
                .map(|(k, x)| {
                    let member = &s["members"][k];
                    let name = member["locationName"].as_str().unwrap_or(k);
                    let inner = member["shape"].as_str().unwrap_or_default();
                    (lower_first(name), ec2_spelling(shapes, inner, x))
                })
                .collect::<Map<_, _>>(),
        ),
        (Some("list"), Value::Array(a)) => {
            let inner = s["member"]["shape"].as_str().unwrap_or_default();
            let items: Vec<Value> = a.iter().map(|x| ec2_spelling(shapes, inner, x)).collect();
            serde_json::json!({ "items": items })
        }
        (Some("map"), Value::Object(m)) => {
            let inner = s["value"]["shape"].as_str().unwrap_or_default();
            Value::Object(
                m.iter()
                    .map(|(k, x)| (k.clone(), ec2_spelling(shapes, inner, x)))
                    .collect(),
            )
        }
        _ => v.clone(),
    }
}
