//! CloudTrail from S3 object notifications delivered through SQS.
//!
//! The queue receives S3 event notifications (directly, wrapped by SNS, or as EventBridge
//! "Object Created" events); for each object named, the object is fetched from S3 and
//! read like a file (gzip `{"Records": [...]}`). A message is deleted from the queue only
//! after the caller has processed every object it names, so a crash redelivers it.
//! Requests are signed with SigV4 from the environment's credentials; `endpoint` points
//! at another S3/SQS implementation (moto, LocalStack, a VPC endpoint).

use crate::sigv4::{amz_now, sign, uri_encode, Credentials, Request};
use serde_json::{json, Value};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum SqsError {
    #[error("{what}: {message}")]
    Http { what: String, message: String },
    #[error("{0}")]
    Config(String),
}

/// One S3 object a notification named, fetched.
#[derive(Debug)]
pub struct Object {
    pub bucket: String,
    pub key: String,
    pub body: Result<Vec<u8>, String>,
}

/// One queue message: the objects it names, and when SQS received it.
#[derive(Debug)]
pub struct Delivery {
    pub receipt: String,
    pub sent_ms: Option<u64>,
    pub objects: Vec<Object>,
    /// Why nothing could be read from the message, if so.
    pub problem: Option<String>,
}

pub struct Queue {
    url: String,
    region: String,
    endpoint: Option<String>,
    creds: Credentials,
    agent: ureq::Agent,
    max_object: u64,
}

impl Queue {
    /// `queue_url` as SQS gives it; `endpoint` overrides both SQS and S3 hosts.
    pub fn new(queue_url: &str, region: &str, endpoint: Option<&str>) -> Result<Queue, SqsError> {
        let creds = Credentials::from_env().map_err(SqsError::Config)?;
        if !queue_url.starts_with("http://") && !queue_url.starts_with("https://") {
            return Err(SqsError::Config(format!(
                "queue URL {queue_url:?} must start with https://"
            )));
        }
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(60)))
            .http_status_as_error(false)
            .build()
            .new_agent();
        Ok(Queue {
            url: queue_url.to_string(),
            region: region.to_string(),
            endpoint: endpoint.map(|e| e.trim_end_matches('/').to_string()),
            creds,
            agent,
            max_object: 2 << 30,
        })
    }

    fn sqs_endpoint(&self) -> String {
        match &self.endpoint {
            Some(e) => e.clone(),
            None => format!("https://sqs.{}.amazonaws.com", self.region),
        }
    }

    /// An SQS JSON-protocol call.
    pub fn call(&self, action: &str, body: &Value) -> Result<Value, SqsError> {
        let endpoint = self.sqs_endpoint();
        let host = host_of(&endpoint);
        let payload = body.to_string();
        let target = format!("AmazonSQS.{action}");
        let r = Request {
            method: "POST",
            host: &host,
            path: "/",
            query: &[],
            headers: &[
                ("content-type", "application/x-amz-json-1.0"),
                ("x-amz-target", &target),
            ],
            payload: payload.as_bytes(),
        };
        let signed = sign(&r, &self.region, "sqs", &self.creds, &amz_now());
        let mut req = self
            .agent
            .post(&format!("{endpoint}/"))
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amz-target", &target);
        for (k, v) in &signed {
            req = req.header(k, v);
        }
        let err = |m: String| SqsError::Http {
            what: format!("SQS {action}"),
            message: m,
        };
        let mut resp = req
            .send(payload.as_bytes())
            .map_err(|e| err(e.to_string()))?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .with_config()
            .limit(16 << 20)
            .read_to_string()
            .map_err(|e| err(e.to_string()))?;
        if status != 200 {
            return Err(err(format!("HTTP {status}: {}", clip(&text))));
        }
        serde_json::from_str(&text).map_err(|e| err(format!("reply is not JSON: {e}")))
    }

    /// Fetch an S3 object (path-style with an endpoint, virtual-hosted otherwise).
    pub fn get_object(&self, bucket: &str, key: &str) -> Result<Vec<u8>, String> {
        let path_key = uri_encode(key, true);
        let (url, host, path) = match &self.endpoint {
            Some(e) => {
                let path = format!("/{}/{path_key}", uri_encode(bucket, false));
                (format!("{e}{path}"), host_of(e), path)
            }
            None => {
                let host = format!("{bucket}.s3.{}.amazonaws.com", self.region);
                let path = format!("/{path_key}");
                (format!("https://{host}{path}"), host, path)
            }
        };
        let r = Request {
            method: "GET",
            host: &host,
            path: &path,
            query: &[],
            headers: &[],
            payload: b"",
        };
        let mut req = self.agent.get(&url);
        for (k, v) in sign(&r, &self.region, "s3", &self.creds, &amz_now()) {
            req = req.header(&k, &v);
        }
        let mut resp = req
            .call()
            .map_err(|e| format!("s3://{bucket}/{key}: {e}"))?;
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(self.max_object)
            .read_to_vec()
            .map_err(|e| format!("s3://{bucket}/{key}: {e}"))?;
        if status != 200 {
            return Err(format!(
                "s3://{bucket}/{key}: HTTP {status}: {}",
                clip(&String::from_utf8_lossy(&body))
            ));
        }
        Ok(body)
    }

    /// Long-poll for up to 10 messages and fetch the objects they name.
    pub fn receive(&self, wait: Duration) -> Result<Vec<Delivery>, SqsError> {
        let v = self.call(
            "ReceiveMessage",
            &json!({"QueueUrl": self.url, "MaxNumberOfMessages": 10,
                    "WaitTimeSeconds": wait.as_secs().min(20), "AttributeNames": ["SentTimestamp"]}),
        )?;
        let mut out = Vec::new();
        for m in v
            .get("Messages")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let receipt = m
                .get("ReceiptHandle")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let sent_ms = m
                .pointer("/Attributes/SentTimestamp")
                .and_then(Value::as_str)
                .and_then(|s| s.parse().ok());
            let body = m.get("Body").and_then(Value::as_str).unwrap_or("");
            let (objects, problem) = match objects_in(body) {
                Ok(list) => (
                    list.into_iter()
                        .map(|(bucket, key)| Object {
                            body: self.get_object(&bucket, &key),
                            bucket,
                            key,
                        })
                        .collect(),
                    None,
                ),
                Err(p) => (Vec::new(), Some(p)),
            };
            out.push(Delivery {
                receipt,
                sent_ms,
                objects,
                problem,
            });
        }
        Ok(out)
    }

    /// Remove a processed message from the queue.
    pub fn delete(&self, receipt: &str) -> Result<(), SqsError> {
        self.call(
            "DeleteMessage",
            &json!({"QueueUrl": self.url, "ReceiptHandle": receipt}),
        )
        .map(|_| ())
    }
}

fn host_of(endpoint: &str) -> String {
    endpoint
        .split("://")
        .nth(1)
        .unwrap_or(endpoint)
        .split('/')
        .next()
        .unwrap_or("")
        .to_string()
}

fn clip(s: &str) -> String {
    s.chars().take(200).collect()
}

/// The (bucket, key) pairs a notification names. S3 notifications, SNS-wrapped ones and
/// EventBridge "Object Created" events; S3's test event names none.
pub fn objects_in(body: &str) -> Result<Vec<(String, String)>, String> {
    let v: Value = serde_json::from_str(body).map_err(|e| format!("message is not JSON: {e}"))?;
    if let Some(inner) = v.get("Message").and_then(Value::as_str) {
        return objects_in(inner);
    }
    if v.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(Vec::new());
    }
    if let Some(d) = v.get("detail") {
        return match (
            d.pointer("/bucket/name").and_then(Value::as_str),
            d.pointer("/object/key").and_then(Value::as_str),
        ) {
            (Some(b), Some(k)) => Ok(vec![(b.to_string(), k.to_string())]),
            _ => Err("EventBridge event without bucket and key".into()),
        };
    }
    let records = v
        .get("Records")
        .and_then(Value::as_array)
        .ok_or("not an S3 notification (no Records)")?;
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
            _ => return Err("S3 record without bucket and key".into()),
        }
    }
    Ok(out)
}

/// S3 notification keys are URL-encoded with `+` for spaces.
fn url_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() && s.is_char_boundary(i + 3) => {
                match u8::from_str_radix(&s[i + 1..i + 3], 16) {
                    Ok(x) => {
                        out.push(x);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_in_every_wrapping() {
        let s3 = r#"{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"trail"},"object":{"key":"AWSLogs/1/CloudTrail/us-east-1/2026/11/02/a+b%3Ac.json.gz"}}}]}"#;
        assert_eq!(
            objects_in(s3).unwrap(),
            [(
                "trail".to_string(),
                "AWSLogs/1/CloudTrail/us-east-1/2026/11/02/a b:c.json.gz".to_string()
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
        assert!(objects_in("nope").is_err());
        assert!(objects_in(r#"{"Records":[{"eventName":"ObjectCreated:Put"}]}"#).is_err());
        assert_eq!(url_decode("100%"), "100%");
        assert_eq!(url_decode("%zz"), "%zz");
    }
}
