//! Plan-wide lookups: other changes by address, drift by address, and configuration
//! references (parsed lazily, only when an attachment's target is unknown).

use crate::raw::RawChange;
use serde_json::value::RawValue;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::OnceLock;

pub struct PlanIndex<'a> {
    changes: &'a [RawChange<'a>],
    own_account: OnceLock<Option<String>>,
    policies_by_name: OnceLock<HashMap<String, &'a RawChange<'a>>>,
    by_address: HashMap<&'a str, &'a RawChange<'a>>,
    drift: HashMap<&'a str, &'a RawChange<'a>>,
    config_raw: Option<&'a RawValue>,
    /// Address without instance keys -> that resource's configuration expressions.
    config: OnceLock<HashMap<String, Value>>,
}

impl<'a> PlanIndex<'a> {
    pub fn new(
        changes: &'a [RawChange],
        drift: &'a [RawChange],
        config_raw: Option<&'a RawValue>,
    ) -> Self {
        PlanIndex {
            changes,
            own_account: OnceLock::new(),
            policies_by_name: OnceLock::new(),
            by_address: changes.iter().map(|c| (c.address.as_str(), c)).collect(),
            drift: drift
                .iter()
                .filter(|c| c.deposed.is_none())
                .map(|c| (c.address.as_str(), c))
                .collect(),
            config_raw,
            config: OnceLock::new(),
        }
    }

    pub fn drift(&self, address: &str) -> Option<&'a RawChange<'a>> {
        self.drift.get(address).copied()
    }

    /// The account this plan works in: the first known `"arn"` attribute, in plan order,
    /// that names one. Read from the raw text, without parsing values.
    pub fn own_account(&self) -> Option<String> {
        self.own_account
            .get_or_init(|| {
                self.changes.iter().find_map(|c| {
                    [c.change.before, c.change.after]
                        .into_iter()
                        .flatten()
                        .find_map(|raw| first_arn_account(raw.get()))
                })
            })
            .clone()
    }

    /// The values of the `aws_iam_policy` in this plan with that name.
    pub fn policy_values_by_name(&self, name: &str) -> Option<crate::raw::Values> {
        let map = self.policies_by_name.get_or_init(|| {
            self.changes
                .iter()
                .filter(|c| c.resource_type == "aws_iam_policy")
                .filter_map(|c| {
                    let v = c.change.values().ok()?;
                    let n = v
                        .after
                        .get("name")
                        .or(v.before.get("name"))?
                        .as_str()?
                        .to_string();
                    Some((n, c))
                })
                .collect()
        });
        map.get(name)?.change.values().ok()
    }

    fn config(&self) -> &HashMap<String, Value> {
        self.config.get_or_init(|| {
            let mut out = HashMap::new();
            if let Some(raw) = self.config_raw {
                if let Ok(v) = serde_json::from_str::<Value>(raw.get()) {
                    collect_module(v.get("root_module"), "", &mut out);
                }
            }
            out
        })
    }

    /// The configuration expression of `attr` for the resource at `address`.
    pub fn expression(&self, address: &str, attr: &str) -> Option<&Value> {
        self.config().get(&strip_keys(address))?.get(attr)
    }

    /// Resources an attribute's expression refers to, as change addresses in this plan.
    pub fn references(&self, address: &str, attr: &str) -> Vec<&'a RawChange<'a>> {
        let Some(expr) = self.expression(address, attr) else {
            return Vec::new();
        };
        let module = module_prefix(&strip_keys(address));
        let mut out = Vec::new();
        let refs = expr.get("references").and_then(Value::as_array);
        for r in refs.into_iter().flatten().filter_map(Value::as_str) {
            // "aws_iam_policy.p.arn" -> "aws_iam_policy.p" within the same module.
            let mut parts = r.splitn(3, '.');
            let (Some(t), Some(n)) = (parts.next(), parts.next()) else {
                continue;
            };
            let target = format!("{module}{t}.{n}");
            for c in self.by_address.values() {
                if strip_keys(&c.address) == target
                    && !out.iter().any(|o: &&RawChange| o.address == c.address)
                {
                    out.push(*c);
                }
            }
        }
        out
    }
}

/// The account of the first `"arn": "arn:...:123456789012:..."` in a JSON text.
fn first_arn_account(text: &str) -> Option<String> {
    let mut rest = text;
    while let Some(i) = rest.find("\"arn\"") {
        rest = &rest[i + 5..];
        let after_colon = rest.trim_start().strip_prefix(':')?.trim_start();
        if let Some(v) = after_colon.strip_prefix('"') {
            let end = v.find('"').unwrap_or(v.len());
            if let Some(a) = parapet_aws::iam::account_of(&v[..end]) {
                return Some(a.to_string());
            }
        }
    }
    None
}

fn collect_module(m: Option<&Value>, prefix: &str, out: &mut HashMap<String, Value>) {
    let Some(m) = m else { return };
    for r in m
        .get("resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let (Some(addr), Some(expr)) = (
            r.get("address").and_then(Value::as_str),
            r.get("expressions"),
        ) {
            out.insert(format!("{prefix}{addr}"), expr.clone());
        }
    }
    if let Some(calls) = m.get("module_calls").and_then(Value::as_object) {
        for (name, call) in calls {
            collect_module(call.get("module"), &format!("{prefix}module.{name}."), out);
        }
    }
}

/// `module.a["x"].aws_s3_bucket.b[0]` -> `module.a.aws_s3_bucket.b`.
pub fn strip_keys(address: &str) -> String {
    let mut out = String::with_capacity(address.len());
    let mut depth = 0;
    let mut in_str = false;
    for ch in address.chars() {
        match ch {
            '"' if depth > 0 => in_str = !in_str,
            '[' if !in_str => depth += 1,
            ']' if !in_str && depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(ch),
            _ => {}
        }
    }
    out
}

fn module_prefix(address: &str) -> String {
    // Everything up to and including the last "module.NAME." pair.
    let parts: Vec<&str> = address.split('.').collect();
    let mut prefix = String::new();
    let mut i = 0;
    while i + 1 < parts.len() && parts[i] == "module" {
        prefix.push_str("module.");
        prefix.push_str(parts[i + 1]);
        prefix.push('.');
        i += 2;
    }
    prefix
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_instance_keys() {
        assert_eq!(
            strip_keys(r#"module.a["x.y]"].aws_s3_bucket.b[0]"#),
            "module.a.aws_s3_bucket.b"
        );
        assert_eq!(
            module_prefix("module.a.module.b.aws_x.y"),
            "module.a.module.b."
        );
        assert_eq!(module_prefix("aws_x.y"), "");
    }
}
