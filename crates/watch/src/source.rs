//! What every watch source provides: messages with acknowledgement tokens.

use std::future::Future;
use std::time::Duration;

/// One thing to read: a NATS message or an S3 object.
#[derive(Debug)]
pub struct Payload {
    /// Where it came from, for skip reasons (`nats:cloudtrail`, `s3://bucket/key`).
    pub name: String,
    /// The bytes, or why they could not be had (counted as skipped).
    pub body: Result<Vec<u8>, String>,
    /// When the message reached the stream or queue (Unix ns), for latency figures.
    pub arrived_ns: Option<u128>,
}

/// One message: what it holds, and the token that acknowledges it. No token: nothing to
/// acknowledge (an SQS message whose object could not be fetched stays on the queue).
#[derive(Debug)]
pub struct Delivery<T> {
    pub payloads: Vec<Payload>,
    pub token: Option<T>,
}

/// A stream of CloudTrail messages that are redelivered until acknowledged.
///
/// The run loop acknowledges a token only after the detector state that covers its
/// message has been checkpointed (or at once when there is no checkpoint).
pub trait Source: Send {
    type Token: Send;
    type Error: std::error::Error + Send + Sync + 'static;

    /// What is waiting, waiting up to `wait` for the first message. Empty on timeout.
    fn fetch(
        &mut self,
        wait: Duration,
    ) -> impl Future<Output = Result<Vec<Delivery<Self::Token>>, Self::Error>> + Send;

    /// Acknowledge (NATS) or delete (SQS) these messages: they are processed for good.
    fn ack(
        &mut self,
        tokens: Vec<Self::Token>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
}
