//! What an approval binds to, shared by every enforcement point (`parapet proxy aws`,
//! `parapet proxy mcp`): the caller, what is called, its arguments in canonical form
//! and the policy pack's version. A different call, the same call by someone else or
//! under another pack needs its own approval; a retry of the same call finds it.
//!
//! Also shared: the calls no enforcement point ever forwards (they mint credentials
//! that work without it).

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The binding of an AWS API call made through `parapet proxy aws`: caller, IAM
/// action, canonical parameters, policy version.
pub fn call_binding(actor: &str, action: &str, params: &Value, policy_version: &str) -> String {
    let mut h = Sha256::new();
    for part in [actor, action, policy_version] {
        part_into(&mut h, part.as_bytes());
    }
    part_into(&mut h, &canonical_json(params));
    format!("{:x}", h.finalize())
}

/// The binding of an MCP tool call made through `parapet proxy mcp`: caller, server,
/// tool, canonical arguments, what the mapping made of them (`mapping`: the actions, or
/// that none covers the tool), policy version. A mapping added or changed since an
/// approval is another call: what was approved is what it was judged to do. A domain
/// tag keeps it apart from [`call_binding`] whatever the parts.
pub fn tool_binding(
    actor: &str,
    server: &str,
    tool: &str,
    arguments: &serde_json::Map<String, Value>,
    mapping: &Value,
    policy_version: &str,
) -> String {
    let mut h = Sha256::new();
    for part in ["mcp-tool-call/v2", actor, server, tool, policy_version] {
        part_into(&mut h, part.as_bytes());
    }
    let mut args = Vec::new();
    write_object(arguments, &mut args);
    part_into(&mut h, &args);
    part_into(&mut h, &canonical_json(mapping));
    format!("{:x}", h.finalize())
}

/// Length-prefixed, so parts cannot run into each other.
fn part_into(h: &mut Sha256, part: &[u8]) {
    h.update((part.len() as u64).to_be_bytes());
    h.update(part);
}

/// JSON with object keys sorted at every depth and no whitespace; list order is kept
/// (it is meaning). Numbers and strings as serde_json writes them.
pub fn canonical_json(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Object(m) => write_object(m, out),
        Value::Array(a) => {
            out.push(b'[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(x, out);
            }
            out.push(b']');
        }
        other => out.extend_from_slice(other.to_string().as_bytes()),
    }
}

fn write_object(m: &serde_json::Map<String, Value>, out: &mut Vec<u8>) {
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort();
    out.push(b'{');
    for (i, k) in keys.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(Value::String(k.clone()).to_string().as_bytes());
        out.push(b':');
        write_canonical(&m[k], out);
    }
    out.push(b'}');
}

/// Whether `s` is a SHA-256 digest as bindings are written (64 lowercase hex digits).
pub fn is_binding(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
}

/// Operations whose answer is a credential that works at AWS (or at an identity provider
/// that trades it for one) without passing through parapet. Forwarding any of them
/// would let an agent walk around every later decision, so they are refused before any
/// policy runs. Compared without case: the names are AWS's, the spelling the caller's.
const CREDENTIAL_MINTING: &[(&str, &str)] = &[
    (
        "sts:GetSessionToken",
        "it returns temporary AWS credentials",
    ),
    (
        "sts:GetFederationToken",
        "it returns temporary AWS credentials",
    ),
    (
        "sts:AssumeRole",
        "it returns the role's temporary AWS credentials",
    ),
    (
        "sts:AssumeRoleWithSAML",
        "it returns the role's temporary AWS credentials",
    ),
    (
        "sts:AssumeRoleWithWebIdentity",
        "it returns the role's temporary AWS credentials",
    ),
    (
        "sts:AssumeRoot",
        "it returns root temporary AWS credentials",
    ),
    (
        "iam:CreateAccessKey",
        "it returns a long-lived AWS access key",
    ),
    (
        "iam:CreateLoginProfile",
        "it sets a console password the caller knows",
    ),
    (
        "iam:UpdateLoginProfile",
        "it sets a console password the caller knows",
    ),
    (
        "iam:CreateServiceSpecificCredential",
        "it returns a service credential",
    ),
    (
        "sso:GetRoleCredentials",
        "it returns temporary AWS credentials",
    ),
    (
        "sso-oauth:CreateToken",
        "it returns an IAM Identity Center token that trades for AWS credentials",
    ),
    (
        "cognito-identity:GetCredentialsForIdentity",
        "it returns temporary AWS credentials",
    ),
    (
        "cognito-identity:GetOpenIdTokenForDeveloperIdentity",
        "it returns a token that trades for AWS credentials",
    ),
    (
        "cognito-identity:GetOpenIdToken",
        "it returns a token that trades for AWS credentials",
    ),
];

/// Why `action` mints credentials that work without parapet, if it does.
pub fn mints_credentials(action: &str) -> Option<&'static str> {
    let action = action.trim();
    CREDENTIAL_MINTING
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(action))
        .map(|(_, why)| *why)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> serde_json::Map<String, Value> {
        v.as_object().cloned().expect("an object")
    }

    #[test]
    fn the_call_binding_ignores_key_order_and_sees_every_part() {
        let a =
            json!({"RoleName": "r", "PolicyArn": "arn:x", "Tags": [{"Key": "k", "Value": "v"}]});
        let b =
            json!({"Tags": [{"Value": "v", "Key": "k"}], "PolicyArn": "arn:x", "RoleName": "r"});
        let base = call_binding("agent:kiro", "iam:AttachRolePolicy", &a, "v1");
        assert_eq!(
            base,
            call_binding("agent:kiro", "iam:AttachRolePolicy", &b, "v1")
        );
        assert!(is_binding(&base));
        assert_ne!(
            base,
            call_binding("agent:kira", "iam:AttachRolePolicy", &a, "v1")
        );
        assert_ne!(
            base,
            call_binding("agent:kiro", "iam:DetachRolePolicy", &a, "v1")
        );
        assert_ne!(
            base,
            call_binding("agent:kiro", "iam:AttachRolePolicy", &a, "v2")
        );
        let c =
            json!({"RoleName": "r", "PolicyArn": "arn:y", "Tags": [{"Key": "k", "Value": "v"}]});
        assert_ne!(
            base,
            call_binding("agent:kiro", "iam:AttachRolePolicy", &c, "v1")
        );
        assert_ne!(
            call_binding("a:b", "s:O", &json!({"L": [1, 2]}), "v"),
            call_binding("a:b", "s:O", &json!({"L": [2, 1]}), "v")
        );
        assert_ne!(
            call_binding("a:b", "s:Oc", &json!({}), "v"),
            call_binding("a:bs", ":Oc", &json!({}), "v")
        );
    }

    #[test]
    fn the_tool_binding_sees_caller_server_tool_arguments_and_pack() {
        let args = obj(json!({"cli_command": "aws s3 ls", "opts": {"b": 1, "a": [1, 2]}}));
        let m = json!([{"action": "s3:ListBuckets", "resource": null, "params": {}}]);
        let same = obj(json!({"opts": {"a": [1, 2], "b": 1}, "cli_command": "aws s3 ls"}));
        let base = tool_binding("agent:kiro", "aws", "call_aws", &args, &m, "v1");
        assert!(is_binding(&base));
        assert_eq!(
            base,
            tool_binding("agent:kiro", "aws", "call_aws", &same, &m, "v1")
        );
        for other in [
            tool_binding("agent:kira", "aws", "call_aws", &args, &m, "v1"),
            tool_binding("agent:kiro", "aws2", "call_aws", &args, &m, "v1"),
            tool_binding("agent:kiro", "aws", "suggest", &args, &m, "v1"),
            tool_binding("agent:kiro", "aws", "call_aws", &args, &m, "v2"),
            tool_binding(
                "agent:kiro",
                "aws",
                "call_aws",
                &obj(json!({"cli_command": "aws s3 ls ", "opts": {"b": 1, "a": [1, 2]}})),
                &m,
                "v1",
            ),
            tool_binding(
                "agent:kiro",
                "aws",
                "call_aws",
                &obj(json!({"cli_command": "aws s3 ls", "opts": {"b": 1, "a": [2, 1]}})),
                &m,
                "v1",
            ),
            // What the mapping made of the same arguments: another action, or none.
            tool_binding(
                "agent:kiro",
                "aws",
                "call_aws",
                &args,
                &json!([{"action": "s3:DeleteBucket", "resource": null, "params": {}}]),
                "v1",
            ),
            tool_binding(
                "agent:kiro",
                "aws",
                "call_aws",
                &args,
                &json!("unmapped"),
                "v1",
            ),
        ] {
            assert_ne!(base, other);
        }
        // Server and tool cannot run into each other.
        assert_ne!(
            tool_binding("a:b", "ab", "c", &args, &m, "v"),
            tool_binding("a:b", "a", "bc", &args, &m, "v")
        );
    }

    #[test]
    fn bindings_are_64_lowercase_hex() {
        assert!(is_binding(&"ab".repeat(32)));
        assert!(!is_binding(&"AB".repeat(32)));
        assert!(!is_binding("abc"));
        assert!(!is_binding(&"zz".repeat(32)));
    }

    #[test]
    fn credential_minting_calls_are_named_whatever_their_case() {
        for a in [
            "sts:GetSessionToken",
            "sts:getfederationtoken",
            "STS:AssumeRole",
            "sts:AssumeRoleWithWebIdentity",
            "iam:CreateAccessKey",
            " sso:GetRoleCredentials ",
        ] {
            assert!(mints_credentials(a).is_some(), "{a}");
        }
        for a in [
            "sts:GetCallerIdentity",
            "sts:DecodeAuthorizationMessage",
            "iam:ListAccessKeys",
            "s3:GetObject",
        ] {
            assert!(mints_credentials(a).is_none(), "{a}");
        }
    }
}
