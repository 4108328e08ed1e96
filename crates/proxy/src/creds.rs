//! The real AWS credentials, which only the proxy holds: the standard chain, cached and
//! refreshed (shared with `trail watch` in parapet-awsauth).

pub use parapet_awsauth::{Creds, CredsError};
