//! `parapet token ...` (API tokens and agent AWS keys) and `parapet credential-key
//! generate`: through a decision service (`--server`, `--token`), or on the database
//! directly to bootstrap the first admin or when forced (`--write-db-directly`).

use crate::serve_cmd::parse_expiry;
use crate::EXIT_ALLOW;
use anyhow::{bail, Context, Result};
use clap::Subcommand;
use parapet_store::Role;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create an API token, or with --aws an AWS key for `parapet proxy aws`. The
    /// secret is printed once; an API token's is stored hashed, an AWS key's secret is
    /// not stored at all (it is derived from the access key id with the credential key).
    ///
    /// With --server (an admin token) the server creates it and audits it under the
    /// admin's actor. Without, it is written to --database directly: allowed while the
    /// database has no live admin token (to bootstrap the first one), otherwise only
    /// with --write-db-directly.
    ///
    /// Exit codes: 0 created (the secret is on standard output), 2 bad input or
    /// refused (role and actor do not fit, an admin already exists, the server said no).
    #[command(after_help = TOKEN_EXAMPLE)]
    Create {
        #[command(flatten)]
        target: crate::ops_cmd::Target,
        /// A label for the token (who or what holds it). Default: the actor.
        #[arg(long)]
        name: Option<String>,
        /// agent (request decisions; acts as agent:, pipeline: or service:), approver
        /// (approve and reject; acts as human:), admin (everything; acts as human:).
        #[arg(long)]
        role: String,
        /// The actor the token acts as, kind:name (e.g. agent:kiro, human:alice); it
        /// must be a kind the role allows. Decisions, votes, incidents and pins are
        /// attributed to it.
        #[arg(long, value_parser = parse_actor)]
        actor: parapet_model::Actor,
        /// When the token stops working: a duration from now (90m, 12h, 30d) or an
        /// RFC 3339 time. Default: never.
        #[arg(long, value_name = "DURATION|TIME")]
        expires: Option<String>,
        /// Create AWS credentials for `parapet proxy aws` instead of an API token
        /// (role agent, or admin for a person's own calls). Prints
        /// AWS_ACCESS_KEY_ID=PKIA... and AWS_SECRET_ACCESS_KEY=... once; the agent uses
        /// them with AWS_ENDPOINT_URL pointing at the proxy. They work only there: AWS
        /// itself has never heard of them. Revoke and expire like any token.
        #[arg(long)]
        aws: bool,
        /// With --aws and no --server: the credential key file the secret is derived
        /// with (the same file `parapet serve` and `parapet proxy aws` use; create one
        /// with `parapet credential-key generate PATH`). Through --server the server
        /// derives it with its own.
        #[arg(
            long,
            value_name = "PATH",
            env = "PARAPET_CREDENTIAL_KEY_FILE",
            hide_env_values = true
        )]
        credential_key_file: Option<PathBuf>,
    },
    /// List tokens: id, name, role, actor, state, created, expires, last used, AWS
    /// access key id. Never a secret (only hashes are stored, and AWS secrets not even
    /// that).
    ///
    /// Exit codes: 0 listed, 2 bad input, no such database or the server refused.
    List {
        #[command(flatten)]
        target: crate::ops_cmd::Target,
    },
    /// Revoke a token (or AWS key): refused from now on (on every replica within a
    /// second) and its web UI sessions end.
    ///
    /// Exit codes: 0 revoked, 2 no such token, bad input or the server refused.
    Revoke {
        /// The token's id (tok_..., from `parapet token list`).
        id: String,
        #[command(flatten)]
        target: crate::ops_cmd::Target,
    },
}

const TOKEN_EXAMPLE: &str = "Examples:
  parapet token create --database parapet.db --role admin --actor human:root --name root   # bootstrap
  export PARAPET_SERVER=https://parapet.example.com PARAPET_TOKEN=<admin token>
  parapet token create --role agent --actor agent:kiro --name kiro --expires 30d
  parapet token create --role agent --actor agent:kiro --aws --expires 8h   # for parapet proxy aws
  parapet token list
  parapet token revoke tok_0123456789abcdef";

fn parse_actor(s: &str) -> Result<parapet_model::Actor, String> {
    parapet_model::Actor::parse(s).map_err(|e| e.to_string())
}

#[derive(Subcommand)]
pub enum CredentialKeyCommand {
    /// Write a new credential key file (32 random bytes as hex, mode 0600; never
    /// overwrites). Agent AWS secrets are derived from their access key ids with this
    /// key and never stored, so the database alone yields no usable secret.
    ///
    /// Give the same file to `parapet serve`, `parapet proxy aws` and `parapet token
    /// create --aws --write-db-directly` (--credential-key-file or
    /// PARAPET_CREDENTIAL_KEY_FILE). Keep it outside the database and its backups;
    /// replacing it changes every AWS secret issued with it.
    ///
    /// Exit codes: 0 written, 2 the file exists or cannot be written.
    #[command(
        after_help = "Example:\n  parapet credential-key generate /etc/parapet/credential.key\n  parapet serve --credential-key-file /etc/parapet/credential.key"
    )]
    Generate {
        /// Where to write the key (must not exist yet).
        path: PathBuf,
    },
}

pub fn credential_key(cmd: CredentialKeyCommand) -> Result<u8> {
    match cmd {
        CredentialKeyCommand::Generate { path } => {
            parapet_store::generate_credential_key_file(&path)?;
            eprintln!(
                "wrote a new credential key to {} (mode 0600); give it to parapet serve and \
                 parapet proxy aws with --credential-key-file",
                path.display()
            );
            Ok(EXIT_ALLOW)
        }
    }
}

/// Read the credential key, warning when others can read its file.
pub fn load_credential_key(path: &std::path::Path) -> Result<Vec<u8>> {
    if let Some(w) = parapet_store::credential_key_file_warning(path) {
        eprintln!("parapet: warning: {w}");
    }
    Ok(parapet_store::load_credential_key(path)?)
}

pub fn token(cmd: TokenCommand) -> Result<u8> {
    let (TokenCommand::Create { target, .. }
    | TokenCommand::List { target }
    | TokenCommand::Revoke { target, .. }) = &cmd;
    target.refuse_by()?;
    match cmd {
        TokenCommand::Create {
            target,
            name,
            role,
            actor,
            expires,
            aws,
            credential_key_file,
        } => {
            let new = New {
                name,
                role,
                actor,
                expires,
                aws: aws.then_some(credential_key_file),
            };
            create_token(target, new)
        }
        TokenCommand::List { target } => list_tokens(target),
        TokenCommand::Revoke { id, target } => {
            let by_server = target.server.client()?;
            match by_server {
                Some(c) => {
                    c.call(
                        "POST",
                        &format!("/v1/tokens/{}/revoke", crate::remote::segment(&id)),
                        None,
                    )?;
                }
                // Revoking only takes access away: allowed on the database directly.
                None => {
                    let store = target.database.open_existing()?;
                    if !store.revoke_token(&id, &crate::ops_cmd::direct_actor())? {
                        bail!("no live token {id} (unknown or already revoked)");
                    }
                }
            }
            eprintln!("revoked token {id}; it is refused from now on");
            Ok(EXIT_ALLOW)
        }
    }
}

/// What `token create` was asked for.
struct New {
    name: Option<String>,
    role: String,
    actor: parapet_model::Actor,
    expires: Option<String>,
    /// `Some` for an AWS key, with the credential key file if one was given.
    aws: Option<Option<PathBuf>>,
}

/// What was created: the token id and the secret lines to print.
struct Created {
    id: String,
    acts_as: String,
    lines: Vec<String>,
}

fn create_token(target: crate::ops_cmd::Target, new: New) -> Result<u8> {
    let role = Role::parse(&new.role)
        .with_context(|| format!("--role {}: use agent, approver or admin", new.role))?;
    let actor = new.actor.to_string();
    let name = new.name.unwrap_or_else(|| actor.clone());
    // Refused before anything is contacted: a role bounds the kind of actor.
    parapet_store::check_role_actor(role, &actor)
        .map_err(|e| anyhow::anyhow!("--role {} --actor {actor}: {e}", role.as_str()))?;
    if new.aws.is_some() && role == Role::Approver {
        bail!(
            "--aws with --role approver: AWS keys are for agents (--role agent) or an \
             admin's own calls; approvers approve and call nothing"
        );
    }
    let now = parapet_store::now();
    let expires_at = new.expires.map(|e| parse_expiry(&e, now)).transpose()?;
    let created = match target.server.client()? {
        Some(c) => {
            let body = serde_json::json!({
                "name": name, "role": role.as_str(), "actor": actor,
                "expires": expires_at.map(parapet_store::rfc3339), "aws": new.aws.is_some(),
            });
            let v = c.call("POST", "/v1/tokens", Some(&body))?;
            let field = |k: &str| {
                v[k].as_str()
                    .map(str::to_string)
                    .with_context(|| format!("the decision service returned no {k}"))
            };
            let lines = if new.aws.is_some() {
                aws_lines(&field("access_key_id")?, &field("secret_access_key")?)
            } else {
                vec![field("secret")?]
            };
            let id = v["id"].as_str().unwrap_or("?").to_string();
            Created {
                id,
                acts_as: actor,
                lines,
            }
        }
        None => {
            // The key is read before the database is touched: a bad file changes nothing.
            let key = match &new.aws {
                Some(Some(path)) => Some(load_credential_key(path)?),
                Some(None) => bail!(
                    "--aws without --server derives the secret here: give \
                     --credential-key-file PATH (or PARAPET_CREDENTIAL_KEY_FILE), the file \
                     parapet serve and parapet proxy aws use"
                ),
                None => None,
            };
            let store = target.database.open()?;
            let admins = store
                .tokens()?
                .into_iter()
                .filter(|t| t.role == Role::Admin && t.live(now))
                .count();
            if admins > 0 && !target.write_db_directly {
                bail!(
                    "this database already has an admin token: create tokens through the \
                     server (--server URL --token ADMIN_TOKEN, or PARAPET_SERVER and \
                     PARAPET_TOKEN), which audits who created them. Writing to the \
                     database directly bypasses that; --write-db-directly forces it"
                );
            }
            let by = crate::ops_cmd::direct_actor();
            match key {
                Some(key) => {
                    let (info, id) =
                        store.create_aws_token(&name, role, &actor, expires_at, &by)?;
                    Created {
                        lines: aws_lines(&id, &parapet_store::aws_secret(&key, &id)),
                        id: info.id,
                        acts_as: info.actor,
                    }
                }
                None => {
                    let (info, secret) =
                        store.create_token(&name, role, &actor, expires_at, &by)?;
                    Created {
                        id: info.id,
                        acts_as: info.actor,
                        lines: vec![secret],
                    }
                }
            }
        }
    };
    let until = expires_at.map_or("never expires".to_string(), |e| {
        format!("expires {}", parapet_store::rfc3339(e))
    });
    let what = if new.aws.is_some() {
        "AWS key"
    } else {
        "token"
    };
    eprintln!(
        "created {what} {} ({}, acts as {}, {until}); the secret is shown once:",
        created.id,
        role.as_str(),
        created.acts_as
    );
    if new.aws.is_some() {
        eprintln!(
            "these work only against parapet proxy aws: point the agent's AWS_ENDPOINT_URL \
             at the proxy; AWS itself does not know them"
        );
    }
    for l in created.lines {
        println!("{l}");
    }
    Ok(EXIT_ALLOW)
}

fn aws_lines(id: &str, secret: &str) -> Vec<String> {
    vec![
        format!("AWS_ACCESS_KEY_ID={id}"),
        format!("AWS_SECRET_ACCESS_KEY={secret}"),
    ]
}

fn list_tokens(target: crate::ops_cmd::Target) -> Result<u8> {
    let rows: Vec<serde_json::Value> = match target.server.client()? {
        Some(c) => match c.call("GET", "/v1/tokens", None)? {
            serde_json::Value::Array(a) => a,
            other => bail!("the decision service answered {other} where a list was expected"),
        },
        None => {
            let now = parapet_store::now();
            target
                .database
                .open_existing()?
                .tokens()?
                .iter()
                .map(|t| parapet_server::shown_token(t, now))
                .collect()
        }
    };
    println!("ID\tNAME\tROLE\tACTOR\tSTATE\tCREATED\tEXPIRES\tLAST USED\tAWS ACCESS KEY ID");
    let field = |v: &serde_json::Value| v.as_str().unwrap_or("-").to_string();
    for t in rows {
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            field(&t["id"]),
            field(&t["name"]),
            field(&t["role"]),
            field(&t["actor"]),
            field(&t["state"]),
            field(&t["created_at"]),
            field(&t["expires_at"]),
            field(&t["last_used_at"]),
            field(&t["aws_access_key_id"]),
        );
    }
    Ok(EXIT_ALLOW)
}
