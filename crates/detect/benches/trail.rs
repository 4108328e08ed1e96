//! parapet's Sigma engine and detector against rsigma on the same CloudTrail corpus, in
//! the same run, on one core each.
//!
//! The corpus (default 1,000,000 events, `PARAPET_BENCH_EVENTS` to change) is JSON lines
//! built here, deterministically: realistic benign management traffic from 300 actors
//! (40 API shapes, five per actor, 2% denied) with every Stratus Red Team detonation
//! record replayed into it every 5,000 events at the stream's time
//! (`PARAPET_BENCH_ATTACK_EVERY` to change; the stream-latency run uses 500). Both
//! engines get the same bytes and the same 57 SigmaHQ CloudTrail rules; match counts
//! must be identical.
//!
//!     cargo bench -p parapet-detect --bench trail

// The allocator `parapet` itself ships with, so the numbers are the binary's.
// `--features bench-system-alloc` measures both engines on glibc's allocator instead.
#[cfg(not(feature = "bench-system-alloc"))]
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "../tests/common/mod.rs"]
mod common;

use parapet_detect::sigma::{self, Doc, Engine, StateLimits};
use parapet_detect::{Config, Detector};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Instant;

struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.next() as usize % xs.len()]
    }
}

const SHAPES: &[(&str, &str, bool)] = &[
    ("ec2", "DescribeInstances", true),
    ("ec2", "DescribeSecurityGroups", true),
    ("ec2", "DescribeVolumes", true),
    ("ec2", "DescribeSubnets", true),
    ("ec2", "CreateTags", false),
    ("ec2", "DescribeNetworkInterfaces", true),
    ("sts", "AssumeRole", true),
    ("sts", "GetCallerIdentity", true),
    ("kms", "Decrypt", true),
    ("kms", "GenerateDataKey", true),
    ("kms", "Decrypt", true),
    ("logs", "CreateLogStream", false),
    ("logs", "DescribeLogGroups", true),
    ("dynamodb", "DescribeTable", true),
    ("lambda", "ListFunctions20150331", true),
    ("lambda", "GetFunction20150331v2", true),
    ("iam", "GetRole", true),
    ("iam", "ListRoles", true),
    ("iam", "GetPolicyVersion", true),
    ("monitoring", "GetMetricData", true),
    ("monitoring", "PutMetricAlarm", false),
    ("ssm", "GetParameter", true),
    ("ssm", "UpdateInstanceInformation", false),
    ("secretsmanager", "GetSecretValue", true),
    ("ecr", "GetAuthorizationToken", true),
    ("ecr", "BatchGetImage", true),
    ("autoscaling", "DescribeAutoScalingGroups", true),
    ("elasticloadbalancing", "DescribeTargetHealth", true),
    ("rds", "DescribeDBInstances", true),
    ("cloudformation", "DescribeStacks", true),
    ("s3", "ListBuckets", true),
    ("s3", "GetBucketPolicy", true),
    ("s3", "PutBucketTagging", false),
    ("ec2", "RunInstances", false),
    ("ec2", "TerminateInstances", false),
    ("iam", "CreateRole", false),
    ("ec2", "AuthorizeSecurityGroupIngress", false),
    ("sqs", "ListQueues", true),
    ("sns", "ListTopics", true),
    ("events", "PutEvents", false),
];

fn benign(r: &mut Lcg, i: u64, t_ms: i64) -> Value {
    let actor = r.next() % 300;
    // Each actor is a workload with its own five API calls (real services touch a few
    // services each; uniform traffic would look like reconnaissance).
    let (svc, name, ro) = SHAPES[(actor as usize * 7 + (r.next() % 5) as usize * 3) % SHAPES.len()];
    let who = if actor < 120 {
        json!({"type": "IAMUser", "principalId": format!("AIDA{actor:016}"), "arn": format!("arn:aws:iam::123456789012:user/svc-{actor}"),
               "accountId": "123456789012", "accessKeyId": format!("AKIA{actor:016}"), "userName": format!("svc-{actor}")})
    } else {
        json!({"type": "AssumedRole", "principalId": format!("AROA{actor:016}:session-{actor}"),
               "arn": format!("arn:aws:sts::123456789012:assumed-role/app-{actor}/session-{actor}"),
               "accountId": "123456789012", "accessKeyId": format!("ASIA{actor:016}"),
               "sessionContext": {"sessionIssuer": {"type": "Role", "arn": format!("arn:aws:iam::123456789012:role/app-{actor}"), "userName": format!("app-{actor}")},
                                  "attributes": {"creationDate": "2026-11-01T00:00:00Z", "mfaAuthenticated": "false"}}})
    };
    let params = match name {
        "DescribeInstances" => {
            json!({"instancesSet": {}, "filterSet": {"items": [{"name": "tag:team", "valueSet": {"items": [{"value": "web"}]}}]}})
        }
        "AssumeRole" => {
            json!({"roleArn": format!("arn:aws:iam::123456789012:role/app-{}", r.next() % 300), "roleSessionName": format!("s{i}")})
        }
        "Decrypt" | "GenerateDataKey" => {
            json!({"keyId": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", "encryptionAlgorithm": "SYMMETRIC_DEFAULT"})
        }
        "GetParameter" => {
            json!({"name": format!("/app/{}/config", actor), "withDecryption": false})
        }
        "GetSecretValue" => json!({"secretId": format!("app/{actor}/db")}),
        "RunInstances" => {
            json!({"instanceType": *r.pick(&["t3.micro", "m5.large", "c6g.xlarge"]), "instancesSet": {"items": [{"imageId": "ami-0abc", "minCount": 1, "maxCount": 1}]}})
        }
        "AuthorizeSecurityGroupIngress" => {
            json!({"groupId": format!("sg-{actor:08x}"), "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "ipRanges": {"items": [{"cidrIp": "10.0.0.0/8"}]}}]}})
        }
        "CreateRole" => {
            json!({"roleName": format!("r-{i}"), "assumeRolePolicyDocument": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"lambda.amazonaws.com\"},\"Action\":\"sts:AssumeRole\"}]}"})
        }
        "CreateTags" => {
            json!({"resourcesSet": {"items": [{"resourceId": format!("i-{i:017x}")}]}, "tagSet": {"items": [{"key": "team", "value": "web"}]}})
        }
        "TerminateInstances" => {
            json!({"instancesSet": {"items": [{"instanceId": format!("i-{i:017x}")}]}})
        }
        _ => json!({"name": format!("res-{}", r.next() % 1000)}),
    };
    let denied = r.next() % 50 == 0;
    let mut v = json!({
        "eventVersion": "1.09", "userIdentity": who,
        "eventTime": parapet_model::time::rfc3339_ms(t_ms - t_ms % 1000),
        "eventSource": format!("{svc}.amazonaws.com"), "eventName": name, "awsRegion": "us-east-1",
        "sourceIPAddress": format!("10.{}.{}.{}", actor % 4, actor % 200, actor % 250),
        "userAgent": *r.pick(&["aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22", "Boto3/1.34.144 md/Botocore#1.34.144 ua/2.0 os/linux", "aws-sdk-java/2.25.12 Linux/5.10", "APN/1.0 HashiCorp/1.0 Terraform/1.9.8"]),
        "requestParameters": params, "responseElements": null,
        "requestID": format!("{:032x}", r.next() << 20 ^ i), "eventID": format!("{:08x}-bench-{i:012}", r.next()),
        "readOnly": ro, "eventType": "AwsApiCall", "managementEvent": true,
        "recipientAccountId": "123456789012", "eventCategory": "Management",
    });
    if denied {
        v["errorCode"] = json!("AccessDenied");
        v["errorMessage"] = json!("User is not authorized to perform this operation");
    }
    v
}

fn corpus(n: u64, root: &Path) -> Vec<u8> {
    let attacks = common::stratus_records(&root.join("testdata/cloudtrail/stratus"));
    let mut r = Lcg(42);
    let mut out = Vec::with_capacity(n as usize * 900);
    let start = 1_793_577_600_000i64; // 2026-11-02T00:00:00Z
    let mut a = 0;
    // The stream-latency run asks for attacks more often, so its p99 is over hundreds
    // of alerts rather than a few dozen.
    let every: u64 = std::env::var("PARAPET_BENCH_ATTACK_EVERY")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(5000);
    for i in 0..n {
        let t = start + i as i64 * 30;
        let v = if i % every == every - 1 {
            let mut x = attacks[a % attacks.len()].clone();
            a += 1;
            x["eventTime"] = json!(parapet_model::time::rfc3339_ms(t - t % 1000));
            x
        } else {
            benign(&mut r, i, t)
        };
        serde_json::to_writer(&mut out, &v).unwrap();
        out.push(b'\n');
    }
    out
}

fn pct(v: &mut [u128], p: f64) -> u128 {
    if v.is_empty() {
        return 0;
    }
    v.sort_unstable();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let n: u64 = std::env::var("PARAPET_BENCH_EVENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let t = Instant::now();
    let data = corpus(n, &root);
    if let Ok(path) = std::env::var("PARAPET_BENCH_WRITE") {
        std::fs::write(&path, &data).unwrap();
        eprintln!("wrote {n} events to {path}");
        return;
    }
    let lines: Vec<&[u8]> = data
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    eprintln!(
        "corpus: {} events, {} MB, built in {:.1}s",
        lines.len(),
        data.len() >> 20,
        t.elapsed().as_secs_f64()
    );
    let rules_dir = root.join("crates/detect/tests/data/sigmahq");
    if std::env::var("PARAPET_BENCH_ONLY").as_deref() == Ok("reader") {
        // Read several times so that a profile shows reading, not building the corpus.
        let t = Instant::now();
        let mut n = 0usize;
        for _ in 0..5 {
            parapet_trail::read_bytes("bench", &data, parapet_trail::Limits::default(), &mut |i| {
                if let parapet_trail::Item::Event(e) = i {
                    n += e.name.len();
                }
            });
        }
        let s = t.elapsed().as_secs_f64() / 5.0;
        println!("reader only: {:.0} events/s ({n})", lines.len() as f64 / s);
        return;
    }
    if std::env::var("PARAPET_BENCH_ONLY").as_deref() == Ok("sigma") {
        let engine =
            Engine::new(sigma::load_dir(&rules_dir).unwrap(), StateLimits::default()).unwrap();
        let (mut scratch, mut n) = (Vec::new(), 0usize);
        let t = Instant::now();
        for _ in 0..3 {
            parapet_trail::read_bytes("bench", &data, parapet_trail::Limits::default(), &mut |i| {
                if let parapet_trail::Item::Event(e) = i {
                    let doc = Doc {
                        raw: &*e,
                        extra: None,
                    };
                    engine.evaluate(&doc, &mut scratch);
                    n += scratch.len();
                }
            });
        }
        let s = t.elapsed().as_secs_f64() / 3.0;
        println!("sigma only: {:.0} events/s ({n})", lines.len() as f64 / s);
        return;
    }
    if std::env::var("PARAPET_BENCH_ONLY").as_deref() == Ok("detector") {
        // For profiling: the detector with the behaviour pack, nothing else, three fresh
        // passes so that a profile shows detection, not building the corpus.
        let (mut best, mut alerts) = (f64::MAX, 0);
        for _ in 0..3 {
            let mut det = Detector::new(Config::builtin()).unwrap();
            let t = Instant::now();
            parapet_trail::read_bytes("bench", &data, parapet_trail::Limits::default(), &mut |i| {
                if let parapet_trail::Item::Event(e) = i {
                    det.process(&e);
                }
            });
            best = best.min(t.elapsed().as_secs_f64());
            alerts = det.stats().alerts;
        }
        println!(
            "detector only: {:.0} events/s (best of 3), {} alerts",
            lines.len() as f64 / best,
            alerts
        );
        return;
    }

    // rsigma: parse each line to a serde_json Value, evaluate.
    let theirs = common::rsigma(&rules_dir);
    let run_theirs = || {
        let t = Instant::now();
        let mut matches = 0usize;
        for l in &lines {
            let v: Value = serde_json::from_slice(l).unwrap();
            matches += theirs.evaluate(&rsigma_eval::JsonEvent::borrow(&v)).len();
        }
        (t.elapsed().as_secs_f64(), matches)
    };

    // Where the time goes: JSON parsing alone, then parapet's reader (parse + typed event).
    let t = Instant::now();
    let mut sink = 0usize;
    for l in &lines {
        let v: Value = serde_json::from_slice(l).unwrap();
        sink += v.as_object().map_or(0, |m| m.len());
    }
    let parse_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    parapet_trail::read_bytes("bench", &data, parapet_trail::Limits::default(), &mut |i| {
        if let parapet_trail::Item::Event(e) = i {
            sink += e.name.len();
        }
    });
    let read_s = t.elapsed().as_secs_f64();
    eprintln!("(checksum {sink})");

    // parapet, SigmaHQ rules only: read (the same reader `trail scan` uses), evaluate.
    let engine = Engine::new(sigma::load_dir(&rules_dir).unwrap(), StateLimits::default()).unwrap();
    let mut per_rule = vec![0usize; engine.rules().len()];
    let mut run_ours = || {
        let t = Instant::now();
        let mut matches = 0usize;
        let mut scratch = Vec::new();
        per_rule.fill(0);
        parapet_trail::read_bytes("bench", &data, parapet_trail::Limits::default(), &mut |i| {
            if let parapet_trail::Item::Event(e) = i {
                engine.evaluate(
                    &Doc {
                        raw: &*e,
                        extra: None,
                    },
                    &mut scratch,
                );
                matches += scratch.len();
                for &r in &scratch {
                    per_rule[r] += 1;
                }
            }
        });
        (t.elapsed().as_secs_f64(), matches)
    };
    // This machine is a shared VM: the two engines take turns, three rounds, and each
    // keeps its best round.
    let (mut their_s, mut our_s) = (f64::MAX, f64::MAX);
    let (mut their_matches, mut our_matches) = (0, 0);
    for round in 1..=3 {
        let (ts, tm) = run_theirs();
        let (os, om) = run_ours();
        eprintln!(
            "round {round}: rsigma {ts:.2}s, parapet {os:.2}s ({:.2}x)",
            ts / os
        );
        (their_s, their_matches) = (their_s.min(ts), tm);
        (our_s, our_matches) = (our_s.min(os), om);
    }
    let mut top: Vec<(usize, &str)> = per_rule
        .iter()
        .enumerate()
        .filter(|(_, c)| **c > 0)
        .map(|(i, c)| (*c, engine.rules()[i].meta.title.as_str()))
        .collect();
    top.sort_unstable_by(|a, b| b.cmp(a));
    eprintln!(
        "SigmaHQ rules matching most: {:?}",
        &top[..top.len().min(6)]
    );

    // parapet's detector: lineage, enrichment, correlations, incidents; once with the
    // behaviour pack (the default), once with SigmaHQ's rules added. Latency is per event
    // that raised an alert, from its bytes to its alerts.
    let detect = |with_sigmahq: bool| {
        let mut config = Config::builtin();
        if with_sigmahq {
            config.rules = sigma::overlay(config.rules, sigma::load_dir(&rules_dir).unwrap());
        }
        let mut det = Detector::new(config).unwrap();
        let mut lat = Vec::new();
        let t = Instant::now();
        for l in &lines {
            let t0 = Instant::now();
            let (events, _) = parapet_trail::read_all("bench", l);
            for e in &events {
                if !det.process(e).is_empty() {
                    lat.push(t0.elapsed().as_nanos());
                }
            }
        }
        (
            t.elapsed().as_secs_f64(),
            det.stats().alerts,
            det.incidents().len(),
            lat,
        )
    };
    let (pack_s, pack_alerts, pack_incidents, mut lat) = detect(false);
    let (full_s, full_alerts, full_incidents, _) = detect(true);

    let n = lines.len() as f64;
    println!(
        "events: {}  corpus: {} MB  rules: 57 SigmaHQ CloudTrail",
        lines.len(),
        data.len() >> 20
    );
    println!(
        "serde_json::Value parse alone:                     {:>9.0} events/s",
        n / parse_s
    );
    println!(
        "parapet reader alone (parse + typed event):        {:>9.0} events/s",
        n / read_s
    );
    println!(
        "rsigma 0.23 (serde_json Value + Engine::evaluate): {:>9.0} events/s  {:.2}s  matches {}  (best of 3)",
        n / their_s,
        their_s,
        their_matches
    );
    println!("parapet sigma (trail reader + engine):             {:>9.0} events/s  {:.2}s  matches {}  ({:.2}x rsigma, best of 3)", n / our_s, our_s, our_matches, their_s / our_s);
    println!("parapet detector, behaviour pack:                 {:>9.0} events/s  {:.2}s  alerts {}  incidents {}", n / pack_s, pack_s, pack_alerts, pack_incidents);
    println!("parapet detector, behaviour pack + SigmaHQ rules:  {:>9.0} events/s  {:.2}s  alerts {}  incidents {}", n / full_s, full_s, full_alerts, full_incidents);
    println!(
        "in-process alert latency, behaviour pack (event bytes in -> alert out): p50 {} us, p99 {} us, max {} us over {} alerting events",
        pct(&mut lat, 0.5) / 1000,
        pct(&mut lat, 0.99) / 1000,
        lat.iter().max().copied().unwrap_or(0) / 1000,
        lat.len()
    );
    assert_eq!(
        our_matches, their_matches,
        "parapet and rsigma disagree on the corpus"
    );
}
