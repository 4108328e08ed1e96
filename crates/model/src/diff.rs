//! What a reviewer reads of a changed policy document or rule list: the statements or
//! rules removed and added, in full, each with a plain-text line and its fields.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DiffDetail {
    /// A policy document (IAM, trust, bucket, key, queue, topic, secret ... policies):
    /// statements compared order-insensitively, a single string equal to a one-element
    /// list.
    Policy {
        removed: Vec<PolicyStatement>,
        added: Vec<PolicyStatement>,
    },
    /// Network rules (security group ingress/egress, NACL entries) removed and added.
    Rules {
        removed: Vec<NetRule>,
        added: Vec<NetRule>,
    },
    /// Any other JSON document held in a string (ECS container definitions, Step
    /// Functions definitions): the values that differ, by path.
    Document { changed: Vec<DocumentChange> },
}

/// One value that differs inside a JSON document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DocumentChange {
    /// `[0].environment[1].value: "a" -> "b"`.
    pub text: String,
    /// `[0].image`.
    pub path: String,
    /// Compact JSON; absent when the path did not exist on that side.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

impl DiffDetail {
    /// `(sign, text)` lines: removed (`-`) first, then added (`+`); changed values `~`.
    pub fn lines(&self) -> Vec<(char, &str)> {
        let (r, a): (Vec<&str>, Vec<&str>) = match self {
            DiffDetail::Document { changed } => {
                return changed.iter().map(|c| ('~', c.text.as_str())).collect()
            }
            DiffDetail::Policy { removed, added } => (
                removed.iter().map(|s| s.text.as_str()).collect(),
                added.iter().map(|s| s.text.as_str()).collect(),
            ),
            DiffDetail::Rules { removed, added } => (
                removed.iter().map(|s| s.text.as_str()).collect(),
                added.iter().map(|s| s.text.as_str()).collect(),
            ),
        };
        r.into_iter()
            .map(|t| ('-', t))
            .chain(a.into_iter().map(|t| ('+', t)))
            .collect()
    }
}

/// One policy statement, normalised: lists sorted, single strings as lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyStatement {
    /// The statement in one line: `Allow s3:GetObject on arn:aws:s3:::b/* for AWS
    /// arn:aws:iam::111122223333:root when StringEquals aws:SourceVpc = vpc-1`.
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    pub effect: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_actions: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_resources: Vec<String>,
    /// `AWS arn:...`, `Service lambda.amazonaws.com`, `*` (anyone).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub principals: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_principals: Vec<String>,
    /// `StringEquals aws:SourceAccount = 111122223333`, one per operator and key.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<String>,
}

/// One network rule in full.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetRule {
    /// `tcp 22 from 0.0.0.0/0, sg-0abc ("ssh from the office")`.
    pub text: String,
    /// NACL rule number and action.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule_no: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// `tcp`, `udp`, `icmp`, `all` or a protocol number.
    pub protocol: String,
    /// `22`, `8000-8080`, `all`.
    pub ports: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cidr_blocks: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ipv6_cidr_blocks: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub prefix_list_ids: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<String>,
    #[serde(rename = "self", skip_serializing_if = "std::ops::Not::not")]
    pub self_: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}
