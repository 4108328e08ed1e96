//! Policy documents and rule lists as a reviewer needs to read them: the statements and
//! rules removed and added, in full. Values are masked before they are described.

use parapet_model::{DiffDetail, DocumentChange, NetRule, PolicyStatement};
use serde_json::Value;

/// Statements of a policy document (a JSON object with `Statement`), masked; `None`
/// when the text is not one.
fn statements(doc: &str) -> Option<Vec<PolicyStatement>> {
    let mut v: Value = serde_json::from_str(doc).ok()?;
    if !matches!(v.get("Statement")?, Value::Array(_) | Value::Object(_)) {
        return None;
    }
    parapet_mask::mask_in_place(&mut v);
    Some(match &v["Statement"] {
        Value::Array(a) => a.iter().map(statement).collect(),
        one => vec![statement(one)],
    })
}

/// The statements removed and added between two policy documents (either may be absent),
/// or `None` when a present side is not a policy document.
pub(super) fn policy_detail(before: Option<&str>, after: Option<&str>) -> Option<DiffDetail> {
    let side = |d: Option<&str>| -> Option<Vec<PolicyStatement>> {
        match d {
            None => Some(Vec::new()),
            Some(t) if t.trim().is_empty() => Some(Vec::new()),
            Some(t) => statements(t),
        }
    };
    let (b, a) = (side(before)?, side(after)?);
    if before.is_none() && after.is_none() {
        return None;
    }
    Some(statement_diff(b, a))
}

/// Lists of blocks that each hold a `policy` (`inline_policy`): their statements.
pub(super) fn inline_policies_detail(removed: &[Value], added: &[Value]) -> Option<DiffDetail> {
    let docs = |items: &[Value]| -> Option<Vec<PolicyStatement>> {
        let mut out = Vec::new();
        for it in items {
            let doc = it.as_object()?.get("policy")?.as_str()?;
            if !doc.trim().is_empty() {
                out.extend(statements(doc)?);
            }
        }
        Some(out)
    };
    if removed.is_empty() && added.is_empty() {
        return None;
    }
    Some(statement_diff(docs(removed)?, docs(added)?))
}

fn statement_diff(b: Vec<PolicyStatement>, a: Vec<PolicyStatement>) -> DiffDetail {
    let key = |s: &PolicyStatement| {
        let mut k = s.clone();
        k.text.clear();
        for list in [&mut k.actions, &mut k.not_actions] {
            for x in list.iter_mut() {
                *x = x.to_ascii_lowercase();
            }
            list.sort();
        }
        k
    };
    let bk: Vec<_> = b.iter().map(key).collect();
    let ak: Vec<_> = a.iter().map(key).collect();
    let removed = b
        .iter()
        .zip(&bk)
        .filter(|(_, k)| !ak.contains(k))
        .map(|(s, _)| s.clone())
        .collect();
    let added = a
        .iter()
        .zip(&ak)
        .filter(|(_, k)| !bk.contains(k))
        .map(|(s, _)| s.clone())
        .collect();
    DiffDetail::Policy { removed, added }
}

fn strings(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = match v {
        Value::Null => Vec::new(),
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().flat_map(strings).collect(),
        other => vec![other.to_string()],
    };
    out.sort();
    out.dedup();
    out
}

fn principals(v: &Value) -> Vec<String> {
    let mut out = match v {
        Value::Null => Vec::new(),
        Value::String(s) if s == "*" => vec!["*".to_string()],
        Value::Object(o) => o
            .iter()
            .flat_map(|(kind, ids)| {
                strings(ids)
                    .into_iter()
                    .map(move |id| format!("{kind} {id}"))
            })
            .collect(),
        other => strings(other),
    };
    out.sort();
    out.dedup();
    out
}

fn conditions(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Value::Object(ops) = v {
        for (op, keys) in ops {
            match keys {
                Value::Object(keys) => {
                    for (k, vals) in keys {
                        let vals = strings(vals);
                        out.push(match vals.as_slice() {
                            [one] => format!("{op} {k} = {one}"),
                            _ => format!("{op} {k} in [{}]", vals.join(", ")),
                        });
                    }
                }
                other => out.push(format!("{op} {other}")),
            }
        }
    } else if !v.is_null() {
        out.push(v.to_string());
    }
    out.sort();
    out
}

fn field<'a>(st: &'a Value, name: &str) -> &'a Value {
    st.get(name).unwrap_or(&Value::Null)
}

fn statement(st: &Value) -> PolicyStatement {
    let mut s = PolicyStatement {
        text: String::new(),
        sid: field(st, "Sid")
            .as_str()
            .filter(|x| !x.is_empty())
            .map(String::from),
        effect: field(st, "Effect")
            .as_str()
            .unwrap_or("(no Effect)")
            .to_string(),
        actions: strings(field(st, "Action")),
        not_actions: strings(field(st, "NotAction")),
        resources: strings(field(st, "Resource")),
        not_resources: strings(field(st, "NotResource")),
        principals: principals(field(st, "Principal")),
        not_principals: principals(field(st, "NotPrincipal")),
        conditions: conditions(field(st, "Condition")),
    };
    let mut t = s.effect.clone();
    if !s.not_actions.is_empty() {
        t.push_str(&format!(
            " every action except {}",
            s.not_actions.join(", ")
        ));
    } else if !s.actions.is_empty() {
        t.push_str(&format!(" {}", s.actions.join(", ")));
    } else {
        t.push_str(" (no Action)");
    }
    if !s.not_resources.is_empty() {
        t.push_str(&format!(
            " on every resource except {}",
            s.not_resources.join(", ")
        ));
    } else if !s.resources.is_empty() {
        t.push_str(&format!(" on {}", s.resources.join(", ")));
    }
    if !s.not_principals.is_empty() {
        t.push_str(&format!(
            " for everyone except {}",
            s.not_principals.join(", ")
        ));
    } else if !s.principals.is_empty() {
        let who: Vec<&str> = s
            .principals
            .iter()
            .map(|p| if p == "*" { "anyone (*)" } else { p.as_str() })
            .collect();
        t.push_str(&format!(" for {}", who.join(", ")));
    }
    if !s.conditions.is_empty() {
        t.push_str(&format!(" when {}", s.conditions.join(" and ")));
    }
    if let Some(sid) = &s.sid {
        t.push_str(&format!(" [Sid {sid}]"));
    }
    s.text = t;
    s
}

/// Lists whose elements are all network rules (security group `ingress`/`egress`
/// blocks, NACL entries): the rules removed and added, in full.
pub(super) fn rules_detail(attr: &str, removed: &[Value], added: &[Value]) -> Option<DiffDetail> {
    let is_rule = |v: &Value| {
        v.as_object().is_some_and(|o| {
            (o.contains_key("protocol") || o.contains_key("ip_protocol"))
                && (o.contains_key("from_port") || o.contains_key("rule_no"))
        })
    };
    if (removed.is_empty() && added.is_empty()) || !removed.iter().chain(added).all(is_rule) {
        return None;
    }
    let dir = if attr == "egress" { "to" } else { "from" };
    Some(DiffDetail::Rules {
        removed: removed.iter().map(|r| rule(r, dir)).collect(),
        added: added.iter().map(|r| rule(r, dir)).collect(),
    })
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn protocol_name(p: &str) -> String {
    match p {
        "-1" | "all" => "all".into(),
        "6" => "tcp".into(),
        "17" => "udp".into(),
        "1" => "icmp".into(),
        "58" => "icmpv6".into(),
        other => other.to_ascii_lowercase(),
    }
}

fn rule(v: &Value, dir: &str) -> NetRule {
    let f = |k: &str| field(v, k);
    let protocol = protocol_name(
        &scalar(f("protocol"))
            .or_else(|| scalar(f("ip_protocol")))
            .unwrap_or_default(),
    );
    let from = scalar(f("from_port"));
    let to = scalar(f("to_port"));
    let ports = match (protocol.as_str(), from.as_deref(), to.as_deref()) {
        ("all", _, _) => "all ports".to_string(),
        ("icmp" | "icmpv6", _, _) => {
            let t = scalar(f("icmp_type"))
                .or(from)
                .unwrap_or_else(|| "-1".into());
            let c = scalar(f("icmp_code")).or(to).unwrap_or_else(|| "-1".into());
            match (t.as_str(), c.as_str()) {
                ("-1", _) => "all types".to_string(),
                (t, "-1") => format!("type {t}"),
                (t, c) => format!("type {t} code {c}"),
            }
        }
        (_, Some(a), Some(b)) if a == b => format!("port {a}"),
        (_, Some("0"), Some("65535")) => "all ports".to_string(),
        (_, Some(a), Some(b)) => format!("ports {a}-{b}"),
        (_, a, b) => format!("ports {}-{}", a.unwrap_or("?"), b.unwrap_or("?")),
    };
    let list = |plural: &str, single: &str| -> Vec<String> {
        let mut l = strings(f(plural));
        l.extend(scalar(f(single)).filter(|s| !s.is_empty()));
        l
    };
    let mut r = NetRule {
        text: String::new(),
        rule_no: f("rule_no").as_i64(),
        action: scalar(f("action")).or_else(|| scalar(f("rule_action"))),
        protocol,
        ports,
        cidr_blocks: list("cidr_blocks", "cidr_block"),
        ipv6_cidr_blocks: list("ipv6_cidr_blocks", "ipv6_cidr_block"),
        prefix_list_ids: list("prefix_list_ids", "prefix_list_id"),
        security_groups: list("security_groups", "source_security_group_id"),
        self_: f("self").as_bool().unwrap_or(false),
        description: scalar(f("description")).filter(|d| !d.is_empty()),
    };
    let mut t = String::new();
    if let Some(n) = r.rule_no {
        t.push_str(&format!("#{n} "));
    }
    if let Some(a) = &r.action {
        t.push_str(a);
        t.push(' ');
    }
    if r.protocol == "all" {
        t.push_str("all traffic");
    } else {
        t.push_str(&r.protocol);
        t.push(' ');
        t.push_str(&r.ports);
    }
    let mut peers: Vec<&str> = Vec::new();
    for l in [
        &r.cidr_blocks,
        &r.ipv6_cidr_blocks,
        &r.prefix_list_ids,
        &r.security_groups,
    ] {
        peers.extend(l.iter().map(String::as_str));
    }
    if r.self_ {
        peers.push("this security group (self)");
    }
    if peers.is_empty() {
        t.push_str(&format!(" {dir} nothing"));
    } else {
        t.push_str(&format!(" {dir} {}", peers.join(", ")));
    }
    if let Some(d) = &r.description {
        t.push_str(&format!(" ({d:?})"));
    }
    r.text = t;
    r
}

/// Values listed per changed document; the rest is counted.
const MAX_DOCUMENT_CHANGES: usize = 100;
const MAX_SHOWN: usize = 160;

/// Two JSON documents held in strings, compared value by value on the real values and
/// shown from the masked ones (a changed secret shows as `(sensitive) -> (sensitive)`).
/// `None` unless a present side is a JSON object or array.
pub(super) fn document_detail(
    before: Option<&str>,
    after: Option<&str>,
    shown_before: Option<&str>,
    shown_after: Option<&str>,
) -> Option<DiffDetail> {
    let parse = |d: Option<&str>| -> Option<Option<Value>> {
        match d {
            None => Some(None),
            Some(t) if t.trim().is_empty() => Some(None),
            Some(t) => match serde_json::from_str::<Value>(t).ok()? {
                v @ (Value::Object(_) | Value::Array(_)) => Some(Some(v)),
                _ => None,
            },
        }
    };
    let (b, a) = (parse(before)?, parse(after)?);
    if b.is_none() && a.is_none() {
        return None;
    }
    let shown = |d: Option<&str>| d.and_then(|t| serde_json::from_str::<Value>(t).ok());
    let mut w = LeafDiff {
        shown_before: shown(shown_before),
        shown_after: shown(shown_after),
        out: Vec::new(),
        more: 0,
    };
    w.diff(&mut Vec::new(), b.as_ref(), a.as_ref());
    if w.more > 0 {
        w.out.push(DocumentChange {
            text: format!("… {} more value(s) differ", w.more),
            path: "…".into(),
            before: None,
            after: None,
        });
    }
    Some(DiffDetail::Document { changed: w.out })
}

fn compact(v: &Value) -> String {
    let s = v.to_string();
    if s.len() <= MAX_SHOWN {
        return s;
    }
    let cut = (0..=MAX_SHOWN)
        .rev()
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(0);
    format!("{}…", &s[..cut])
}

enum Step<'a> {
    Key(&'a str),
    At(usize),
}

struct LeafDiff {
    shown_before: Option<Value>,
    shown_after: Option<Value>,
    out: Vec<DocumentChange>,
    more: usize,
}

/// The masked value at a path; the mask when the path is not there (masked whole).
fn lookup(doc: &Option<Value>, path: &[Step]) -> String {
    let mut v = match doc {
        Some(v) => v,
        None => return parapet_mask::MASK.into(),
    };
    for s in path {
        let next = match s {
            Step::Key(k) => v.get(*k),
            Step::At(i) => v.get(*i),
        };
        match next {
            Some(n) => v = n,
            None => return format!("{:?}", parapet_mask::MASK),
        }
    }
    compact(v)
}

impl LeafDiff {
    fn diff<'a>(&mut self, path: &mut Vec<Step<'a>>, b: Option<&'a Value>, a: Option<&'a Value>) {
        if b == a {
            return;
        }
        match (b, a) {
            (Some(Value::Object(bo)), Some(Value::Object(ao))) => {
                let mut keys: Vec<&String> = bo.keys().chain(ao.keys()).collect();
                keys.sort();
                keys.dedup();
                for k in keys {
                    path.push(Step::Key(k));
                    self.diff(path, bo.get(k), ao.get(k));
                    path.pop();
                }
            }
            (Some(Value::Array(bl)), Some(Value::Array(al))) => {
                for i in 0..bl.len().max(al.len()) {
                    path.push(Step::At(i));
                    self.diff(path, bl.get(i), al.get(i));
                    path.pop();
                }
            }
            _ => {
                if self.out.len() >= MAX_DOCUMENT_CHANGES {
                    self.more += 1;
                    return;
                }
                let bs = b.map(|_| lookup(&self.shown_before, path));
                let as_ = a.map(|_| lookup(&self.shown_after, path));
                let mut p = String::new();
                for s in path.iter() {
                    match s {
                        Step::Key(k) if p.is_empty() => p.push_str(k),
                        Step::Key(k) => {
                            p.push('.');
                            p.push_str(k);
                        }
                        Step::At(i) => p.push_str(&format!("[{i}]")),
                    }
                }
                if p.is_empty() {
                    p.push_str("(document)");
                }
                let none = || "(none)".to_string();
                self.out.push(DocumentChange {
                    text: format!(
                        "{p}: {} -> {}",
                        bs.clone().unwrap_or_else(none),
                        as_.clone().unwrap_or_else(none)
                    ),
                    path: p,
                    before: bs,
                    after: as_,
                });
            }
        }
    }
}
