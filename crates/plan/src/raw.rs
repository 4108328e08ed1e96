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
    /// Terraform 1.5+: planning failed part-way, so the changes are not all there.
    #[serde(default)]
    pub errored: bool,
    /// Terraform 1.8+: `false` when a later plan will have more changes (deferred
    /// changes, targeting).
    #[serde(default)]
    pub complete: Option<bool>,
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
    /// Always written in `resource_changes`; missing from `resource_drift` entries of
    /// Terraform 0.15.4 to 1.0.0 (hashicorp/terraform#28975), where [`fill_addresses`]
    /// builds it from the parts below.
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub module_address: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, borrow)]
    pub index: Option<&'a RawValue>,
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
            if let Some(found) = top_level_non_object(text) {
                return Err(PlanError::NotAPlan {
                    why: format!(
                        "a Terraform plan is a JSON object (terraform show -json); found {found}"
                    ),
                });
            }
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
            let message = plain_types(&message);
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

/// What a well-formed JSON document that is not an object is (`an array`, `null`,
/// ...), or None when it is an object or not valid JSON (then the JSON error says
/// where it breaks).
fn top_level_non_object(text: &str) -> Option<&'static str> {
    let first = text.trim_start().bytes().next()?;
    if first == b'{' || serde_json::from_str::<serde::de::IgnoredAny>(text).is_err() {
        return None;
    }
    Some(match first {
        b'[' => "an array",
        b'"' => "a string",
        b'n' => "null",
        b't' | b'f' => "a boolean",
        _ => "a number",
    })
}

/// serde names the Rust types it expected (`struct RawChange`); say what JSON the plan
/// should have there instead.
fn plain_types(message: &str) -> String {
    let mut out = message.to_string();
    for (internal, plain) in [
        ("struct RawPlan", "a JSON object (the plan)"),
        (
            "struct RawChangeBody",
            "a JSON object (a change's `change`)",
        ),
        ("struct RawChange", "a JSON object (a resource change)"),
        ("struct Values", "a JSON object (`values`)"),
    ] {
        out = out.replace(internal, plain);
    }
    // `expected a JSON object (the plan) with 9 elements`: the element count is how
    // serde reads a struct from an array, meaningless for a plan.
    while let Some(i) = out.find(" with ") {
        let rest = &out[i + 6..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && rest[digits..].starts_with(" element") {
            let end = rest[digits..]
                .find(|c: char| c != ' ' && !c.is_ascii_lowercase())
                .map_or(rest.len(), |e| digits + e);
            out.replace_range(i..i + 6 + end, "");
        } else {
            break;
        }
    }
    out
}

/// Give every change an address. `resource_changes` entries must have one (Terraform
/// always writes it); `resource_drift` entries of Terraform 0.15.4 to 1.0.0 have none
/// and get the one Terraform prints: `module.m.data.type.name["key"]`.
pub fn fill_addresses(plan: &mut RawPlan) -> Result<(), PlanError> {
    for (i, c) in plan.resource_changes.iter().flatten().enumerate() {
        if c.address.is_empty() {
            return Err(PlanError::BadValue {
                path: format!("resource_changes[{i}].address"),
                address: c.name.clone().unwrap_or_default(),
                why: "is missing or empty; Terraform writes every change's address".into(),
            });
        }
    }
    for (i, c) in plan.resource_drift.iter_mut().enumerate() {
        if !c.address.is_empty() {
            continue;
        }
        let name = c.name.as_deref().filter(|n| !n.is_empty());
        let (Some(name), false) = (name, c.resource_type.is_empty()) else {
            return Err(PlanError::BadValue {
                path: format!("resource_drift[{i}]"),
                address: String::new(),
                why: "has neither an address nor a type and name to build one from".into(),
            });
        };
        let mut a = String::new();
        if let Some(m) = c.module_address.as_deref().filter(|m| !m.is_empty()) {
            a.push_str(m);
            a.push('.');
        }
        if c.mode == "data" {
            a.push_str("data.");
        }
        a.push_str(&c.resource_type);
        a.push('.');
        a.push_str(name);
        if let Some(ix) = c.index {
            // A count index is a number, a for_each key a string: both print as JSON.
            let t = ix.get().trim();
            if !(t.starts_with('"') || t.bytes().all(|b| b.is_ascii_digit())) || t.is_empty() {
                return Err(PlanError::BadValue {
                    path: format!("resource_drift[{i}].index"),
                    address: a,
                    why: "is neither a number nor a string".into(),
                });
            }
            a.push('[');
            a.push_str(t);
            a.push(']');
        }
        c.address = a;
    }
    Ok(())
}

/// What the first byte of a JSON value says it is.
fn json_kind(raw: &RawValue) -> &'static str {
    match raw.get().trim_start().as_bytes().first() {
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

/// Check each change's values have the types Terraform writes, so a value of the wrong
/// type is an error naming its JSON path, never read as empty: `before` and `after` are
/// objects (or null), the unknown and sensitive markers objects or booleans.
pub fn check_value_types(plan: &RawPlan) -> Result<(), PlanError> {
    let lists = [
        (
            "resource_changes",
            plan.resource_changes.as_deref().unwrap_or_default(),
        ),
        ("resource_drift", plan.resource_drift.as_slice()),
    ];
    for (list, changes) in lists {
        for (i, c) in changes.iter().enumerate() {
            let b = &c.change;
            let values = [("before", b.before), ("after", b.after)];
            let markers = [
                ("after_unknown", b.after_unknown),
                ("before_sensitive", b.before_sensitive),
                ("after_sensitive", b.after_sensitive),
            ];
            for (field, raw, expected) in values
                .into_iter()
                .map(|(f, r)| (f, r, "an object or null"))
                .chain(
                    markers
                        .into_iter()
                        .map(|(f, r)| (f, r, "an object or a boolean")),
                )
            {
                let Some(raw) = raw else { continue };
                let found = json_kind(raw);
                let ok = match found {
                    "an object" | "null" => true,
                    "a boolean" => expected == "an object or a boolean",
                    _ => false,
                };
                if !ok {
                    return Err(PlanError::BadValue {
                        path: format!("{list}[{i}].change.{field}"),
                        address: c.address.clone(),
                        why: format!("is {found}; Terraform writes {expected} there"),
                    });
                }
            }
        }
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> String {
        parse(text).expect_err("refused").to_string()
    }

    #[test]
    fn a_plan_that_is_not_an_object_says_what_it_is() {
        for (text, found) in [
            ("[]", "found an array"),
            ("[1,2,3,4,5,6,7,8,9]", "found an array"),
            ("null", "found null"),
            ("  \"plan\"", "found a string"),
            ("42", "found a number"),
            ("true", "found a boolean"),
        ] {
            let e = error(text);
            assert!(
                e.contains("a Terraform plan is a JSON object"),
                "{text}: {e}"
            );
            assert!(e.contains(found), "{text}: {e}");
            assert!(
                !e.contains("RawPlan") && !e.contains("struct"),
                "{text}: {e}"
            );
        }
        // Broken JSON still gets the JSON error with its place.
        assert!(error("[1,").contains("line 1"), "{}", error("[1,"));
    }

    #[test]
    fn nested_type_errors_name_json_not_rust_types() {
        let e = error(r#"{"format_version":"1.2","resource_changes":[7]}"#);
        assert!(e.contains("resource_changes[0]"), "{e}");
        assert!(!e.contains("struct") && !e.contains("Raw"), "{e}");
        let e = error(r#"{"format_version":"1.2","resource_changes":[[1,2]]}"#);
        assert!(!e.contains("struct") && !e.contains("element"), "{e}");
    }
}
