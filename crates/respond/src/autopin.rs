//! Incident auto-pins (issue 24): while an incident is open, a change a person makes by
//! hand that closes something (an ingress rule revoked, a key deactivated, a deny policy
//! put on a role) becomes a pin, so a plan that would put it back (the drift bot) is held
//! by the gate's `reverts_pin` effect. Read from the CloudTrail record of the change, in
//! the attribute names Terraform's AWS provider uses for the resource it lands on.

use parapet_detect::sigma::Level;
use parapet_detect::{ActorKinds, Detector, Lineage};
use parapet_trail::Event;
use serde::Serialize;
use serde_json::{json, Value};

/// A pin as the decision service takes it (`POST /v1/pins`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PinRequest {
    /// `<incident>/<event id>/<n>`: the same record pins the same thing once.
    pub id: String,
    /// The resource's id (a security group, an access key, a role or user name): pins
    /// match a planned resource by its address, `id` or `arn`.
    pub resource: String,
    pub attribute: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<&'static str>,
    pub reason: String,
    pub incident: String,
}

/// AWS's managed deny-all policy: attaching it is a person locking a principal down.
const DENY_ALL: &str = "arn:aws:iam::aws:policy/AWSDenyAll";

/// Whether `e`'s actor, or any identity it descends from, is in an incident `det` has
/// at high or above: an attacker's "emergency change" (locking the responders out,
/// disabling the break-glass key) must never be pinned in place.
pub fn in_high_incident(det: &Detector, e: &Event) -> bool {
    let path = det.lineage().path(&Lineage::actor(e));
    det.incidents()
        .iter()
        .filter(|i| i.level >= Level::High)
        .any(|i| {
            i.actors.iter().any(|a| path.contains(a))
                || i.alerts
                    .iter()
                    .any(|a| a.lineage.iter().any(|n| path.contains(n)))
        })
}

/// A value from a record fit for a pin: what AWS itself writes (ids, names, CIDRs, ARNs)
/// never holds control characters, bidirectional overrides or spaces.
fn plain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 512
        && s.chars().all(|c| {
            c.is_ascii_graphic()
                || (!c.is_ascii()
                    && !c.is_control()
                    && !matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'))
        })
}

/// The pins a person's change makes while `incident` is open. Only successful calls by
/// identities [`ActorKinds`] classifies as human; automation's changes are what pins
/// protect against. A record whose ids are not plain text pins nothing.
pub fn manual_pins(e: &Event, kinds: &ActorKinds, incident: &str) -> Vec<PinRequest> {
    if e.error_code.is_some() || kinds.classify(e) != "human" || !plain(&e.id) {
        return Vec::new();
    }
    // EC2 answers `"_return": false` when nothing changed.
    if e.get("responseElements")
        .and_then(|r| r.get("_return"))
        .is_some_and(|v| v == &Value::Bool(false))
    {
        return Vec::new();
    }
    let p = e.get("requestParameters").cloned().unwrap_or(Value::Null);
    let who = e.actor().to_string();
    let mut out = Vec::new();
    let mut push = |resource: &str, attribute: &str, value: Option<Value>, mode, what: String| {
        let values_plain = value
            .as_ref()
            .is_none_or(|v| v.to_string().chars().all(|c| c != '\n') && plain(&v.to_string()));
        if !plain(resource) || !values_plain {
            return;
        }
        out.push(PinRequest {
            id: format!("{incident}/{}/{}", e.id, out.len() + 1),
            resource: resource.to_string(),
            attribute: attribute.to_string(),
            value,
            mode,
            reason: format!(
                "{who} {what} by hand during incident {incident} (event {})",
                e.id
            ),
            incident: incident.to_string(),
        });
    };
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(String::from);
    match (e.service.as_str(), e.name.as_str()) {
        ("ec2", "RevokeSecurityGroupIngress") => {
            let Some(group) = s(&p, "groupId") else {
                return out;
            };
            for perm in items(p.get("ipPermissions")) {
                let port = |k| perm.get(k).and_then(Value::as_i64);
                // Protocol -1 (all traffic) is every port, whatever the record says.
                let all = perm.get("ipProtocol").and_then(Value::as_str) == Some("-1");
                let (from, to) = match all {
                    true => (None, None),
                    false => (port("fromPort"), port("toPort")),
                };
                // Any protocol: a rule with the same ports and source reopens it, whatever
                // the protocol is spelt as (tcp, 6).
                let rule = |cidr_key: &str, cidr: String| {
                    let mut v = json!({ cidr_key: [cidr] });
                    if let Some(f) = from {
                        v["from_port"] = json!(f);
                    }
                    if let Some(t) = to {
                        v["to_port"] = json!(t);
                    }
                    v
                };
                for r in items(perm.get("ipRanges")) {
                    if let Some(c) = s(r, "cidrIp") {
                        let what = format!("revoked ingress from {c} on {}", ports(from, to));
                        push(
                            &group,
                            "ingress",
                            Some(rule("cidr_blocks", c)),
                            Some("excludes"),
                            what,
                        );
                    }
                }
                for r in items(perm.get("ipv6Ranges")) {
                    if let Some(c) = s(r, "cidrIpv6") {
                        let what = format!("revoked ingress from {c} on {}", ports(from, to));
                        push(
                            &group,
                            "ingress",
                            Some(rule("ipv6_cidr_blocks", c)),
                            Some("excludes"),
                            what,
                        );
                    }
                }
            }
        }
        ("iam", "UpdateAccessKey") => {
            let inactive = s(&p, "status").is_some_and(|v| v.eq_ignore_ascii_case("Inactive"));
            if let (true, Some(key)) = (inactive, s(&p, "accessKeyId")) {
                let what = format!("deactivated access key {key}");
                push(
                    &key,
                    "status",
                    Some(json!("Inactive")),
                    Some("equals"),
                    what,
                );
            }
        }
        ("iam", "PutRolePolicy" | "PutUserPolicy") => {
            let (holder_key, kind) = if e.name == "PutRolePolicy" {
                ("roleName", "role")
            } else {
                ("userName", "user")
            };
            let (Some(holder), Some(name)) = (s(&p, holder_key), s(&p, "policyName")) else {
                return out;
            };
            if deny_only(p.get("policyDocument")) {
                let what = format!("put deny policy {name} on {kind} {holder}");
                push(
                    &holder,
                    "inline_policy",
                    Some(json!({ "name": name })),
                    Some("contains"),
                    what,
                );
            }
        }
        ("iam", "AttachRolePolicy" | "AttachUserPolicy" | "AttachGroupPolicy") => {
            let holder = s(&p, "roleName")
                .or_else(|| s(&p, "userName"))
                .or_else(|| s(&p, "groupName"));
            let arn = s(&p, "policyArn");
            if let (Some(holder), Some(arn)) = (holder, arn) {
                if arn == DENY_ALL {
                    let what = format!("attached AWSDenyAll to {holder}");
                    push(
                        &holder,
                        "managed_policy_arns",
                        Some(json!(arn)),
                        Some("contains"),
                        what,
                    );
                }
            }
        }
        _ => {}
    }
    out
}

fn ports(from: Option<i64>, to: Option<i64>) -> String {
    match (from, to) {
        (Some(f), Some(t)) if f == t => format!("port {f}"),
        (Some(f), Some(t)) => format!("ports {f}-{t}"),
        _ => "every port".into(),
    }
}

/// CloudTrail's lists: `{"items": [...]}`, or a plain array.
fn items(v: Option<&Value>) -> Vec<&Value> {
    match v {
        Some(Value::Object(o)) => o
            .get("items")
            .and_then(Value::as_array)
            .map(|a| a.iter().collect())
            .unwrap_or_default(),
        Some(Value::Array(a)) => a.iter().collect(),
        _ => Vec::new(),
    }
}

/// A policy document (JSON text, URL-encoded or not, or an object) whose every
/// statement denies.
fn deny_only(doc: Option<&Value>) -> bool {
    let Some(doc) = doc.and_then(|d| parapet_aws::api::P(d).document()) else {
        return false;
    };
    match parapet_aws::iam::parse_policy(&doc) {
        Ok(st) => !st.is_empty() && st.iter().all(|s| !s.allow),
        Err(_) => false,
    }
}
