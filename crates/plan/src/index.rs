//! Plan-wide lookups: drift by address, and what configuration expressions refer to.
//! Everything is indexed by address once (lazily, on first use), so following a
//! reference is a few hash lookups and a plan is analysed in time linear in its size.

mod address;
mod config;
#[cfg(test)]
mod tests;

use crate::raw::RawChange;
use address::Reference;
use config::Config;
use serde_json::value::RawValue;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

pub struct PlanIndex<'a> {
    changes: &'a [RawChange<'a>],
    own_account: OnceLock<Option<String>>,
    policies_by_name: OnceLock<HashMap<String, &'a RawChange<'a>>>,
    groups: OnceLock<Groups<'a>>,
    drift: HashMap<&'a str, &'a RawChange<'a>>,
    config_raw: Option<&'a RawValue>,
    config: OnceLock<Config<'a>>,
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
            groups: OnceLock::new(),
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

    fn config(&self) -> &Config<'a> {
        self.config.get_or_init(|| Config::parse(self.config_raw))
    }

    /// Changes by resource group (address without the instance key), in plan order,
    /// one per address (the current object over a deposed one); and module instances
    /// by call. Built once, on the first reference followed.
    fn groups(&self) -> &Groups<'a> {
        self.groups.get_or_init(|| Groups::new(self.changes))
    }

    /// The configuration expression of `attr` for the resource at `address`.
    pub fn expression(&self, address: &str, attr: &str) -> Option<&Value> {
        self.config()
            .resources
            .get(&address::strip_keys(address))?
            .get()
            .get(attr)
    }

    /// Resources an attribute's expression refers to, as changes in this plan: directly
    /// (`aws_iam_policy.p.arn`, in the same module instance; only instance `[k]` when
    /// the reference names one), through a called module's output
    /// (`module.logs.policy_arn`) or through an input variable the calling module sets
    /// (`var.policy_arn`). Each lookup is a hash lookup: the cost does not grow with
    /// the plan.
    pub fn references(&self, address: &str, attr: &str) -> Vec<&'a RawChange<'a>> {
        let Some(expr) = self.expression(address, attr) else {
            return Vec::new();
        };
        let Some(at) = address::instance(address) else {
            return Vec::new();
        };
        let mut r = Resolver {
            index: self,
            out: Vec::new(),
            seen: HashSet::new(),
            followed: HashSet::new(),
        };
        r.expr(expr, at.module, 0);
        r.out
    }
}

/// Changes grouped by resource, and module instances by call.
struct Groups<'a> {
    by_group: HashMap<&'a str, Vec<&'a RawChange<'a>>>,
    /// `module.a["x"].module.b` -> its instances (`module.a["x"].module.b[0].`, ...).
    modules: HashMap<&'a str, Vec<&'a str>>,
}

impl<'a> Groups<'a> {
    fn new(changes: &'a [RawChange<'a>]) -> Self {
        let mut by_group: HashMap<&str, Vec<&RawChange>> = HashMap::new();
        let mut modules: HashMap<&str, Vec<&str>> = HashMap::new();
        let mut seen_modules = HashSet::new();
        for c in changes {
            let Some(at) = address::instance(&c.address) else {
                continue;
            };
            let list = by_group.entry(at.group).or_default();
            match list.iter_mut().find(|o| o.address == c.address) {
                Some(o) if o.deposed.is_some() && c.deposed.is_none() => *o = c,
                Some(_) => {}
                None => list.push(c),
            }
            if at.module.is_empty() || !seen_modules.insert(at.module) {
                continue;
            }
            for (call, inst) in address::module_chain(&c.address) {
                let list = modules.entry(call).or_default();
                if !list.contains(&inst) {
                    list.push(inst);
                }
            }
        }
        Groups { by_group, modules }
    }
}

/// How deep variables and outputs are followed (a hostile configuration can chain them).
const MAX_DEPTH: usize = 64;

struct Resolver<'i, 'a> {
    index: &'i PlanIndex<'a>,
    out: Vec<&'a RawChange<'a>>,
    seen: HashSet<*const RawChange<'a>>,
    /// Variables and outputs already followed, by module instance and name.
    followed: HashSet<(String, String)>,
}

impl<'a> Resolver<'_, 'a> {
    /// Follow an expression (or a block of them) written in module instance `module`.
    fn expr(&mut self, e: &Value, module: &str, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        match e {
            Value::Object(o) => {
                if let Some(refs) = o.get("references").and_then(Value::as_array) {
                    let refs: Vec<&str> = refs.iter().filter_map(Value::as_str).collect();
                    for (i, r) in refs.iter().enumerate() {
                        // Terraform lists every traversal step ("aws_x.y[0].id",
                        // "aws_x.y[0]", "aws_x.y"): follow only the most specific.
                        let implied = refs.iter().enumerate().any(|(j, o)| {
                            j != i
                                && o.len() > r.len()
                                && o.starts_with(r)
                                && matches!(o.as_bytes()[r.len()], b'.' | b'[')
                        });
                        if !implied {
                            self.reference(r, module, depth);
                        }
                    }
                } else if !o.contains_key("constant_value") {
                    // A nested block: its attributes are expressions.
                    for v in o.values() {
                        self.expr(v, module, depth + 1);
                    }
                }
            }
            Value::Array(a) => {
                for v in a {
                    self.expr(v, module, depth + 1);
                }
            }
            _ => {}
        }
    }

    fn reference(&mut self, r: &str, module: &str, depth: usize) {
        let index = self.index;
        match address::reference(r) {
            Reference::Resource { group, key } => {
                let groups = index.groups();
                let Some(list) = groups.by_group.get(format!("{module}{group}").as_str()) else {
                    return;
                };
                for &c in list {
                    let wanted = match key {
                        Some(k) => address::instance(&c.address).and_then(|i| i.key) == Some(k),
                        None => true,
                    };
                    if wanted && self.seen.insert(c as *const _) {
                        self.out.push(c);
                    }
                }
            }
            Reference::Var(name) => {
                let Some((parent, _)) = address::parent_call(module) else {
                    return;
                };
                if !self
                    .followed
                    .insert((module.to_string(), format!("var.{name}")))
                {
                    return;
                }
                let config = index.config();
                let Some(inputs) = config.inputs.get(&address::strip_keys(module)) else {
                    return;
                };
                if let Some(e) = inputs.get().get(name) {
                    self.expr(e, parent, depth + 1);
                }
            }
            Reference::Module { call, key, output } => {
                let instances: Vec<String> = match key {
                    Some(k) => vec![format!("{module}module.{call}{k}.")],
                    None => {
                        let groups = index.groups();
                        match groups
                            .modules
                            .get(format!("{module}module.{call}").as_str())
                        {
                            Some(list) => list.iter().map(|s| s.to_string()).collect(),
                            None => return,
                        }
                    }
                };
                let config = index.config();
                for inst in instances {
                    let path = address::strip_keys(&inst);
                    let names: Vec<&str> = match output {
                        Some(o) => vec![o],
                        None => config
                            .output_names
                            .get(&path)
                            .map(|n| n.iter().map(String::as_str).collect())
                            .unwrap_or_default(),
                    };
                    for name in names {
                        if !self
                            .followed
                            .insert((inst.clone(), format!("output.{name}")))
                        {
                            continue;
                        }
                        if let Some(e) = config.outputs.get(&format!("{path}{name}")) {
                            self.expr(e.get(), &inst, depth + 1);
                        }
                    }
                }
            }
            Reference::Other => {}
        }
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
