//! Security-group and NACL calls that open network access.

use super::*;

pub(super) fn ports(p: P) -> PortRange {
    let proto = match p.any(&["IpProtocol", "Protocol"]).0 {
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

pub(super) fn push_exposure(out: &mut Out, target: &str, ports: PortRange, cidr: &str) {
    if let Some(scope) = classify_source(cidr) {
        let e = Effect::NetworkExposure {
            target: target.into(),
            ports,
            source: cidr.into(),
            scope,
            certainty: Certainty::Known,
        };
        if !out.effects.contains(&e) {
            out.effects.push(e);
        }
    }
}

pub(super) fn ingress(c: &Ctx, out: &mut Out) {
    out.resource_type = Some("aws_security_group_rule");
    let target = c.target(&["GroupId", "GroupName"]);
    // The flat form (`CidrIp`, `IpProtocol`, `FromPort`, `ToPort` beside the group) is
    // still a documented member set of the API, and CloudTrail records
    // `aws ec2 authorize-security-group-ingress --cidr --port` that way, next to an empty
    // `ipPermissions`; read it whatever `IpPermissions` holds.
    for key in ["CidrIp", "CidrIpv6"] {
        for cidr in c.p.get(key).strings() {
            push_exposure(out, &target, ports(c.p), cidr);
        }
    }
    let perms = c.p.get("IpPermissions").list();
    for perm in perms {
        let pr = ports(perm);
        for r in perm.get("IpRanges").list() {
            if let Some(cidr) = r.get("CidrIp").str().or(r.str()) {
                push_exposure(out, &target, pr, cidr);
            }
        }
        // A group in another account (`UserIdGroupPairs[].UserId`): its members reach
        // this group from outside the account.
        for pair in perm.get("UserIdGroupPairs").list() {
            let Some(acct) = pair.get("UserId").str() else {
                continue;
            };
            if Some(acct) != c.own_account {
                let e = Effect::ExternalShare {
                    resource: format!("security group {target} (ports {})", describe(pr)),
                    target: ShareTarget::Account { id: acct.into() },
                    certainty: Certainty::Known,
                };
                if !out.effects.contains(&e) {
                    out.effects.push(e);
                }
            }
        }
        for r in perm.get("Ipv6Ranges").list() {
            if let Some(cidr) = r.get("CidrIpv6").str().or(r.str()) {
                push_exposure(out, &target, pr, cidr);
            }
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
            push_exposure(out, &target, pr, cidr);
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
