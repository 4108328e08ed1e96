//! One typed event over CloudTrail's variants.
//!
//! A record keeps its original JSON (rules may name any field) next to the fields every
//! consumer needs, read once: time in milliseconds, the event name without the API
//! version suffix Lambda adds (`UpdateFunctionCode20150331v2`), the error that made a
//! call fail (kept: denied calls are signal), and who acted.

use crate::json;
use crate::lazy::{Hint, LazyRecord};
use parapet_aws::api::{analyze, normalise, ApiCall, CallAnalysis, CallRef};
use parapet_model::time::{parse_rfc3339_ms, rfc3339_ms};
use serde::Serialize;
use serde_json::Value;
use std::borrow::Cow;

/// A record that is not an event: not JSON, or without a field every consumer needs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("a record must be a JSON object")]
    NotObject,
    #[error("a record must be a JSON object, not {0}")]
    NotAnObject(&'static str),
    /// The validator's own error (its line is the record's, its column the place).
    #[error("column {}: {}", .0.column, .0.what)]
    Json(json::JsonError),
    #[error("`{key}` must be a string, not {found}")]
    NotString { key: String, found: &'static str },
    #[error("no `{0}`")]
    Missing(&'static str),
    #[error("no `eventTime` (nor `@timestamp`)")]
    NoTime,
    #[error("`{key}` {raw} is not a time in epoch milliseconds")]
    EpochMs { key: &'static str, raw: String },
    #[error("`{key}` {text:?} is not an ISO 8601 UTC time")]
    Time { key: &'static str, text: String },
}

/// The `userIdentity.type` values CloudTrail writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum IdentityType {
    Root,
    IamUser,
    AssumedRole,
    Role,
    FederatedUser,
    AwsAccount,
    AwsService,
    IdentityCenterUser,
    SamlUser,
    WebIdentityUser,
    Directory,
    Unknown,
}

impl IdentityType {
    pub fn parse(s: &str) -> Self {
        match s {
            "Root" => Self::Root,
            "IAMUser" => Self::IamUser,
            "AssumedRole" => Self::AssumedRole,
            "Role" => Self::Role,
            "FederatedUser" => Self::FederatedUser,
            "AWSAccount" => Self::AwsAccount,
            "AWSService" => Self::AwsService,
            "IdentityCenterUser" => Self::IdentityCenterUser,
            "SAMLUser" => Self::SamlUser,
            "WebIdentityUser" => Self::WebIdentityUser,
            "Directory" => Self::Directory,
            _ => Self::Unknown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Root => "Root",
            Self::IamUser => "IAMUser",
            Self::AssumedRole => "AssumedRole",
            Self::Role => "Role",
            Self::FederatedUser => "FederatedUser",
            Self::AwsAccount => "AWSAccount",
            Self::AwsService => "AWSService",
            Self::IdentityCenterUser => "IdentityCenterUser",
            Self::SamlUser => "SAMLUser",
            Self::WebIdentityUser => "WebIdentityUser",
            Self::Directory => "Directory",
            Self::Unknown => "Unknown",
        }
    }
}

/// Who made the call, as far as the record says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Identity {
    pub kind: IdentityType,
    pub arn: Option<String>,
    pub principal_id: Option<String>,
    pub account_id: Option<String>,
    pub access_key_id: Option<String>,
    pub user_name: Option<String>,
    /// Role sessions: the session name (a Lambda's function name, an instance id...).
    pub session_name: Option<String>,
    /// Role sessions: the role (`sessionContext.sessionIssuer.arn`).
    pub issuer_arn: Option<String>,
    /// Calls a service made on someone's behalf (`invokedBy`).
    pub invoked_by: Option<String>,
}

impl Identity {
    pub fn from_value(u: &Value) -> Self {
        Self::from_raw(&u.to_string())
    }

    /// From `userIdentity`'s raw JSON text, validated already: read in place, without
    /// building a `Value` for it (every event has one).
    pub fn from_raw(raw: &str) -> Self {
        Self::read(raw).0
    }

    /// The identity, and where this pass saw the two nested values rules ask for on
    /// every event ([`HINTED`]), so that a lookup need not scan `userIdentity` again.
    pub(crate) fn read(raw: &str) -> (Self, [Hint<'_>; 2]) {
        let mut id = Identity {
            kind: IdentityType::Unknown,
            arn: None,
            principal_id: None,
            account_id: None,
            access_key_id: None,
            user_name: None,
            session_name: None,
            issuer_arn: None,
            invoked_by: None,
        };
        if !raw.starts_with('{') {
            return (id, [Hint::Unknown; 2]);
        }
        // What a lookup by path would find: the last of duplicate keys; a path through
        // an array is left to the lookup (`Unknown`); through anything else, missing.
        let mut hints = [Hint::Missing; 2];
        let text = |v: &str| json::decode_str(v).map(Cow::into_owned);
        let mut issuer_user = None;
        for (k, v) in json::entries(raw) {
            match json::decode_str(k).as_deref().unwrap_or("") {
                "type" => {
                    hints[0] = Hint::Found(v);
                    id.kind = json::decode_str(v)
                        .map_or(IdentityType::Unknown, |t| IdentityType::parse(&t))
                }
                "arn" => id.arn = text(v),
                "principalId" => id.principal_id = text(v),
                "accountId" => id.account_id = text(v),
                "accessKeyId" => id.access_key_id = text(v).filter(|k| !k.is_empty()),
                "userName" => id.user_name = text(v),
                "invokedBy" => id.invoked_by = text(v),
                "sessionContext" => {
                    hints[1] = match v.as_bytes().first() {
                        Some(b'[') => Hint::Unknown,
                        _ => Hint::Missing,
                    };
                    if !v.starts_with('{') {
                        continue;
                    }
                    let issuer = json::field(v, "sessionIssuer");
                    if issuer.is_some_and(|i| i.starts_with('[')) {
                        hints[1] = Hint::Unknown;
                    }
                    let issuer = issuer.filter(|i| i.starts_with('{'));
                    for (k, v) in issuer.map(json::entries).into_iter().flatten() {
                        match json::decode_str(k).as_deref().unwrap_or("") {
                            "arn" => id.issuer_arn = text(v),
                            "userName" => issuer_user = text(v),
                            "type" => hints[1] = Hint::Found(v),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        if id.user_name.is_none() {
            id.user_name = issuer_user;
        }
        if id.kind == IdentityType::AssumedRole {
            id.session_name = id
                .arn
                .as_deref()
                .and_then(|a| a.rsplit_once('/'))
                .map(|(_, n)| n.to_string());
        }
        (id, hints)
    }

    /// A stable name for this principal: the ARN where there is one (a role session's
    /// ARN names role and session), else the service or principal id.
    pub fn key(&self) -> String {
        if let Some(a) = &self.arn {
            return a.clone();
        }
        if let Some(s) = &self.invoked_by {
            return ["service:", s].concat();
        }
        if let Some(p) = &self.principal_id {
            return ["principal:", p].concat();
        }
        "unknown".to_string()
    }
}

/// A CloudTrail event, normalized.
#[derive(Debug, Clone)]
pub struct Event {
    /// The record as it came, parsed field by field on demand.
    pub record: LazyRecord,
    pub id: String,
    pub time_ms: i64,
    pub source: String,
    /// Without the API version suffix Lambda adds.
    pub name: String,
    pub service: String,
    pub region: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub error_code: Option<String>,
    pub account: Option<String>,
    pub read_only: bool,
    pub identity: Identity,
}

impl Event {
    /// Read one record's JSON text; a record without the fields every consumer needs
    /// is not an event.
    pub fn from_json(text: &str) -> Result<Event, EventError> {
        let record = LazyRecord::parse(text).map_err(|e| {
            if e.is_not_object() {
                EventError::NotObject
            } else {
                EventError::Json(e)
            }
        })?;
        Self::from_record(record)
    }

    /// The same from a parsed value (tests, callers that already hold one).
    pub fn from_value(raw: Value) -> Result<Event, EventError> {
        if !raw.is_object() {
            return Err(EventError::NotAnObject(kind(&raw)));
        }
        Self::from_json(&raw.to_string())
    }

    pub(crate) fn from_record(record: LazyRecord) -> Result<Event, EventError> {
        let s = |k: &str| -> Result<Option<String>, EventError> {
            record
                .str(k)
                .map(|v| v.map(Cow::into_owned))
                .map_err(|found| EventError::NotString {
                    key: k.to_string(),
                    found,
                })
        };
        let source = s("eventSource")?.ok_or(EventError::Missing("eventSource"))?;
        let raw_name = s("eventName")?.ok_or(EventError::Missing("eventName"))?;
        let time_ms = event_time(&record)?;
        let name = normalize_name(&raw_name).to_string();
        let read_only = match record.raw("readOnly") {
            Some("true") | Some("\"true\"") => true,
            Some("false") | Some("\"false\"") => false,
            _ => ["Get", "List", "Describe", "Head", "Lookup"]
                .iter()
                .any(|p| name.starts_with(p)),
        };
        let (identity, hints) = Identity::read(record.raw("userIdentity").unwrap_or("null"));
        let hints = hints.map(|h| record.hint_span(h));
        let mut e = Event {
            id: s("eventID")?.unwrap_or_default(),
            service: service_of(&source).to_string(),
            region: s("awsRegion")?,
            source_ip: s("sourceIPAddress")?,
            user_agent: s("userAgent")?,
            error_code: s("errorCode")?.filter(|e| !e.is_empty()),
            account: s("recipientAccountId")?,
            time_ms,
            source,
            name,
            read_only,
            identity,
            record,
        };
        e.record.set_hints(hints);
        Ok(e)
    }

    /// A top-level field of the record, parsed on first use.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.record.get(key)
    }

    /// The first resource's ARN CloudTrail lists, if any.
    fn resource_arn(&self) -> Option<&str> {
        self.get("resources")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .and_then(|r| r.get("ARN").or_else(|| r.get("arn")))
            .and_then(Value::as_str)
    }

    /// The call this event shows, for the knowledge layer.
    pub fn call(&self) -> Option<ApiCall> {
        let resource = self.resource_arn().map(String::from);
        let params = match self.get("requestParameters") {
            Some(p @ Value::Object(_)) => p.clone(),
            _ => Value::Null,
        };
        ApiCall::new(&format!("{}:{}", self.service, self.name), resource, params).ok()
    }

    /// Effects of the call; a call that failed changed nothing, so it has none.
    /// The same analysis as of [`Event::call`], without copying the parameters.
    pub fn analyze(&self) -> Option<CallAnalysis> {
        static EMPTY: std::sync::LazyLock<Value> =
            std::sync::LazyLock::new(|| Value::Object(Default::default()));
        if self.error_code.is_some() {
            return None;
        }
        let (service, operation) = normalise(&self.service, &self.name)?;
        let params = match self.get("requestParameters") {
            Some(p @ Value::Object(_)) => p,
            _ => &EMPTY,
        };
        let resource = self.resource_arn().filter(|r| !r.trim().is_empty());
        let call = CallRef {
            service: &service,
            operation,
            resource,
            params,
        };
        Some(analyze(call, self.account.as_deref()))
    }

    /// Who acted, for people: the identity's ARN, or its principal or service.
    pub fn actor(&self) -> &str {
        let id = &self.identity;
        id.arn
            .as_deref()
            .or(id.principal_id.as_deref())
            .or(id.invoked_by.as_deref())
            .unwrap_or("unknown")
    }

    pub fn time_rfc3339(&self) -> String {
        rfc3339_ms(self.time_ms)
    }
}

/// The record's time: `eventTime`, or the `@timestamp` that Logstash's CloudTrail codec
/// (and Elastic documents made from it) put in its place, as ISO 8601 text or epoch
/// milliseconds.
fn event_time(record: &LazyRecord) -> Result<i64, EventError> {
    let key = match record.raw("eventTime") {
        Some(_) => "eventTime",
        None if record.raw("@timestamp").is_some() => "@timestamp",
        None => return Err(EventError::NoTime),
    };
    if let Some(raw) = record
        .raw(key)
        .filter(|r| r.bytes().all(|b| b.is_ascii_digit()))
    {
        return raw
            .parse::<i64>()
            .ok()
            .filter(|ms| *ms < 253_402_300_800_000)
            .ok_or_else(|| EventError::EpochMs {
                key,
                raw: clip(raw).to_string(),
            });
    }
    let time = record
        .str(key)
        .map_err(|found| EventError::NotString {
            key: key.to_string(),
            found,
        })?
        .unwrap_or_default();
    parse_rfc3339_ms(&time).ok_or_else(|| EventError::Time {
        key,
        text: clip(&time).to_string(),
    })
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn clip(s: &str) -> &str {
    let mut end = s.len().min(64);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// `UpdateFunctionCode20150331v2` -> `UpdateFunctionCode`: Lambda (and a few older
/// APIs) put the API version in the event name.
pub fn normalize_name(name: &str) -> &str {
    let b = name.as_bytes();
    let mut end = b.len();
    // Optional `v<digits>`.
    let mut i = end;
    while i > 0 && b[i - 1].is_ascii_digit() {
        i -= 1;
    }
    if i < end && i > 0 && b[i - 1] == b'v' {
        end = i - 1;
    }
    let mut j = end;
    while j > 0 && b[j - 1].is_ascii_digit() {
        j -= 1;
    }
    if end - j == 8 && j > 0 && b[j - 1].is_ascii_alphabetic() && name[j..].starts_with("20") {
        return &name[..j];
    }
    name
}

/// The IAM service prefix for an event source (`ec2.amazonaws.com` -> `ec2`).
pub fn service_of(source: &str) -> &str {
    // `strip_suffix` in a loop is `trim_end_matches` without its string searcher, which
    // cost more than the rest of the typed event's fields together.
    let mut service = source;
    while let Some(rest) = service.strip_suffix(".amazonaws.com") {
        service = rest;
    }
    match service {
        "monitoring" => "cloudwatch",
        "email" => "ses",
        "tagging" => "tag",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn services_of_event_sources() {
        for (source, service) in [
            ("ec2.amazonaws.com", "ec2"),
            ("monitoring.amazonaws.com", "cloudwatch"),
            ("email.amazonaws.com", "ses"),
            ("tagging.amazonaws.com", "tag"),
            ("s3.amazonaws.com.amazonaws.com", "s3"),
            ("signin.aws.amazon.com", "signin.aws.amazon.com"),
            (".amazonaws.com", ""),
            ("", ""),
        ] {
            assert_eq!(service_of(source), service, "{source}");
        }
    }

    #[test]
    fn names_lose_their_api_version() {
        assert_eq!(
            normalize_name("UpdateFunctionCode20150331v2"),
            "UpdateFunctionCode"
        );
        assert_eq!(normalize_name("CreateFunction20150331"), "CreateFunction");
        assert_eq!(normalize_name("ListFunctions20150331"), "ListFunctions");
        assert_eq!(normalize_name("CreateUser"), "CreateUser");
        assert_eq!(normalize_name("GetObject2"), "GetObject2");
        assert_eq!(normalize_name("20150331"), "20150331");
    }

    #[test]
    fn identities_of_every_kind() {
        let e = Event::from_value(json!({
            "eventSource": "s3.amazonaws.com", "eventName": "ListBuckets",
            "eventTime": "2024-08-01T13:52:02Z", "errorCode": "AccessDenied",
            "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::1:assumed-role/r/fn",
              "accessKeyId": "ASIAX", "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::1:role/r", "userName": "r"}}}
        }))
        .unwrap();
        assert_eq!(e.identity.kind, IdentityType::AssumedRole);
        assert_eq!(e.identity.session_name.as_deref(), Some("fn"));
        assert_eq!(
            e.identity.issuer_arn.as_deref(),
            Some("arn:aws:iam::1:role/r")
        );
        assert_eq!(e.error_code.as_deref(), Some("AccessDenied"));
        assert!(e.read_only);
        let svc = Identity::from_value(
            &json!({"type": "AWSService", "invokedBy": "lambda.amazonaws.com"}),
        );
        assert_eq!(svc.key(), "service:lambda.amazonaws.com");
        // Keys are compared decoded, as JSON readers do.
        let escaped =
            Identity::from_raw(r#"{"\u0074ype": "IAMUser", "ar\u006e": "arn:aws:iam::1:user/u"}"#);
        assert_eq!(escaped.kind, IdentityType::IamUser);
        assert_eq!(escaped.arn.as_deref(), Some("arn:aws:iam::1:user/u"));
        for t in [
            "Root",
            "IAMUser",
            "FederatedUser",
            "AWSAccount",
            "IdentityCenterUser",
            "SAMLUser",
            "WebIdentityUser",
            "Directory",
        ] {
            assert_eq!(IdentityType::parse(t).as_str(), t);
        }
        assert_eq!(
            Event::from_value(json!({"eventSource": 1})).unwrap_err(),
            EventError::NotString {
                key: "eventSource".into(),
                found: "a number"
            }
        );
        assert_eq!(
            Event::from_value(json!([])).unwrap_err().to_string(),
            "a record must be a JSON object, not an array"
        );
        assert_eq!(
            Event::from_value(json!({"eventSource": "a", "eventName": "b", "eventTime": "now"}))
                .unwrap_err()
                .to_string(),
            "`eventTime` \"now\" is not an ISO 8601 UTC time"
        );
        assert!(matches!(
            Event::from_json(r#"{"eventSource": "a""#),
            Err(EventError::Json(_))
        ));
    }

    /// Logstash's CloudTrail codec moves `eventTime` to `@timestamp`; Elastic keeps it as
    /// text with milliseconds, or as epoch milliseconds.
    #[test]
    fn logstash_and_elastic_timestamps() {
        let base = json!({"eventSource": "iam.amazonaws.com", "eventName": "CreateUser"});
        let with = |k: &str, v: Value| {
            let mut r = base.clone();
            r[k] = v;
            Event::from_value(r)
        };
        let want = parse_rfc3339_ms("2024-08-01T13:52:02.123Z").unwrap();
        for v in [
            json!("2024-08-01T13:52:02.123Z"),
            json!("2024-08-01T13:52:02.123456Z"),
            json!("2024-08-01T15:52:02.123+02:00"),
            json!(want),
        ] {
            assert_eq!(with("@timestamp", v.clone()).unwrap().time_ms, want, "{v}");
        }
        // `eventTime` wins when both are there.
        let mut both = base.clone();
        both["eventTime"] = json!("2024-08-01T13:52:02Z");
        both["@timestamp"] = json!("2030-01-01T00:00:00Z");
        assert_eq!(
            Event::from_value(both).unwrap().time_ms,
            parse_rfc3339_ms("2024-08-01T13:52:02Z").unwrap()
        );
        for bad in [
            json!("yesterday"),
            json!(true),
            json!(99_999_999_999_999_999i64),
        ] {
            let e = with("@timestamp", bad.clone()).unwrap_err().to_string();
            assert!(e.contains("@timestamp"), "{bad}: {e}");
        }
        assert_eq!(Event::from_value(base).unwrap_err(), EventError::NoTime);
    }
}
