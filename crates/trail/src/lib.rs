//! CloudTrail in, typed events out: the same knowledge that judges a call before it is
//! made explains it after it happened (`Event::analyze`).
//!
//! `read` handles every shape CloudTrail is found in (files, directories, stdin);
//! the watch sources (NATS, S3 notifications via SQS) live in parapet-watch. Malformed
//! records are skipped with a counted reason; a bad record never stops the rest.

pub mod event;
pub mod json;
pub mod lazy;
pub mod read;

pub use event::{Event, EventError, Identity, IdentityType};
pub use lazy::Nested;
pub use read::{list, read_all, read_bytes, read_file, read_path, Item, Limits};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versioned_lambda_names_and_failed_calls() {
        let r = Event::from_json(r#"{"eventSource": "lambda.amazonaws.com", "eventName": "UpdateFunctionCode20150331v2", "eventTime": "2024-08-01T13:52:02Z", "requestParameters": {"functionName": "f"}}"#).unwrap();
        assert_eq!(r.analyze().unwrap().effects[0].id(), "code.change");
        let failed = Event::from_json(r#"{"eventSource": "cloudtrail.amazonaws.com", "eventName": "StopLogging", "eventTime": "2024-08-01T13:52:02Z", "errorCode": "AccessDenied"}"#).unwrap();
        assert!(failed.analyze().is_none());
    }
}
