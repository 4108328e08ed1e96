//! AWS credentials and signing for the AWS calls parapet makes itself: the proxy
//! forwarding an agent's call, and `trail watch` reading SQS and S3.
//!
//! Credentials come from the standard chain of `aws-config` (environment, shared config
//! and credentials files with profiles and SSO, web identity for IRSA and pod identity,
//! ECS container credentials, EC2 instance metadata), cached and refreshed ahead of
//! their expiry. They never leave [`Creds`] except into the signer: no log line, error
//! or metric shows them.

mod client;
mod creds;
mod sign;

pub use aws_credential_types::Credentials;
pub use client::{AwsClient, Call, ClientError, Reply};
pub use creds::{error_chain, CredentialSource, Creds, CredsError};
pub use sign::{sign_request, SignError};
