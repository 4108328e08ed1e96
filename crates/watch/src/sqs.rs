//! S3 object notifications through SQS as a watch [`Source`]: each object a message
//! names is fetched from S3 and read; the message is deleted once acknowledged.
//!
//! Credentials come from the standard AWS chain (environment, profiles and SSO, web
//! identity, ECS, EC2 metadata) through parapet-awsauth; requests are signed with the
//! official `aws-sigv4`. `endpoint` points at another S3/SQS implementation (moto,
//! LocalStack) or a VPC endpoint; S3 is then addressed path-style.

use crate::notify::{objects_in, NotificationError};
use crate::source::{Delivery, Payload, Source};
use bytes::Bytes;
use futures_util::stream::{self, StreamExt};
use parapet_awsauth::{AwsClient, Call, ClientError, CredentialSource, Creds, CredsError};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{json, Value};
use std::time::Duration;

/// A call to SQS or S3 that failed. `what` names it: `SQS ReceiveMessage`,
/// `s3://bucket/key`.
#[derive(Debug, thiserror::Error)]
pub enum SqsError {
    #[error("queue URL {0:?} must start with https:// (or http:// for a local endpoint)")]
    QueueUrl(String),
    #[error("--endpoint-url {0:?} must start with https:// or http://")]
    Endpoint(String),
    #[error("no region for queue {0}: give --region, or set one in the profile or AWS_REGION")]
    Region(String),
    #[error(transparent)]
    Credentials(#[from] CredsError),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("{what}: HTTP {status}: {body}")]
    Status {
        what: String,
        status: u16,
        /// The start of the reply (AWS's error document).
        body: String,
    },
    #[error("{what}: reply is not JSON")]
    Reply {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("SQS DeleteMessageBatch: {0} message(s) not deleted: {1}")]
    NotDeleted(usize, String),
}

/// Where the queue is and how to reach it.
#[derive(Debug, Clone)]
pub struct SqsConfig {
    /// The queue URL as SQS gives it.
    pub queue_url: String,
    /// The region of queue and bucket; else the queue URL's, else the chain's.
    pub region: Option<String>,
    /// Send SQS and S3 requests here instead of AWS.
    pub endpoint: Option<String>,
    pub credentials: CredentialSource,
}

pub struct SqsSource {
    queue_url: String,
    region: String,
    endpoint: Option<String>,
    client: AwsClient,
    /// A CloudTrail file is at most tens of MB gzipped; refuse anything absurd.
    max_object: usize,
    credentials_line: String,
}

/// Characters kept as they are in an S3 key's path (RFC 3986 unreserved and `/`).
const KEY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');
const SEGMENT: &AsciiSet = &KEY.add(b'/');

/// How many objects of one batch are fetched at once.
const PARALLEL_GETS: usize = 8;

impl SqsSource {
    /// Set up the chain and check that it yields credentials now (so a worker without
    /// them fails at start, naming what the chain tried).
    pub async fn new(cfg: &SqsConfig) -> Result<SqsSource, SqsError> {
        let url = cfg.queue_url.as_str();
        if !url.starts_with("https://") && !url.starts_with("http://") {
            return Err(SqsError::QueueUrl(url.to_string()));
        }
        if let Some(e) = &cfg.endpoint {
            if !e.starts_with("https://") && !e.starts_with("http://") {
                return Err(SqsError::Endpoint(e.clone()));
            }
        }
        let wanted = cfg.region.clone().or_else(|| region_in_url(url));
        let creds = Creds::new(&cfg.credentials, wanted.as_deref()).await;
        let region = creds
            .region()
            .map(String::from)
            .ok_or_else(|| SqsError::Region(url.to_string()))?;
        let credentials_line = creds.check().await?;
        let client = AwsClient::new(creds)?;
        Ok(SqsSource {
            queue_url: url.to_string(),
            region,
            endpoint: cfg
                .endpoint
                .as_ref()
                .map(|e| e.trim_end_matches('/').to_string()),
            client,
            max_object: 2 << 30,
            credentials_line,
        })
    }

    /// Where the credentials came from (kind and expiry, never a secret) and the region.
    pub fn describe(&self) -> String {
        format!("{} for region {}", self.credentials_line, self.region)
    }

    /// Send a signed request; the reply's body if HTTP 200.
    #[allow(clippy::too_many_arguments)]
    async fn send(
        &self,
        what: &str,
        service: &str,
        method: &str,
        url: &str,
        headers: &[(&str, String)],
        payload: Bytes,
        limit: usize,
        timeout: Duration,
    ) -> Result<Bytes, SqsError> {
        let reply = self
            .client
            .send(Call {
                what,
                method,
                url,
                headers,
                body: payload,
                service,
                region: &self.region,
                limit,
                timeout,
            })
            .await?;
        if reply.status != 200 {
            return Err(SqsError::Status {
                what: what.to_string(),
                status: reply.status,
                body: String::from_utf8_lossy(&reply.body)
                    .chars()
                    .take(200)
                    .collect(),
            });
        }
        Ok(reply.body)
    }

    /// An SQS JSON-protocol call.
    pub async fn call(
        &self,
        action: &str,
        body: &Value,
        wait: Duration,
    ) -> Result<Value, SqsError> {
        let what = format!("SQS {action}");
        let base = match &self.endpoint {
            Some(e) => e.clone(),
            None => format!("https://sqs.{}.amazonaws.com", self.region),
        };
        let payload = body.to_string();
        let headers = [
            ("content-type", "application/x-amz-json-1.0".to_string()),
            ("x-amz-target", format!("AmazonSQS.{action}")),
        ];
        let reply = self
            .send(
                &what,
                "sqs",
                "POST",
                &format!("{base}/"),
                &headers,
                Bytes::from(payload),
                16 << 20,
                wait + Duration::from_secs(30),
            )
            .await?;
        serde_json::from_slice(&reply).map_err(|source| SqsError::Reply { what, source })
    }

    /// Fetch an S3 object (path-style with an endpoint, virtual-hosted otherwise).
    pub async fn get_object(&self, bucket: &str, key: &str) -> Result<Vec<u8>, SqsError> {
        let what = format!("s3://{bucket}/{key}");
        let key = utf8_percent_encode(key, KEY).to_string();
        let url = match &self.endpoint {
            Some(e) => format!("{e}/{}/{key}", utf8_percent_encode(bucket, SEGMENT)),
            None => format!("https://{bucket}.s3.{}.amazonaws.com/{key}", self.region),
        };
        let body = self
            .send(
                &what,
                "s3",
                "GET",
                &url,
                &[],
                Bytes::new(),
                self.max_object,
                Duration::from_secs(300),
            )
            .await?;
        Ok(body.to_vec())
    }

    /// Delete processed messages, ten per call.
    async fn delete(&self, receipts: &[String]) -> Result<(), SqsError> {
        for chunk in receipts.chunks(10) {
            let entries: Vec<Value> = chunk
                .iter()
                .enumerate()
                .map(|(i, r)| json!({"Id": i.to_string(), "ReceiptHandle": r}))
                .collect();
            let v = self
                .call(
                    "DeleteMessageBatch",
                    &json!({"QueueUrl": self.queue_url, "Entries": entries}),
                    Duration::ZERO,
                )
                .await?;
            if let Some(failed) = v
                .get("Failed")
                .and_then(Value::as_array)
                .filter(|f| !f.is_empty())
            {
                let why = failed
                    .iter()
                    .map(|f| f.get("Code").and_then(Value::as_str).unwrap_or("?"))
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(SqsError::NotDeleted(failed.len(), why));
            }
        }
        Ok(())
    }
}

impl Source for SqsSource {
    /// The message's receipt handle.
    type Token = String;
    type Error = SqsError;

    async fn fetch(&mut self, wait: Duration) -> Result<Vec<Delivery<String>>, SqsError> {
        // SQS long-polls in whole seconds, at most 20.
        let secs = wait.as_secs_f64().ceil().clamp(1.0, 20.0) as u64;
        let v = self
            .call(
                "ReceiveMessage",
                &json!({"QueueUrl": self.queue_url, "MaxNumberOfMessages": 10,
                        "WaitTimeSeconds": secs, "AttributeNames": ["SentTimestamp"]}),
                Duration::from_secs(secs),
            )
            .await?;
        let messages = v.get("Messages").and_then(Value::as_array);
        let mut out = Vec::new();
        for m in messages.into_iter().flatten() {
            let receipt = m.get("ReceiptHandle").and_then(Value::as_str);
            let arrived_ns = m
                .pointer("/Attributes/SentTimestamp")
                .and_then(Value::as_str)
                .and_then(|s| s.parse::<u128>().ok())
                .map(|ms| ms * 1_000_000);
            let body = m.get("Body").and_then(Value::as_str).unwrap_or("");
            let named = match objects_in(body) {
                Ok(list) => list,
                Err(p) => {
                    // Never readable: counted as skipped, then removed with the rest.
                    out.push(Delivery {
                        payloads: vec![unreadable(p, arrived_ns)],
                        token: receipt.map(String::from),
                    });
                    continue;
                }
            };
            let this = &*self;
            let fetched: Vec<_> = stream::iter(named)
                .map(|(bucket, key)| async move {
                    let body = this.get_object(&bucket, &key).await;
                    (bucket, key, body)
                })
                .buffered(PARALLEL_GETS)
                .collect()
                .await;
            // A message whose object could not be fetched stays on the queue (SQS
            // redelivers it, or moves it to a dead-letter queue).
            let all = fetched.iter().all(|(_, _, b)| b.is_ok());
            let payloads = fetched
                .into_iter()
                .map(|(bucket, key, body)| Payload {
                    name: format!("s3://{bucket}/{key}"),
                    body: body.map_err(|e| parapet_awsauth::error_chain(&e)),
                    arrived_ns,
                })
                .collect();
            out.push(Delivery {
                payloads,
                token: receipt.filter(|_| all).map(String::from),
            });
        }
        Ok(out)
    }

    async fn ack(&mut self, tokens: Vec<String>) -> Result<(), SqsError> {
        self.delete(&tokens).await
    }
}

fn unreadable(p: NotificationError, arrived_ns: Option<u128>) -> Payload {
    Payload {
        name: "sqs message".into(),
        body: Err(parapet_awsauth::error_chain(&p)),
        arrived_ns,
    }
}

/// `sqs.REGION.amazonaws.com` or the legacy `REGION.queue.amazonaws.com`.
fn region_in_url(url: &str) -> Option<String> {
    let host = host_of(url);
    let parts: Vec<&str> = host.split('.').collect();
    match parts.as_slice() {
        ["sqs", region, "amazonaws", ..] | [region, "queue", "amazonaws", ..] => {
            Some(region.to_string())
        }
        _ => None,
    }
}

fn host_of(url: &str) -> String {
    let rest = url.split("://").nth(1).unwrap_or(url);
    rest.split('/').next().unwrap_or("").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_and_hosts_from_queue_urls() {
        assert_eq!(
            region_in_url("https://sqs.eu-west-1.amazonaws.com/1/q").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(
            region_in_url("https://us-east-2.queue.amazonaws.com/1/q").as_deref(),
            Some("us-east-2")
        );
        assert_eq!(region_in_url("http://127.0.0.1:5000/1/q"), None);
        assert_eq!(host_of("http://127.0.0.1:5000/1/q"), "127.0.0.1:5000");
        assert_eq!(
            utf8_percent_encode("AWSLogs/a b:c.json.gz", KEY).to_string(),
            "AWSLogs/a%20b%3Ac.json.gz"
        );
    }
}
