//! Decisions with Cedar: allow, review (with approvers and a cooling-off delay) or deny.
//!
//! Cedar has two effects, permit and forbid. parapet reads a third outcome from an
//! annotation: a `forbid` marked `@outcome("review")` means "not without approval".
//! Because Cedar reports every satisfied forbid when it denies, one evaluation tells
//! a hard deny (any forbid without the annotation) from a review (only review forbids).
//! Evaluation errors, or no permitting policy, decide deny: the gate fails closed.

mod pack;
mod request;

pub use pack::{builtin_files, PolicyFile};
pub use request::{Facts, ResourceFacts};

use cedar_policy::{Authorizer, PolicyId, PolicySet, Schema, ValidationMode, Validator};
use parapet_model::{Approval, DecidingPolicy, Decision, Outcome};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

/// Most decisions remembered per engine; the memo is emptied when full.
const MEMO_CAP: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read policy directory {path}: {message}")]
    Io { path: String, message: String },
    #[error("policy file {file}: {message}")]
    Parse { file: String, message: String },
    #[error("policy file {file} does not match the schema (docs/policies.md):\n{message}")]
    Invalid { file: String, message: String },
    #[error("policy {id} in {file}: {message}")]
    Annotation {
        id: String,
        file: String,
        message: String,
    },
}

/// What a policy's annotations say about the decision it makes.
#[derive(Debug, Clone)]
struct Meta {
    id: String,
    outcome: Outcome,
    reason: String,
    approval: Approval,
}

pub struct PolicyEngine {
    set: PolicySet,
    meta: HashMap<PolicyId, Meta>,
    authorizer: Authorizer,
    /// Names of the files that make up the loaded pack, in load order.
    pub files: Vec<String>,
    /// [`PolicyEngine::version`].
    version: String,
    /// Does any policy look at the resource's address or name a resource entity?
    /// If not, a decision does not depend on the address and can be shared.
    address_sensitive: bool,
    /// Does any policy read the resource's tags?
    tag_sensitive: bool,
    /// Decisions by the facts policies can read ([`memo_key`]). A decision is a pure
    /// function of those facts and this engine's policies, so changes and calls that
    /// differ only in what no policy reads share one Cedar evaluation. Bounded; a new
    /// engine (new policies) starts empty.
    memo: Mutex<HashMap<String, Decision>>,
}

/// Default approvers for a review policy that does not say.
pub const DEFAULT_APPROVERS: u32 = 2;

pub fn schema() -> Schema {
    Schema::from_cedarschema_str(include_str!("../schema.cedarschema"))
        .expect("embedded schema is valid")
        .0
}

impl std::fmt::Debug for PolicyEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyEngine")
            .field("files", &self.files)
            .field("policies", &self.meta.len())
            .finish()
    }
}

impl PolicyEngine {
    /// The built-in pack, with files from `dir` added; a file with a built-in's name
    /// replaces it (an empty file switches that built-in off).
    pub fn load(dir: Option<&Path>) -> Result<PolicyEngine, PolicyError> {
        let mut files: Vec<PolicyFile> = builtin_files();
        if let Some(dir) = dir {
            for f in pack::read_dir(dir)? {
                match files.iter_mut().find(|b| b.name == f.name) {
                    Some(b) => *b = f,
                    None => files.push(f),
                }
            }
        }
        Self::from_files(files)
    }

    pub fn from_files(files: Vec<PolicyFile>) -> Result<PolicyEngine, PolicyError> {
        let schema = schema();
        let validator = Validator::new(schema);
        let mut set = PolicySet::new();
        let mut meta = HashMap::new();
        let mut names = Vec::new();
        let address_sensitive = files
            .iter()
            .any(|f| f.text.contains("address") || f.text.contains("Resource::"));
        // Conservative: any mention of "tag" (tags, tagKeys) counts.
        let tag_sensitive = files.iter().any(|f| f.text.contains("tag"));
        for f in &files {
            names.push(f.name.clone());
            let parsed: PolicySet =
                f.text
                    .parse()
                    .map_err(|e: cedar_policy::ParseErrors| PolicyError::Parse {
                        file: f.name.clone(),
                        message: e.to_string(),
                    })?;
            let result = validator.validate(&parsed, ValidationMode::Strict);
            if !result.validation_passed() {
                let message = result
                    .validation_errors()
                    .map(|e| format!("  - {e}"))
                    .collect::<Vec<_>>()
                    .join("\n");
                return Err(PolicyError::Invalid {
                    file: f.name.clone(),
                    message,
                });
            }
            if parsed.templates().next().is_some() {
                return Err(PolicyError::Parse {
                    file: f.name.clone(),
                    message: "templates are not supported; write static policies".into(),
                });
            }
            for (n, p) in parsed.policies().enumerate() {
                let id = p
                    .annotation("id")
                    .map(String::from)
                    .unwrap_or_else(|| format!("{}#{}", f.name, n));
                let pid = PolicyId::new(format!("{}:{}", f.name, id));
                let m = read_meta(&id, &f.name, p)?;
                set.add(p.new_id(pid.clone()))
                    .map_err(|e| PolicyError::Annotation {
                        id: id.clone(),
                        file: f.name.clone(),
                        message: e.to_string(),
                    })?;
                meta.insert(pid, m);
            }
        }
        Ok(PolicyEngine {
            set,
            meta,
            authorizer: Authorizer::new(),
            files: names,
            version: pack::version(&files),
            address_sensitive,
            tag_sensitive,
            memo: Mutex::new(HashMap::new()),
        })
    }

    pub fn address_sensitive(&self) -> bool {
        self.address_sensitive
    }

    pub fn tag_sensitive(&self) -> bool {
        self.tag_sensitive
    }

    pub fn policy_count(&self) -> usize {
        self.meta.len()
    }

    /// SHA-256 (hex) of the pack's files (names and texts, in load order): what an
    /// approval of a call is bound to besides the call, so a changed pack needs new
    /// approvals.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Decide one request. Never panics and never allows on error.
    pub fn decide(&self, facts: &Facts) -> Decision {
        if self.address_sensitive {
            return self.evaluate(facts);
        }
        let key = memo_key(facts, self.tag_sensitive);
        // A poisoned lock only means another thread panicked mid-insert: evaluate
        // afresh rather than trust or block on the memo.
        if let Some(d) = self.memo.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return d;
        }
        let d = self.evaluate(facts);
        if let Ok(mut m) = self.memo.lock() {
            if m.len() >= MEMO_CAP {
                m.clear();
            }
            m.insert(key, d.clone());
        }
        d
    }

    /// One Cedar evaluation.
    fn evaluate(&self, facts: &Facts) -> Decision {
        let built = match request::build(facts) {
            Ok(b) => b,
            Err(e) => return deny_error(format!("could not build the policy request: {e}")),
        };
        let resp = self
            .authorizer
            .is_authorized(&built.request, &self.set, &built.entities);
        let errors: Vec<String> = resp.diagnostics().errors().map(|e| e.to_string()).collect();
        let fill = |s: &str| {
            s.replace(
                "{incident}",
                facts.incident.as_deref().unwrap_or("(unnamed)"),
            )
            .replace("{actor}", &facts.actor.to_string())
        };
        let deciding: Vec<&Meta> = resp
            .diagnostics()
            .reason()
            .filter_map(|id| self.meta.get(id))
            .collect();
        if !errors.is_empty() {
            let mut d = deny_error(String::new());
            d.errors = errors;
            d.policies = deciding
                .iter()
                .map(|m| DecidingPolicy {
                    id: m.id.clone(),
                    outcome: m.outcome,
                    reason: fill(&m.reason),
                })
                .collect();
            d.policies.sort_by(|a, b| a.id.cmp(&b.id));
            d.policies.push(DecidingPolicy {
                id: "parapet:fail-closed".into(),
                outcome: Outcome::Deny,
                reason: "A policy could not be evaluated; parapet denies rather than guess.".into(),
            });
            return d;
        }
        // Cedar reports its reasons as a set; sort so reports are reproducible, with the
        // policies that carry the outcome first.
        let mut policies: Vec<DecidingPolicy> = deciding
            .iter()
            .map(|m| DecidingPolicy {
                id: m.id.clone(),
                outcome: m.outcome,
                reason: fill(&m.reason),
            })
            .collect();
        policies.sort_by(|a, b| b.outcome.cmp(&a.outcome).then_with(|| a.id.cmp(&b.id)));
        match resp.decision() {
            cedar_policy::Decision::Allow => Decision {
                outcome: Outcome::Allow,
                approval: None,
                policies,
                errors: Vec::new(),
            },
            cedar_policy::Decision::Deny if deciding.is_empty() => Decision {
                outcome: Outcome::Deny,
                approval: None,
                policies: vec![DecidingPolicy {
                    id: "parapet:default-deny".into(),
                    outcome: Outcome::Deny,
                    reason: "No policy permits this change.".into(),
                }],
                errors: Vec::new(),
            },
            cedar_policy::Decision::Deny => {
                let hard = deciding.iter().any(|m| m.outcome == Outcome::Deny);
                let outcome = if hard { Outcome::Deny } else { Outcome::Review };
                let approval = if hard {
                    None
                } else {
                    deciding.iter().map(|m| m.approval).reduce(Approval::merge)
                };
                Decision {
                    outcome,
                    approval,
                    policies,
                    errors: Vec::new(),
                }
            }
        }
    }
}

/// Everything in a Cedar request ([`request::build`]) except what no policy reads: the
/// resource's address (the caller checks `address_sensitive`) and its tags unless a
/// policy mentions them. Every text is length-prefixed and lists are counted, so two
/// different sets of facts never share a key.
fn memo_key(f: &Facts, with_tags: bool) -> String {
    use std::fmt::Write;
    fn put(k: &mut String, s: &str) {
        let _ = write!(k, "{}:{s};", s.len());
    }
    let mut k = String::with_capacity(128);
    let _ = write!(
        k,
        "{}{}{}{};",
        f.resource.critical as u8, f.resource.data_bearing as u8, f.writes as u8, f.max_severity
    );
    put(&mut k, f.actor.kind.as_str());
    put(&mut k, &f.actor.name);
    put(&mut k, &f.action);
    put(&mut k, &f.resource.resource_type);
    put(&mut k, &f.source);
    match &f.incident {
        Some(i) => put(&mut k, i),
        None => k.push('-'),
    }
    let _ = write!(k, "{};", f.effects.len());
    for e in &f.effects {
        put(&mut k, e);
    }
    if with_tags {
        let _ = write!(k, "{};", f.resource.tags.len());
        for (t, v) in &f.resource.tags {
            put(&mut k, t);
            put(&mut k, v);
        }
    }
    k
}

fn deny_error(msg: String) -> Decision {
    Decision {
        outcome: Outcome::Deny,
        approval: None,
        policies: Vec::new(),
        errors: if msg.is_empty() {
            Vec::new()
        } else {
            vec![msg]
        },
    }
}

fn read_meta(id: &str, file: &str, p: &cedar_policy::Policy) -> Result<Meta, PolicyError> {
    let err = |message: String| PolicyError::Annotation {
        id: id.into(),
        file: file.into(),
        message,
    };
    let permit = p.effect() == cedar_policy::Effect::Permit;
    let outcome = match (permit, p.annotation("outcome")) {
        (true, None) => Outcome::Allow,
        (true, Some(o)) => {
            return Err(err(format!(
                "@outcome(\"{o}\") only applies to forbid policies"
            )))
        }
        (false, None | Some("deny")) => Outcome::Deny,
        (false, Some("review")) => Outcome::Review,
        (false, Some(o)) => {
            return Err(err(format!(
                "@outcome must be \"review\" or \"deny\", not \"{o}\""
            )))
        }
    };
    let approvers = match p.annotation("approvals") {
        None => DEFAULT_APPROVERS,
        Some(a) => a
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=10).contains(n))
            .ok_or_else(|| err(format!("@approvals(\"{a}\") must be a number from 1 to 10")))?,
    };
    let delay_seconds = match p.annotation("delay") {
        None => 0,
        Some(d) => parse_duration(d)
            .ok_or_else(|| err(format!("@delay(\"{d}\") must look like 30s, 15m, 2h or 1d")))?,
    };
    Ok(Meta {
        id: id.to_string(),
        outcome,
        reason: p
            .annotation("reason")
            .map(String::from)
            .unwrap_or_else(|| format!("policy {id}")),
        approval: Approval {
            approvers,
            delay_seconds,
        },
    })
}

/// `0`, `30s`, `15m`, `2h`, `1d`.
pub fn parse_duration(s: &str) -> Option<u64> {
    let s = s.trim();
    if s == "0" {
        return Some(0);
    }
    let (num, unit) = s.split_at(s.len().checked_sub(1)?);
    let n: u64 = num.parse().ok()?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(mult).filter(|v| *v <= 30 * 86_400)
}

#[cfg(test)]
mod tests {
    use super::*;
    use parapet_model::Actor;

    fn facts(actor: &str, action: &str, effects: &[&str]) -> Facts {
        Facts {
            actor: Actor::parse(actor).unwrap(),
            action: action.into(),
            resource: ResourceFacts {
                resource_type: "aws_instance".into(),
                address: "aws_instance.a".into(),
                tags: Default::default(),
                critical: false,
                data_bearing: false,
            },
            effects: effects.iter().map(|s| s.to_string()).collect(),
            max_severity: 0,
            writes: action != "read",
            incident: None,
            source: "plan".into(),
        }
    }

    #[test]
    fn requests_match_the_schema() {
        let mut f = facts("agent:kiro", "replace", &["replace", "data_loss"]);
        f.resource.tags.insert("Env".into(), "prod".into());
        f.incident = Some("INC-1".into());
        request::build_validated(&f).unwrap();
        for a in [
            "create", "update", "delete", "replace", "forget", "read", "no-op", "call",
        ] {
            request::build_validated(&facts("human:a", a, &[])).unwrap();
        }
    }

    #[test]
    fn builtin_pack_loads_and_decides_three_ways() {
        let e = PolicyEngine::load(None).unwrap();
        assert!(e.policy_count() >= 20);
        assert!(!e.address_sensitive());
        assert_eq!(
            e.decide(&facts("agent:a", "create", &[])).outcome,
            Outcome::Allow
        );
        let r = e.decide(&facts("agent:a", "delete", &["destroy"]));
        assert_eq!(r.outcome, Outcome::Review);
        assert_eq!(r.approval.unwrap().approvers, 1);
        let d = e.decide(&facts("agent:a", "create", &["internet_admin_port"]));
        assert_eq!(d.outcome, Outcome::Deny);
        assert_eq!(d.policies[0].id, "deny-automation-internet-admin-ports");
        assert!(d.approval.is_none());
        let h = e.decide(&facts("human:a", "create", &["internet_admin_port"]));
        assert_eq!(h.outcome, Outcome::Review);
        assert_eq!(
            h.approval.unwrap(),
            Approval {
                approvers: 2,
                delay_seconds: 900
            }
        );
    }

    fn file(name: &str, text: &str) -> PolicyFile {
        PolicyFile {
            name: name.into(),
            text: text.into(),
        }
    }

    #[test]
    fn no_permit_means_deny() {
        let e = PolicyEngine::from_files(vec![file(
            "a.cedar",
            "forbid(principal, action, resource) when { false };",
        )])
        .unwrap();
        let d = e.decide(&facts("human:a", "create", &[]));
        assert_eq!(d.outcome, Outcome::Deny);
        assert_eq!(d.policies[0].id, "parapet:default-deny");
    }

    #[test]
    fn evaluation_errors_fail_closed() {
        // Overflow is a runtime error: Cedar skips the policy; parapet denies.
        let e = PolicyEngine::from_files(vec![
            file("a.cedar", "permit(principal, action, resource);"),
            file("b.cedar", "@id(\"boom\")\nforbid(principal, action, resource) when { context.maxSeverity * 9223372036854775807 * 9223372036854775807 > 0 };"),
        ])
        .unwrap();
        let mut f = facts("human:a", "create", &[]);
        f.max_severity = 3;
        let d = e.decide(&f);
        assert_eq!(d.outcome, Outcome::Deny);
        assert!(!d.errors.is_empty());
        assert!(d.policies.iter().any(|p| p.id == "parapet:fail-closed"));
    }

    #[test]
    fn bad_policies_are_load_errors() {
        let typo = PolicyEngine::from_files(vec![file(
            "t.cedar",
            "permit(principal, action, resource) when { resource.critcal };",
        )]);
        assert!(matches!(typo, Err(PolicyError::Invalid { .. })));
        let syntax =
            PolicyEngine::from_files(vec![file("s.cedar", "permit(principal action resource)")]);
        assert!(matches!(syntax, Err(PolicyError::Parse { .. })));
        let outcome = PolicyEngine::from_files(vec![file(
            "o.cedar",
            "@outcome(\"maybe\")\nforbid(principal, action, resource);",
        )]);
        assert!(outcome.unwrap_err().to_string().contains("@outcome"));
        let appr = PolicyEngine::from_files(vec![file(
            "p.cedar",
            "@outcome(\"review\")\n@approvals(\"0\")\nforbid(principal, action, resource);",
        )]);
        assert!(appr.unwrap_err().to_string().contains("@approvals"));
        let delay = PolicyEngine::from_files(vec![file(
            "d.cedar",
            "@outcome(\"review\")\n@delay(\"soon\")\nforbid(principal, action, resource);",
        )]);
        assert!(delay.unwrap_err().to_string().contains("@delay"));
    }

    #[test]
    fn address_policies_disable_sharing() {
        let e = PolicyEngine::from_files(vec![file("a.cedar", "permit(principal, action, resource) when { resource.address like \"module.sandbox.*\" };")]).unwrap();
        assert!(e.address_sensitive());
    }

    #[test]
    fn memoised_decisions_are_the_evaluated_ones() {
        let e = PolicyEngine::load(None).unwrap();
        assert!(!e.address_sensitive());
        // Facts that differ in one policy-relevant field each, asked twice (the second
        // answer comes from the memo) and in both orders: always Cedar's own answer.
        let mut all = Vec::new();
        for actor in ["agent:kiro", "human:alice", "pipeline:ci"] {
            for action in ["create", "delete", "replace", "call"] {
                for effects in [
                    &[][..],
                    &["destruction.delete"][..],
                    &["privilege.admin"][..],
                ] {
                    for incident in [None, Some("INC-1"), Some("INC-2")] {
                        let mut f = facts(actor, action, effects);
                        f.incident = incident.map(String::from);
                        f.resource.critical = effects.is_empty() && action == "delete";
                        all.push(f);
                    }
                }
            }
        }
        let show = |d: &Decision| format!("{d:?}");
        for f in all.iter().chain(all.iter().rev()) {
            assert_eq!(show(&e.decide(f)), show(&e.evaluate(f)), "{f:?}");
        }
        // The incident is named in reasons: a memo keyed without it would show the
        // wrong one.
        let mut f = facts("agent:kiro", "delete", &["destruction.delete"]);
        f.incident = Some("INC-9".into());
        let d = e.decide(&f);
        assert!(
            d.policies.iter().all(|p| !p.reason.contains("INC-1")),
            "{d:?}"
        );
        // Only the address differs: one entry serves both.
        let before = e.memo.lock().unwrap().len();
        let mut g = f.clone();
        g.resource.address = "aws_instance.other".into();
        assert_eq!(show(&e.decide(&g)), show(&d));
        assert_eq!(e.memo.lock().unwrap().len(), before);
    }

    #[test]
    fn memo_keys_never_collide() {
        let a = facts("agent:a", "call", &["x;", "y"]);
        let b = facts("agent:a", "call", &["x", ";y"]);
        let mut c = facts("agent:a", "call", &[]);
        c.source = "plan;1:x".into();
        let keys = [&a, &b, &c].map(|f| memo_key(f, true));
        assert_ne!(keys[0], keys[1]);
        assert_ne!(keys[0], keys[2]);
        assert_ne!(keys[1], keys[2]);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("0"), Some(0));
        assert_eq!(parse_duration("15m"), Some(900));
        assert_eq!(parse_duration("2h"), Some(7200));
        assert_eq!(parse_duration("1d"), Some(86_400));
        assert_eq!(parse_duration("90d"), None);
        assert_eq!(parse_duration("m"), None);
    }
}
