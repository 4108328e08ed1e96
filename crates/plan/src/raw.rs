//! The `terraform show -json` plan format (0.1 through 1.x), parsed once into typed
//! structs. Sections parapet does not read (`planned_values`, `prior_state`) are
//! syntax-checked and skipped without building values.

use crate::PlanError;
use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

#[derive(Debug, Deserialize)]
pub struct RawPlan<'a> {
    pub format_version: Option<String>,
    pub terraform_version: Option<String>,
    #[serde(borrow)]
    pub resource_changes: Option<Vec<RawChange<'a>>>,
    #[serde(default, borrow)]
    pub resource_drift: Vec<RawChange<'a>>,
    pub planned_values: Option<IgnoredAny>,
    /// Present in state files, never in plans: tells a state file from an empty plan.
    pub values: Option<IgnoredAny>,
    #[serde(borrow)]
    pub configuration: Option<&'a RawValue>,
}

#[derive(Debug, Deserialize)]
pub struct RawChange<'a> {
    pub address: String,
    #[serde(default = "managed")]
    pub mode: String,
    #[serde(rename = "type")]
    pub resource_type: String,
    #[serde(default)]
    pub provider_name: String,
    #[serde(default)]
    pub deposed: Option<String>,
    #[serde(default)]
    pub action_reason: Option<String>,
    #[serde(borrow)]
    pub change: RawChangeBody<'a>,
}

fn managed() -> String {
    "managed".into()
}

/// A change's values stay raw JSON text until that change is analysed: the whole plan
/// never exists as a value tree, so memory stays near the size of the input.
#[derive(Debug, Deserialize)]
pub struct RawChangeBody<'a> {
    pub actions: Vec<String>,
    #[serde(default, borrow)]
    pub before: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub after: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub after_unknown: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub before_sensitive: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub after_sensitive: Option<&'a RawValue>,
    #[serde(default)]
    pub replace_paths: Option<Vec<Vec<Value>>>,
}

/// One change's values, parsed.
#[derive(Debug, Default)]
pub struct Values {
    pub before: Value,
    pub after: Value,
    pub after_unknown: Value,
    pub before_sensitive: Value,
    pub after_sensitive: Value,
}

fn parse_opt(raw: Option<&RawValue>) -> Result<Value, serde_json::Error> {
    match raw {
        None => Ok(Value::Null),
        Some(r) => serde_json::from_str(r.get()),
    }
}

impl RawChangeBody<'_> {
    /// Parse this change's values. The text was syntax-checked by the first pass, so an
    /// error here is only possible for hostile nesting, and is reported.
    pub fn values(&self) -> Result<Values, serde_json::Error> {
        Ok(Values {
            before: parse_opt(self.before)?,
            after: parse_opt(self.after)?,
            after_unknown: parse_opt(self.after_unknown)?,
            before_sensitive: parse_opt(self.before_sensitive)?,
            after_sensitive: parse_opt(self.after_sensitive)?,
        })
    }
}

impl Values {
    pub fn before_side(&self) -> crate::side::Side<'_> {
        crate::side::Side::new(&self.before, &crate::side::NULL, &self.before_sensitive)
    }

    pub fn after_side(&self) -> crate::side::Side<'_> {
        crate::side::Side::new(&self.after, &self.after_unknown, &self.after_sensitive)
    }
}

/// Parse the text. The fast path uses plain serde; only when that fails is the text
/// parsed again to find the JSON path of the problem, so errors cost nothing up front.
pub fn parse(text: &str) -> Result<RawPlan<'_>, PlanError> {
    match serde_json::from_str::<RawPlan>(text) {
        Ok(p) => Ok(p),
        Err(first) => {
            let mut de = serde_json::Deserializer::from_str(text);
            let path = match serde_path_to_error::deserialize::<_, RawPlan>(&mut de) {
                Err(e) => e.path().to_string(),
                Ok(_) => String::from("."),
            };
            let truncated = first.is_eof();
            // serde appends " at line L column C"; the error says where already.
            let full = first.to_string();
            let message = match full.rfind(" at line ") {
                Some(i) => full[..i].to_string(),
                None => full,
            };
            Err(PlanError::Json {
                path: if path.is_empty() { ".".into() } else { path },
                line: first.line(),
                column: first.column(),
                message,
                truncated,
            })
        }
    }
}

/// Check the format version is one this build understands: 0.x or 1.x.
pub fn check_version(v: Option<&str>) -> Result<String, PlanError> {
    let v = v.ok_or(PlanError::NotAPlan {
        why: "it has no format_version; is this `terraform show -json` output?".into(),
    })?;
    let major = v.split('.').next().unwrap_or_default();
    match major {
        "0" | "1" => Ok(v.to_string()),
        _ => Err(PlanError::UnsupportedFormat {
            version: v.to_string(),
        }),
    }
}
