//! Error responses in each protocol's own format, as botocore's parsers read them, so the
//! AWS CLI prints `An error occurred (Code) when calling the Op operation: Message`.

use crate::Protocol;

/// An HTTP error response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 cannot carry most control characters, even escaped.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// An error reply: query (`<ErrorResponse><Error><Type/><Code/><Message/></Error>`), ec2
/// (`<Response><Errors><Error>`), json (`__type` and `x-amzn-ErrorType`), rest-json
/// (`x-amzn-ErrorType` and `message`), rest-xml (S3's `<Error><Code/><Message/>`), and
/// rpc-v2-cbor (a CBOR map with `__type` and `message`).
pub fn error_reply(
    protocol: Protocol,
    status: u16,
    code: &str,
    message: &str,
    request_id: &str,
) -> ErrorReply {
    let status = if (400..=599).contains(&status) {
        status
    } else {
        400
    };
    // A code is a token: anything else would break the header or the XML.
    let code: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        .collect();
    let code = if code.is_empty() {
        "InternalFailure".to_string()
    } else {
        code
    };
    let rid: String = request_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    let mut headers = vec![
        ("x-amzn-RequestId".to_string(), rid.clone()),
        ("x-amz-request-id".to_string(), rid.clone()),
    ];
    let kind = if status >= 500 { "Receiver" } else { "Sender" };
    let body = match protocol {
        Protocol::Query => {
            headers.push(("Content-Type".into(), "text/xml".into()));
            format!(
                "<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code><Message>{}</Message></Error><RequestId>{rid}</RequestId></ErrorResponse>",
                xml_escape(message)
            )
            .into_bytes()
        }
        Protocol::Ec2 => {
            headers.push(("Content-Type".into(), "text/xml;charset=UTF-8".into()));
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code><Message>{}</Message></Error></Errors><RequestID>{rid}</RequestID></Response>",
                xml_escape(message)
            )
            .into_bytes()
        }
        Protocol::RestXml => {
            headers.push(("Content-Type".into(), "application/xml".into()));
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{}</Message><RequestId>{rid}</RequestId></Error>",
                xml_escape(message)
            )
            .into_bytes()
        }
        Protocol::Json | Protocol::RestJson => {
            let ct = if protocol == Protocol::Json {
                "application/x-amz-json-1.1"
            } else {
                "application/json"
            };
            headers.push(("Content-Type".into(), ct.into()));
            headers.push(("x-amzn-ErrorType".into(), code.clone()));
            serde_json::json!({ "__type": code, "message": message })
                .to_string()
                .into_bytes()
        }
        Protocol::RpcV2Cbor => {
            headers.push(("Content-Type".into(), "application/cbor".into()));
            headers.push(("smithy-protocol".into(), "rpc-v2-cbor".into()));
            crate::cbor::encode_error(&code, message)
        }
    };
    ErrorReply {
        status,
        headers,
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let r = error_reply(
            Protocol::Query,
            403,
            "AccessDenied",
            "no <way> & \"never\"",
            "r-1",
        );
        let body = String::from_utf8(r.body).unwrap();
        assert!(body.contains("<Code>AccessDenied</Code>"), "{body}");
        assert!(
            body.contains("no &lt;way&gt; &amp; &quot;never&quot;"),
            "{body}"
        );
        assert_eq!(r.status, 403);
        let r = error_reply(Protocol::Json, 400, "Bad\r\nX: y", "m", "r\n1");
        assert!(r
            .headers
            .contains(&("x-amzn-ErrorType".into(), "BadXy".into())));
        assert!(r
            .headers
            .contains(&("x-amzn-RequestId".into(), "r1".into())));
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["__type"], "BadXy");
        let r = error_reply(Protocol::RestXml, 200, "", "m", "");
        assert_eq!(r.status, 400);
        assert!(String::from_utf8(r.body)
            .unwrap()
            .contains("<Code>InternalFailure</Code>"));
    }
}
