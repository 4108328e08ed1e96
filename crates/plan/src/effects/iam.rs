//! IAM: policy documents, trust policies, attachments, memberships and credentials.

use super::Ctx;
use crate::index::PlanIndex;
use crate::side::Side;
use parapet_aws::iam::{
    account_of, aws_managed_policy, grant_delta, is_aws_managed_arn, parse_policy, trust_grants,
    Permissions, Statement,
};
use parapet_model::{Certainty, ChangeKind, Effect, Grant};

pub fn handles(t: &str) -> bool {
    t.starts_with("aws_iam_") || t == "aws_rolesanywhere_trust_anchor"
}

/// A policy document as read from one side of a change.
enum Doc {
    Absent,
    Unknown,
    Known(Vec<Statement>),
}

fn read_doc(s: Side, key: &str, what: &str, notes: &mut Vec<String>) -> Doc {
    let d = s.get(key);
    if d.is_unknown() {
        return Doc::Unknown;
    }
    match d.v {
        serde_json::Value::Null => Doc::Absent,
        serde_json::Value::String(t) if t.trim().is_empty() => Doc::Absent,
        v => match parse_policy(v) {
            Ok(st) => Doc::Known(st),
            Err(e) => {
                notes.push(format!("{what}: {e}; treated as unknown"));
                Doc::Unknown
            }
        },
    }
}

pub fn effects(ctx: &Ctx, out: &mut Vec<Effect>, notes: &mut Vec<String>) {
    if ctx.kind == ChangeKind::Delete {
        return; // Removing permissions grants nothing.
    }
    let new = ctx.after;
    let old = ctx.old_side();
    let name = |s: Side, k: &str| s.get(k).str().map(String::from);
    match ctx.rtype {
        "aws_iam_policy" => {
            let holder = format!(
                "whoever managed policy {} is attached to",
                name(new, "name").unwrap_or_else(|| ctx.address.to_string())
            );
            doc_grant(ctx, "policy", &holder, out, notes);
        }
        "aws_iam_role_policy" | "aws_iam_user_policy" | "aws_iam_group_policy" => {
            let (kind, key) = match ctx.rtype {
                "aws_iam_role_policy" => ("role", "role"),
                "aws_iam_user_policy" => ("user", "user"),
                _ => ("group", "group"),
            };
            let who = name(new, key).unwrap_or_else(|| referenced(ctx, key));
            doc_grant(ctx, "policy", &format!("{kind} {who}"), out, notes);
        }
        "aws_iam_role" => {
            let role = name(new, "name").unwrap_or_else(|| ctx.address.to_string());
            trust(ctx, &role, out, notes);
            inline_policies(ctx, &role, out, notes);
            let (arns, unknown) = new.get("managed_policy_arns").strings();
            let (old_arns, _) = old.get("managed_policy_arns").strings();
            for arn in arns.into_iter().filter(|a| !old_arns.contains(a)) {
                attach(ctx, &format!("role {role}"), Some(arn), &[], out, notes);
            }
            if unknown
                && ctx
                    .index
                    .expression(ctx.address, "managed_policy_arns")
                    .is_some()
            {
                attach(ctx, &format!("role {role}"), None, &[], out, notes);
            }
        }
        "aws_iam_role_policy_attachment"
        | "aws_iam_user_policy_attachment"
        | "aws_iam_group_policy_attachment"
        | "aws_iam_policy_attachment" => {
            if ctx.kind == ChangeKind::Update
                && old.get("policy_arn").v == new.get("policy_arn").v
                && ctx.rtype != "aws_iam_policy_attachment"
            {
                return;
            }
            let holder = attachment_holder(ctx, ctx.rtype, new);
            let arn_side = new.get("policy_arn");
            let refs = ctx.index.references(ctx.address, "policy_arn");
            attach(ctx, &holder, arn_side.str(), &refs, out, notes);
        }
        "aws_iam_user_group_membership" | "aws_iam_group_membership" => {
            let (groups, users): (Vec<String>, Vec<String>) =
                if ctx.rtype == "aws_iam_user_group_membership" {
                    (
                        new.get("groups")
                            .strings()
                            .0
                            .into_iter()
                            .map(String::from)
                            .collect(),
                        vec![new.get("user").str_or("(known after apply)").to_string()],
                    )
                } else {
                    (
                        vec![new.get("group").str_or("(known after apply)").to_string()],
                        new.get("users")
                            .strings()
                            .0
                            .into_iter()
                            .map(String::from)
                            .collect(),
                    )
                };
            for u in &users {
                for g in &groups {
                    out.push(Effect::PrivilegeGrant(Grant {
                        holder: format!("user {u}"),
                        via: Some(format!("membership of group {g}")),
                        ..Grant::opaque(String::new(), None, Certainty::Known)
                    }));
                }
            }
        }
        _ => credentials(ctx, out),
    }
}

/// The resource an unknown attribute refers to (`aws_iam_role.ci`), from the configuration.
fn referenced(ctx: &Ctx, attr: &str) -> String {
    match ctx.index.references(ctx.address, attr).first() {
        Some(r) => r.address.clone(),
        None => format!("(known after apply, {})", ctx.address),
    }
}

fn doc_grant(ctx: &Ctx, key: &str, holder: &str, out: &mut Vec<Effect>, notes: &mut Vec<String>) {
    let after = read_doc(ctx.after, key, ctx.address, notes);
    let before = read_doc(ctx.old_side(), key, ctx.address, notes);
    push_grant(holder, None, before, after, out);
}

fn push_grant(holder: &str, via: Option<String>, before: Doc, after: Doc, out: &mut Vec<Effect>) {
    let g = match after {
        Doc::Absent => return,
        Doc::Unknown => Grant {
            holder: holder.to_string(),
            via,
            ..Grant::opaque(String::new(), None, Certainty::UnknownUntilApply)
        },
        Doc::Known(st) => {
            let after = Permissions::from_statements(&st);
            let before = match before {
                Doc::Known(b) => Some(Permissions::from_statements(&b)),
                _ => None,
            };
            let mut g = grant_delta(holder, before.as_ref(), &after, Certainty::Known);
            g.via = via;
            if g.added == 0 && !g.admin && g.escalations.is_empty() {
                return; // Nothing new is possible.
            }
            g
        }
    };
    out.push(Effect::PrivilegeGrant(g));
}

fn inline_policies(ctx: &Ctx, role: &str, out: &mut Vec<Effect>, notes: &mut Vec<String>) {
    let collect = |s: Side, notes: &mut Vec<String>| -> Doc {
        let blocks = s.get("inline_policy");
        if blocks.is_unknown() {
            return Doc::Unknown;
        }
        let mut all = Vec::new();
        let mut unknown = false;
        for b in blocks.items() {
            match read_doc(b, "policy", ctx.address, notes) {
                Doc::Known(st) => all.extend(st),
                Doc::Unknown => unknown = true,
                Doc::Absent => {}
            }
        }
        if unknown {
            Doc::Unknown
        } else if all.is_empty() {
            Doc::Absent
        } else {
            Doc::Known(all)
        }
    };
    let after = collect(ctx.after, notes);
    if matches!(after, Doc::Unknown) && ctx.index.expression(ctx.address, "inline_policy").is_none()
    {
        return; // Computed from attachments elsewhere, not written inline.
    }
    let before = collect(ctx.old_side(), notes);
    push_grant(
        &format!("role {role}"),
        Some("inline policies".into()),
        before,
        after,
        out,
    );
}

fn trust(ctx: &Ctx, role: &str, out: &mut Vec<Effect>, notes: &mut Vec<String>) {
    let own = ctx
        .before
        .get("arn")
        .str()
        .and_then(account_of)
        .map(String::from)
        .or_else(|| own_account(ctx.index));
    let after = read_doc(ctx.after, "assume_role_policy", ctx.address, notes);
    let before = read_doc(ctx.old_side(), "assume_role_policy", ctx.address, notes);
    let role_label = format!("role {role}");
    match after {
        Doc::Absent => {}
        Doc::Unknown => out.push(Effect::TrustOpened {
            role: role_label,
            principal: "principals known only after apply".into(),
            scope: "unknown".into(),
            certainty: Certainty::UnknownUntilApply,
        }),
        Doc::Known(st) => {
            let old = match before {
                Doc::Known(b) => trust_grants(&b, own.as_deref()),
                _ => Vec::new(),
            };
            for g in trust_grants(&st, own.as_deref()) {
                if matches!(g.scope, "service" | "same_account" | "federated") || old.contains(&g) {
                    continue;
                }
                out.push(Effect::TrustOpened {
                    role: role_label.clone(),
                    principal: g.principal,
                    scope: g.scope.to_string(),
                    certainty: Certainty::Known,
                });
            }
        }
    }
}

/// The account this plan works in, from the first ARN that names one.
fn own_account(index: &PlanIndex) -> Option<String> {
    index.own_account()
}

fn attachment_holder(ctx: &Ctx, rtype: &str, s: Side) -> String {
    let one = |k: &str, kind: &str| match s.get(k).str() {
        Some(n) => format!("{kind} {n}"),
        None => format!("{kind} {}", referenced(ctx, k)),
    };
    match rtype {
        "aws_iam_role_policy_attachment" => one("role", "role"),
        "aws_iam_user_policy_attachment" => one("user", "user"),
        "aws_iam_group_policy_attachment" => one("group", "group"),
        _ => {
            let mut who = Vec::new();
            for (k, kind) in [("roles", "role"), ("users", "user"), ("groups", "group")] {
                for n in s.get(k).strings().0 {
                    who.push(format!("{kind} {n}"));
                }
            }
            if who.is_empty() {
                "the attached principals".into()
            } else {
                who.join(", ")
            }
        }
    }
}

fn attach(
    ctx: &Ctx,
    holder: &str,
    arn: Option<&str>,
    refs: &[&crate::raw::RawChange],
    out: &mut Vec<Effect>,
    notes: &mut Vec<String>,
) {
    if let Some(arn) = arn {
        let short = arn.rsplit('/').next().unwrap_or(arn).to_string();
        if let Some(st) = aws_managed_policy(arn) {
            push_grant(
                holder,
                Some(format!("AWS managed policy {short}")),
                Doc::Absent,
                Doc::Known(st),
                out,
            );
            return;
        }
        if is_aws_managed_arn(arn) {
            out.push(Effect::PrivilegeGrant(Grant {
                holder: holder.into(),
                via: Some(format!("AWS managed policy {short}")),
                resources: "what that policy allows".into(),
                ..Grant::opaque(String::new(), None, Certainty::Known)
            }));
            return;
        }
        // A customer-managed policy: find its document in this plan by name.
        if let Some(vals) = ctx.index.policy_values_by_name(&short) {
            let st = read_doc(vals.after_side(), "policy", ctx.address, notes);
            push_grant(
                holder,
                Some(format!("policy {short}")),
                Doc::Absent,
                st,
                out,
            );
            return;
        }
        out.push(Effect::PrivilegeGrant(Grant {
            holder: holder.into(),
            via: Some(format!("policy {short} (not in this plan)")),
            resources: "what that policy allows".into(),
            ..Grant::opaque(String::new(), None, Certainty::Known)
        }));
        return;
    }
    // The ARN is known only after apply: follow the configuration reference to the
    // policies created in this plan. Anything else it leads to (a data source, a
    // variable with no resource behind it) leaves the grant unknown.
    let policies: Vec<_> = refs
        .iter()
        .filter(|r| r.resource_type == "aws_iam_policy" && r.mode == "managed")
        .collect();
    for r in &policies {
        let Ok(vals) = r.change.values() else {
            continue;
        };
        let st = read_doc(vals.after_side(), "policy", &r.address, notes);
        push_grant(
            holder,
            Some(format!("policy {}", r.address)),
            Doc::Absent,
            st,
            out,
        );
    }
    if policies.is_empty() {
        out.push(Effect::PrivilegeGrant(Grant {
            holder: holder.into(),
            via: Some("a policy whose ARN is known only after apply".into()),
            ..Grant::opaque(String::new(), None, Certainty::UnknownUntilApply)
        }));
    }
}

fn credentials(ctx: &Ctx, out: &mut Vec<Effect>) {
    let new = ctx.after;
    let user = new.get("user").str_or("(known after apply)");
    let created = ctx.kind == ChangeKind::Create || ctx.kind.is_replace();
    let what = match ctx.rtype {
        "aws_iam_access_key" if created => format!("creates a long-lived access key for IAM user {user}"),
        "aws_iam_access_key"
            if new.get("status").str() == Some("Active") && ctx.before.get("status").str() == Some("Inactive") =>
        {
            format!("re-activates an access key of IAM user {user}")
        }
        "aws_iam_user_login_profile" if created => format!("gives IAM user {user} a console password"),
        "aws_iam_user" if created => format!(
            "creates IAM user {}, a long-lived identity",
            new.get("name").str_or("(known after apply)")
        ),
        "aws_iam_service_specific_credential" if created => {
            format!("creates service-specific credentials for IAM user {}", new.get("user_name").str_or(user))
        }
        "aws_iam_user_ssh_key" if created => format!("adds an SSH key for IAM user {}", new.get("username").str_or(user)),
        "aws_iam_signing_certificate" if created => format!("adds a signing certificate for IAM user {}", new.get("user_name").str_or(user)),
        "aws_iam_openid_connect_provider" if created => format!(
            "adds OIDC identity provider {} that roles can trust",
            new.get("url").str_or("(known after apply)")
        ),
        "aws_iam_saml_provider" if created => "adds a SAML identity provider that roles can trust".into(),
        "aws_rolesanywhere_trust_anchor" if created => {
            "lets certificates from an outside certificate authority obtain AWS credentials (IAM Roles Anywhere)".into()
        }
        _ => return,
    };
    out.push(Effect::NewCredential {
        resource: ctx.address.to_string(),
        what,
    });
}
