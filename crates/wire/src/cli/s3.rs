//! The high-level `aws s3` commands (ls, cp, mv, rm, sync, mb, rb, presign, website) as
//! the S3 API calls they make. A recursive command or a sync acts on objects nobody can
//! list in advance: it is the listing plus one call whose `Key` is the prefix and whose
//! resource is `arn:aws:s3:::<bucket>/<prefix>*`. `--dryrun` is judged as the real run.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use super::args::Globals;
use super::table::{CliTable, Nargs};
use super::{CliCall, CliError};
use crate::ServiceModels;

#[derive(Debug, Clone, PartialEq)]
enum Path {
    S3 { bucket: String, key: String },
    Local(String),
}

fn path(command: &str, p: &str) -> Result<Path, CliError> {
    let Some(rest) = p.strip_prefix("s3://") else {
        return Ok(Path::Local(p.to_string()));
    };
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(bad(command, p, "no bucket after s3://"));
    }
    if bucket.starts_with("arn:") {
        return Err(CliError::Unsupported {
            command: format!("s3 {command}"),
            reason: "access point and outpost ARNs as S3 paths are not read".into(),
        });
    }
    Ok(Path::S3 {
        bucket: bucket.to_string(),
        key: key.to_string(),
    })
}

fn bad(command: &str, arg: &str, reason: &str) -> CliError {
    CliError::BadArgument {
        command: format!("s3 {command}"),
        arg: arg.to_string(),
        reason: reason.to_string(),
    }
}

struct Opts {
    values: HashMap<String, Vec<String>>,
    paths: Vec<String>,
}

impl Opts {
    fn flag(&self, n: &str) -> bool {
        self.values.contains_key(n)
    }
    fn one(&self, n: &str) -> Option<&str> {
        self.values
            .get(n)
            .and_then(|v| v.first())
            .map(String::as_str)
    }
}

fn parse_opts(
    command: &str,
    spec: &HashMap<String, Nargs>,
    words: &[String],
) -> Result<Opts, CliError> {
    let mut values = HashMap::new();
    let mut paths = Vec::new();
    let names: Vec<&str> = spec
        .keys()
        .map(String::as_str)
        .filter(|n| *n != "<paths>")
        .collect();
    let mut i = 0;
    while i < words.len() {
        let w = &words[i];
        if !super::args::is_option(w) {
            paths.push(w.clone());
            i += 1;
            continue;
        }
        let Some((name, explicit)) =
            super::args::resolve(w, names.iter().copied()).map_err(|e| bad(command, w, &e))?
        else {
            return Err(bad(command, w, "unknown option"));
        };
        let kind = &spec[name];
        let mut vals = Vec::new();
        let next = |i: &mut usize| -> Option<String> {
            let v = words
                .get(*i + 1)
                .filter(|v| !super::args::is_option(v))
                .cloned();
            if v.is_some() {
                *i += 1;
            }
            v
        };
        match kind {
            Nargs::Kind(k) if k == "flag" => {
                if explicit.is_some() {
                    return Err(bad(command, w, "a flag takes no value"));
                }
            }
            Nargs::Kind(k) if k == "optional" => vals.extend(explicit.or_else(|| next(&mut i))),
            Nargs::Kind(k) if k == "many" => {
                vals.extend(explicit);
                while let Some(v) = next(&mut i) {
                    vals.push(v);
                }
                if vals.is_empty() {
                    return Err(bad(command, w, "expects at least one value"));
                }
            }
            Nargs::Count(n) => {
                vals.extend(explicit);
                while vals.len() < *n {
                    vals.push(
                        next(&mut i)
                            .ok_or_else(|| bad(command, w, &format!("expects {n} values")))?,
                    );
                }
            }
            _ => vals.push(
                explicit
                    .or_else(|| next(&mut i))
                    .ok_or_else(|| bad(command, w, "expects one value"))?,
            ),
        }
        // --include/--exclude and --tags accumulate; the rest: the last wins.
        let acc: &mut Vec<String> = values.entry(name.to_string()).or_default();
        if matches!(name, "include" | "exclude" | "tags") {
            acc.extend(vals);
        } else {
            *acc = vals;
        }
        i += 1;
    }
    let want = spec.get("<paths>");
    let ok = match want {
        Some(Nargs::Count(n)) => paths.len() == *n,
        Some(Nargs::Kind(k)) if k == "optional" => paths.len() <= 1,
        _ => paths.is_empty(),
    };
    if !ok {
        return Err(bad(command, &paths.join(" "), "wrong number of paths"));
    }
    Ok(Opts { values, paths })
}

pub(crate) fn calls(
    models: &ServiceModels,
    t: &CliTable,
    g: &Globals,
) -> Result<Vec<CliCall>, CliError> {
    let Some(command) = g.rest.first() else {
        return Err(CliError::UnknownOperation {
            service: "s3".into(),
            operation: String::new(),
        });
    };
    if command == "help" || g.rest.get(1).is_some_and(|w| w == "help") && g.rest.len() == 2 {
        return Err(CliError::NoCall(format!("s3 {command}")));
    }
    let Some(spec) = t.s3_commands.get(command.as_str()) else {
        return Err(CliError::UnknownOperation {
            service: "s3".into(),
            operation: command.clone(),
        });
    };
    let o = parse_opts(command, spec, &g.rest[1..])?;
    let s3 = models
        .service("s3")
        .ok_or_else(|| CliError::UnknownService("s3".into()))?;
    let mut out = Vec::new();
    let mut push = |op: &str, params: Value, resource: Option<String>| {
        out.push(CliCall {
            service: s3.id.clone(),
            operation: op.to_string(),
            iam_action: format!("{}:{op}", s3.iam_prefix),
            params,
            resource,
            region: g.region.clone(),
            profile: g.profile.clone(),
        })
    };
    let recursive = o.flag("recursive") || command == "sync";
    let prefix_arn = |b: &str, k: &str| Some(format!("arn:aws:s3:::{b}/{k}*"));
    let list = |b: &str, k: &str| {
        let mut p = json!({ "Bucket": b });
        if !k.is_empty() {
            p["Prefix"] = json!(k);
        }
        p
    };
    let paths: Vec<Path> = o
        .paths
        .iter()
        .map(|p| path(command, p))
        .collect::<Result<_, _>>()?;
    match command.as_str() {
        "ls" => match paths.first() {
            None => {
                let mut p = Map::new();
                if let Some(v) = o.one("bucket-name-prefix") {
                    p.insert("Prefix".into(), json!(v));
                }
                if let Some(v) = o.one("bucket-region") {
                    p.insert("BucketRegion".into(), json!(v));
                }
                push("ListBuckets", Value::Object(p), None);
            }
            Some(Path::S3 { bucket, key }) => {
                let mut p = list(bucket, key);
                if !o.flag("recursive") {
                    p["Delimiter"] = json!("/");
                }
                push("ListObjectsV2", p, None);
            }
            Some(Path::Local(l)) => return Err(bad(command, l, "ls takes an s3:// path")),
        },
        "cp" | "mv" | "sync" => {
            let (src, dst) = (&paths[0], &paths[1]);
            let write_extras = |p: &mut Value| {
                for (opt, member) in [
                    ("acl", "ACL"),
                    ("storage-class", "StorageClass"),
                    ("sse-kms-key-id", "SSEKMSKeyId"),
                    ("content-type", "ContentType"),
                    ("cache-control", "CacheControl"),
                    ("website-redirect", "WebsiteRedirectLocation"),
                    ("request-payer", "RequestPayer"),
                ] {
                    if let Some(v) = o.values.get(opt) {
                        p[member] = json!(v.first().map_or("requester", String::as_str));
                    }
                }
                if let Some(v) = o.values.get("sse") {
                    p["ServerSideEncryption"] = json!(v.first().map_or("AES256", String::as_str));
                }
            };
            match (src, dst) {
                (Path::Local(_), Path::Local(_)) => {
                    return Err(bad(
                        command,
                        &o.paths.join(" "),
                        "at least one path must be s3://",
                    ))
                }
                (Path::Local(l), Path::S3 { bucket, key }) => {
                    if recursive {
                        push("ListObjectsV2", list(bucket, key), None);
                        let mut p = json!({ "Bucket": bucket, "Key": key });
                        write_extras(&mut p);
                        push("PutObject", p, prefix_arn(bucket, key));
                    } else {
                        let key = object_key(key, l);
                        let mut p = json!({ "Bucket": bucket, "Key": key });
                        write_extras(&mut p);
                        push("PutObject", p, None);
                    }
                }
                (Path::S3 { bucket, key }, Path::Local(_)) => {
                    if recursive {
                        push("ListObjectsV2", list(bucket, key), None);
                        push(
                            "GetObject",
                            json!({ "Bucket": bucket, "Key": key }),
                            prefix_arn(bucket, key),
                        );
                    } else {
                        push("GetObject", json!({ "Bucket": bucket, "Key": key }), None);
                    }
                }
                (
                    Path::S3 {
                        bucket: sb,
                        key: sk,
                    },
                    Path::S3 {
                        bucket: db,
                        key: dk,
                    },
                ) => {
                    let dk = if recursive {
                        dk.clone()
                    } else {
                        object_key(dk, sk)
                    };
                    if recursive {
                        push("ListObjectsV2", list(sb, sk), None);
                        if command == "sync" {
                            push("ListObjectsV2", list(db, &dk), None);
                        }
                    }
                    let mut p =
                        json!({ "Bucket": db, "Key": dk, "CopySource": format!("{sb}/{sk}") });
                    write_extras(&mut p);
                    if let Some(v) = o.one("metadata-directive") {
                        p["MetadataDirective"] = json!(v);
                    }
                    push(
                        "CopyObject",
                        p,
                        recursive.then(|| format!("arn:aws:s3:::{db}/{dk}*")),
                    );
                }
            }
            // mv deletes its source after copying; sync --delete deletes at the destination.
            if command == "mv" {
                if let Path::S3 { bucket, key } = src {
                    let r = recursive.then(|| format!("arn:aws:s3:::{bucket}/{key}*"));
                    out.push(delete(s3, g, bucket, key, r));
                }
            }
            if command == "sync" && o.flag("delete") {
                if let Path::S3 { bucket, key } = dst {
                    out.push(delete(s3, g, bucket, key, prefix_arn(bucket, key)));
                }
            }
        }
        "rm" => {
            let Path::S3 { bucket, key } = &paths[0] else {
                return Err(bad(command, &o.paths[0], "rm takes an s3:// path"));
            };
            if recursive {
                push("ListObjectsV2", list(bucket, key), None);
                out.push(delete(s3, g, bucket, key, prefix_arn(bucket, key)));
            } else {
                out.push(delete(s3, g, bucket, key, None));
            }
        }
        "mb" | "rb" | "presign" | "website" => {
            let Path::S3 { bucket, key } = &paths[0] else {
                return Err(bad(command, &o.paths[0], "takes an s3:// path"));
            };
            match command.as_str() {
                "mb" => {
                    let mut p = json!({ "Bucket": bucket });
                    if let Some(r) = g
                        .region
                        .as_deref()
                        .filter(|r| *r != "us-east-1" && *r != "*")
                    {
                        p["CreateBucketConfiguration"] = json!({ "LocationConstraint": r });
                    }
                    push("CreateBucket", p, None);
                    if let Some(tags) = o.values.get("tags") {
                        let set: Vec<Value> = tags
                            .chunks(2)
                            .map(|kv| json!({ "Key": kv[0], "Value": kv.get(1) }))
                            .collect();
                        push(
                            "PutBucketTagging",
                            json!({ "Bucket": bucket, "Tagging": { "TagSet": set } }),
                            None,
                        );
                    }
                }
                "rb" => {
                    if o.flag("force") {
                        push("ListObjectsV2", json!({ "Bucket": bucket }), None);
                        out.push(delete(s3, g, bucket, "", prefix_arn(bucket, "")));
                    }
                    out.push(call(
                        s3,
                        g,
                        "DeleteBucket",
                        json!({ "Bucket": bucket }),
                        None,
                    ));
                }
                "presign" => push("GetObject", json!({ "Bucket": bucket, "Key": key }), None),
                _ => {
                    let mut cfg = Map::new();
                    if let Some(v) = o.one("index-document") {
                        cfg.insert("IndexDocument".into(), json!({ "Suffix": v }));
                    }
                    if let Some(v) = o.one("error-document") {
                        cfg.insert("ErrorDocument".into(), json!({ "Key": v }));
                    }
                    push(
                        "PutBucketWebsite",
                        json!({ "Bucket": bucket, "WebsiteConfiguration": cfg }),
                        None,
                    );
                }
            }
        }
        other => {
            return Err(CliError::UnknownOperation {
                service: "s3".into(),
                operation: other.to_string(),
            })
        }
    }
    Ok(out)
}

/// The key a single file lands at: `s3://b/dir/` or `s3://b` take the file's own name.
fn object_key(dst_key: &str, src: &str) -> String {
    if dst_key.is_empty() || dst_key.ends_with('/') {
        let name = src.rsplit(['/', '\\']).next().unwrap_or(src);
        format!("{dst_key}{name}")
    } else {
        dst_key.to_string()
    }
}

fn call(
    s3: &crate::Service,
    g: &Globals,
    op: &str,
    params: Value,
    resource: Option<String>,
) -> CliCall {
    CliCall {
        service: s3.id.clone(),
        operation: op.to_string(),
        iam_action: format!("{}:{op}", s3.iam_prefix),
        params,
        resource,
        region: g.region.clone(),
        profile: g.profile.clone(),
    }
}

fn delete(
    s3: &crate::Service,
    g: &Globals,
    bucket: &str,
    key: &str,
    resource: Option<String>,
) -> CliCall {
    call(
        s3,
        g,
        "DeleteObject",
        json!({ "Bucket": bucket, "Key": key }),
        resource,
    )
}
