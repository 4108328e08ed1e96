//! Agent AWS keys for `parapet proxy aws`, end to end with the real binary: the
//! credential key file, `parapet token create --aws` on the database and through a
//! server, `token list` showing the access key id, and the property that matters: the
//! secret access key is shown once and stored nowhere (the SQLite file and its WAL,
//! the server's log, a pg_dump of a PostgreSQL schema).

mod common;
use common::identity::*;
use common::*;
use std::path::Path;
use std::process::Command;

/// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` from `token create --aws` output.
fn keys(stdout: &str) -> (String, String) {
    let get = |name: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no {name}= line in {stdout:?}"))
            .to_string()
    };
    let (id, secret) = (get("AWS_ACCESS_KEY_ID"), get("AWS_SECRET_ACCESS_KEY"));
    assert_eq!(
        stdout.lines().count(),
        2,
        "exactly the two lines: {stdout:?}"
    );
    assert!(parapet_store::is_access_key_id(&id), "{id}");
    assert!(secret.len() >= 40, "{secret}");
    (id, secret)
}

fn key_file(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("credential.key");
    exited(
        run(&["credential-key", "generate", path.to_str().unwrap()], &[]),
        0,
    );
    path
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn a_credential_key_is_generated_once_and_kept_private() {
    let dir = tmpdir("credkey");
    let path = key_file(&dir);
    let key = std::fs::read_to_string(&path).unwrap();
    assert_eq!(key.trim().len(), 64, "32 random bytes as hex");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let again = run(&["credential-key", "generate", path.to_str().unwrap()], &[]);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        stderr(&again).contains("refusing to overwrite"),
        "{}",
        stderr(&again)
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), key, "unchanged");
    // Two keys are never alike.
    let other = dir.join("other.key");
    exited(
        run(
            &["credential-key", "generate", other.to_str().unwrap()],
            &[],
        ),
        0,
    );
    assert_ne!(std::fs::read_to_string(other).unwrap(), key);
    let help = exited(run(&["credential-key", "generate", "--help"], &[]), 0);
    assert!(
        help.contains("never stored") && help.contains("--credential-key-file"),
        "{help}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn aws_keys_on_the_database_derive_their_secret_and_store_none() {
    let dir = tmpdir("awsdirect");
    let db = dir.join("parapet.db");
    let key = key_file(&dir);
    let base = ["token", "create", "--database", db.to_str().unwrap()];
    let create = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        run(&args, &[])
    };
    // Without the key file there is nothing to derive the secret with.
    let o = create(&["--role", "agent", "--actor", "agent:kiro", "--aws"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--credential-key-file"),
        "{}",
        stderr(&o)
    );
    assert!(o.stdout.is_empty());
    // Approvers get no AWS key; a bad key file is named.
    let k = key.to_str().unwrap();
    let o = create(&[
        "--role",
        "approver",
        "--actor",
        "human:bob",
        "--aws",
        "--credential-key-file",
        k,
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    std::fs::write(dir.join("short.key"), "short").unwrap();
    let short = dir.join("short.key");
    let o = create(&[
        "--role",
        "agent",
        "--actor",
        "agent:kiro",
        "--aws",
        "--credential-key-file",
        short.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("short.key") && stderr(&o).contains("at least 32"),
        "{}",
        stderr(&o)
    );
    // The key file from the environment, as the proxy and the server read it.
    let o = run(
        &[
            &base[..],
            &[
                "--role",
                "agent",
                "--actor",
                "agent:kiro",
                "--aws",
                "--expires",
                "8h",
            ],
        ]
        .concat(),
        &[("PARAPET_CREDENTIAL_KEY_FILE", k)],
    );
    let err = stderr(&o);
    let (id, secret) = keys(&exited(o, 0));
    assert!(err.contains("only against parapet proxy aws"), "{err}");
    let expect = parapet_store::aws_secret(&parapet_store::load_credential_key(&key).unwrap(), &id);
    assert_eq!(secret, expect, "the documented derivation");
    // Listed with its access key id (default name: the actor), never its secret.
    let listed = exited(
        run(&["token", "list", "--database", db.to_str().unwrap()], &[]),
        0,
    );
    assert!(
        listed
            .lines()
            .next()
            .unwrap()
            .ends_with("\tAWS ACCESS KEY ID"),
        "{listed}"
    );
    let row = listed.lines().find(|l| l.contains(&id)).expect("listed");
    assert!(
        row.starts_with("tok_") && row.contains("\tagent:kiro\tagent\tagent:kiro\tactive\t"),
        "{row}"
    );
    assert!(!listed.contains(&secret));
    // The database and its write-ahead log hold the id, and no secret.
    let mut raw = std::fs::read(&db).unwrap();
    raw.extend(std::fs::read(dir.join("parapet.db-wal")).unwrap_or_default());
    assert!(contains(&raw, &id), "the grep finds what is there");
    assert!(!contains(&raw, &secret), "the secret is in the database");
    let _ = std::fs::remove_dir_all(dir);
}

/// `parapet serve` on `database` with the credential key; an admin token for it.
fn serve_with_key(database: &str, key: &Path, log: &Path) -> (Server, String) {
    let admin = token_at(database, "root", "admin", "human:root");
    let mut cmd = bin();
    cmd.args(["serve", "--database", database, "--listen", "127.0.0.1:0"])
        .args(["--credential-key-file", key.to_str().unwrap()])
        .env("RUST_LOG", "debug")
        .stderr(std::fs::File::create(log).unwrap());
    (start_command(cmd), admin)
}

fn create_remote(url: &str, admin: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "token",
        "create",
        "--server",
        url,
        "--role",
        "agent",
        "--actor",
        "agent:kiro",
    ];
    args.extend_from_slice(extra);
    run(&args, &[("PARAPET_TOKEN", admin)])
}

#[test]
fn the_server_issues_aws_keys_and_stores_no_secret_on_sqlite() {
    let dir = tmpdir("awsserve");
    let db = dir.join("parapet.db");
    let key = key_file(&dir);
    let log = dir.join("serve.log");
    let (srv, admin) = serve_with_key(db.to_str().unwrap(), &key, &log);
    let url = format!("http://127.0.0.1:{}", srv.port);
    let o = create_remote(
        &url,
        &admin,
        &["--aws", "--name", "kiro laptop", "--expires", "8h"],
    );
    let (id, secret) = keys(&exited(o, 0));
    let k = parapet_store::load_credential_key(&key).unwrap();
    assert_eq!(secret, parapet_store::aws_secret(&k, &id));
    let listed = exited(
        run(
            &["token", "list", "--server", &url],
            &[("PARAPET_TOKEN", &admin)],
        ),
        0,
    );
    let row = listed.lines().find(|l| l.contains(&id)).expect("listed");
    assert!(row.contains("kiro laptop"), "{row}");
    assert!(!listed.contains(&secret));
    // The key is a token like any other: the audit log has who made it and its id.
    let (s, audit) = http(srv.port, "GET", "/v1/audit/verify", Some(&admin), None);
    assert_eq!(s, 200, "{audit}");
    assert_eq!(audit["intact"], true);
    // An AWS key is no API token: it has no bearer secret, and its AWS secret is none.
    let (s, _) = http(srv.port, "GET", "/v1/freezes", Some(&secret), None);
    assert_eq!(s, 401);
    drop(srv);
    let mut raw = std::fs::read(&db).unwrap();
    raw.extend(std::fs::read(dir.join("parapet.db-wal")).unwrap_or_default());
    assert!(contains(&raw, &id));
    assert!(!contains(&raw, &secret), "the secret is in the database");
    let logged = std::fs::read(&log).unwrap();
    assert!(
        contains(&logged, &id),
        "the log names the key id: {}",
        String::from_utf8_lossy(&logged)
    );
    assert!(
        !contains(&logged, &secret),
        "the secret is in the server's log"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_server_without_a_credential_key_says_how_to_get_aws_keys() {
    let dir = tmpdir("awsnokey");
    let db = dir.join("parapet.db");
    let admin = token(&db, "root", "admin", "human:root");
    let srv = start(&dir, None);
    let url = format!("http://127.0.0.1:{}", srv.port);
    let o = create_remote(&url, &admin, &["--aws"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--credential-key-file"),
        "{}",
        stderr(&o)
    );
    assert!(o.stdout.is_empty());
    // A key file that cannot be read stops the server before it listens.
    let o = bin()
        .args([
            "serve",
            "--database",
            db.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .args([
            "--credential-key-file",
            dir.join("missing.key").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("missing.key"), "{}", stderr(&o));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_server_issues_aws_keys_and_stores_no_secret_on_postgres() {
    let pg = PgSchema::new("awskeys");
    let dir = tmpdir("awspg");
    let key = key_file(&dir);
    let (srv, admin) = serve_with_key(&pg.url, &key, &dir.join("serve.log"));
    let url = format!("http://127.0.0.1:{}", srv.port);
    let (id, secret) = keys(&exited(create_remote(&url, &admin, &["--aws"]), 0));
    drop(srv);
    match Command::new("pg_dump")
        .args(["--dbname", &pg.base, "--schema", &pg.name, "--data-only"])
        .output()
    {
        Ok(o) if o.status.success() => {
            assert!(contains(&o.stdout, &id), "the dump holds the key id");
            assert!(
                !contains(&o.stdout, &secret),
                "the secret is in the database"
            );
        }
        Ok(o) => panic!("pg_dump failed: {}", String::from_utf8_lossy(&o.stderr)),
        Err(_) => eprintln!("pg_dump not installed: the dump check is skipped"),
    }
    let _ = std::fs::remove_dir_all(dir);
}
