//! Network exposure: security groups, their rule resources, NACLs, subnets, routes.
//! Only openings that did not exist before the change are reported.

use super::Ctx;
use crate::side::Side;
use parapet_aws::network::{classify, classify_rule, is_everything, Source};
use parapet_model::{Certainty, Effect, ExposureScope, PortRange};

pub fn handles(t: &str) -> bool {
    matches!(
        t,
        "aws_security_group"
            | "aws_default_security_group"
            | "aws_security_group_rule"
            | "aws_vpc_security_group_ingress_rule"
            | "aws_network_acl"
            | "aws_default_network_acl"
            | "aws_network_acl_rule"
            | "aws_subnet"
            | "aws_route"
            | "aws_default_route_table"
            | "aws_route_table"
    )
}

#[derive(Debug, Clone, PartialEq)]
struct Opening {
    ports: PortRange,
    source: String,
    scope: ExposureScope,
    certainty: Certainty,
}

pub fn effects(ctx: &Ctx, out: &mut Vec<Effect>) {
    let new = ctx.new_side();
    let old = ctx.old_side();
    match ctx.rtype {
        "aws_subnet" => {
            if new.get("map_public_ip_on_launch").bool() == Some(true)
                && old.get("map_public_ip_on_launch").bool() != Some(true)
            {
                out.push(Effect::PublicAccess {
                    resource: ctx.label(),
                    how: "instances launched in this subnet get public IP addresses (map_public_ip_on_launch)".into(),
                    certainty: Certainty::Known,
                });
            }
            return;
        }
        "aws_route" | "aws_route_table" | "aws_default_route_table" => {
            if routes_to_internet(new) && !routes_to_internet(old) {
                out.push(Effect::PublicAccess {
                    resource: ctx.label(),
                    how: "adds a default route (0.0.0.0/0 or ::/0) to an internet gateway, making its subnets public".into(),
                    certainty: Certainty::Known,
                });
            }
            return;
        }
        _ => {}
    }
    let after = openings(ctx, new);
    let before = openings(ctx, old);
    let target = target(ctx, new);
    for o in after {
        if before.contains(&o) {
            continue;
        }
        out.push(Effect::NetworkExposure {
            target: target.clone(),
            ports: o.ports,
            source: o.source,
            scope: o.scope,
            certainty: o.certainty,
        });
    }
}

fn target(ctx: &Ctx, new: Side) -> String {
    let sg = new
        .get("security_group_id")
        .str()
        .or(ctx.before.get("security_group_id").str())
        .or(new.get("network_acl_id").str());
    match sg {
        Some(id) => format!("{id} (via {})", ctx.address),
        None => ctx.label(),
    }
}

fn openings(ctx: &Ctx, s: Side) -> Vec<Opening> {
    let mut out = Vec::new();
    if !s.exists() {
        return out;
    }
    match ctx.rtype {
        "aws_security_group" | "aws_default_security_group" => {
            let ingress = s.get("ingress");
            if ingress.is_unknown() {
                // Wholly unknown usually means "no inline rules"; only when the
                // configuration writes inline rules is it an unknown exposure.
                if ctx.index.expression(ctx.address, "ingress").is_some() {
                    out.push(unknown_opening(PortRange::all()));
                }
                return out;
            }
            for rule in ingress.items() {
                rule_openings(rule, &["cidr_blocks", "ipv6_cidr_blocks"], &mut out);
            }
        }
        "aws_security_group_rule" if s.get("type").str() == Some("ingress") => {
            rule_openings(s, &["cidr_blocks", "ipv6_cidr_blocks"], &mut out);
        }
        "aws_vpc_security_group_ingress_rule" => {
            let ports = port_range(s.get("ip_protocol"), s.get("from_port"), s.get("to_port"));
            for key in ["cidr_ipv4", "cidr_ipv6"] {
                single_source(s.get(key), ports, &mut out);
            }
        }
        "aws_network_acl" | "aws_default_network_acl" => {
            for rule in s.get("ingress").items() {
                if rule
                    .get("action")
                    .str()
                    .is_some_and(|a| a.eq_ignore_ascii_case("allow"))
                {
                    let ports = port_range(
                        rule.get("protocol"),
                        rule.get("from_port"),
                        rule.get("to_port"),
                    );
                    single_source(rule.get("cidr_block"), ports, &mut out);
                    single_source(rule.get("ipv6_cidr_block"), ports, &mut out);
                }
            }
        }
        "aws_network_acl_rule"
            if s.get("egress").bool() != Some(true)
                && s.get("rule_action")
                    .str()
                    .is_some_and(|a| a.eq_ignore_ascii_case("allow")) =>
        {
            let ports = port_range(s.get("protocol"), s.get("from_port"), s.get("to_port"));
            single_source(s.get("cidr_block"), ports, &mut out);
            single_source(s.get("ipv6_cidr_block"), ports, &mut out);
        }
        _ => {}
    }
    out
}

fn unknown_opening(ports: PortRange) -> Opening {
    Opening {
        ports,
        source: "known after apply".into(),
        scope: ExposureScope::Internet,
        certainty: Certainty::UnknownUntilApply,
    }
}

fn rule_openings(rule: Side, cidr_keys: &[&str], out: &mut Vec<Opening>) {
    let ports = port_range(
        rule.get("protocol"),
        rule.get("from_port"),
        rule.get("to_port"),
    );
    // All of a rule's sources are judged together: ranges that each look narrow can
    // cover the internet between them.
    let mut all: Vec<&str> = Vec::new();
    for key in cidr_keys {
        let (cidrs, unknown) = rule.get(key).strings();
        all.extend(cidrs);
        if unknown {
            push_unique(out, unknown_opening(ports));
        }
    }
    for (c, source) in all.iter().zip(classify_rule(&all)) {
        push_source(out, ports, c, source);
    }
}

/// Record what one source means: an exposure, nothing, or (for a value that is not
/// a CIDR) an exposure nobody can bound, reviewed like a value known after apply.
fn push_source(out: &mut Vec<Opening>, ports: PortRange, c: &str, source: Source) {
    match source {
        Source::Exposed(scope) => push_unique(
            out,
            Opening {
                ports,
                source: c.to_string(),
                scope,
                certainty: Certainty::Known,
            },
        ),
        Source::Narrow => {}
        Source::Unparseable => push_unique(
            out,
            Opening {
                ports,
                source: format!("{c:?} (not a CIDR parapet can read: may admit any address)"),
                scope: ExposureScope::Internet,
                certainty: Certainty::UnknownUntilApply,
            },
        ),
    }
}

fn single_source(s: Side, ports: PortRange, out: &mut Vec<Opening>) {
    if s.is_unknown() {
        push_unique(out, unknown_opening(ports));
    } else if let Some(c) = s.str().filter(|c| !c.is_empty()) {
        // Terraform writes an unset single CIDR (a NACL rule's other family) as "".
        push_source(out, ports, c, classify(c));
    }
}

fn push_unique(out: &mut Vec<Opening>, o: Opening) {
    if !out.contains(&o) {
        out.push(o);
    }
}

fn protocol(p: Side) -> &'static str {
    let s = match p.v {
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::String(s) => s.to_ascii_lowercase(),
        _ => return "all",
    };
    match s.as_str() {
        "-1" | "all" | "" => "all",
        "tcp" | "6" => "tcp",
        "udp" | "17" => "udp",
        "icmp" | "1" => "icmp",
        "icmpv6" | "58" => "icmpv6",
        _ => "other",
    }
}

/// A rule's protocol and ports. Unknown ports widen to the whole range, never narrow.
pub fn port_range(proto: Side, from: Side, to: Side) -> PortRange {
    let protocol = protocol(proto);
    if protocol == "all" {
        return PortRange::all();
    }
    if protocol == "icmp" || protocol == "icmpv6" || protocol == "other" {
        return PortRange {
            protocol,
            from: 0,
            to: 0,
        };
    }
    let f = from.i64().filter(|v| (0..=65535).contains(v));
    let t = to.i64().filter(|v| (0..=65535).contains(v));
    match (f, t) {
        (Some(f), Some(t)) if f <= t => PortRange {
            protocol,
            from: f as u16,
            to: t as u16,
        },
        (Some(f), None) if !to.is_unknown() && to.v.is_null() => PortRange {
            protocol,
            from: f as u16,
            to: f as u16,
        },
        _ => PortRange {
            protocol,
            from: 0,
            to: 65535,
        },
    }
}

fn routes_to_internet(s: Side) -> bool {
    if !s.exists() {
        return false;
    }
    let is_default = |r: Side| {
        let v4 = r
            .get("destination_cidr_block")
            .str()
            .or(r.get("cidr_block").str());
        let v6 = r
            .get("destination_ipv6_cidr_block")
            .str()
            .or(r.get("ipv6_cidr_block").str());
        let gw = r.get("gateway_id").str().unwrap_or_default();
        (v4.is_some_and(is_everything) || v6.is_some_and(is_everything)) && gw.starts_with("igw-")
    };
    if s.get("route").v.is_array() {
        s.get("route").items().any(is_default)
    } else {
        is_default(s)
    }
}
