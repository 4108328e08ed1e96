//! Which actors are automation, humans or AWS services (service identities, and
//! service-linked roles by name): `*` wildcard patterns on IAM user, role and session
//! names and on user agents, case-insensitive. The lists are data (`data/actors.toml`,
//! overridable); each is compiled once into one regex, so classifying an actor is one
//! search per list instead of a scan per pattern.

use parapet_trail::{Event, IdentityType};
use regex::Regex;
use serde::Deserialize;

pub const BUILTIN_ACTORS: &str = include_str!("../data/actors.toml");

/// An actor table that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ActorsError {
    /// Not TOML, or a key the table does not have; the TOML error shows the place.
    #[error("not an actor table")]
    Toml {
        line: usize,
        column: usize,
        #[source]
        source: Box<toml::de::Error>,
    },
    /// A list's patterns do not compile together.
    #[error("list `{list}`")]
    Pattern {
        list: &'static str,
        #[source]
        source: regex::Error,
    },
}

/// The lists as written in the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Lists {
    #[serde(default)]
    service_names: Vec<String>,
    #[serde(default)]
    automation_names: Vec<String>,
    #[serde(default)]
    automation_user_agents: Vec<String>,
    #[serde(default)]
    human_user_agents: Vec<String>,
    #[serde(default)]
    human_names: Vec<String>,
    #[serde(default)]
    readonly_role_names: Vec<String>,
    #[serde(default)]
    desktop_user_agents: Vec<String>,
    #[serde(default)]
    capped_admin_names: Vec<String>,
}

/// How actors are told apart. Build with [`ActorKinds::builtin`] or
/// [`ActorKinds::parse`].
#[derive(Debug, Clone)]
pub struct ActorKinds {
    service_names: Patterns,
    automation_names: Patterns,
    automation_user_agents: Patterns,
    human_user_agents: Patterns,
    human_names: Patterns,
    readonly_role_names: Patterns,
    desktop_user_agents: Patterns,
    capped_admin_names: Patterns,
}

impl ActorKinds {
    pub fn builtin() -> Self {
        Self::parse(BUILTIN_ACTORS).expect("the built-in actor table parses")
    }

    pub fn parse(text: &str) -> Result<Self, ActorsError> {
        let l: Lists = toml::from_str(text).map_err(|source| {
            let (line, column) = source
                .span()
                .map_or((1, 1), |s| parapet_model::text::line_column(text, s.start));
            ActorsError::Toml {
                line,
                column,
                source: Box::new(source),
            }
        })?;
        Ok(ActorKinds {
            service_names: Patterns::new("service_names", &l.service_names)?,
            automation_names: Patterns::new("automation_names", &l.automation_names)?,
            automation_user_agents: Patterns::new(
                "automation_user_agents",
                &l.automation_user_agents,
            )?,
            human_user_agents: Patterns::new("human_user_agents", &l.human_user_agents)?,
            human_names: Patterns::new("human_names", &l.human_names)?,
            readonly_role_names: Patterns::new("readonly_role_names", &l.readonly_role_names)?,
            desktop_user_agents: Patterns::new("desktop_user_agents", &l.desktop_user_agents)?,
            capped_admin_names: Patterns::new("capped_admin_names", &l.capped_admin_names)?,
        })
    }

    /// `service`, `automation`, `human` or `unknown`. Service-linked role names come
    /// first; automation patterns win over human ones: a pipeline that sends a
    /// browser-like user agent is still a pipeline.
    pub fn classify(&self, e: &Event) -> &'static str {
        let id = &e.identity;
        if matches!(id.kind, IdentityType::AwsService | IdentityType::AwsAccount) {
            return "service";
        }
        let ua = e.user_agent.as_deref().unwrap_or("").to_ascii_lowercase();
        let names: Vec<String> = [
            id.user_name.as_deref(),
            id.session_name.as_deref(),
            id.issuer_arn.as_deref().and_then(|a| a.rsplit('/').next()),
        ]
        .into_iter()
        .flatten()
        .map(str::to_ascii_lowercase)
        .collect();
        // Service-linked roles are AWS acting (backups expiring, scaling, log delivery),
        // though the log shows them as an assumed role like any other.
        if names.iter().any(|n| self.service_names.matches(n)) {
            return "service";
        }
        if self.automation_user_agents.matches(&ua)
            || names.iter().any(|n| self.automation_names.matches(n))
        {
            return "automation";
        }
        if self.human_user_agents.matches(&ua)
            || names.iter().any(|n| self.human_names.matches(n))
            || matches!(
                id.kind,
                IdentityType::Root | IdentityType::IdentityCenterUser | IdentityType::SamlUser
            )
        {
            return "human";
        }
        "unknown"
    }
}

impl ActorKinds {
    /// Whether the acting role is a read-only audit role (a scanner's): judged on the
    /// role's name from the credential (`sessionIssuer`), never on the session name the
    /// caller chose.
    pub fn readonly_role(&self, e: &Event) -> bool {
        role_name(e).is_some_and(|r| self.readonly_role_names.matches(&r))
    }

    /// Whether the user agent is an AWS CLI or SDK on a desktop system (macOS,
    /// Windows): not where servers, containers and instances run.
    pub fn desktop_client(&self, e: &Event) -> bool {
        let ua = e.user_agent.as_deref().unwrap_or("").to_ascii_lowercase();
        self.desktop_user_agents.matches(&ua)
    }

    /// Whether the actor's role is one whose by-hand administration is reported at
    /// most at medium unless it comes from somewhere unfamiliar (SSO administrators).
    pub fn capped_admin(&self, e: &Event) -> bool {
        role_name(e).is_some_and(|r| self.capped_admin_names.matches(&r))
    }
}

/// The role's name of an assumed-role session, lowercase: the issuer's name, or the
/// role part of the assumed-role ARN (`assumed-role/<role>/<session>`).
fn role_name(e: &Event) -> Option<String> {
    let id = &e.identity;
    if id.kind != IdentityType::AssumedRole {
        return None;
    }
    let from_issuer = id.issuer_arn.as_deref().and_then(|a| a.rsplit('/').next());
    let from_arn = id
        .arn
        .as_deref()
        .and_then(|a| a.split_once(":assumed-role/"))
        .and_then(|(_, rest)| rest.split('/').next());
    from_issuer
        .or(from_arn)
        .filter(|r| !r.is_empty())
        .map(str::to_ascii_lowercase)
}

/// One list of wildcard patterns as one regex: `*` is any run of characters, the rest
/// is literal; a pattern without a leading (trailing) `*` is anchored at the start (end).
#[derive(Debug, Clone)]
struct Patterns(Option<Regex>);

impl Patterns {
    fn new(list: &'static str, patterns: &[String]) -> Result<Self, ActorsError> {
        if patterns.is_empty() {
            return Ok(Patterns(None));
        }
        let alternatives: Vec<String> = patterns
            .iter()
            .map(|p| wildcard_regex(&p.to_ascii_lowercase()))
            .collect();
        Regex::new(&format!("(?s){}", alternatives.join("|")))
            .map(|r| Patterns(Some(r)))
            .map_err(|source| ActorsError::Pattern { list, source })
    }

    /// `s` is lowercase already.
    fn matches(&self, s: &str) -> bool {
        self.0.as_ref().is_some_and(|r| r.is_match(s))
    }
}

fn wildcard_regex(pat: &str) -> String {
    let inner = pat.trim_matches('*');
    let mut re = String::from("(?:");
    if !pat.starts_with('*') {
        re.push('^');
    }
    let literals: Vec<String> = inner
        .split('*')
        .filter(|l| !l.is_empty())
        .map(regex::escape)
        .collect();
    re.push_str(&literals.join(".*"));
    if !pat.ends_with('*') {
        re.push('$');
    }
    re.push(')');
    re
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The meaning of a pattern, spelled out: the oracle for the compiled lists.
    fn wildcard(pat: &str, s: &str) -> bool {
        let parts: Vec<&str> = pat.split('*').collect();
        if parts.len() == 1 {
            return pat == s;
        }
        let (first, last) = (parts[0], parts[parts.len() - 1]);
        let Some(mut rest) = s.strip_prefix(first) else {
            return false;
        };
        for part in &parts[1..parts.len() - 1] {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
        rest.len() >= last.len() && rest.ends_with(last)
    }

    #[test]
    fn patterns_mean_what_the_file_says() {
        let p = |pats: &[&str], s: &str| {
            let list: Vec<String> = pats.iter().map(|x| x.to_string()).collect();
            Patterns::new("t", &list).unwrap().matches(s)
        };
        assert!(p(&["*terraform*"], "my-terraform-role"));
        assert!(p(&["ci-*"], "ci-deploy"));
        assert!(!p(&["ci-*"], "oci-deploy"));
        assert!(p(&["ci"], "ci") && !p(&["ci"], "cis"));
        assert!(p(&["*bot"], "deploybot") && !p(&["*bot"], "botany"));
        assert!(p(&["*@*"], "alice@example.com"));
        assert!(
            p(&["a.b"], "a.b") && !p(&["a.b"], "axb"),
            "dots are literal"
        );
        assert!(p(&["awsreservedsso_*"], "awsreservedsso_admin_1234"));
        assert!(!p(&[], "anything"));
        assert!(p(&["*"], "") && p(&[""], "") && !p(&[""], "x"));
    }

    #[test]
    fn the_builtin_table_sorts_known_actors() {
        let k = ActorKinds::builtin();
        let event = |ua: &str, user: &str| {
            let text = format!(
                r#"{{"eventSource": "s3.amazonaws.com", "eventName": "ListBuckets", "eventTime": "2026-01-01T00:00:00Z", "userAgent": "{ua}", "userIdentity": {{"type": "IAMUser", "userName": "{user}", "arn": "arn:aws:iam::1:user/{user}"}}}}"#
            );
            parapet_trail::read_all("t", text.as_bytes()).0.remove(0)
        };
        assert_eq!(
            k.classify(&event("APN/1.0 HashiCorp/1.0 Terraform/1.9.0", "x")),
            "automation"
        );
        assert_eq!(
            k.classify(&event("aws-cli/2.15.0 Python/3.11", "alice")),
            "human"
        );
        assert_eq!(
            k.classify(&event("Boto3/1.34", "gha-deployer")),
            "automation"
        );
        assert_eq!(k.classify(&event("Boto3/1.34", "alice")), "unknown");
        let linked = r#"{"eventSource": "ec2.amazonaws.com", "eventName": "DeleteSnapshot", "eventTime": "2026-01-01T00:00:00Z", "sourceIPAddress": "backup.amazonaws.com", "userAgent": "backup.amazonaws.com", "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::1:assumed-role/AWSServiceRoleForBackup/AWSBackup-AWSServiceRoleForBackup", "sessionContext": {"sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::1:role/aws-service-role/backup.amazonaws.com/AWSServiceRoleForBackup", "userName": "AWSServiceRoleForBackup"}}}}"#;
        let linked = parapet_trail::read_all("t", linked.as_bytes()).0.remove(0);
        assert_eq!(k.classify(&linked), "service");
        assert!(
            ActorKinds::parse("automation_name = []").is_err(),
            "typos are errors"
        );
    }

    #[test]
    fn audit_roles_by_role_name_and_desktop_clients_by_agent() {
        let k = ActorKinds::builtin();
        let ev = |role: &str, session: &str, ua: &str| {
            let text = format!(
                r#"{{"eventSource": "ec2.amazonaws.com", "eventName": "DescribeVpcs", "eventTime": "2026-01-01T00:00:00Z", "userAgent": "{ua}", "userIdentity": {{"type": "AssumedRole", "arn": "arn:aws:sts::1:assumed-role/{role}/{session}", "sessionContext": {{"sessionIssuer": {{"type": "Role", "arn": "arn:aws:iam::1:role/{role}", "userName": "{role}"}}}}}}}}"#
            );
            parapet_trail::read_all("t", text.as_bytes()).0.remove(0)
        };
        assert!(k.readonly_role(&ev("SecurityAudit", "s", "x")));
        assert!(k.readonly_role(&ev("OrcaSecurityRole", "s", "x")));
        // The session name is the caller's choice: it does not make a role read-only.
        assert!(!k.readonly_role(&ev("Admin", "prowler-readonly", "x")));
        assert!(k.capped_admin(&ev(
            "AWSReservedSSO_AdministratorAccess_0123abcd",
            "alice@example.com",
            "x"
        )));
        assert!(!k.capped_admin(&ev("AWSReservedSSO_PowerUser_0123", "alice", "x")));
        for desktop in [
            "aws-cli/2.17.20 ua/2.0 os/macos#23.5.0 md/arch#arm64",
            "aws-cli/2.17.20 ua/2.0 os/windows#10 md/arch#amd64",
            "Boto3/1.26.0 Python/3.10.8 Darwin/22.1.0 Botocore/1.29.0",
            "aws-sdk-go/1.44.0 (go1.20.1; darwin; arm64)",
            "aws-sdk-js/3.600.0 ua/2.1 os/darwin#23.1.0 lang/js md/nodejs#20.11.0",
        ] {
            assert!(k.desktop_client(&ev("r", "s", desktop)), "{desktop}");
        }
        for server in [
            "aws-cli/2.17.20 ua/2.0 os/linux#5.10.205 md/arch#x86_64",
            "aws-sdk-go/1.44.0 (go1.20.1; linux; amd64)",
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
            "AWS Internal",
        ] {
            assert!(!k.desktop_client(&ev("r", "s", server)), "{server}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]
        /// One regex per list answers as the patterns one by one would.
        #[test]
        fn compiled_lists_equal_pattern_by_pattern(
            pats in prop::collection::vec("[ab.*-]{0,6}", 0..4),
            s in "[ab.-]{0,8}",
        ) {
            let want = pats.iter().any(|p| wildcard(p, &s));
            let got = Patterns::new("t", &pats).unwrap().matches(&s);
            prop_assert_eq!(got, want, "{:?} on {:?}", pats, s);
        }
    }
}
