//! The MCP gateway (`parapet proxy mcp`): a client talks MCP to parapet exactly as it
//! would to the server behind it. Every `tools/call` is mapped to the AWS actions it
//! would take ([`map`]), judged by the same gate, policies, approvals, incident mode,
//! pins and kill switch as the decision service ([`judge`]), and forwarded only when
//! allowed ([`gateway`]).
//!
//! Data flows one way: gateway -> map -> judge -> gateway (forward or answer).

pub mod gateway;
pub mod judge;
pub mod map;
pub mod types;

pub use types::*;
