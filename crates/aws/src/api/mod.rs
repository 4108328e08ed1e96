//! Single AWS API calls to effects: the same `Effect`s a Terraform plan produces, from
//! `service:Operation` and its parameters. Parameters may be written as the API takes
//! them (`IpPermissions`, PascalCase) or as CloudTrail records them (`ipPermissions`
//! with `items` wrappers, camelCase); both read the same.

pub mod ids;
mod params;
pub mod place;
mod rules;

pub use params::P;
pub use rules::{ACCELERATED_TYPES, HUGE_SIZES, ID_KEYS};

use crate::catalog::{catalog, AccessLevel};
use parapet_model::Effect;
use serde_json::Value;
use std::borrow::Cow;

/// One call an agent wants to make (or, from CloudTrail, made).
#[derive(Debug, Clone)]
pub struct ApiCall {
    /// `ec2`, `iam`, ... (the IAM service prefix).
    pub service: String,
    /// `AuthorizeSecurityGroupIngress`; API-version suffixes (`...20150331v2`) are removed.
    pub operation: String,
    /// The target ARN (or id) when known.
    pub resource: Option<String>,
    pub params: Value,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CallError {
    #[error(
        "action `{0}` must look like service:Operation, e.g. ec2:AuthorizeSecurityGroupIngress"
    )]
    BadAction(String),
    #[error("parameters must be a JSON object, found {0}")]
    BadParams(&'static str),
}

impl ApiCall {
    /// `ec2:AuthorizeSecurityGroupIngress`, in any spelling [`normalise`] reads.
    pub fn new(
        action: &str,
        resource: Option<String>,
        params: Value,
    ) -> Result<ApiCall, CallError> {
        let (svc, op) = action
            .split_once(':')
            .and_then(|(s, o)| normalise(s, o))
            .ok_or_else(|| CallError::BadAction(action.into()))?;
        let params = match params {
            Value::Null => Value::Object(Default::default()),
            v @ Value::Object(_) => v,
            Value::Array(_) => return Err(CallError::BadParams("an array")),
            Value::String(_) => return Err(CallError::BadParams("a string")),
            _ => return Err(CallError::BadParams("a scalar")),
        };
        Ok(ApiCall {
            service: svc.into_owned(),
            operation: op.to_string(),
            resource: resource.filter(|r| !r.trim().is_empty()),
            params,
        })
    }

    pub fn action(&self) -> String {
        format!("{}:{}", self.service, self.operation)
    }

    pub fn as_ref(&self) -> CallRef<'_> {
        CallRef {
            service: &self.service,
            operation: &self.operation,
            resource: self.resource.as_deref(),
            params: &self.params,
        }
    }
}

/// Service and operation as every call is analysed: both non-empty and without `:`,
/// the operation without an API-version suffix, both spelt as the IAM catalog spells
/// them whatever the case, surrounding whitespace or SDK spelling (`delete_db_instance`,
/// `delete-db-instance`, `deleteDBInstance` -> `DeleteDBInstance`), so every rule that
/// compares names sees one spelling. An operation the catalog does not know (or that
/// would match several of its names) is kept as given, trimmed; an unknown service is
/// lowercased. `None` when they cannot name an action. Allocation-free for names the
/// catalog knows.
pub fn normalise<'a>(service: &'a str, operation: &'a str) -> Option<(Cow<'a, str>, &'a str)> {
    let (service, operation) = (service.trim(), operation.trim());
    if service.is_empty()
        || operation.is_empty()
        || service.contains(':')
        || operation.contains(':')
    {
        return None;
    }
    let cat = catalog();
    if let Some(c) = cat.canonical(service, operation) {
        return Some((Cow::Borrowed(c.service), c.operation));
    }
    let stripped = strip_version(operation);
    if stripped.len() != operation.len() {
        if let Some(c) = cat.canonical(service, stripped) {
            return Some((Cow::Borrowed(c.service), c.operation));
        }
    }
    let service = match cat.service_prefix(service) {
        Some(p) => Cow::Borrowed(p),
        None if service.bytes().any(|b| b.is_ascii_uppercase()) => {
            Cow::Owned(service.to_ascii_lowercase())
        }
        None => Cow::Borrowed(service),
    };
    // `list_objects_v2` is not `list_objects_` with a version suffix.
    let op = if operation.contains(['_', '-']) {
        operation
    } else {
        stripped
    };
    Some((service, op))
}

/// A call's parts, borrowed and already normalised as [`ApiCall::new`] leaves them
/// (lowercase service, operation without version suffix, parameters an object).
/// CloudTrail events are analysed through this without copying their parameters.
#[derive(Debug, Clone, Copy)]
pub struct CallRef<'a> {
    pub service: &'a str,
    pub operation: &'a str,
    pub resource: Option<&'a str>,
    pub params: &'a Value,
}

/// `UpdateFunctionCode20150331v2` -> `UpdateFunctionCode`.
pub fn strip_version(op: &str) -> &str {
    let bytes = op.as_bytes();
    let mut end = op.len();
    // Trailing `vN`.
    if let Some(v) = op.rfind('v') {
        if v > 0 && op[v + 1..].bytes().all(|b| b.is_ascii_digit()) && v + 1 < op.len() {
            end = v;
        }
    }
    let digits = bytes[..end]
        .iter()
        .rev()
        .take_while(|b| b.is_ascii_digit())
        .count();
    if digits == 8 {
        end -= 8;
    }
    if end == 0 {
        op
    } else {
        &op[..end]
    }
}

/// What parapet knows about a call.
#[derive(Debug, Clone)]
pub struct CallAnalysis {
    pub action: String,
    /// From the catalog; `None` for an action AWS does not document (typo or new).
    pub level: Option<AccessLevel>,
    /// A resource type name for policies and criticality: the Terraform type
    /// (`aws_db_instance`), `aws:<service>:<IAM resource type>` for kinds without one,
    /// or `aws:<service>` when the target kind is not known.
    pub resource_type: String,
    /// Is the kind of resource the call acts on known (from a rule or the catalog)?
    pub placed: bool,
    pub resource: String,
    /// Every resource the call names: the resource given, then each one its parameters
    /// name (every item of a list-valued member: `GetParameters` `Names`, each key of
    /// `DeleteObjects`, each table of `BatchWriteItem`), as `data/id-keys.tsv` says where
    /// the models put them (or, for operations the models lack, the one `ID_KEYS` finds).
    /// Empty when the call names none parapet could read.
    pub resources: Vec<String>,
    /// Does the call change anything (any level but List and Read)?
    pub writes: bool,
    /// Does it remove the target?
    pub destroys: bool,
    pub data_bearing: bool,
    pub effects: Vec<Effect>,
}

/// Analyse a call. Never fails: unknown calls are analysed by their access level.
pub fn analyze_call(call: &ApiCall, own_account: Option<&str>) -> CallAnalysis {
    analyze(call.as_ref(), own_account)
}

/// [`analyze_call`] on borrowed parts.
pub fn analyze(call: CallRef, own_account: Option<&str>) -> CallAnalysis {
    // `concat` over `format!`: this runs for every write the detector sees.
    let action = [call.service, ":", call.operation].concat();
    let cat = catalog();
    let canonical = cat.canonical(call.service, call.operation);
    let level = canonical.map(|c| cat.actions[c.action].level);
    let resource = call
        .resource
        .map(String::from)
        .unwrap_or_else(|| [action.as_str(), " (no resource given)"].concat());
    // Structure-typed parameters written as JSON strings, parsed (a copy only then).
    let coerced = rules::coerce(call.service, call.operation, call.params);
    let p = P::new(coerced.as_ref().unwrap_or(call.params));
    let target = ids::target(call.service, call.operation);
    let named = target
        .map(|t| ids::named(call.service, t, p))
        .unwrap_or_default();
    let mut out = rules::Out {
        effects: Vec::new(),
        resource_type: None,
        destroys: false,
        data_bearing: false,
        policy_read: false,
    };
    let ctx = rules::Ctx {
        service: call.service,
        op: call.operation,
        resource: &resource,
        p,
        own_account,
        names: &named.all,
    };
    rules::apply(&ctx, &mut out);
    let resource = ctx.named_target();
    let writes = !matches!(level, Some(AccessLevel::List | AccessLevel::Read));
    // The target's kind: from a rule, the catalog, the models' reading of the input
    // (`BatchGetSecretValue` names secrets), or the ARN the call names.
    let kind: Option<Cow<'static, str>> = out
        .resource_type
        .or_else(|| canonical.and_then(|c| place::resource_type(c.action)))
        .map(Cow::Borrowed)
        .or_else(|| {
            target
                .and_then(|t| t.kind)
                .and_then(|k| place::type_name(call.service, k))
        })
        .or_else(|| {
            call.resource
                .into_iter()
                .chain(named.all.iter().map(String::as_str))
                .find_map(place::arn_type)
        });
    let placed = kind.is_some();
    let resource_type = kind
        .map(Cow::into_owned)
        .unwrap_or_else(|| ["aws:", call.service].concat());
    // A write that names no target, where the model says it must: which resource it
    // changes cannot be told, so it is never "no effects".
    if writes && call.resource.is_none() && !named.unread.is_empty() {
        out.effects.push(Effect::Unknown {
            resource: resource.clone(),
            unrecognised: parapet_model::Unrecognised::Parameters,
            name: action.clone(),
            why: format!(
                "which {} it acts on cannot be read: {}",
                target.and_then(|t| t.kind).unwrap_or("resource"),
                named.unread.join("; ")
            ),
        });
    }
    let mut resources: Vec<String> = call.resource.map(String::from).into_iter().collect();
    resources.extend(
        named
            .all
            .into_iter()
            .filter(|r| Some(r.as_str()) != call.resource),
    );
    // An operation the models do not hold may still name its target (`ID_KEYS`).
    if resources.is_empty() && !resource.ends_with("(no resource given)") {
        resources.push(resource.clone());
    }
    CallAnalysis {
        action,
        level,
        resource_type,
        placed,
        resource,
        resources,
        writes,
        destroys: out.destroys,
        data_bearing: out.data_bearing,
        effects: out.effects,
    }
}

#[cfg(test)]
mod tests;
