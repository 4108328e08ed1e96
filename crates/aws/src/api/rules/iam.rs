//! IAM calls: policy documents, attachments, trust, credentials.

use super::*;

pub(super) fn holder(c: &Ctx) -> String {
    for (key, kind) in [
        ("RoleName", "role"),
        ("UserName", "user"),
        ("GroupName", "group"),
    ] {
        if let Some(n) = c.p.get(key).str() {
            return format!("{kind} {n}");
        }
    }
    if c.op == "CreatePolicyVersion" || c.op == "CreatePolicy" {
        let arn =
            c.p.get("PolicyArn")
                .str()
                .or(c.p.get("PolicyName").str())
                .unwrap_or(c.resource);
        return format!("whoever managed policy {arn} is attached to");
    }
    c.resource.to_string()
}

pub(super) fn iam_document(c: &Ctx, out: &mut Out) {
    out.resource_type = Some("aws_iam_policy");
    let holder = holder(c);
    if c.op == "CreatePolicyVersion" && c.p.get("SetAsDefault").bool() != Some(true) {
        // A non-default version grants nothing until someone makes it the default.
        return;
    }
    let doc =
        c.p.get("PolicyDocument")
            .document()
            .and_then(|d| parse_policy(&d).ok());
    let g = match doc {
        Some(st) => grant_delta(
            &holder,
            None,
            &Permissions::from_statements(&st),
            Certainty::Known,
        ),
        None => Grant {
            holder,
            ..Grant::opaque(String::new(), None, Certainty::UnknownUntilApply)
        },
    };
    out.effects.push(Effect::PrivilegeGrant(g));
}

pub(super) fn iam_attach(c: &Ctx, out: &mut Out) {
    out.resource_type = Some("aws_iam_role_policy_attachment");
    let holder = holder(c);
    let arn = c.p.get("PolicyArn").str().unwrap_or_default();
    let short = arn.rsplit('/').next().unwrap_or(arn).to_string();
    let g = match aws_managed_policy(arn) {
        Some(st) => {
            let mut g = grant_delta(
                &holder,
                None,
                &Permissions::from_statements(&st),
                Certainty::Known,
            );
            g.via = Some(format!("AWS managed policy {short}"));
            g
        }
        // An ARN in the AWS-managed namespace that the table does not hold (a policy
        // newer than this build, or a misspelling AWS rejects): what it grants is
        // unknown until applied, never weaker than a known grant.
        None if is_aws_managed_arn(arn) => Grant {
            holder,
            via: Some(format!(
                "AWS managed policy {short} (not one parapet knows)"
            )),
            resources: "what that policy allows".into(),
            ..Grant::opaque(String::new(), None, Certainty::UnknownUntilApply)
        },
        None => Grant {
            holder,
            via: Some(format!("policy {short}")),
            resources: "what that policy allows".into(),
            ..Grant::opaque(String::new(), None, Certainty::Known)
        },
    };
    out.effects.push(Effect::PrivilegeGrant(g));
}

pub(super) fn iam_trust(c: &Ctx, out: &mut Out) {
    out.resource_type = Some("aws_iam_role");
    let role = format!("role {}", c.p.get("RoleName").str().unwrap_or(c.resource));
    let Some(st) =
        c.p.any(&["AssumeRolePolicyDocument", "PolicyDocument"])
            .document()
            .and_then(|d| parse_policy(&d).ok())
    else {
        out.effects.push(Effect::TrustOpened {
            role,
            principal: "principals in an unreadable document".into(),
            scope: "unknown".into(),
            certainty: Certainty::UnknownUntilApply,
        });
        return;
    };
    for g in trust_grants(&st, c.own_account) {
        if matches!(g.scope, "service" | "same_account" | "federated") {
            continue;
        }
        out.effects.push(Effect::TrustOpened {
            role: role.clone(),
            principal: g.principal,
            scope: g.scope.into(),
            certainty: Certainty::Known,
        });
    }
}

pub(super) fn credential(c: &Ctx, out: &mut Out, what: impl Fn(&str) -> String) {
    out.resource_type = Some("aws_iam_user");
    let user = c.p.get("UserName").str().unwrap_or("(the caller itself)");
    out.effects.push(Effect::NewCredential {
        resource: c.named_target(),
        what: what(user),
    });
}
