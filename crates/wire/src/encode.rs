//! Writing a request from parameters in the API's input shape: the reverse of
//! [`parameters`](crate::parameters), for the calls parapet makes itself (containment
//! steps). The query and ec2 protocols (IAM, STS, EC2, RDS...) as botocore's serialisers
//! write them, and the json protocol. Other protocols are refused, never guessed.
//!
//! Fail closed: a member the shape does not have, a value of the wrong type, an
//! operation the service does not have is an error naming it; nothing is dropped.

use serde_json::Value;

use crate::models::Service;
use crate::query::query_key;
use crate::shape::{Ref, Ty};
use crate::value::{kind, wire_name, At, Ctx};
use crate::{BodyUse, Protocol, Route, WireError, MAX_DEPTH};

/// A request ready to sign and send to the service's endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: &'static str,
    /// Path and query, from the endpoint's root (`/`).
    pub path: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

/// The request for `service`'s `operation` with `params` (an object in the input shape,
/// member names as the model spells them).
pub fn encode(service: &Service, operation: &str, params: &Value) -> Result<Request, WireError> {
    let compiled = service.compiled()?;
    let op = compiled
        .op(operation)
        .ok_or_else(|| WireError::UnknownOperation {
            service: service.id.clone(),
            detail: format!("{operation:?} is not an operation of {}", service.id),
        })?;
    let protocol = service.protocol;
    let route = Route {
        service,
        operation: &op.name,
        body: BodyUse::Parse,
        protocol,
        host_bucket: None,
        op,
    };
    let ctx = Ctx::new(&route, compiled);
    if !params.is_object() && !params.is_null() {
        return Err(ctx.bad("", "the parameters must be an object"));
    }
    match protocol {
        Protocol::Query | Protocol::Ec2 => {
            let mut pairs = vec![
                ("Action".to_string(), op.name.clone()),
                ("Version".to_string(), service.api_version.clone()),
            ];
            if let Some(input) = &op.input {
                let w = QueryWriter {
                    ctx: &ctx,
                    ec2: protocol == Protocol::Ec2,
                };
                w.value(input, params, "", &At::Root(""), &mut pairs)?;
            } else if params.as_object().is_some_and(|o| !o.is_empty()) {
                return Err(ctx.bad("", "the operation takes no parameters"));
            }
            let body = pairs
                .iter()
                .map(|(k, v)| format!("{}={}", escape(k), escape(v)))
                .collect::<Vec<_>>()
                .join("&");
            Ok(Request {
                method: "POST",
                path: "/".into(),
                headers: vec![(
                    "content-type",
                    "application/x-www-form-urlencoded; charset=utf-8".into(),
                )],
                body: body.into_bytes(),
            })
        }
        Protocol::Json => {
            let body = match &op.input {
                Some(input) => json_value(&ctx, input, params, &At::Root(""))?,
                None => Value::Object(Default::default()),
            };
            let target = service
                .target_prefix
                .as_deref()
                .ok_or_else(|| ctx.bad("", "the service model has no targetPrefix"))?;
            Ok(Request {
                method: "POST",
                path: "/".into(),
                headers: vec![
                    (
                        "content-type",
                        format!(
                            "application/x-amz-json-{}",
                            service.json_version.as_deref().unwrap_or("1.0")
                        ),
                    ),
                    ("x-amz-target", format!("{target}.{}", op.name)),
                ],
                body: body.to_string().into_bytes(),
            })
        }
        other => Err(WireError::BadRequest {
            service: service.id.clone(),
            reason: format!(
                "parapet does not write {} requests yet: run {}:{} by hand",
                other.as_str(),
                service.iam_prefix,
                op.name
            ),
        }),
    }
}

/// RFC 3986 unreserved characters stay, everything else is percent-encoded (UTF-8).
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The text of a scalar as the query protocol writes it.
fn scalar_text(ctx: &Ctx, ty: Ty, v: &Value, at: &At) -> Result<String, WireError> {
    let wrong = |want: &str| ctx.bad(at.render(), format!("expected {want}, got {}", kind(v)));
    Ok(match (ty, v) {
        (Ty::String | Ty::Blob | Ty::Timestamp, Value::String(s)) => s.clone(),
        (Ty::Timestamp, Value::Number(n)) => n.to_string(),
        (Ty::String | Ty::Blob, _) => return Err(wrong("a string")),
        (Ty::Timestamp, _) => return Err(wrong("a time (text or epoch seconds)")),
        (Ty::Boolean, Value::Bool(b)) => b.to_string(),
        (Ty::Boolean, _) => return Err(wrong("a boolean")),
        (Ty::Integer | Ty::Long, Value::Number(n)) if n.is_i64() || n.is_u64() => n.to_string(),
        (Ty::Integer | Ty::Long, _) => return Err(wrong("an integer")),
        (Ty::Float | Ty::Double, Value::Number(n)) => n.to_string(),
        (Ty::Float | Ty::Double, Value::String(s))
            if matches!(s.as_str(), "NaN" | "Infinity" | "-Infinity") =>
        {
            s.clone()
        }
        (Ty::Float | Ty::Double, _) => return Err(wrong("a number")),
        (Ty::Structure | Ty::List | Ty::Map, _) => unreachable!("not a scalar"),
    })
}

/// A key the shape has no member of is an error naming it, never dropped.
fn unknown_member(
    ctx: &Ctx,
    shape: &crate::shape::Shape,
    obj: &serde_json::Map<String, Value>,
    at: &At,
) -> Result<(), WireError> {
    match obj
        .keys()
        .find(|k| !shape.members.iter().any(|m| m.name == **k))
    {
        Some(k) => Err(ctx.bad(At::Key(at, k).render(), "not a member of the input shape")),
        None => Ok(()),
    }
}

struct QueryWriter<'c, 'a> {
    ctx: &'c Ctx<'a>,
    ec2: bool,
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

impl QueryWriter<'_, '_> {
    fn value(
        &self,
        r: &Ref,
        v: &Value,
        prefix: &str,
        at: &At,
        out: &mut Vec<(String, String)>,
    ) -> Result<(), WireError> {
        let ctx = self.ctx;
        if at.depth() > MAX_DEPTH {
            return Err(ctx.bad(at.render(), format!("nested deeper than {MAX_DEPTH}")));
        }
        if v.is_null() {
            return Ok(()); // an absent member
        }
        let shape = ctx.shape(r);
        let wrong = |want: &str| ctx.bad(at.render(), format!("expected {want}, got {}", kind(v)));
        match shape.ty {
            Ty::Structure => {
                let Value::Object(obj) = v else {
                    return Err(wrong("an object"));
                };
                unknown_member(ctx, shape, obj, at)?;
                // In member order, whatever order the parameters came in.
                for m in &shape.members {
                    let Some(item) = obj.get(&m.name) else {
                        continue;
                    };
                    let key = query_key(ctx, m, self.ec2);
                    self.value(&m.r, item, &join(prefix, &key), &At::Key(at, &m.name), out)?;
                }
            }
            Ty::List => {
                let Value::Array(items) = v else {
                    return Err(wrong("an array"));
                };
                let member = shape
                    .member
                    .as_ref()
                    .ok_or_else(|| ctx.bad(at.render(), "list without member"))?;
                if items.is_empty() {
                    // botocore: the query protocol sends an empty list as `Name=`, ec2
                    // leaves it out.
                    if !self.ec2 {
                        out.push((prefix.to_string(), String::new()));
                    }
                    return Ok(());
                }
                let base = if self.ec2 || r.flattened {
                    prefix.to_string()
                } else {
                    join(prefix, member.name.as_deref().unwrap_or("member"))
                };
                for (i, item) in items.iter().enumerate() {
                    let key = format!("{base}.{}", i + 1);
                    self.value(member, item, &key, &At::Index(at, i), out)?;
                }
            }
            Ty::Map => {
                let Value::Object(obj) = v else {
                    return Err(wrong("an object"));
                };
                let (Some(kr), Some(vr)) = (&shape.key, &shape.value) else {
                    return Err(ctx.bad(at.render(), "map without key or value"));
                };
                let base = if r.flattened {
                    prefix.to_string()
                } else {
                    join(prefix, "entry")
                };
                let kname = kr.name.as_deref().unwrap_or("key");
                let vname = vr.name.as_deref().unwrap_or("value");
                for (i, (k, item)) in obj.iter().enumerate() {
                    let entry = format!("{base}.{}", i + 1);
                    out.push((format!("{entry}.{kname}"), k.clone()));
                    self.value(vr, item, &join(&entry, vname), &At::Key(at, k), out)?;
                }
            }
            ty => out.push((prefix.to_string(), scalar_text(ctx, ty, v, at)?)),
        }
        Ok(())
    }
}

/// A json-protocol body: members renamed to their wire names, types checked.
fn json_value(ctx: &Ctx, r: &Ref, v: &Value, at: &At) -> Result<Value, WireError> {
    if at.depth() > MAX_DEPTH {
        return Err(ctx.bad(at.render(), format!("nested deeper than {MAX_DEPTH}")));
    }
    let shape = ctx.shape(r);
    let wrong = |want: &str| ctx.bad(at.render(), format!("expected {want}, got {}", kind(v)));
    Ok(match shape.ty {
        Ty::Structure if shape.document => v.clone(),
        Ty::Structure => {
            let Value::Object(obj) = v else {
                return Err(wrong("an object"));
            };
            let mut out = serde_json::Map::new();
            unknown_member(ctx, shape, obj, at)?;
            for m in &shape.members {
                let Some(item) = obj.get(&m.name).filter(|v| !v.is_null()) else {
                    continue;
                };
                out.insert(
                    wire_name(m).to_string(),
                    json_value(ctx, &m.r, item, &At::Key(at, &m.name))?,
                );
            }
            Value::Object(out)
        }
        Ty::List => {
            let Value::Array(items) = v else {
                return Err(wrong("an array"));
            };
            let member = shape
                .member
                .as_ref()
                .ok_or_else(|| ctx.bad(at.render(), "list without member"))?;
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                out.push(json_value(ctx, member, item, &At::Index(at, i))?);
            }
            Value::Array(out)
        }
        Ty::Map => {
            let Value::Object(obj) = v else {
                return Err(wrong("an object"));
            };
            let vr = shape
                .value
                .as_ref()
                .ok_or_else(|| ctx.bad(at.render(), "map without value"))?;
            let mut out = serde_json::Map::new();
            for (k, item) in obj {
                out.insert(k.clone(), json_value(ctx, vr, item, &At::Key(at, k))?);
            }
            Value::Object(out)
        }
        ty => {
            // Checked as the query protocol would write it; JSON keeps the value.
            scalar_text(ctx, ty, v, at)?;
            v.clone()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ServiceModels;
    use serde_json::json;

    fn body(service: &str, op: &str, params: Value) -> String {
        let s = ServiceModels::embedded().service(service).unwrap();
        String::from_utf8(encode(s, op, &params).unwrap().body).unwrap()
    }

    #[test]
    fn query_lists_maps_and_escapes_as_botocore_names_them() {
        // Keys as botocore names them, members in name order whatever the parameters' order
        // (the compiled model keeps members sorted; order carries no meaning on the wire).
        assert_eq!(
            body(
                "iam",
                "UpdateAccessKey",
                json!({"UserName": "a b+c", "AccessKeyId": "AKIA1", "Status": "Inactive"})
            ),
            "Action=UpdateAccessKey&Version=2010-05-08&AccessKeyId=AKIA1&Status=Inactive&UserName=a%20b%2Bc"
        );
        assert_eq!(
            body(
                "ec2",
                "RevokeSecurityGroupIngress",
                json!({"GroupId": "sg-1", "SecurityGroupRuleIds": ["sgr-1", "sgr-2"]})
            ),
            "Action=RevokeSecurityGroupIngress&Version=2016-11-15&GroupId=sg-1&SecurityGroupRuleId.1=sgr-1&SecurityGroupRuleId.2=sgr-2"
        );
        assert_eq!(
            body(
                "rds",
                "ModifyDBSnapshotAttribute",
                json!({"DBSnapshotIdentifier": "s", "AttributeName": "restore", "ValuesToRemove": ["all"]})
            ),
            "Action=ModifyDBSnapshotAttribute&Version=2014-10-31&AttributeName=restore&DBSnapshotIdentifier=s&ValuesToRemove.AttributeValue.1=all"
        );
    }

    #[test]
    fn what_the_shape_does_not_have_is_an_error_not_dropped() {
        let s = ServiceModels::embedded().service("iam").unwrap();
        let e = encode(s, "UpdateAccessKey", &json!({"Username": "x"})).unwrap_err();
        assert!(e.to_string().contains("Username"), "{e}");
        let e = encode(s, "UpdateAccessKey", &json!({"Status": 3})).unwrap_err();
        assert!(e.to_string().contains("expected a string"), "{e}");
        let e = encode(s, "NoSuchOperation", &json!({})).unwrap_err();
        assert!(e.to_string().contains("NoSuchOperation"), "{e}");
        let s3 = ServiceModels::embedded().service("s3").unwrap();
        let e = encode(s3, "PutBucketPolicy", &json!({})).unwrap_err();
        assert!(e.to_string().contains("rest-xml"), "{e}");
    }

    #[test]
    fn json_protocol_names_the_target() {
        let s = ServiceModels::embedded().service("kms").unwrap();
        let r = encode(s, "DisableKey", &json!({"KeyId": "k"})).unwrap();
        assert!(r
            .headers
            .contains(&("x-amz-target", "TrentService.DisableKey".into())));
        assert_eq!(r.body, br#"{"KeyId":"k"}"#);
    }
}
