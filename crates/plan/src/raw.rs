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
    pub resource_changes: Option<Vec<RawChange>>,
    #[serde(default)]
    pub resource_drift: Vec<RawChange>,
    pub planned_values: Option<IgnoredAny>,
    /// Present in state files, never in plans: tells a state file from an empty plan.
    pub values: Option<IgnoredAny>,
    #[serde(borrow)]
    pub configuration: Option<&'a RawValue>,
}

#[derive(Debug, Deserialize)]
pub struct RawChange {
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
    pub change: RawChangeBody,
}

fn managed() -> String {
    "managed".into()
}

#[derive(Debug, Deserialize)]
pub struct RawChangeBody {
    pub actions: Vec<String>,
    #[serde(default)]
    pub before: Value,
    #[serde(default)]
    pub after: Value,
    #[serde(default)]
    pub after_unknown: Value,
    #[serde(default)]
    pub before_sensitive: Value,
    #[serde(default)]
    pub after_sensitive: Value,
    #[serde(default)]
    pub replace_paths: Option<Vec<Vec<Value>>>,
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
