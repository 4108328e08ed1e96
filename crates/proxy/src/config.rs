//! What a proxy runs with: mode, hold, upstream, limits and timeouts, and the
//! `[proxy]` table of `parapet.toml` that the CLI merges with its flags.

use std::path::PathBuf;
use std::time::Duration;

/// How outcomes are enforced (for rollout).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Allowed calls are forwarded; denied and unapproved ones are refused.
    Enforce,
    /// Judge and log; forward reads only; writes are answered with an error that says
    /// what the decision would have been.
    DryRun,
    /// Judge, log and forward everything.
    Observe,
}

impl Mode {
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "enforce" => Some(Mode::Enforce),
            "dry-run" => Some(Mode::DryRun),
            "observe" => Some(Mode::Observe),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::DryRun => "dry-run",
            Mode::Observe => "observe",
        }
    }
}

/// Bounds on what a client may send.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Request line plus header lines, in bytes (AWS-shaped 400 above it; far above
    /// it hyper closes the connection with a bare 431).
    pub max_header_bytes: usize,
    /// Header lines per request.
    pub max_headers: usize,
    /// The request line (method, target, version), in bytes.
    pub max_request_line: usize,
    /// Bodies that are read (for parameters, or to hash them because the signature
    /// covers their hash): held in memory up to this. The default fits Lambda's 50 MB
    /// zip upload in base64 (about 67 MiB) with room to spare.
    pub max_body_bytes: u64,
    /// Streamed bodies (S3 uploads) at most this long are read and checked whole
    /// before anything is forwarded; longer ones stream with their last bytes held
    /// back until their hash or chunk signatures are checked.
    pub stream_threshold: u64,
    /// Connections served at once; more wait in the kernel's backlog.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_header_bytes: 64 << 10,
            max_headers: 128,
            max_request_line: 16 << 10,
            max_body_bytes: 72 << 20,
            stream_threshold: 1 << 20,
            max_connections: 4096,
        }
    }
}

/// Nothing waits forever.
#[derive(Debug, Clone)]
pub struct Timeouts {
    /// To open a connection (TCP and TLS) to the upstream.
    pub connect: Duration,
    /// From sending the request to the upstream's response head.
    pub response: Duration,
    /// Longest silence inside a body, either way.
    pub idle_body: Duration,
    /// For a client to send a complete request head.
    pub client_head: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            response: Duration::from_secs(60),
            idle_body: Duration::from_secs(60),
            client_head: Duration::from_secs(30),
        }
    }
}

/// Where the real credentials come from (the chain, a profile, or fixed keys).
pub use parapet_awsauth::CredentialSource;

/// Everything the proxy needs besides the decision service's `App`.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    pub mode: Mode,
    /// How long a call under review is held waiting for approval before the client
    /// gets an error naming the approval URL. Below SDK read timeouts (60 s).
    pub hold: Duration,
    /// How often a held call reads its request's state.
    pub poll: Duration,
    /// Where people approve: links are `<public_url>/ui/decisions/<id>`.
    pub public_url: String,
    /// One endpoint for every service (e.g. moto server); `None`: AWS's own endpoint
    /// for the service and region.
    pub upstream: Option<String>,
    /// Only calls signed for this region (or for a global service's signing region)
    /// are forwarded; `None`: any region.
    pub region: Option<String>,
    pub limits: Limits,
    pub timeouts: Timeouts,
    pub credentials: CredentialSource,
    /// Answer `GET /_parapet/metrics` and `/_parapet/healthz` (unsigned requests) on
    /// the proxy's own listener.
    pub metrics_path: bool,
    /// Host names agents reach the proxy by (`AWS_ENDPOINT_URL`'s host): a request to
    /// `<bucket>.<one of these>` is S3 virtual-hosted style. `localhost` always is.
    pub endpoint_hosts: Vec<String>,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            mode: Mode::Enforce,
            hold: Duration::from_secs(20),
            poll: Duration::from_millis(200),
            public_url: String::new(),
            upstream: None,
            region: None,
            limits: Limits::default(),
            timeouts: Timeouts::default(),
            credentials: CredentialSource::DefaultChain,
            metrics_path: true,
            endpoint_hosts: Vec::new(),
        }
    }
}

/// The `[proxy]` table of `parapet.toml` (flags and environment variables take
/// precedence; the CLI merges them).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyFile {
    pub listen: Option<String>,
    pub database: Option<String>,
    pub credential_key_file: Option<PathBuf>,
    pub upstream: Option<String>,
    pub region: Option<String>,
    pub mode: Option<String>,
    pub hold: Option<String>,
    pub public_url: Option<String>,
    pub policies: Option<PathBuf>,
    pub review_ttl: Option<String>,
    pub metrics_listen: Option<String>,
    pub max_body_mib: Option<u64>,
    pub max_header_kib: Option<usize>,
    pub connect_timeout: Option<String>,
    pub response_timeout: Option<String>,
    pub idle_timeout: Option<String>,
    pub log: Option<String>,
    pub log_format: Option<String>,
    pub slack_webhook: Option<String>,
    pub endpoint_hosts: Option<Vec<String>>,
}

/// A duration as people write it: `500ms`, `20s`, `5m`, `1h`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().ok()?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.checked_mul(60)?),
        "h" => Duration::from_secs(n.checked_mul(3600)?),
        _ => return None,
    };
    Some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_written() {
        assert_eq!(parse_duration("20s"), Some(Duration::from_secs(20)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration(" 1h "), Some(Duration::from_secs(3600)));
        for bad in ["", "20", "s", "1.5s", "-1s", "10d", "99999999999999999999s"] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn modes_round_trip() {
        for m in [Mode::Enforce, Mode::DryRun, Mode::Observe] {
            assert_eq!(Mode::parse(m.as_str()), Some(m));
        }
        assert_eq!(Mode::parse("dryrun"), None);
    }

    #[test]
    fn the_file_table_refuses_unknown_keys() {
        let ok: ProxyFile =
            toml::from_str("listen = \"127.0.0.1:9000\"\nmode = \"observe\"").unwrap();
        assert_eq!(ok.mode.as_deref(), Some("observe"));
        assert!(toml::from_str::<ProxyFile>("lisen = \"x\"").is_err());
    }
}
