//! An HTTPS client for parapet's own AWS calls: credentials from [`Creds`], SigV4 through
//! [`sign_request`], hyper with rustls (ring), the system's roots (else Mozilla's),
//! bounded replies and a deadline on every exchange.

use crate::{sign_request, Creds, CredsError, SignError};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::time::{Duration, SystemTime};

type Connector = hyper_rustls::HttpsConnector<HttpConnector>;

/// A call that got no usable answer. `what` names the call (`SQS ReceiveMessage`,
/// `iam:UpdateAccessKey`, `s3://bucket/key`); no variant holds a secret.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Credentials(#[from] CredsError),
    #[error("TLS setup")]
    Tls(#[source] rustls::Error),
    #[error("{what}")]
    Sign {
        what: String,
        #[source]
        source: SignError,
    },
    #[error("{what}: {url} is not a usable URL")]
    Url { what: String, url: String },
    /// No answer: connection, TLS.
    #[error("{what}")]
    Request {
        what: String,
        #[source]
        source: hyper_util::client::legacy::Error,
    },
    #[error("{what}: no complete answer within {secs} s")]
    Timeout { what: String, secs: u64 },
    /// The reply broke off or was over the size limit.
    #[error("{what}: reading the reply")]
    Body {
        what: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// An answer, whatever its status.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Bytes,
}

/// One signed request to send.
pub struct Call<'a> {
    /// Named in errors: `SQS ReceiveMessage`.
    pub what: &'a str,
    pub method: &'a str,
    /// Absolute: `https://iam.amazonaws.com/`.
    pub url: &'a str,
    pub headers: &'a [(&'a str, String)],
    pub body: Bytes,
    /// The SigV4 credential-scope service and region.
    pub service: &'a str,
    pub region: &'a str,
    /// Largest reply read; more is an error.
    pub limit: usize,
    pub timeout: Duration,
}

pub struct AwsClient {
    creds: Creds,
    http: Client<Connector, Full<Bytes>>,
}

impl AwsClient {
    pub fn new(creds: Creds) -> Result<AwsClient, ClientError> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(Duration::from_secs(10)));
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        // The system's roots (corporate CAs too) when it has any; else Mozilla's.
        let builder = match hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(provider.clone())
        {
            Ok(b) => b,
            Err(_) => hyper_rustls::HttpsConnectorBuilder::new()
                .with_provider_and_webpki_roots(provider)
                .map_err(ClientError::Tls)?,
        };
        let connector = builder.https_or_http().enable_http1().wrap_connector(http);
        Ok(AwsClient {
            creds,
            http: Client::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(30))
                .build(connector),
        })
    }

    pub fn creds(&self) -> &Creds {
        &self.creds
    }

    /// Sign `call` with the current credentials and send it; the answer whatever its
    /// status (the caller reads AWS's error document).
    pub async fn send(&self, call: Call<'_>) -> Result<Reply, ClientError> {
        let what = call.what;
        let url_err = || ClientError::Url {
            what: what.to_string(),
            url: call.url.to_string(),
        };
        let uri: http::Uri = call.url.parse().map_err(|_| url_err())?;
        let host = uri.authority().ok_or_else(url_err)?.to_string();
        let mut req = http::Request::builder()
            .method(call.method)
            .uri(uri)
            .header("host", host);
        for (k, v) in call.headers {
            req = req.header(*k, v);
        }
        let mut req = req
            .body(Full::new(call.body.clone()))
            .map_err(|_| url_err())?;
        let creds = self.creds.get().await?;
        sign_request(
            &mut req,
            &call.body,
            &creds,
            call.service,
            call.region,
            SystemTime::now(),
        )
        .map_err(|source| ClientError::Sign {
            what: what.to_string(),
            source,
        })?;
        let exchange = async {
            let resp = self
                .http
                .request(req)
                .await
                .map_err(|source| ClientError::Request {
                    what: what.to_string(),
                    source,
                })?;
            let status = resp.status().as_u16();
            let body = Limited::new(resp.into_body(), call.limit)
                .collect()
                .await
                .map_err(|source| ClientError::Body {
                    what: what.to_string(),
                    source,
                })?
                .to_bytes();
            Ok::<_, ClientError>(Reply { status, body })
        };
        tokio::time::timeout(call.timeout, exchange)
            .await
            .map_err(|_| ClientError::Timeout {
                what: what.to_string(),
                secs: call.timeout.as_secs(),
            })?
    }
}
