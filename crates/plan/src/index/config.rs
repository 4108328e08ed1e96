//! The plan's `configuration`, indexed once by module path. Expressions stay raw JSON
//! text (borrowed from the plan) until someone asks for one, then are parsed once.
//!
//! Shape (Terraform's JSON output format, "Configuration Representation"): each module
//! has `resources` (addresses relative to the module), `outputs` (name -> `expression`)
//! and `module_calls` (name -> `expressions` for the child's input variables and the
//! child's own `module`). A call with `count`/`for_each` is written once, not per
//! instance, so module paths here carry no instance keys: `module.a.module.b.`.

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::OnceLock;

/// One piece of configuration, parsed on first use.
pub struct Lazy<'a> {
    raw: &'a RawValue,
    parsed: OnceLock<Value>,
}

impl<'a> Lazy<'a> {
    fn new(raw: &'a RawValue) -> Self {
        Lazy {
            raw,
            parsed: OnceLock::new(),
        }
    }

    /// The value; `null` if the text does not parse (it was syntax-checked with the
    /// whole plan, so only hostile nesting gets here).
    pub fn get(&self) -> &Value {
        self.parsed
            .get_or_init(|| serde_json::from_str(self.raw.get()).unwrap_or(Value::Null))
    }
}

#[derive(Default)]
pub struct Config<'a> {
    /// `module.a.module.b.aws_x.y` -> that resource's `expressions`.
    pub resources: HashMap<String, Lazy<'a>>,
    /// `module.a.module.b.` + output name -> the output's `expression`.
    pub outputs: HashMap<String, Lazy<'a>>,
    /// `module.a.module.b.` -> the output names of that module.
    pub output_names: HashMap<String, Vec<String>>,
    /// `module.a.module.b.` -> the `expressions` its call gives the module's variables.
    pub inputs: HashMap<String, Lazy<'a>>,
}

#[derive(Deserialize)]
struct RawConfig<'a> {
    #[serde(borrow)]
    root_module: Option<RawModule<'a>>,
}

#[derive(Deserialize, Default)]
struct RawModule<'a> {
    #[serde(default, borrow)]
    resources: Option<Vec<RawResource<'a>>>,
    #[serde(default, borrow)]
    outputs: Option<HashMap<String, RawOutput<'a>>>,
    #[serde(default, borrow)]
    module_calls: Option<HashMap<String, RawCall<'a>>>,
}

#[derive(Deserialize)]
struct RawResource<'a> {
    address: Option<String>,
    #[serde(borrow)]
    expressions: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct RawOutput<'a> {
    #[serde(borrow)]
    expression: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct RawCall<'a> {
    #[serde(borrow)]
    expressions: Option<&'a RawValue>,
    #[serde(borrow)]
    module: Option<RawModule<'a>>,
}

impl<'a> Config<'a> {
    /// Index the configuration section. A configuration that does not have the
    /// documented shape gives an empty index: every expression is then "not written",
    /// and each caller decides what an unknown value without configuration means.
    pub fn parse(raw: Option<&'a RawValue>) -> Self {
        let mut out = Config::default();
        let Some(raw) = raw else { return out };
        if let Ok(c) = serde_json::from_str::<RawConfig>(raw.get()) {
            if let Some(m) = c.root_module {
                out.add(m, String::new());
            }
        }
        out
    }

    fn add(&mut self, m: RawModule<'a>, prefix: String) {
        for r in m.resources.into_iter().flatten() {
            if let (Some(addr), Some(expr)) = (r.address, r.expressions) {
                self.resources
                    .insert(format!("{prefix}{addr}"), Lazy::new(expr));
            }
        }
        let mut names = Vec::new();
        for (name, o) in m.outputs.into_iter().flatten() {
            if let Some(expr) = o.expression {
                self.outputs
                    .insert(format!("{prefix}{name}"), Lazy::new(expr));
                names.push(name);
            }
        }
        names.sort();
        self.output_names.insert(prefix.clone(), names);
        for (name, call) in m.module_calls.into_iter().flatten() {
            let child = format!("{prefix}module.{name}.");
            if let Some(e) = call.expressions {
                self.inputs.insert(child.clone(), Lazy::new(e));
            }
            if let Some(cm) = call.module {
                self.add(cm, child);
            }
        }
    }
}
