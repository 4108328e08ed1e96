//! Agent AWS credentials: an access key id stored with its token, and a secret access
//! key that is never stored anywhere. The secret is derived from the access key id with
//! a credential key the operator keeps outside the database, so reading the database
//! (a backup, a dump, a replica) yields no usable secret:
//!
//! `secret = base64url_nopad(HMAC-SHA256(credential_key, "parapet-aws-secret-v1:" + id))`
//!
//! These keys are only valid at `parapet proxy aws`: AWS has never heard of them.

use crate::StoreError;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::io::{Read, Write};
use std::path::Path;

/// What every parapet access key id starts with (AWS's own start with AKIA or ASIA).
pub const ACCESS_KEY_PREFIX: &str = "PKIA";
/// Random characters after the prefix (base32, 5 bits each: 80 bits).
const ID_CHARS: usize = 16;
/// Fewest bytes a credential key may have.
pub const MIN_KEY_BYTES: usize = 32;
/// A key file larger than this is not a key file (and is not read whole).
const MAX_KEY_FILE: u64 = 4096;
const DERIVATION: &str = "parapet-aws-secret-v1:";
const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A new access key id: `PKIA` + 16 characters of `[A-Z2-7]` from the OS random source.
pub fn new_access_key_id() -> String {
    let mut b = [0u8; ID_CHARS * 5 / 8];
    getrandom::fill(&mut b).expect("the OS random source works");
    let mut out = String::with_capacity(ACCESS_KEY_PREFIX.len() + ID_CHARS);
    out.push_str(ACCESS_KEY_PREFIX);
    // 10 bytes are exactly 16 groups of 5 bits.
    let bits = b.iter().fold(0u128, |acc, &x| (acc << 8) | u128::from(x));
    for i in (0..ID_CHARS).rev() {
        out.push(BASE32[((bits >> (i * 5)) & 31) as usize] as char);
    }
    out
}

/// Is `s` shaped like an access key id parapet issues? (Checked before any lookup, so
/// a malformed id is refused without touching the database.)
pub fn is_access_key_id(s: &str) -> bool {
    s.strip_prefix(ACCESS_KEY_PREFIX)
        .is_some_and(|rest| rest.len() == ID_CHARS && rest.bytes().all(|c| BASE32.contains(&c)))
}

/// The secret access key of `access_key_id` under `credential_key` (43 characters of
/// base64url). Shown once when the key is created, derived again by the proxy to check
/// signatures; never stored.
pub fn aws_secret(credential_key: &[u8], access_key_id: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(credential_key).expect("HMAC takes a key of any length");
    mac.update(DERIVATION.as_bytes());
    mac.update(access_key_id.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// Read a credential key file: its content, without surrounding whitespace, is the key
/// and must be at least 32 bytes (what `generate_credential_key_file` writes: 64 hex
/// digits of OS randomness).
pub fn load_credential_key(path: &Path) -> Result<Vec<u8>, StoreError> {
    let shown = path.display().to_string();
    let io = |source| StoreError::KeyFile {
        path: shown.clone(),
        source,
    };
    let bad = |why: String| StoreError::BadKey {
        path: shown.clone(),
        why,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(bad("is not a regular file".into()));
    }
    if meta.len() > MAX_KEY_FILE {
        return Err(bad(format!(
            "is {} bytes; a key file holds one key (at most {MAX_KEY_FILE} bytes)",
            meta.len()
        )));
    }
    let mut raw = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_KEY_FILE + 1).read_to_end(&mut raw))
        .map_err(io)?;
    let key = raw.trim_ascii();
    if key.len() < MIN_KEY_BYTES {
        return Err(bad(format!(
            "holds {} bytes; a credential key needs at least {MIN_KEY_BYTES} (create one with \
             `parapet credential-key generate PATH`)",
            key.len()
        )));
    }
    Ok(key.to_vec())
}

/// Write a new credential key file (64 hex digits of OS randomness), readable by its
/// owner only. An existing file is never overwritten: replacing the key changes the
/// secret of every AWS key issued with it.
pub fn generate_credential_key_file(path: &Path) -> Result<(), StoreError> {
    let shown = path.display().to_string();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => StoreError::BadKey {
            path: shown.clone(),
            why: "already exists; refusing to overwrite it (every AWS secret derived from the \
                  old key would stop working); remove it first if that is what you want"
                .into(),
        },
        _ => StoreError::KeyFile {
            path: shown.clone(),
            source: e,
        },
    })?;
    let mut key = crate::new_secret();
    key.push('\n');
    f.write_all(key.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|source| StoreError::KeyFile {
            path: shown,
            source,
        })
}

/// A warning when a key file can be read by others than its owner (Unix); `None` when
/// it cannot, or elsewhere.
pub fn credential_key_file_warning(path: &Path) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode();
        if mode & 0o077 != 0 {
            return Some(format!(
                "credential key file {} is readable by others (mode {:o}); chmod 600 it",
                path.display(),
                mode & 0o777
            ));
        }
    }
    let _ = path;
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tmp(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("parapet-key-{tag}-{}", crate::new_secret()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn access_key_ids_look_like_aws_ones_and_differ() {
        let a = new_access_key_id();
        let b = new_access_key_id();
        assert_ne!(a, b);
        for id in [&a, &b] {
            assert_eq!(id.len(), 20, "{id}");
            assert!(is_access_key_id(id), "{id}");
        }
        for bad in [
            "AKIAABCDEFGHIJKLMNOP",
            "PKIA",
            "PKIAABCDEFGHIJKLMNO",
            "PKIAABCDEFGHIJKLMNOPQ",
            "PKIAabcdefghijklmnop",
            "PKIAABCDEFGHIJKLMN01",
        ] {
            assert!(!is_access_key_id(bad), "{bad}");
        }
    }

    #[test]
    fn the_secret_is_the_documented_derivation() {
        let key = b"0123456789abcdef0123456789abcdef";
        let s = aws_secret(key, "PKIAAAAAAAAAAAAAAAAA");
        // Computed independently with Python's hmac and base64 modules.
        assert_eq!(s, "yDXYVX40o9JbMHyTkzJi_p0cMT29sBUAjZpSLfBeIMA");
        assert_ne!(s, aws_secret(key, "PKIAAAAAAAAAAAAAAAAB"));
        assert_ne!(
            s,
            aws_secret(b"0123456789abcdef0123456789abcdeX", "PKIAAAAAAAAAAAAAAAAA")
        );
    }

    #[test]
    fn generated_keys_load_and_are_never_overwritten() {
        let d = tmp("gen");
        let p = d.join("key");
        generate_credential_key_file(&p).unwrap();
        let key = load_credential_key(&p).unwrap();
        assert_eq!(key.len(), 64);
        assert!(key.iter().all(u8::is_ascii_hexdigit));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            assert!(credential_key_file_warning(&p).is_none());
        }
        let again = generate_credential_key_file(&p).unwrap_err();
        assert!(
            again.to_string().contains("refusing to overwrite"),
            "{again}"
        );
        assert_eq!(load_credential_key(&p).unwrap(), key, "unchanged");
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn bad_key_files_are_refused_by_name() {
        let d = tmp("bad");
        let missing = load_credential_key(&d.join("nope")).unwrap_err();
        assert!(matches!(missing, StoreError::KeyFile { .. }), "{missing}");
        assert!(missing.to_string().contains("nope"), "{missing}");
        let short = d.join("short");
        std::fs::write(&short, "  too short \n").unwrap();
        let e = load_credential_key(&short).unwrap_err().to_string();
        assert!(e.contains("short") && e.contains("at least 32"), "{e}");
        let big = d.join("big");
        std::fs::write(&big, vec![b'a'; 5000]).unwrap();
        assert!(load_credential_key(&big).is_err());
        assert!(load_credential_key(&d).is_err(), "a directory");
        let ok = d.join("ok");
        std::fs::write(&ok, format!("{}\n", "k".repeat(40))).unwrap();
        assert_eq!(load_credential_key(&ok).unwrap(), vec![b'k'; 40]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&ok, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert!(credential_key_file_warning(&ok).unwrap().contains("644"));
        }
        let _ = std::fs::remove_dir_all(d);
    }

    proptest! {
        /// Any key and any id give a 43-character base64url secret, and the secret
        /// depends on both.
        #[test]
        fn secrets_are_base64url_and_depend_on_key_and_id(
            key in proptest::collection::vec(any::<u8>(), 32..64),
            id in "[A-Z2-7]{16}",
        ) {
            let id = format!("PKIA{id}");
            prop_assert!(is_access_key_id(&id));
            let s = aws_secret(&key, &id);
            prop_assert_eq!(s.len(), 43);
            prop_assert!(!s.contains('=') && !s.contains('+') && !s.contains('/'));
            let mut other = key.clone();
            other[0] ^= 1;
            prop_assert_ne!(&s, &aws_secret(&other, &id));
        }
    }
}
