//! Reading AWS's answers to the calls parapet makes itself: success or the error's code
//! and message (query and ec2 XML, json), the request id, and a plain tree of the answer
//! to look through (element names as the API writes them).
//!
//! Fail closed: a success whose body cannot be read is an error, never an empty success;
//! a failure whose body is not AWS's error document (a proxy's HTML page) is a failure
//! named by its status.

use quick_xml::events::Event;
use serde_json::Value;
use std::collections::BTreeMap;

/// Deeper answers are refused, not walked.
const MAX_DEPTH: usize = 64;

/// An element (or JSON member; a JSON list is its items, each under the list's name):
/// its name, its own text, its children.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Node {
    pub name: String,
    pub text: String,
    pub children: Vec<Node>,
}

impl Node {
    fn walk<'a>(&'a self, out: &mut Vec<&'a Node>) {
        out.push(self);
        for c in &self.children {
            c.walk(out);
        }
    }

    /// Whether some direct child named `k` has text `v` (`*`: any) for every pair.
    pub fn matches(&self, want: &BTreeMap<String, String>) -> bool {
        want.iter().all(|(k, v)| {
            self.children
                .iter()
                .any(|c| c.name == *k && (v == "*" || c.text == *v))
        })
    }

    /// The first element, this one or below, that [`Node::matches`] `want`.
    pub fn find(&self, want: &BTreeMap<String, String>) -> Option<&Node> {
        let mut all = Vec::new();
        self.walk(&mut all);
        all.into_iter().find(|n| n.matches(want))
    }

    /// `name=text` of the children `want` names.
    pub fn shown(&self, want: &BTreeMap<String, String>) -> String {
        self.children
            .iter()
            .filter(|c| want.contains_key(&c.name))
            .map(|c| format!("{}={}", c.name, c.text))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The first element, this one or below, named `name`.
    pub fn first(&self, name: &str) -> Option<&Node> {
        let mut all = Vec::new();
        self.walk(&mut all);
        all.into_iter().find(|n| n.name == name)
    }
}

/// What an answer says.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    /// The error code when the call failed (`NoSuchEntity`), else none.
    pub code: Option<String>,
    pub message: Option<String>,
    pub request_id: Option<String>,
    pub tree: Node,
}

impl Answer {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status) && self.code.is_none()
    }

    /// The failure in a line: `NoSuchEntity: The user with name x cannot be found.`
    pub fn failure(&self) -> String {
        format!(
            "{}: {}",
            self.code
                .clone()
                .unwrap_or_else(|| format!("HTTP {}", self.status)),
            self.message.as_deref().unwrap_or("(no message)")
        )
    }
}

/// Read an answer: XML (query, ec2) or JSON (json protocol). A body that is neither is
/// an answer with no tree: only its status speaks.
pub fn read_answer(status: u16, body: &[u8], json: bool) -> Result<Answer, String> {
    let tree = if body.iter().all(u8::is_ascii_whitespace) {
        Node::default()
    } else if json {
        let v: Value =
            serde_json::from_slice(body).map_err(|e| format!("the answer is not JSON: {e}"))?;
        from_json("", &v, 0)?
    } else {
        match from_xml(body) {
            Ok(t) => t,
            // A failure whose body is not AWS's error document (a proxy's HTML page):
            // its status is the answer. A success nobody can read is an error.
            Err(_) if !(200..300).contains(&status) => {
                return Ok(Answer {
                    status,
                    code: None,
                    message: Some("the answer is not an AWS error document".into()),
                    request_id: None,
                    tree: Node::default(),
                })
            }
            Err(e) => return Err(e),
        }
    };
    let failed = !(200..300).contains(&status);
    let (code, message) = if json {
        let code = tree
            .children
            .iter()
            .find(|c| c.name == "__type" || c.name == "code")
            .map(|c| c.text.rsplit('#').next().unwrap_or(&c.text).to_string());
        let message = tree
            .children
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case("message"))
            .map(|c| c.text.clone());
        (code.filter(|_| failed), message.filter(|_| failed))
    } else {
        let error = tree.first("Error");
        (
            error.and_then(|e| e.first("Code")).map(|c| c.text.clone()),
            error
                .and_then(|e| e.first("Message"))
                .map(|c| c.text.clone()),
        )
    };
    let request_id = tree
        .first("RequestId")
        .or_else(|| tree.first("RequestID"))
        .or_else(|| tree.first("requestId"))
        .map(|n| n.text.clone());
    Ok(Answer {
        status,
        code,
        message,
        request_id,
        tree,
    })
}

fn from_xml(body: &[u8]) -> Result<Node, String> {
    let mut reader = quick_xml::Reader::from_reader(body);
    let mut stack: Vec<Node> = vec![Node::default()];
    let mut buf = Vec::new();
    loop {
        let ev = reader
            .read_event_into(&mut buf)
            .map_err(|e| format!("the answer is not XML: {e}"))?;
        match ev {
            Event::Start(e) => {
                if stack.len() > MAX_DEPTH {
                    return Err(format!("the answer nests deeper than {MAX_DEPTH}"));
                }
                stack.push(Node {
                    name: local(e.name().as_ref()),
                    ..Node::default()
                });
            }
            Event::Empty(e) => {
                let n = Node {
                    name: local(e.name().as_ref()),
                    ..Node::default()
                };
                if let Some(top) = stack.last_mut() {
                    top.children.push(n);
                }
            }
            Event::Text(t) => {
                // Entities come as their own events (below).
                let s = t
                    .decode()
                    .map_err(|e| format!("the answer's text is not UTF-8: {e}"))?;
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&s);
                }
            }
            Event::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&String::from_utf8_lossy(&t));
                }
            }
            Event::GeneralRef(r) => {
                let name = String::from_utf8_lossy(&r).to_string();
                let entity = format!("&{name};");
                let s = quick_xml::escape::unescape(&entity)
                    .map_err(|e| format!("the answer's text: {e}"))?
                    .into_owned();
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&s);
                }
            }
            Event::End(_) => {
                let mut n = stack.pop().ok_or("the answer closes more than it opens")?;
                // Indentation between elements is not text.
                if n.text.trim().is_empty() {
                    n.text.clear();
                }
                match stack.last_mut() {
                    Some(top) => top.children.push(n),
                    None => return Err("the answer closes more than it opens".into()),
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if stack.len() != 1 {
        return Err("the answer is truncated".into());
    }
    Ok(stack.pop().unwrap_or_default())
}

fn local(name: &[u8]) -> String {
    let s = String::from_utf8_lossy(name);
    s.rsplit(':').next().unwrap_or(&s).to_string()
}

fn from_json(name: &str, v: &Value, depth: usize) -> Result<Node, String> {
    if depth > MAX_DEPTH {
        return Err(format!("the answer nests deeper than {MAX_DEPTH}"));
    }
    let mut n = Node {
        name: name.to_string(),
        ..Node::default()
    };
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                match x {
                    // A list is its items, each under the list's name.
                    Value::Array(items) => {
                        for i in items {
                            n.children.push(from_json(k, i, depth + 1)?);
                        }
                    }
                    _ => n.children.push(from_json(k, x, depth + 1)?),
                }
            }
        }
        Value::Array(items) => {
            for i in items {
                n.children.push(from_json("item", i, depth + 1)?);
            }
        }
        Value::String(s) => n.text = s.clone(),
        Value::Null => {}
        other => n.text = other.to_string(),
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_answers_are_errors_not_successes() {
        assert!(read_answer(200, b"<a><b></a>", false).is_err());
        assert!(read_answer(200, b"<a><b>", false).is_err());
        let deep = "<a>".repeat(100) + &"</a>".repeat(100);
        assert!(read_answer(200, deep.as_bytes(), false).is_err());
        assert!(read_answer(200, b"{", true).is_err());
        let html = read_answer(500, b"<!doctype html><title>500</title>", false).unwrap();
        assert!(!html.ok());
        assert!(html.failure().starts_with("HTTP 500"), "{}", html.failure());
    }
}
