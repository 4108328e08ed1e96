//! CloudTrail from a NATS JetStream subject through the official `async-nats` client:
//! TLS (a custom CA, client certificates), credentials (user and password, token,
//! `.creds` file, NKey seed), reconnects, and a durable pull consumer on a stream that
//! is created, with the consumer, when missing. A restart resumes where the consumer
//! stopped; a message is redelivered until acknowledged.

use crate::source::{Delivery, Payload, Source};
use async_nats::jetstream::{self, consumer::pull, message::Acker, stream};
use futures_util::{FutureExt, StreamExt};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum NatsError {
    #[error("NATS {url}")]
    Connect {
        url: String,
        #[source]
        source: async_nats::ConnectError,
    },
    #[error("NATS {what} {path}")]
    File {
        what: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("NATS credentials file {path}")]
    Creds {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("NATS: --nats-key and --nats-cert go together")]
    HalfClientCert,
    #[error("JetStream {what} name {name:?} must be non-empty, without '.', '*', '>' or spaces")]
    Name { what: &'static str, name: String },
    #[error("JetStream stream {name}")]
    Stream {
        name: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("JetStream consumer {name}")]
    Consumer {
        name: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("JetStream messages of consumer {name}")]
    Messages {
        name: String,
        #[source]
        source: pull::MessagesError,
    },
    #[error("NATS acknowledgement")]
    Ack(#[source] async_nats::Error),
    #[error("NATS {what}")]
    Other {
        what: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl NatsError {
    pub(crate) fn other(
        what: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        NatsError::Other {
            what: what.into(),
            source: source.into(),
        }
    }
}

/// How to reach and authenticate to NATS. Every secret is read from a file or the
/// environment by the caller and never printed.
#[derive(Clone, Default)]
pub struct Connect {
    /// `nats://host:port`, `tls://host:port`, or several separated by commas.
    pub url: String,
    /// PEM file of CAs that sign the server's certificate (TLS is then required).
    pub ca: Option<PathBuf>,
    /// PEM client certificate and key, for servers that verify clients.
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// A `.creds` file (JWT and NKey seed) as `nsc` writes it.
    pub creds: Option<PathBuf>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub token: Option<String>,
    /// An NKey user seed (`SU...`).
    pub nkey_seed: Option<String>,
    /// Client name the server shows in its connection list.
    pub name: String,
}

impl std::fmt::Debug for Connect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets stay out of logs and panics.
        f.debug_struct("Connect")
            .field("url", &self.url)
            .field("ca", &self.ca)
            .field("cert", &self.cert)
            .field("creds", &self.creds)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl Connect {
    pub fn new(url: &str) -> Connect {
        Connect {
            url: url.to_string(),
            name: "parapet".into(),
            ..Connect::default()
        }
    }

    /// Connect. The client reconnects by itself (without limit, backing off) when the
    /// connection drops; operations during the gap wait or fail and are retried by the
    /// caller's loop.
    pub async fn connect(&self) -> Result<async_nats::Client, NatsError> {
        // The client reports a missing file as a bare "No such file": name it first.
        for (what, path) in [
            ("CA file", &self.ca),
            ("client certificate", &self.cert),
            ("client key", &self.key),
            ("credentials file", &self.creds),
        ] {
            if let Some(p) = path {
                std::fs::File::open(p).map_err(|source| NatsError::File {
                    what,
                    path: p.display().to_string(),
                    source,
                })?;
            }
        }
        let mut o = async_nats::ConnectOptions::new()
            .name(&self.name)
            .connection_timeout(Duration::from_secs(10))
            .max_reconnects(None);
        if let Some(p) = &self.creds {
            o = o
                .credentials_file(p)
                .await
                .map_err(|source| NatsError::Creds {
                    path: p.display().to_string(),
                    source,
                })?;
        }
        if let (Some(u), Some(p)) = (&self.user, &self.password) {
            o = o.user_and_password(u.clone(), p.clone());
        }
        if let Some(t) = &self.token {
            o = o.token(t.clone());
        }
        if let Some(s) = &self.nkey_seed {
            o = o.nkey(s.clone());
        }
        if let Some(ca) = &self.ca {
            o = o.add_root_certificates(ca.clone()).require_tls(true);
        }
        match (&self.cert, &self.key) {
            (Some(c), Some(k)) => {
                o = o
                    .add_client_certificate(c.clone(), k.clone())
                    .require_tls(true)
            }
            (None, None) => {}
            _ => return Err(NatsError::HalfClientCert),
        }
        let url = self.url.clone();
        o.connect(url.as_str())
            .await
            .map_err(|source| NatsError::Connect { url, source })
    }
}

/// Names JetStream accepts in API subjects.
pub fn check_name(what: &'static str, name: &str) -> Result<(), NatsError> {
    if name.is_empty() || name.contains(['.', '*', '>', ' ']) {
        return Err(NatsError::Name {
            what,
            name: name.to_string(),
        });
    }
    Ok(())
}

/// The stream over `subjects`, created when missing.
pub async fn ensure_stream(
    js: &jetstream::Context,
    name: &str,
    subjects: Vec<String>,
    duplicate_window: Option<Duration>,
) -> Result<stream::Stream, NatsError> {
    check_name("stream", name)?;
    let mut config = stream::Config {
        name: name.to_string(),
        subjects,
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::Limits,
        ..Default::default()
    };
    if let Some(w) = duplicate_window {
        config.duplicate_window = w;
    }
    js.get_or_create_stream(config)
        .await
        .map_err(|e| NatsError::Stream {
            name: name.to_string(),
            source: Box::new(e),
        })
}

/// A durable pull consumer on `stream` over `subject`, created when missing.
pub async fn ensure_consumer(
    stream: &stream::Stream,
    durable: &str,
    subject: &str,
    ack_wait: Duration,
) -> Result<jetstream::consumer::Consumer<pull::Config>, NatsError> {
    check_name("consumer", durable)?;
    stream
        .get_or_create_consumer(
            durable,
            pull::Config {
                durable_name: Some(durable.to_string()),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                deliver_policy: jetstream::consumer::DeliverPolicy::All,
                filter_subject: subject.to_string(),
                ack_wait,
                // Enough for a checkpoint interval of a busy stream: unacknowledged
                // messages wait for the next checkpoint.
                max_ack_pending: 100_000,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| NatsError::Consumer {
            name: durable.to_string(),
            source: Box::new(e),
        })
}

/// A JetStream durable pull consumer as a watch [`Source`].
pub struct NatsSource {
    client: async_nats::Client,
    durable: String,
    name: String,
    messages: pull::Stream,
}

/// At most this many messages per fetch.
const BATCH: usize = 256;

impl NatsSource {
    /// Bind to `stream` (created over `subject` when missing) with the durable consumer
    /// `durable` (created when missing; it resumes where it stopped). Messages not
    /// acknowledged within `ack_wait` are delivered again.
    pub async fn open(
        client: async_nats::Client,
        stream: &str,
        subject: &str,
        durable: &str,
        ack_wait: Duration,
    ) -> Result<NatsSource, NatsError> {
        let js = jetstream::new(client.clone());
        let s = ensure_stream(&js, stream, vec![subject.to_string()], None).await?;
        let consumer = ensure_consumer(&s, durable, subject, ack_wait).await?;
        NatsSource::bind(client, consumer, durable, subject).await
    }

    /// Read from an existing consumer.
    pub async fn bind(
        client: async_nats::Client,
        consumer: jetstream::consumer::Consumer<pull::Config>,
        durable: &str,
        subject: &str,
    ) -> Result<NatsSource, NatsError> {
        // A pull request stays open and is renewed as it fills, so a message is handed
        // over as it arrives rather than when a batch is full.
        let messages = consumer
            .stream()
            .max_messages_per_batch(BATCH)
            .heartbeat(Duration::from_secs(5))
            .expires(Duration::from_secs(30))
            .messages()
            .await
            .map_err(|e| NatsError::Consumer {
                name: durable.to_string(),
                source: Box::new(e),
            })?;
        Ok(NatsSource {
            client,
            durable: durable.to_string(),
            name: format!("nats:{subject}"),
            messages,
        })
    }

    fn delivery(&self, m: jetstream::Message) -> Delivery<Acker> {
        let arrived_ns = m
            .info()
            .ok()
            .and_then(|i| u128::try_from(i.published.unix_timestamp_nanos()).ok());
        let (m, acker) = m.split();
        Delivery {
            payloads: vec![Payload {
                name: self.name.clone(),
                body: Ok(m.payload.to_vec()),
                arrived_ns,
            }],
            token: Some(acker),
        }
    }

    /// The next message, or None when `wait` passes first. A missed heartbeat (the
    /// connection is down and reconnecting) is not an error: the stream resumes.
    async fn next(&mut self, wait: Duration) -> Result<Option<jetstream::Message>, NatsError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.messages.next()).await {
                Err(_) => return Ok(None),
                Ok(None) => {
                    return Err(NatsError::other(
                        format!("consumer {}", self.durable),
                        "message stream ended",
                    ))
                }
                Ok(Some(Ok(m))) => return Ok(Some(m)),
                Ok(Some(Err(e))) if e.kind() == pull::MessagesErrorKind::MissingHeartbeat => {
                    continue
                }
                Ok(Some(Err(source))) => {
                    return Err(NatsError::Messages {
                        name: self.durable.clone(),
                        source,
                    })
                }
            }
        }
    }
}

impl Source for NatsSource {
    type Token = Acker;
    type Error = NatsError;

    async fn fetch(&mut self, wait: Duration) -> Result<Vec<Delivery<Acker>>, NatsError> {
        let Some(first) = self.next(wait).await? else {
            return Ok(Vec::new());
        };
        let mut out = vec![self.delivery(first)];
        // Then only what is already here: waiting for more held alerts back.
        while out.len() < BATCH {
            match self.messages.next().now_or_never() {
                Some(Some(Ok(m))) => out.push(self.delivery(m)),
                _ => break,
            }
        }
        Ok(out)
    }

    async fn ack(&mut self, tokens: Vec<Acker>) -> Result<(), NatsError> {
        for t in tokens {
            t.ack().await.map_err(NatsError::Ack)?;
        }
        // Acknowledgements are plain publishes: see them to the server.
        self.client
            .flush()
            .await
            .map_err(|e| NatsError::other("flushing acknowledgements", e))
    }
}
