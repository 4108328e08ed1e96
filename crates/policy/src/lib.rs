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
    /// Does any policy look at the resource's address or name a resource entity?
    /// If not, a decision does not depend on the address and can be shared.
    address_sensitive: bool,
}

/// Default approvers for a review policy that does not say.
const DEFAULT_APPROVERS: u32 = 2;

pub fn schema() -> Schema {
    Schema::from_cedarschema_str(include_str!("../schema.cedarschema"))
        .expect("embedded schema is valid")
        .0
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
            address_sensitive,
        })
    }

    pub fn address_sensitive(&self) -> bool {
        self.address_sensitive
    }

    pub fn policy_count(&self) -> usize {
        self.meta.len()
    }

    /// Decide one request. Never panics and never allows on error.
    pub fn decide(&self, facts: &Facts) -> Decision {
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
            d.policies.push(DecidingPolicy {
                id: "parapet:fail-closed".into(),
                outcome: Outcome::Deny,
                reason: "A policy could not be evaluated; parapet denies rather than guess.".into(),
            });
            return d;
        }
        let policies: Vec<DecidingPolicy> = deciding
            .iter()
            .map(|m| DecidingPolicy {
                id: m.id.clone(),
                outcome: m.outcome,
                reason: fill(&m.reason),
            })
            .collect();
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
                // Show the policies that carry the outcome first.
                let mut policies = policies;
                policies.sort_by_key(|p| std::cmp::Reverse(p.outcome));
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
