//! Credentials from a [`CredentialSource`], cached and refreshed ahead of their expiry.

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use std::sync::RwLock;
use std::time::{Duration, SystemTime};

/// Refresh this long before credentials expire, so a request signed now is still
/// valid when it arrives.
const REFRESH_AHEAD: Duration = Duration::from_secs(5 * 60);

/// Where credentials come from.
#[derive(Clone)]
pub enum CredentialSource {
    /// The standard AWS chain (aws-config): environment, shared config and
    /// credentials files with profiles (SSO too; `AWS_PROFILE` picks one), web
    /// identity, ECS, EC2 metadata.
    DefaultChain,
    /// The chain with this profile of the shared config and credentials files.
    Profile(String),
    /// Fixed credentials (tests, benchmarks against a local upstream).
    Static(Credentials),
}

impl std::fmt::Debug for CredentialSource {
    // Never print a secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CredentialSource::DefaultChain => f.write_str("DefaultChain"),
            CredentialSource::Profile(p) => write!(f, "Profile({p:?})"),
            CredentialSource::Static(_) => f.write_str("Static(..)"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CredsError {
    /// The chain found nothing usable (the message says what it tried; never a secret).
    #[error("no AWS credentials: {0}")]
    Unavailable(String),
}

pub struct Creds {
    provider: Option<SharedCredentialsProvider>,
    /// The region given, or else the one the chain found (environment, profile).
    region: Option<String>,
    cached: RwLock<Option<Credentials>>,
    /// One refresh at a time; others wait for it and read its result.
    refreshing: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Creds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Creds(..)")
    }
}

fn fresh(c: &Credentials) -> bool {
    c.expiry()
        .is_none_or(|at| at > SystemTime::now() + REFRESH_AHEAD)
}

impl Creds {
    /// The chain is set up here; credentials are fetched on first use (and checked at
    /// start by [`Creds::check`]).
    pub async fn new(source: &CredentialSource, region: Option<&str>) -> Creds {
        match source {
            CredentialSource::Static(c) => Creds {
                provider: None,
                region: region.map(String::from),
                cached: RwLock::new(Some(c.clone())),
                refreshing: Default::default(),
            },
            CredentialSource::DefaultChain | CredentialSource::Profile(_) => {
                // rustls with ring for the chain's own calls (STS, SSO, IMDS, ECS).
                let http = aws_smithy_http_client::Builder::new()
                    .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                        aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
                    ))
                    .build_https();
                let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
                    .http_client(http.clone());
                if let Some(r) = region {
                    loader = loader.region(aws_config::Region::new(r.to_string()));
                }
                if let CredentialSource::Profile(p) = source {
                    loader = loader.profile_name(p);
                }
                let conf = loader.load().await;
                // A profile named on the command line is the only source, as with the AWS
                // CLI's --profile: keys in the environment must not win over it, and a
                // profile that does not exist is an error, not a fall-through.
                let provider = match source {
                    CredentialSource::Profile(p) => {
                        let pc = aws_config::provider_config::ProviderConfig::default()
                            .with_http_client(http)
                            .with_region(conf.region().cloned());
                        Some(SharedCredentialsProvider::new(
                            aws_config::profile::ProfileFileCredentialsProvider::builder()
                                .configure(&pc)
                                .profile_name(p)
                                .build(),
                        ))
                    }
                    _ => conf.credentials_provider(),
                };
                Creds {
                    provider,
                    region: conf.region().map(|r| r.to_string()),
                    cached: RwLock::new(None),
                    refreshing: Default::default(),
                }
            }
        }
    }

    /// The region given to [`Creds::new`], or else the one the chain resolved.
    pub fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }

    /// Credentials to sign with now.
    pub async fn get(&self) -> Result<Credentials, CredsError> {
        if let Some(c) = self.read_cached() {
            return Ok(c);
        }
        let _one = self.refreshing.lock().await;
        // Another task may have refreshed while this one waited.
        if let Some(c) = self.read_cached() {
            return Ok(c);
        }
        let Some(p) = &self.provider else {
            // Static credentials past their expiry: nothing can refresh them.
            return Err(CredsError::Unavailable(
                "the configured credentials have expired".into(),
            ));
        };
        let c = p
            .provide_credentials()
            .await
            .map_err(|e| CredsError::Unavailable(error_chain(&e)))?;
        *self.cached.write().unwrap_or_else(|p| p.into_inner()) = Some(c.clone());
        Ok(c)
    }

    fn read_cached(&self) -> Option<Credentials> {
        self.cached
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .filter(|c| fresh(c))
            .cloned()
    }

    /// Fetch once, to fail at start rather than on the first call. Returns a line
    /// that says where they came from (the provider's name and the access key id's
    /// first four characters, which tell AKIA long-term keys from ASIA sessions).
    pub async fn check(&self) -> Result<String, CredsError> {
        let c = self.get().await?;
        let kind = c.access_key_id().get(..4).unwrap_or("?").to_string();
        let what = match kind.as_str() {
            "AKIA" => "a long-term access key",
            "ASIA" => "temporary credentials",
            _ => "credentials",
        };
        let expiry = match c.expiry() {
            Some(at) => {
                let left = at.duration_since(SystemTime::now()).unwrap_or_default();
                format!("expiring in {} min", left.as_secs() / 60)
            }
            None => "not expiring".into(),
        };
        Ok(format!("{what} ({kind}...), {expiry}"))
    }
}

/// An error and its causes on one line, a cause left out when the text already holds it
/// (credential errors do not carry secrets; their causes say which provider failed and
/// why).
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let s = c.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cause = c.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn static_credentials_are_used_until_they_expire() {
        let c = Credentials::new("AKIDEXAMPLE", "s3cr3t", None, None, "test");
        let creds = Creds::new(&CredentialSource::Static(c), None).await;
        assert_eq!(creds.get().await.unwrap().access_key_id(), "AKIDEXAMPLE");
        let line = creds.check().await.unwrap();
        assert!(
            line.contains("AKID...") && !line.contains("s3cr3t"),
            "{line}"
        );
        let old = Credentials::new("ASIAOLD", "s3cr3t", None, Some(SystemTime::now()), "test");
        let creds = Creds::new(&CredentialSource::Static(old), None).await;
        let e = creds.get().await.unwrap_err().to_string();
        assert!(e.contains("expired") && !e.contains("s3cr3t"), "{e}");
    }

    /// A named profile from the shared files, which the environment points at (the
    /// only test here that touches the environment).
    #[tokio::test]
    async fn a_profile_gives_its_keys_and_region() {
        let dir = tempfile::tempdir().unwrap();
        let (config, credentials) = (dir.path().join("config"), dir.path().join("credentials"));
        std::fs::write(&config, "[profile watcher]\nregion = eu-central-1\n").unwrap();
        std::fs::write(
            &credentials,
            "[watcher]\naws_access_key_id = AKIAPROFILEWATCHER\naws_secret_access_key = pr0file-s3cret\n",
        )
        .unwrap();
        std::env::set_var("AWS_CONFIG_FILE", &config);
        std::env::set_var("AWS_SHARED_CREDENTIALS_FILE", &credentials);
        for k in [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_PROFILE",
            "AWS_REGION",
        ] {
            std::env::remove_var(k);
        }
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        let creds = Creds::new(&CredentialSource::Profile("watcher".into()), None).await;
        assert_eq!(creds.region(), Some("eu-central-1"));
        let c = creds.get().await.unwrap();
        assert_eq!(c.access_key_id(), "AKIAPROFILEWATCHER");
        let line = creds.check().await.unwrap();
        assert!(!line.contains("pr0file"), "{line}");

        let none = Creds::new(&CredentialSource::Profile("absent".into()), None).await;
        let e = none.get().await.unwrap_err().to_string();
        assert!(e.contains("absent"), "the profile is named: {e}");
    }
}
