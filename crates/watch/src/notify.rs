//! Which S3 objects an SQS message names: S3 event notifications (direct or wrapped by
//! SNS) and EventBridge "Object Created" events. S3's test event names none.

use serde_json::Value;

/// A queue message that names no object parapet can read.
#[derive(Debug, thiserror::Error)]
pub enum NotificationError {
    #[error("message is not JSON")]
    Json(#[source] serde_json::Error),
    #[error("EventBridge event without bucket and key")]
    EventBridge,
    #[error("not an S3 notification (no Records)")]
    NotS3,
    #[error("S3 record without bucket and key")]
    Record,
}

/// The (bucket, key) pairs a notification names, keys decoded.
pub fn objects_in(body: &str) -> Result<Vec<(String, String)>, NotificationError> {
    let v: Value = serde_json::from_str(body).map_err(NotificationError::Json)?;
    if let Some(inner) = v.get("Message").and_then(Value::as_str) {
        return objects_in(inner);
    }
    if v.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(Vec::new());
    }
    if let Some(d) = v.get("detail") {
        // EventBridge keys are not URL-encoded.
        return match (
            d.pointer("/bucket/name").and_then(Value::as_str),
            d.pointer("/object/key").and_then(Value::as_str),
        ) {
            (Some(b), Some(k)) => Ok(vec![(b.to_string(), k.to_string())]),
            _ => Err(NotificationError::EventBridge),
        };
    }
    let records = v
        .get("Records")
        .and_then(Value::as_array)
        .ok_or(NotificationError::NotS3)?;
    let mut out = Vec::new();
    for r in records {
        if !r
            .get("eventName")
            .and_then(Value::as_str)
            .is_some_and(|n| n.starts_with("ObjectCreated"))
        {
            continue;
        }
        let b = r.pointer("/s3/bucket/name").and_then(Value::as_str);
        let k = r.pointer("/s3/object/key").and_then(Value::as_str);
        match (b, k) {
            (Some(b), Some(k)) => out.push((b.to_string(), url_decode(k))),
            _ => return Err(NotificationError::Record),
        }
    }
    Ok(out)
}

/// S3 notification keys are URL-encoded with `+` for spaces.
fn url_decode(s: &str) -> String {
    let spaced = s.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn notifications_in_every_wrapping() {
        let s3 = r#"{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"trail"},"object":{"key":"AWSLogs/1/CloudTrail/us-east-1/2026/11/02/a+b%3Ac%2B.json.gz"}}}]}"#;
        assert_eq!(
            objects_in(s3).unwrap(),
            [(
                "trail".to_string(),
                "AWSLogs/1/CloudTrail/us-east-1/2026/11/02/a b:c+.json.gz".to_string()
            )]
        );
        let sns = json!({"Type": "Notification", "Message": s3}).to_string();
        assert_eq!(objects_in(&sns).unwrap().len(), 1);
        let eb = r#"{"detail-type":"Object Created","detail":{"bucket":{"name":"b"},"object":{"key":"k"}}}"#;
        assert_eq!(
            objects_in(eb).unwrap(),
            [("b".to_string(), "k".to_string())]
        );
        assert!(objects_in(r#"{"Event":"s3:TestEvent"}"#)
            .unwrap()
            .is_empty());
        let removed = r#"{"Records":[{"eventName":"ObjectRemoved:Delete","s3":{}}]}"#;
        assert!(objects_in(removed).unwrap().is_empty());
        assert!(matches!(
            objects_in("nope"),
            Err(NotificationError::Json(_))
        ));
        assert!(matches!(objects_in("{}"), Err(NotificationError::NotS3)));
        assert!(matches!(
            objects_in(r#"{"Records":[{"eventName":"ObjectCreated:Put"}]}"#),
            Err(NotificationError::Record)
        ));
        assert_eq!(url_decode("100%"), "100%");
        assert_eq!(url_decode("%zz"), "%zz");
    }
}
