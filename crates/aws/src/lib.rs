//! AWS knowledge: the IAM action catalog, policy-document analysis, escalation
//! primitives, address ranges and what makes a resource critical. Shared by every input
//! (plans, API calls, CloudTrail) so they all reach the same effects.

pub mod api;
pub mod catalog;
pub mod critical;
pub mod escalation;
pub mod iam;
pub mod network;
pub mod resource_policy;

pub use catalog::{catalog, AccessLevel, ActionSet, Catalog};
pub use critical::CriticalRules;
