//! IAM policy documents: what a permissions policy grants, and whom a trust policy admits.

use crate::catalog::{catalog, AccessLevel, ActionSet};
use crate::escalation::find_escalations;
use parapet_model::{Certainty, EscalationHit};
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("policy document is not valid JSON")]
    Json(#[source] serde_json::Error),
    #[error("policy document has no Statement")]
    NoStatement,
    #[error("policy statement {index} is not an object")]
    BadStatement { index: usize },
    #[error("policy statement {index}: Effect must be \"Allow\" or \"Deny\", found {found}")]
    BadEffect { index: usize, found: String },
}

/// A statement, reduced to what parapet reasons about.
#[derive(Debug, Clone)]
pub struct Statement {
    pub allow: bool,
    pub actions: Vec<String>,
    pub not_action: bool,
    pub resources: Vec<String>,
    pub not_resource: bool,
    pub principals: Vec<Principal>,
    pub has_condition: bool,
    pub condition: Value,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Everyone,
    Aws(String),
    Service(String),
    Federated(String),
    CanonicalUser(String),
}

/// Parse a policy document given as a JSON string (Terraform's form) or a value.
pub fn parse_policy(doc: &Value) -> Result<Vec<Statement>, PolicyError> {
    let owned;
    let doc = match doc {
        Value::String(s) => {
            owned = serde_json::from_str::<Value>(s).map_err(PolicyError::Json)?;
            &owned
        }
        v => v,
    };
    let stmts = match doc.get("Statement") {
        Some(Value::Array(a)) => a.iter().collect::<Vec<_>>(),
        Some(v @ Value::Object(_)) => vec![v],
        _ => return Err(PolicyError::NoStatement),
    };
    let mut out = Vec::with_capacity(stmts.len());
    for (index, s) in stmts.into_iter().enumerate() {
        let obj = s.as_object().ok_or(PolicyError::BadStatement { index })?;
        let allow = match obj.get("Effect").and_then(Value::as_str) {
            Some("Allow") => true,
            Some("Deny") => false,
            other => {
                return Err(PolicyError::BadEffect {
                    index,
                    found: other.unwrap_or("nothing").to_string(),
                })
            }
        };
        let (actions, not_action) = match (obj.get("Action"), obj.get("NotAction")) {
            (Some(a), _) => (strings(a), false),
            (None, Some(a)) => (strings(a), true),
            (None, None) => (Vec::new(), false),
        };
        let (resources, not_resource) = match (obj.get("Resource"), obj.get("NotResource")) {
            (Some(a), _) => (strings(a), false),
            (None, Some(a)) => (strings(a), true),
            (None, None) => (Vec::new(), false),
        };
        let principals = obj
            .get("Principal")
            .or_else(|| obj.get("NotPrincipal"))
            .map(principals)
            .unwrap_or_default();
        let condition = obj.get("Condition").cloned().unwrap_or(Value::Null);
        out.push(Statement {
            allow,
            actions,
            not_action,
            resources,
            not_resource,
            principals,
            has_condition: condition.as_object().is_some_and(|m| !m.is_empty()),
            condition,
        });
    }
    Ok(out)
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|x| x.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    }
}

fn principals(v: &Value) -> Vec<Principal> {
    match v {
        Value::String(s) if s == "*" => vec![Principal::Everyone],
        Value::Object(m) => {
            let mut out = Vec::new();
            for (k, v) in m {
                for s in strings(v) {
                    out.push(match (k.as_str(), s.as_str()) {
                        ("AWS", "*") => Principal::Everyone,
                        ("AWS", _) => Principal::Aws(s),
                        ("Service", _) => Principal::Service(s),
                        ("Federated", _) => Principal::Federated(s),
                        _ => Principal::CanonicalUser(s),
                    });
                }
            }
            out
        }
        _ => Vec::new(),
    }
}

/// What a permissions policy lets its holder do.
#[derive(Debug, Clone)]
pub struct Permissions {
    pub allowed: ActionSet,
    /// Allowed by statements that reach beyond the caller itself: the basis for
    /// escalation. Statements whose every resource is scoped to `${aws:username}`
    /// (AWS's "manage your own credentials" pattern) grant, but do not escalate.
    pub beyond_self: ActionSet,
    /// Each Allow pattern and how many catalog actions it expands to.
    pub patterns: Vec<(String, usize)>,
    /// Allow patterns naming no catalog action (new or misspelt services).
    pub unknown_patterns: Vec<String>,
    pub any_resource: bool,
    pub resource_count: usize,
    pub admin: bool,
}

impl Permissions {
    pub fn none() -> Permissions {
        Permissions {
            allowed: ActionSet::empty(catalog().len()),
            beyond_self: ActionSet::empty(catalog().len()),
            patterns: Vec::new(),
            unknown_patterns: Vec::new(),
            any_resource: false,
            resource_count: 0,
            admin: false,
        }
    }

    pub fn from_statements(stmts: &[Statement]) -> Permissions {
        let cat = catalog();
        let mut p = Permissions::none();
        let mut denied = ActionSet::empty(cat.len());
        let mut resources = std::collections::BTreeSet::new();
        for s in stmts {
            let mut set = ActionSet::empty(cat.len());
            for a in &s.actions {
                let e = cat.expand(a);
                if s.allow && !s.not_action {
                    let n = e.count();
                    if n == 0 {
                        p.unknown_patterns.push(a.clone());
                    }
                    p.patterns.push((a.clone(), n));
                }
                set.union_with(&e);
            }
            if s.not_action {
                set = set.complement();
            }
            let any_res = s.not_resource || s.resources.iter().any(|r| r == "*");
            if s.allow {
                if any_res {
                    p.any_resource = true;
                    if set.is_full() && !s.not_action {
                        p.admin = true;
                    }
                } else {
                    resources.extend(s.resources.iter().cloned());
                }
                let self_only = !any_res
                    && !s.resources.is_empty()
                    && s.resources.iter().all(|r| r.contains("${aws:username}"));
                if !self_only {
                    p.beyond_self.union_with(&set);
                }
                p.allowed.union_with(&set);
            } else if !s.has_condition && any_res {
                // Only an unconditional deny on every resource certainly removes access.
                denied.union_with(&set);
            }
        }
        p.allowed.subtract(&denied);
        p.beyond_self.subtract(&denied);
        if denied.iter().next().is_some() && p.admin {
            p.admin = p.allowed.is_full();
        }
        p.resource_count = resources.len();
        p
    }

    /// Counts of actions by access level (list, read, write, permissions, tagging).
    /// Actions by access level. The catalog labels some reads of permissions
    /// "Permissions management" (`fsx:GetResourcePolicy`,
    /// `quicksight:DescribeDataSetPermissions`); reading who may do what changes nothing,
    /// so an action named as a read (`Get`, `List`, `Describe`...) of that level counts as
    /// a read. Escalation comes from the primitives (`find_escalations`), not from labels.
    pub fn by_level(set: &ActionSet) -> [usize; 5] {
        let cat = catalog();
        let mut out = [0; 5];
        for i in set.iter() {
            let a = &cat.actions[i];
            let level = if a.level == AccessLevel::PermissionsManagement && is_read_name(a.name) {
                AccessLevel::Read
            } else {
                a.level
            };
            out[level as usize] += 1;
        }
        out
    }

    /// The sensitive reads (secrets, stored data, credentials) the set holds, by
    /// `SENSITIVE_READS`.
    pub fn sensitive_reads(set: &ActionSet) -> Vec<String> {
        let cat = catalog();
        SENSITIVE_READS
            .iter()
            .filter(|a| cat.lookup(a).is_some_and(|i| set.contains(i)))
            .map(|a| a.to_string())
            .collect()
    }

    pub fn resources_desc(&self) -> String {
        if self.any_resource {
            "every resource (\"*\")".into()
        } else if self.resource_count == 1 {
            "1 specific resource".into()
        } else {
            format!("{} specific resources", self.resource_count)
        }
    }
}

/// Operation-name prefixes of reads.
const READ_VERBS: &[&str] = &[
    "Get", "List", "Describe", "BatchGet", "Search", "View", "Query", "Scan", "Lookup",
];

fn is_read_name(name: &str) -> bool {
    READ_VERBS.iter().any(|v| {
        name.get(..v.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(v))
            && name[v.len()..]
                .chars()
                .next()
                .is_none_or(|c| c.is_ascii_uppercase())
    })
}

/// Reads that return secrets, stored data or credentials: what a read-only grant is
/// worth to whoever holds it.
pub const SENSITIVE_READS: &[&str] = &[
    "secretsmanager:GetSecretValue",
    "secretsmanager:BatchGetSecretValue",
    "ssm:GetParameter",
    "ssm:GetParameters",
    "ssm:GetParametersByPath",
    "s3:GetObject",
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "ec2:GetPasswordData",
    "lambda:GetFunction",
    "ecr:GetDownloadUrlForLayer",
    "logs:GetLogEvents",
    "lightsail:GetRelationalDatabaseMasterUserPassword",
];

/// The permissions a change adds and removes, as a `Grant` effect's facts.
pub fn grant_delta(
    holder: &str,
    before: Option<&Permissions>,
    after: &Permissions,
    certainty: Certainty,
) -> parapet_model::Grant {
    let mut added = after.allowed.clone();
    let mut removed = ActionSet::empty(catalog().len());
    if let Some(b) = before {
        added.subtract(&b.allowed);
        removed = b.allowed.clone();
        removed.subtract(&after.allowed);
    }
    let newly_admin = after.admin && !before.is_some_and(|b| b.admin);
    // Escalations the holder could not already perform.
    let mut escalations: Vec<EscalationHit> = find_escalations(&after.beyond_self);
    if let Some(b) = before {
        let old: Vec<String> = find_escalations(&b.beyond_self)
            .into_iter()
            .map(|e| e.id)
            .collect();
        escalations.retain(|e| !old.contains(&e.id));
    }
    let added_by_level = Permissions::by_level(&added);
    // A grant that manages no permissions says what it reads, so reviewers see the secrets and data
    // rather than a count.
    let sensitive_reads = if !newly_admin && added_by_level[3] == 0 && escalations.is_empty() {
        Permissions::sensitive_reads(&added)
    } else {
        Vec::new()
    };
    parapet_model::Grant {
        holder: holder.to_string(),
        via: None,
        added: added.count(),
        removed: removed.count(),
        added_by_level,
        sensitive_reads,
        // Only the patterns that contribute something new, with how many new actions.
        patterns: after
            .patterns
            .iter()
            .filter_map(|(p, _)| {
                let e = catalog().expand(p);
                let mut old = e.clone();
                old.subtract(&added);
                let new = e.count() - old.count();
                (new > 0).then(|| (p.clone(), new))
            })
            .collect(),
        resources: after.resources_desc(),
        admin: newly_admin,
        escalations,
        certainty,
    }
}

/// Who a trust (assume-role) policy admits, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustGrant {
    pub principal: String,
    /// `public`, `other_account`, `federated_unconditioned`, `same_account`, `service`, `federated`.
    pub scope: &'static str,
}

/// Classify the Allow principals of a trust policy. `own_account` is the account the
/// role lives in, when known, to tell other accounts from our own.
pub fn trust_grants(stmts: &[Statement], own_account: Option<&str>) -> Vec<TrustGrant> {
    let mut out = Vec::new();
    for s in stmts.iter().filter(|s| s.allow) {
        for p in &s.principals {
            let g = match p {
                Principal::Everyone => TrustGrant {
                    principal: "*".into(),
                    scope: if s.has_condition {
                        // Conditions on "*" (e.g. aws:PrincipalOrgID) can make it safe; still review.
                        "other_account"
                    } else {
                        "public"
                    },
                },
                Principal::Aws(a) => {
                    let acct = account_of(a);
                    let scope = match (acct, own_account) {
                        (Some(x), Some(own)) if x == own => "same_account",
                        _ => "other_account",
                    };
                    TrustGrant {
                        principal: a.clone(),
                        scope,
                    }
                }
                Principal::Service(svc) => TrustGrant {
                    principal: svc.clone(),
                    scope: "service",
                },
                Principal::Federated(f) => TrustGrant {
                    principal: f.clone(),
                    scope: if federated_is_unconditioned(f, &s.condition) {
                        "federated_unconditioned"
                    } else {
                        "federated"
                    },
                },
                Principal::CanonicalUser(c) => TrustGrant {
                    principal: c.clone(),
                    scope: "other_account",
                },
            };
            out.push(g);
        }
    }
    out
}

/// The 12-digit account in an ARN or a bare account id.
pub fn account_of(s: &str) -> Option<&str> {
    if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
        return Some(s);
    }
    let acct = s.split(':').nth(4)?;
    (acct.len() == 12 && acct.bytes().all(|b| b.is_ascii_digit())).then_some(acct)
}

/// An OIDC provider trusted without pinning the subject lets any repository or workload
/// of that provider assume the role (the classic GitHub Actions misconfiguration).
fn federated_is_unconditioned(provider: &str, condition: &Value) -> bool {
    let is_oidc = provider.contains("oidc-provider/") || provider.contains("token.actions");
    let Some(ops) = condition.as_object() else {
        return true;
    };
    if !is_oidc {
        // SAML and Cognito: any condition at all narrows who may come in.
        return ops.is_empty();
    }
    // OIDC: the subject claim must be pinned to something narrower than "*".
    let pins_subject = ops.values().filter_map(Value::as_object).any(|keys| {
        keys.iter().any(|(k, v)| {
            k.to_ascii_lowercase().ends_with(":sub")
                && strings(v).iter().all(|s| {
                    let s = s.trim();
                    !(s == "*" || s == "repo:*" || s.ends_with(":*") && s.matches(':').count() < 2)
                })
        })
    });
    !pins_subject
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn star_is_admin_and_iam_star_is_escalation() {
        let s = parse_policy(
            &json!({"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}),
        )
        .unwrap();
        assert!(Permissions::from_statements(&s).admin);
        let s = parse_policy(&json!(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}"#)).unwrap();
        let p = Permissions::from_statements(&s);
        assert!(!p.admin);
        let g = grant_delta("role r", None, &p, Certainty::Known);
        assert!(g
            .escalations
            .iter()
            .any(|e| e.id == "iam-create-policy-version"));
        assert!(g.added_by_level[3] > 10);
    }

    #[test]
    fn managing_your_own_credentials_is_not_escalation() {
        // AWS's documented self-service example.
        let s = parse_policy(&json!({"Statement": [{"Effect": "Allow",
            "Action": ["iam:CreateAccessKey", "iam:UpdateLoginProfile", "iam:ListAccessKeys"],
            "Resource": "arn:aws:iam::*:user/${aws:username}"}]}))
        .unwrap();
        let g = grant_delta(
            "user u",
            None,
            &Permissions::from_statements(&s),
            Certainty::Known,
        );
        assert_eq!(g.added, 3);
        assert!(g.escalations.is_empty(), "{:?}", g.escalations);
        let s = parse_policy(&json!({"Statement": [{"Effect": "Allow", "Action": "iam:CreateAccessKey", "Resource": "arn:aws:iam::*:user/*"}]})).unwrap();
        let g = grant_delta(
            "user u",
            None,
            &Permissions::from_statements(&s),
            Certainty::Known,
        );
        assert_eq!(g.escalations[0].id, "iam-create-access-key");
    }

    #[test]
    fn not_action_and_deny() {
        let s = parse_policy(&json!({"Statement": [
            {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "s3:*", "Resource": "*"}
        ]}))
        .unwrap();
        let p = Permissions::from_statements(&s);
        let c = catalog();
        assert!(!p.allowed.contains(c.lookup("iam:PassRole").unwrap()));
        assert!(!p.allowed.contains(c.lookup("s3:GetObject").unwrap()));
        assert!(p.allowed.contains(c.lookup("ec2:RunInstances").unwrap()));
        assert!(!p.admin);
    }

    #[test]
    fn delta_reports_only_new() {
        let before = Permissions::from_statements(&parse_policy(&json!({"Statement": {"Effect": "Allow", "Action": ["s3:GetObject", "iam:PassRole"], "Resource": "*"}})).unwrap());
        let after = Permissions::from_statements(&parse_policy(&json!({"Statement": {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "iam:PassRole", "ec2:RunInstances"], "Resource": "*"}})).unwrap());
        let g = grant_delta("user u", Some(&before), &after, Certainty::Known);
        assert_eq!(g.added, 2);
        assert_eq!(g.removed, 0);
        assert_eq!(g.escalations.len(), 1);
        assert_eq!(g.escalations[0].id, "passrole-ec2-run-instances");
    }

    #[test]
    fn trust_classification() {
        let s = parse_policy(&json!({"Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, "Action": "sts:AssumeRole"},
            {"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"},
            {"Effect": "Allow", "Principal": {"Federated": "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"}, "Action": "sts:AssumeRoleWithWebIdentity",
             "Condition": {"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}}},
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ]}))
        .unwrap();
        let g = trust_grants(&s, Some("111122223333"));
        let scopes: Vec<&str> = g.iter().map(|g| g.scope).collect();
        assert_eq!(
            scopes,
            [
                "other_account",
                "public",
                "federated_unconditioned",
                "service"
            ]
        );
    }

    #[test]
    fn malformed_documents_are_errors() {
        assert!(matches!(
            parse_policy(&json!("{not json")),
            Err(PolicyError::Json(_))
        ));
        assert!(matches!(
            parse_policy(&json!({})),
            Err(PolicyError::NoStatement)
        ));
        assert!(matches!(
            parse_policy(&json!({"Statement": [{"Effect": "Maybe"}]})),
            Err(PolicyError::BadEffect { .. })
        ));
    }
}

/// The statements of a well-known AWS-managed policy, by ARN
/// (`arn:aws:iam::aws:policy/AdministratorAccess`, any partition and path). IAM names are
/// unique regardless of case, so the name is looked up in any case: a spelling the gate
/// did not expect must not read as an unknown, harmless policy.
pub fn aws_managed_policy(arn: &str) -> Option<Vec<Statement>> {
    use std::collections::HashMap;
    use std::sync::OnceLock;
    static TABLE: OnceLock<HashMap<String, String>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        #[derive(serde::Deserialize)]
        struct Entry {
            document: String,
        }
        let t: HashMap<String, Entry> =
            toml::from_str(include_str!("../data/managed-policies.toml"))
                .expect("embedded managed-policies.toml is valid");
        t.into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.document))
            .collect()
    });
    let arn = arn.trim().to_ascii_lowercase();
    let rest = arn.strip_prefix("arn:")?;
    let (_, tail) = rest.split_once(":iam::aws:policy/")?;
    let name = tail.rsplit('/').next()?;
    let doc = table.get(name)?;
    parse_policy(&Value::String(doc.clone())).ok()
}

/// Is this ARN an AWS-managed policy (as opposed to a customer-managed one)?
pub fn is_aws_managed_arn(arn: &str) -> bool {
    arn.to_ascii_lowercase().contains(":iam::aws:policy/")
}

#[cfg(test)]
mod managed_tests {
    use super::*;

    #[test]
    fn managed_policies_parse_and_mean_what_they_say() {
        let admin = aws_managed_policy("arn:aws:iam::aws:policy/AdministratorAccess").unwrap();
        assert!(Permissions::from_statements(&admin).admin);
        let power = aws_managed_policy("arn:aws:iam::aws:policy/PowerUserAccess").unwrap();
        let p = Permissions::from_statements(&power);
        assert!(!p.admin);
        assert!(!p
            .allowed
            .contains(catalog().lookup("iam:CreateAccessKey").unwrap()));
        assert!(aws_managed_policy("arn:aws:iam::aws:policy/NoSuchPolicy").is_none());
        for spelling in [
            "arn:aws:iam::aws:policy/administratoraccess",
            "ARN:AWS:IAM::AWS:POLICY/ADMINISTRATORACCESS",
            " arn:aws-us-gov:iam::aws:policy/AdministratorAccess",
        ] {
            let p = aws_managed_policy(spelling).expect(spelling);
            assert!(Permissions::from_statements(&p).admin, "{spelling}");
        }
        assert!(
            aws_managed_policy("arn:aws-us-gov:iam::aws:policy/job-function/IAMFullAccess")
                .is_some()
        );
    }
}
