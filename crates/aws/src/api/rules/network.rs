//! Security-group and NACL calls that open network access.

use super::*;
use crate::network::{classify, Source};
use parapet_model::ExposureScope;

pub(super) fn ports(p: P) -> PortRange {
    // CloudTrail records a NACL entry's protocol as `aclProtocol`.
    let proto = match p.any(&["IpProtocol", "Protocol", "aclProtocol"]).0 {
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::String(s) => s.to_ascii_lowercase(),
        _ => "-1".into(),
    };
    let protocol = match proto.as_str() {
        "-1" | "all" => return PortRange::all(),
        "tcp" | "6" => "tcp",
        "udp" | "17" => "udp",
        "icmp" | "1" => "icmp",
        "icmpv6" | "58" => "icmpv6",
        _ => "other",
    };
    if !matches!(protocol, "tcp" | "udp") {
        return PortRange {
            protocol,
            from: 0,
            to: 0,
        };
    }
    let range = p.get("PortRange");
    let from = p
        .get("FromPort")
        .i64()
        .or(range.get("From").i64())
        .filter(|v| (0..=65535).contains(v));
    let to = p
        .get("ToPort")
        .i64()
        .or(range.get("To").i64())
        .filter(|v| (0..=65535).contains(v));
    match (from, to) {
        (Some(f), Some(t)) if f <= t => PortRange {
            protocol,
            from: f as u16,
            to: t as u16,
        },
        _ => PortRange {
            protocol,
            from: 0,
            to: 65535,
        },
    }
}

/// One rule source: an exposure when it reaches the internet or a broad public range,
/// nothing when narrow. A value that is not a CIDR is judged as the whole internet (what
/// it admits cannot be bounded) and said to be unreadable, in the sentence and as an
/// unreadable parameter, so it is never a silent allow.
pub(super) fn push_exposure(c: &Ctx, out: &mut Out, target: &str, ports: PortRange, cidr: &str) {
    if cidr.trim().is_empty() {
        return;
    }
    let (scope, source) = match classify(cidr) {
        Source::Narrow => return,
        Source::Exposed(scope) => (scope, cidr.to_string()),
        Source::Unparseable => {
            let e = Effect::Unknown {
                resource: target.into(),
                unrecognised: parapet_model::Unrecognised::Parameters,
                name: [c.service, ":", c.op].concat(),
                why: format!("source {cidr:?} is not a CIDR parapet can read, so which addresses it admits is unknown; judged as the whole internet"),
            };
            if !out.effects.contains(&e) {
                out.effects.push(e);
            }
            (
                ExposureScope::Internet,
                format!("{cidr:?}, not a CIDR parapet can read: judged as the whole internet"),
            )
        }
    };
    push_unique(
        out,
        Effect::NetworkExposure {
            target: target.into(),
            ports,
            source,
            scope,
            certainty: Certainty::Known,
        },
    );
}

fn push_unique(out: &mut Out, e: Effect) {
    if !out.effects.contains(&e) {
        out.effects.push(e);
    }
}

/// A managed prefix list as a source: its ranges live in the account (customer-managed)
/// or with AWS, never in the call, so what it opens is known only once it is read.
fn prefix_list(out: &mut Out, target: &str, ports: PortRange, id: &str) {
    push_unique(
        out,
        Effect::NetworkExposure {
            target: target.into(),
            ports,
            source: format!("managed prefix list {id}, whose ranges are not in the call"),
            scope: ExposureScope::Internet,
            certainty: Certainty::UnknownUntilApply,
        },
    );
}

/// A security group of another account as a source: its members reach this group.
fn peer_group(c: &Ctx, out: &mut Out, target: &str, ports: PortRange, account: &str) {
    if Some(account) == c.own_account || account.trim().is_empty() {
        return;
    }
    push_unique(
        out,
        Effect::ExternalShare {
            resource: format!("security group {target} (ports {})", describe(ports)),
            target: ShareTarget::Account { id: account.into() },
            certainty: Certainty::Known,
        },
    );
}

/// The sources of one permission (`IpPermissions[]`, API and CloudTrail shapes): IPv4
/// and IPv6 ranges (objects, or bare strings), prefix lists, and groups of other
/// accounts (`UserIdGroupPairs`, which EC2's query API and CloudTrail call `groups`).
fn permission(c: &Ctx, out: &mut Out, target: &str, perm: P) {
    let pr = ports(perm);
    for r in perm.get("IpRanges").list() {
        if let Some(cidr) = r.any(&["CidrIp", "CidrIpv4"]).str().or(r.str()) {
            push_exposure(c, out, target, pr, cidr);
        }
    }
    for r in perm.get("Ipv6Ranges").list() {
        if let Some(cidr) = r.get("CidrIpv6").str().or(r.str()) {
            push_exposure(c, out, target, pr, cidr);
        }
    }
    for r in perm.get("PrefixListIds").list() {
        if let Some(id) = r.get("PrefixListId").str().or(r.str()) {
            prefix_list(out, target, pr, id);
        }
    }
    for pair in perm.any(&["UserIdGroupPairs", "Groups"]).list() {
        if let Some(acct) = pair.get("UserId").str() {
            peer_group(c, out, target, pr, acct);
        }
    }
}

pub(super) fn ingress(c: &Ctx, out: &mut Out) {
    out.resource_type = Some("aws_security_group_rule");
    let target = c.target(&["GroupId", "GroupName"]);
    // The flat form (`CidrIp`, `IpProtocol`, `FromPort`, `ToPort` beside the group) is
    // still a documented member set of the API, and CloudTrail records
    // `aws ec2 authorize-security-group-ingress --cidr --port` that way, next to an empty
    // `ipPermissions`; read it whatever `IpPermissions` holds. Its source group
    // (`SourceSecurityGroupOwnerId`) may be another account's.
    for key in ["CidrIp", "CidrIpv6"] {
        for cidr in c.p.get(key).strings() {
            push_exposure(c, out, &target, ports(c.p), cidr);
        }
    }
    if let Some(acct) = c.p.get("SourceSecurityGroupOwnerId").str() {
        peer_group(c, out, &target, ports(c.p), acct);
    }
    for perm in c.p.get("IpPermissions").list() {
        permission(c, out, &target, perm);
    }
}

/// `ec2:ModifySecurityGroupRules`: each rule's new source, in the API's shape
/// (`SecurityGroupRules[].SecurityGroupRule`) and CloudTrail's (the query names
/// `SecurityGroupRule`, inside `ModifySecurityGroupRulesRequest`). The request does not
/// say whether a rule is inbound, so each is judged as if it were.
pub(super) fn modify_rules(c: &Ctx, out: &mut Out) {
    out.resource_type = Some("aws_security_group_rule");
    let wrapped = c.p.get("ModifySecurityGroupRulesRequest");
    let root = if wrapped.is_null() { c.p } else { wrapped };
    let group = root.get("GroupId").str().unwrap_or("(unnamed)");
    let target = if c.resource.ends_with("(no resource given)") {
        group.to_string()
    } else {
        c.resource.to_string()
    };
    for rule in root
        .any(&["SecurityGroupRules", "SecurityGroupRule"])
        .list()
    {
        let id = rule.get("SecurityGroupRuleId").str().unwrap_or("(unnamed)");
        let r = rule.get("SecurityGroupRule");
        let pr = ports(r);
        let at = format!("{target} (rule {id}, if inbound)");
        for key in ["CidrIpv4", "CidrIpv6"] {
            if let Some(cidr) = r.get(key).str() {
                push_exposure(c, out, &at, pr, cidr);
            }
        }
        if let Some(pl) = r.get("PrefixListId").str() {
            prefix_list(out, &at, pr, pl);
        }
        // `ReferencedGroupId` may be `account/sg-...` for a peered VPC's group.
        if let Some((acct, _)) = r
            .get("ReferencedGroupId")
            .str()
            .and_then(|g| g.split_once('/'))
        {
            peer_group(c, out, &at, pr, acct);
        }
    }
}

pub(super) fn nacl(c: &Ctx, out: &mut Out) {
    out.resource_type = Some("aws_network_acl_rule");
    if c.p.get("Egress").bool() == Some(true)
        || c.p
            .get("RuleAction")
            .str()
            .is_some_and(|a| !a.eq_ignore_ascii_case("allow"))
    {
        return;
    }
    let target = c.target(&["NetworkAclId"]);
    let pr = ports(c.p);
    for key in ["CidrBlock", "Ipv6CidrBlock"] {
        if let Some(cidr) = c.p.get(key).str() {
            push_exposure(c, out, &target, pr, cidr);
        }
    }
}

fn describe(p: PortRange) -> String {
    if p.from == p.to {
        format!("{} {}", p.protocol, p.from)
    } else {
        format!("{} {}-{}", p.protocol, p.from, p.to)
    }
}
