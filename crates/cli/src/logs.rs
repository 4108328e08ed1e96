//! Logs of the long-running commands (`serve`, `proxy aws`, `proxy mcp`): to standard
//! error only (standard output is an MCP channel or a listening line), by a filter, as
//! text or JSON lines.

use anyhow::{bail, Context, Result};

/// Install the global subscriber: `filter` in `tracing`'s EnvFilter syntax, `format`
/// `text` (default) or `json`.
pub fn init(filter: &str, format: Option<&str>) -> Result<()> {
    let env = tracing_subscriber::EnvFilter::try_new(filter)
        .with_context(|| format!("log filter {filter}"))?;
    let logs = tracing_subscriber::fmt()
        .with_env_filter(env)
        .with_writer(std::io::stderr);
    match format.unwrap_or("text") {
        "json" => logs.json().init(),
        "text" => logs.init(),
        other => bail!("log format {other}: use text or json"),
    }
    Ok(())
}
