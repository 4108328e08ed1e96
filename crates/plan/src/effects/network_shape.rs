//! The types of the attributes parapet reads security facts from. Terraform writes
//! rule lists as arrays of objects and CIDRs as strings (arrays of strings for
//! `cidr_blocks`); anything else in a plan was not written by Terraform, and reading
//! it as "no rules" would allow an opening nobody judged. So a wrong type is an error
//! naming its JSON path, like a wrong-typed `after` (see `raw::check_value_types`).

use crate::raw::Values;
use serde_json::Value;

/// `(path below the change, why)` of the first wrong-typed security attribute.
pub type ShapeError = (String, String);

const SG_RULE_LISTS: &[&str] = &["cidr_blocks", "ipv6_cidr_blocks"];
const SG_RULE_SCALARS: &[&str] = &["protocol", "type"];
const PORTS: &[&str] = &["from_port", "to_port"];

pub fn check(rtype: &str, v: &Values) -> Result<(), ShapeError> {
    for (side, val) in [("before", &v.before), ("after", &v.after)] {
        check_side(rtype, val).map_err(|(p, why)| (format!("{side}.{p}"), why))?;
    }
    Ok(())
}

fn check_side(rtype: &str, v: &Value) -> Result<(), ShapeError> {
    let Value::Object(_) = v else { return Ok(()) };
    match rtype {
        "aws_security_group" | "aws_default_security_group" => {
            for list in ["ingress", "egress"] {
                rules(v, list, SG_RULE_LISTS, &["protocol"])?;
            }
        }
        "aws_security_group_rule" => attrs(v, "", SG_RULE_LISTS, SG_RULE_SCALARS)?,
        "aws_vpc_security_group_ingress_rule" | "aws_vpc_security_group_egress_rule" => {
            attrs(v, "", &[], &["cidr_ipv4", "cidr_ipv6", "ip_protocol"])?
        }
        "aws_network_acl" | "aws_default_network_acl" => {
            for list in ["ingress", "egress"] {
                rules(
                    v,
                    list,
                    &[],
                    &["cidr_block", "ipv6_cidr_block", "action", "protocol"],
                )?;
            }
        }
        "aws_network_acl_rule" => attrs(
            v,
            "",
            &[],
            &["cidr_block", "ipv6_cidr_block", "rule_action", "protocol"],
        )?,
        _ => {}
    }
    Ok(())
}

fn rules(v: &Value, list: &str, lists: &[&str], scalars: &[&str]) -> Result<(), ShapeError> {
    match v.get(list) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let at = format!("{list}[{i}]");
                match item {
                    Value::Object(_) => attrs(item, &format!("{at}."), lists, scalars)?,
                    Value::Null => {}
                    other => return Err((at, wrong(other, "an object (one rule)"))),
                }
            }
            Ok(())
        }
        Some(other) => Err((list.into(), wrong(other, "an array of rule objects"))),
    }
}

fn attrs(v: &Value, prefix: &str, lists: &[&str], scalars: &[&str]) -> Result<(), ShapeError> {
    for key in lists {
        match v.get(*key) {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    if !matches!(item, Value::String(_) | Value::Null) {
                        return Err((format!("{prefix}{key}[{i}]"), wrong(item, "a string")));
                    }
                }
            }
            Some(other) => {
                return Err((
                    format!("{prefix}{key}"),
                    wrong(other, "an array of strings"),
                ))
            }
        }
    }
    for key in scalars {
        match v.get(*key) {
            None | Some(Value::Null | Value::String(_)) => {}
            Some(Value::Number(_)) if !key.contains("cidr") => {}
            Some(other) => return Err((format!("{prefix}{key}"), wrong(other, "a string"))),
        }
    }
    for key in PORTS {
        match v.get(*key) {
            None | Some(Value::Null | Value::Number(_) | Value::String(_)) => {}
            Some(other) => return Err((format!("{prefix}{key}"), wrong(other, "a number"))),
        }
    }
    Ok(())
}

fn wrong(v: &Value, expected: &str) -> String {
    let found = match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    format!(
        "is {found}; Terraform writes {expected} there, and parapet reads network exposure from it"
    )
}
