//! CloudTrail records to `ApiCall`s: the same knowledge that judges a call before it is
//! made explains it after it happened.
//!
//! Reads the shapes CloudTrail is found in: S3 delivery (`{"Records": [...]}`), JSON
//! arrays (Stratus Red Team, exports) and JSON lines. Malformed records are skipped
//! with a counted reason; a bad record never stops the rest.

pub mod event;
pub mod lazy;
pub mod nats;
pub mod read;
pub mod sigv4;
pub mod sqs;

pub use event::{Event, Identity, IdentityType};
pub use read::{list, read_all, read_bytes, read_file, read_path, Item, Limits};

use parapet_aws::api::{analyze_call, ApiCall, CallAnalysis};
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum TrailError {
    #[error("not CloudTrail JSON (line {line}, column {column}): {message}")]
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("expected a {{\"Records\": [...]}} object, an array of records or JSON lines")]
    Shape,
}

/// The fields parapet reads from a record.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    pub event_id: Option<String>,
    pub event_time: Option<String>,
    pub event_source: String,
    pub event_name: String,
    #[serde(default)]
    pub request_parameters: Value,
    #[serde(default)]
    pub user_identity: Value,
    pub error_code: Option<String>,
    pub recipient_account_id: Option<String>,
    #[serde(default)]
    pub resources: Value,
}

impl Record {
    /// The IAM service prefix for the event source (`ec2.amazonaws.com` -> `ec2`).
    pub fn service(&self) -> String {
        let s = self.event_source.trim_end_matches(".amazonaws.com");
        match s {
            "monitoring" => "cloudwatch",
            "email" => "ses",
            "tagging" => "tag",
            other => other,
        }
        .to_string()
    }

    /// Who acted: the identity's ARN, or its type and principal.
    pub fn actor(&self) -> String {
        let u = &self.user_identity;
        u.get("arn")
            .and_then(Value::as_str)
            .or_else(|| u.get("principalId").and_then(Value::as_str))
            .or_else(|| u.get("invokedBy").and_then(Value::as_str))
            .unwrap_or("unknown")
            .to_string()
    }

    /// The call this record shows, for the knowledge layer.
    pub fn call(&self) -> Option<ApiCall> {
        let resource = self
            .resources
            .as_array()
            .and_then(|a| a.first())
            .and_then(|r| r.get("ARN").or_else(|| r.get("arn")))
            .and_then(Value::as_str)
            .map(String::from);
        let params = match &self.request_parameters {
            Value::Object(_) => self.request_parameters.clone(),
            _ => Value::Null,
        };
        ApiCall::new(
            &format!("{}:{}", self.service(), self.event_name),
            resource,
            params,
        )
        .ok()
    }

    /// Effects of the call; a call that failed changed nothing, so it has none.
    pub fn analyze(&self) -> Option<CallAnalysis> {
        if self.error_code.is_some() {
            return None;
        }
        let call = self.call()?;
        Some(analyze_call(&call, self.recipient_account_id.as_deref()))
    }
}

/// Records read from one input, with what was skipped and why.
#[derive(Debug, Default)]
pub struct Parsed {
    pub records: Vec<Record>,
    pub skipped: Vec<(usize, String)>,
}

/// Parse a file's text in any of the supported shapes.
pub fn parse(text: &str) -> Result<Parsed, TrailError> {
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    let mut out = Parsed::default();
    let values: Vec<Value> = if trimmed.starts_with('[') || trimmed.starts_with('{') {
        match serde_json::from_str::<Value>(trimmed) {
            Ok(Value::Array(a)) => a,
            Ok(Value::Object(mut o)) => match o.remove("Records") {
                Some(Value::Array(a)) => a,
                _ if o.contains_key("eventName") => vec![Value::Object(o)],
                _ => return Err(TrailError::Shape),
            },
            Ok(_) => return Err(TrailError::Shape),
            // Several objects, one per line.
            Err(e) if e.is_syntax() && trimmed.starts_with('{') && trimmed.contains('\n') => {
                let mut v = Vec::new();
                for (i, line) in trimmed
                    .lines()
                    .enumerate()
                    .filter(|(_, l)| !l.trim().is_empty())
                {
                    match serde_json::from_str(line) {
                        Ok(x) => v.push(x),
                        Err(e) => out.skipped.push((i + 1, format!("line {}: {e}", i + 1))),
                    }
                }
                v
            }
            Err(e) => {
                return Err(TrailError::Json {
                    line: e.line(),
                    column: e.column(),
                    message: e.to_string(),
                })
            }
        }
    } else {
        return Err(TrailError::Shape);
    };
    for (i, v) in values.into_iter().enumerate() {
        match serde_json::from_value::<Record>(v) {
            Ok(r) => out.records.push(r),
            Err(e) => out.skipped.push((i, format!("record {i}: {e}"))),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_and_bad_records() {
        let one = r#"{"eventSource": "cloudtrail.amazonaws.com", "eventName": "StopLogging", "requestParameters": {"name": "t"}}"#;
        assert_eq!(
            parse(&format!("{{\"Records\": [{one}]}}"))
                .unwrap()
                .records
                .len(),
            1
        );
        assert_eq!(parse(&format!("[{one}, {one}]")).unwrap().records.len(), 2);
        let lines = parse(&format!("{one}\n{{broken\n{one}\n")).unwrap();
        assert_eq!(lines.records.len(), 2);
        assert_eq!(lines.skipped.len(), 1);
        let p = parse(&format!("[{one}, {{\"eventName\": 3}}]")).unwrap();
        assert_eq!((p.records.len(), p.skipped.len()), (1, 1));
        assert!(parse("garbage").is_err());
        assert!(parse("[1").is_err());
    }

    #[test]
    fn versioned_lambda_names_and_failed_calls() {
        let r: Record = serde_json::from_str(r#"{"eventSource": "lambda.amazonaws.com", "eventName": "UpdateFunctionCode20150331v2", "requestParameters": {"functionName": "f"}}"#).unwrap();
        assert_eq!(r.analyze().unwrap().effects[0].id(), "code.change");
        let failed: Record = serde_json::from_str(r#"{"eventSource": "cloudtrail.amazonaws.com", "eventName": "StopLogging", "errorCode": "AccessDenied"}"#).unwrap();
        assert!(failed.analyze().is_none());
    }
}
