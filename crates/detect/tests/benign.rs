//! Six hours of an ordinary account, built from how AWS records the work of its usual
//! actors: functions deployed by a pipeline and running (some calling Bedrock), instances
//! launched by Terraform and acting with their role, hourly Terraform plans reading a
//! dozen services, engineers in the console and the CLI through SSO, an IAM user rotating
//! their own key, AWS services acting for the account, a clean-up job deleting objects,
//! occasional denied calls, and upkeep that would look like evasion or impact from anyone
//! else (backups expiring, GPU training, the SES console), and the classes of issue 22,
//! point 5: a compliance scanner sweeping every service with an audit role (some calls
//! refused), ECS tasks reading their secrets at start, Auto Scaling launching a group's
//! GPU instances, SSO administrators at work, console browsing. The behaviour pack must raise
//! nothing on it: every alert here would be a false positive a security team learns to
//! ignore.

#[path = "benign/day.rs"]
mod day;

use day::{day, Trail, ACCOUNT, CLI_UA, HOUR, START_MS};
use parapet_detect::{Config, Detector};
use serde_json::{json, Value};

#[test]
fn an_ordinary_day_raises_nothing() {
    let events = day();
    assert!(events.len() > 40_000, "{}", events.len());
    let mut d = Detector::new(Config::builtin()).unwrap();
    let mut alerts = Vec::new();
    for e in &events {
        alerts.extend(d.process(e));
    }
    let shown: Vec<String> = alerts
        .iter()
        .map(|a| format!("{} {} {}", a.rule_id, a.actor, a.event_ids.join(",")))
        .collect();
    assert!(
        shown.is_empty(),
        "{} alerts:\n{}",
        shown.len(),
        shown.join("\n")
    );
    assert!(d.incidents().is_empty());
}

/// The same day with one engineer's key leaked: the pack sees the stranger using it
/// (so the quiet above is not a deaf detector).
#[test]
fn the_same_day_with_a_leaked_key_is_not_quiet() {
    let mut events = day();
    let mut trail = Trail {
        events: Vec::new(),
        seq: 1_000_000,
    };
    let dana = json!({"type": "IAMUser", "principalId": "AIDADANAEXAMPLE0001", "arn": format!("arn:aws:iam::{ACCOUNT}:user/dana"),
                      "accountId": ACCOUNT, "userName": "dana", "accessKeyId": "AKIADANANEWKEY0001"});
    // Dana uses the new key from her laptop for a while...
    for k in 0..10 {
        trail.call(
            START_MS + 3 * HOUR + 120_000 + k * 60_000,
            &dana,
            "s3",
            "ListBuckets",
            json!({}),
            Value::Null,
            CLI_UA,
            "203.0.113.40",
        );
    }
    // ...then someone else maps the account with it.
    let services = [
        ("iam", "ListUsers"),
        ("s3", "ListBuckets"),
        ("ec2", "DescribeInstances"),
        ("lambda", "ListFunctions20150331"),
        ("secretsmanager", "ListSecrets"),
        ("rds", "DescribeDBInstances"),
        ("bedrock", "ListFoundationModels"),
    ];
    for (k, (svc, name)) in services.into_iter().enumerate() {
        trail.call(
            START_MS + 5 * HOUR + k as i64 * 5_000,
            &dana,
            svc,
            name,
            json!({}),
            Value::Null,
            "python-requests/2.32.3",
            "185.220.101.33",
        );
    }
    events.extend(
        trail
            .events
            .into_iter()
            .map(|(_, v)| parapet_trail::Event::from_value(v).unwrap()),
    );
    events.sort_by_key(|e| e.time_ms);
    let mut d = Detector::new(Config::builtin()).unwrap();
    let mut rules = Vec::new();
    for e in &events {
        rules.extend(d.process(e).into_iter().map(|a| a.rule_id));
    }
    assert!(
        rules.iter().any(|r| r == "parapet-key-new-origin"),
        "{rules:?}"
    );
    assert!(
        rules.iter().any(|r| r == "parapet-recon-burst"),
        "{rules:?}"
    );
}
