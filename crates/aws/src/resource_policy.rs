//! Resource-based policies judged by their shape, the way IAM Access Analyzer judges
//! external access: one reading for a plan's attribute values and an API call's
//! parameters (any service, any depth, JSON held in strings).
//!
//! A document with a `Principal` or `NotPrincipal` in a statement is a resource policy:
//!
//! - public: `"*"`, `{"AWS": "*"}`, a wildcard principal ARN, or an Allow with
//!   `NotPrincipal`, unless a condition pins the caller to fixed accounts, an organisation,
//!   a VPC endpoint or network, or a source resource;
//! - cross-account: a principal (or a pinning condition) naming an account other than the
//!   caller's own, or a canonical user;
//! - unpinned service: a service principal with no `aws:SourceAccount`/`aws:SourceArn`
//!   (or organisation) condition, which any account's use of that service can reach
//!   (the confused-deputy problem).

use crate::iam::account_of;
use parapet_model::{Certainty, Effect, ShareTarget};
use serde_json::{Map, Value};

/// Deeper nesting than this is not a Terraform value anyone writes; judged unknown.
pub const MAX_DEPTH: usize = 48;
/// Strings longer than this are not parsed as JSON documents; judged unknown if they look
/// like a policy.
pub const MAX_DOC: usize = 4 << 20;

/// Condition keys that pin who may call (or on whose behalf a service may call) to
/// something narrower than everyone. See the IAM global condition keys reference and
/// "What does public mean" in the S3 user guide.
const PIN_KEYS: &[&str] = &[
    "aws:sourceaccount",
    "aws:sourceowner",
    "aws:sourcearn",
    "aws:sourceorgid",
    "aws:sourceorgpaths",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:principalorgid",
    "aws:principalorgpaths",
    "aws:sourcevpce",
    "aws:sourcevpc",
    "aws:sourceip",
    "aws:userid",
    "kms:calleraccount",
    "s3:dataaccesspointaccount",
    "s3:dataaccesspointarn",
];

/// The subset that pins a service principal acting on someone's behalf.
const SERVICE_PIN_KEYS: &[&str] = &[
    "aws:sourceaccount",
    "aws:sourceowner",
    "aws:sourcearn",
    "aws:sourceorgid",
    "aws:sourceorgpaths",
];

/// Keys whose values name accounts, directly or inside an ARN.
const ACCOUNT_KEYS: &[&str] = &[
    "aws:sourceaccount",
    "aws:sourceowner",
    "aws:principalaccount",
    "kms:calleraccount",
    "s3:dataaccesspointaccount",
    "aws:sourcearn",
    "aws:principalarn",
    "s3:dataaccesspointarn",
];

pub const UNREADABLE: &str =
    "looks like a resource policy but cannot be read, so who it lets in is unknown";

/// Who a statement lets in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    Public { not_principal: bool },
    Account(String),
    Service(String),
}

/// One grant found: where the document sits, who it lets in, which actions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub path: String,
    pub who: Who,
    pub actions: String,
}

/// What one side's values hold: resource-policy grants, and paths whose document cannot
/// be read (unknown until apply, malformed, too large or too deep).
#[derive(Default)]
pub struct Scan {
    pub found: Vec<Found>,
    /// (path, why)
    pub unreadable: Vec<(String, &'static str)>,
}

/// Where a value sits, rendered (`details[0].policy`) only when something is found there,
/// so walking large plans allocates nothing per attribute.
#[derive(Clone, Copy)]
pub enum Path<'a> {
    Root,
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl std::fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Path::Root => Ok(()),
            Path::Key(Path::Root, k) => f.write_str(k),
            Path::Key(p, k) => write!(f, "{p}.{k}"),
            Path::Index(p, i) => write!(f, "{p}[{i}]"),
        }
    }
}

/// A JSON document held in a string (`jsonencode`, `aws_iam_policy_document.json`).
pub fn walk_string(
    address: &str,
    t: &str,
    path: &Path,
    depth: usize,
    own: Option<&str>,
    scan: &mut Scan,
    notes: &mut Vec<String>,
) {
    let trimmed = t.trim_start();
    if !(trimmed.starts_with('{') || trimmed.starts_with('[')) || !t.contains("Statement") {
        return;
    }
    let suspicious = t.contains("Principal");
    if t.len() > MAX_DOC {
        if suspicious {
            notes.push(format!(
                "{address}: {path}: a {} byte document, larger than {MAX_DOC}; treated as unknown",
                t.len()
            ));
            scan.unreadable.push((path.to_string(), UNREADABLE));
        }
        return;
    }
    match serde_json::from_str::<Value>(t) {
        Ok(v) => walk_value(address, &v, path, depth + 1, own, scan, notes),
        Err(e) if suspicious => {
            notes.push(format!(
                "{address}: {path}: looks like a resource policy but is not valid JSON ({e}); treated as unknown"
            ));
            scan.unreadable.push((path.to_string(), UNREADABLE));
        }
        Err(_) => {}
    }
}

/// Walk a plain JSON value (inside a decoded string: no unknown markers there).
pub fn walk_value(
    address: &str,
    v: &Value,
    path: &Path,
    depth: usize,
    own: Option<&str>,
    scan: &mut Scan,
    notes: &mut Vec<String>,
) {
    if depth > MAX_DEPTH {
        notes.push(format!(
            "{address}: {path}: nested deeper than {MAX_DEPTH} levels; treated as unknown"
        ));
        scan.unreadable.push((path.to_string(), UNREADABLE));
        return;
    }
    match v {
        Value::Object(m) => {
            if is_resource_policy(v) {
                judge(v, path, own, scan);
                return;
            }
            for (k, c) in m {
                walk_value(address, c, &Path::Key(path, k), depth + 1, own, scan, notes);
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                let p = Path::Index(path, i);
                walk_value(address, c, &p, depth + 1, own, scan, notes);
            }
        }
        Value::String(t) => walk_string(address, t, path, depth, own, scan, notes),
        _ => {}
    }
}

fn statements(doc: &Value) -> Vec<&Map<String, Value>> {
    match doc.get("Statement") {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_object).collect(),
        Some(Value::Object(o)) => vec![o],
        _ => Vec::new(),
    }
}

/// A policy document with a principal in some statement: a resource policy.
pub fn is_resource_policy(v: &Value) -> bool {
    statements(v)
        .iter()
        .any(|s| s.contains_key("Principal") || s.contains_key("NotPrincipal"))
}

fn strings(v: &Value) -> Vec<&str> {
    match v {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// What a statement's conditions pin, read from the operators that only admit matching
/// requests. Negated operators, `...IfExists` (an absent key passes), `Null` and
/// `ForAllValues:` (an empty set passes) pin nothing.
#[derive(Default)]
struct Pins {
    any: bool,
    service: bool,
    accounts: Vec<String>,
}

fn pins(cond: Option<&Value>) -> Pins {
    let mut p = Pins::default();
    let Some(ops) = cond.and_then(Value::as_object) else {
        return p;
    };
    for (op, keys) in ops {
        let o = op.to_ascii_lowercase();
        let o = o.strip_prefix("foranyvalue:").unwrap_or(&o);
        if o.contains("not")
            || o.ends_with("ifexists")
            || o == "null"
            || o.starts_with("forallvalues:")
        {
            continue;
        }
        let Some(keys) = keys.as_object() else {
            continue;
        };
        let like = o.contains("like");
        for (k, vals) in keys {
            let k = k.to_ascii_lowercase();
            if !PIN_KEYS.contains(&k.as_str()) {
                continue;
            }
            let vals = strings(vals);
            let fixed = !vals.is_empty() && vals.iter().all(|v| is_fixed(&k, v.trim(), like));
            if !fixed {
                continue;
            }
            p.any = true;
            if SERVICE_PIN_KEYS.contains(&k.as_str()) {
                p.service = true;
            }
            if ACCOUNT_KEYS.contains(&k.as_str()) {
                p.accounts
                    .extend(vals.iter().filter_map(|v| account_of(v)).map(String::from));
            }
        }
    }
    p
}

/// A condition value that admits only some callers: not empty, not `*`, not a very wide
/// address range, and (for `...Like`) no wildcard where the account is.
fn is_fixed(key: &str, v: &str, like: bool) -> bool {
    let open = v.is_empty()
        || v == "*"
        || (key == "aws:sourceip" && wide_cidr(v))
        || (like && account_wildcard(key, v));
    !open
}

/// A `...Like` value whose account part is a wildcard pins no account.
fn account_wildcard(key: &str, v: &str) -> bool {
    if key.ends_with("arn") {
        v.split(':').nth(4).is_none_or(|a| a.contains(['*', '?']))
    } else {
        v.contains(['*', '?'])
    }
}

/// An address range so wide it admits much of the internet (shorter than /8, or /32 for IPv6).
fn wide_cidr(v: &str) -> bool {
    let Some((addr, bits)) = v.split_once('/') else {
        return false;
    };
    let Ok(bits) = bits.parse::<u32>() else {
        return true;
    };
    if addr.contains(':') {
        bits < 32
    } else {
        bits < 8
    }
}

fn is_foreign(acct: &str, own: Option<&str>) -> bool {
    Some(acct) != own
}

pub fn judge(doc: &Value, path: &Path, own: Option<&str>, scan: &mut Scan) {
    let path = match path {
        Path::Root => "policy".to_string(),
        p => p.to_string(),
    };
    for s in statements(doc) {
        if s.get("Effect").and_then(Value::as_str) == Some("Deny") {
            continue;
        }
        // Anything but a plain Deny is judged as an Allow: a malformed Effect fails closed.
        let actions = s
            .get("Action")
            .map(|a| strings(a).join(", "))
            .or_else(|| {
                s.get("NotAction")
                    .map(|a| format!("every action but {}", strings(a).join(", ")))
            })
            .unwrap_or_else(|| "no action named".into());
        let pins = pins(s.get("Condition"));
        // A role trust statement (a CloudFormation template's AssumeRolePolicyDocument):
        // services assume roles on the account's own behalf, no confused deputy there.
        let trust_only = s.get("NotAction").is_none()
            && s.get("Action").is_some_and(|a| {
                let a = strings(a);
                !a.is_empty() && a.iter().all(|x| x.to_ascii_lowercase().starts_with("sts:"))
            });
        let mut push = |who: Who| {
            scan.found.push(Found {
                path: path.clone(),
                who,
                actions: actions.clone(),
            })
        };
        let wildcard = |not_principal: bool, push: &mut dyn FnMut(Who)| {
            if !pins.any {
                push(Who::Public { not_principal });
            } else {
                for a in pins.accounts.iter().filter(|a| is_foreign(a, own)) {
                    push(Who::Account(a.clone()));
                }
            }
        };
        if s.contains_key("NotPrincipal") {
            wildcard(true, &mut push);
            continue;
        }
        match s.get("Principal") {
            Some(Value::String(p)) if p.trim() == "*" => wildcard(false, &mut push),
            Some(Value::Object(m)) => {
                for (kind, vals) in m {
                    for v in strings(vals) {
                        let v = v.trim();
                        match kind.as_str() {
                            "AWS" if v.contains('*') => wildcard(false, &mut push),
                            "AWS" => {
                                if let Some(a) = account_of(v) {
                                    if is_foreign(a, own) {
                                        push(Who::Account(a.to_string()));
                                    }
                                }
                            }
                            "Service" if trust_only => {}
                            "Service" => {
                                if !pins.service {
                                    push(Who::Service(v.to_string()));
                                } else {
                                    for a in pins.accounts.iter().filter(|a| is_foreign(a, own)) {
                                        push(Who::Account(a.clone()));
                                    }
                                }
                            }
                            "CanonicalUser" => push(Who::Account(format!("(canonical user {v})"))),
                            _ => {} // Federated: trust policies only, effects::iam.
                        }
                    }
                }
            }
            Some(Value::Null) | None => {}
            // A principal of any other shape is not something IAM accepts; fail closed.
            Some(_) => push(Who::Public {
                not_principal: false,
            }),
        }
    }
}

/// Every resource policy in `v` (plain JSON; strings holding JSON are read too).
/// `notes` gets a line for each document that cannot be read, naming `label` and where.
pub fn scan_value(label: &str, v: &Value, own: Option<&str>, notes: &mut Vec<String>) -> Scan {
    let mut scan = Scan::default();
    walk_value(label, v, &Path::Root, 0, own, &mut scan, notes);
    scan
}

/// The effect of one grant on the resource called `label`.
pub fn found_effect(f: &Found, label: &str) -> Effect {
    let Found { path, who, actions } = f;
    match who {
        Who::Public { not_principal } => Effect::PublicAccess {
            resource: label.to_string(),
            how: if *not_principal {
                format!("its {path} allows everyone but the named NotPrincipal ({actions})")
            } else {
                format!("its {path} lets anyone ({actions})")
            },
            certainty: Certainty::Known,
        },
        Who::Account(id) => Effect::ExternalShare {
            resource: label.to_string(),
            target: ShareTarget::Account { id: id.clone() },
            certainty: Certainty::Known,
        },
        Who::Service(svc) => Effect::ExternalShare {
            resource: format!("{label} ({path}, {actions})"),
            target: ShareTarget::Account {
                id: format!("(any account that uses {svc}: no aws:SourceAccount or aws:SourceArn condition pins it)"),
            },
            certainty: Certainty::Known,
        },
    }
}
