//! `trail watch` as a library: CloudTrail from a stream, through the detector, to alerts.
//!
//! A [`source::Source`] hands over messages, each with an acknowledgement token; the
//! [`run`] loop feeds their events to a detector and acknowledges a message only once
//! the detector state that covers it is checkpointed, so a crash replays what was not
//! saved and forgets nothing acknowledged. Sources: NATS JetStream ([`nats`], through
//! the official `async-nats` client) and S3 notifications via SQS ([`sqs`]).
//! [`cluster`] runs N workers on one JetStream stream with shared, partitioned state.

pub mod cluster;
pub mod metrics;
pub mod nats;
pub mod notify;
pub mod run;
pub mod source;
pub mod sqs;

pub use run::{run, Options, RunError, Sink};
pub use source::{Delivery, Payload, Source};
