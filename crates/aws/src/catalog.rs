//! The IAM action catalog: every action AWS documents, with its access level and the
//! resource types it acts on. Generated data (`data/iam-catalog.tsv`), parsed once.

use std::collections::HashMap;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AccessLevel {
    List = 0,
    Read = 1,
    Write = 2,
    PermissionsManagement = 3,
    Tagging = 4,
}

impl AccessLevel {
    fn from_code(c: &str) -> Option<AccessLevel> {
        Some(match c {
            "L" => AccessLevel::List,
            "R" => AccessLevel::Read,
            "W" => AccessLevel::Write,
            "P" => AccessLevel::PermissionsManagement,
            "T" => AccessLevel::Tagging,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AccessLevel::List => "List",
            AccessLevel::Read => "Read",
            AccessLevel::Write => "Write",
            AccessLevel::PermissionsManagement => "Permissions management",
            AccessLevel::Tagging => "Tagging",
        }
    }
}

#[derive(Debug)]
pub struct ActionInfo {
    pub service: u16,
    pub name: &'static str,
    pub level: AccessLevel,
    /// Comma-separated resource types; a trailing `*` marks a required one.
    pub resource_types: &'static str,
}

#[derive(Debug)]
pub struct Service {
    pub prefix: &'static str,
    pub name: &'static str,
    /// Index range of this service's actions in `Catalog::actions`.
    pub actions: std::ops::Range<usize>,
    /// (resource type, ARN pattern)
    pub resources: Vec<(&'static str, &'static str)>,
}

#[derive(Debug)]
pub struct Catalog {
    pub services: Vec<Service>,
    pub actions: Vec<ActionInfo>,
    by_prefix: HashMap<String, usize>,
    by_action: HashMap<String, usize>,
    /// Service prefixes folded by [`fold`] -> service index.
    by_folded_prefix: HashMap<Box<str>, usize>,
    /// `service:operation` folded by [`fold`] -> the names it may stand for.
    by_folded: HashMap<Box<str>, Folded>,
}

/// What a folded name stands for: one canonical operation, or several (then none is
/// chosen: a match must be unambiguous).
#[derive(Debug, Clone, Copy)]
enum Folded {
    One(Canonical),
    Ambiguous,
}

/// A call's name as the catalog spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Canonical {
    /// The IAM service prefix (`rds`).
    pub service: &'static str,
    /// The operation (`DeleteDBInstance`, or an API operation name that is not an IAM
    /// action name, such as `s3:ListObjectsV2`).
    pub operation: &'static str,
    /// The catalog index of the IAM action the operation needs (`s3:ListBucket` for
    /// `ListObjectsV2`): its access level is the call's.
    pub action: usize,
}

static RAW: &str = include_str!("../data/iam-catalog.tsv");
static API_OPERATIONS: &str = include_str!("../data/api-operations.tsv");

/// The longest folded `service:operation` looked up; longer names are not in the catalog.
const FOLD_MAX: usize = 160;

/// Fold a service prefix and (optionally) an operation into `buf` for matching: ASCII
/// lowercase, surrounding whitespace trimmed, `_` and `-` dropped (boto3's
/// `delete_db_instance`, the AWS CLI's `delete-db-instance`), `service:operation`.
/// `None` for text no catalog name folds to (non-ASCII, inner whitespace, too long).
fn fold<'b>(service: &str, op: Option<&str>, buf: &'b mut [u8; FOLD_MAX]) -> Option<&'b str> {
    fn push(part: &str, buf: &mut [u8; FOLD_MAX], n: &mut usize) -> Option<()> {
        for b in part.trim().bytes() {
            match b {
                b'_' | b'-' => {}
                b if b.is_ascii_alphanumeric() => {
                    *buf.get_mut(*n)? = b.to_ascii_lowercase();
                    *n += 1;
                }
                _ => return None,
            }
        }
        Some(())
    }
    let mut n = 0;
    push(service, buf, &mut n)?;
    if let Some(op) = op {
        *buf.get_mut(n)? = b':';
        n += 1;
        push(op, buf, &mut n)?;
    }
    std::str::from_utf8(&buf[..n]).ok()
}

static GLOBAL: OnceLock<Catalog> = OnceLock::new();

/// The embedded catalog, parsed on first use (a few milliseconds).
pub fn catalog() -> &'static Catalog {
    GLOBAL.get_or_init(|| Catalog::parse(RAW).expect("embedded IAM catalog is well-formed"))
}

/// A malformed line of an embedded data file (`iam-catalog.tsv`,
/// `api-operations.tsv`, `resource-types.tsv`): built-in data is tested, so this names
/// the place for whoever regenerates it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: {why}", line.map(|l| format!(" line {l}")).unwrap_or_default())]
pub struct DataError {
    pub file: &'static str,
    /// 1-based, when the problem is one line's.
    pub line: Option<usize>,
    pub why: String,
}

impl DataError {
    pub(crate) fn at(file: &'static str, line: usize, why: impl Into<String>) -> DataError {
        DataError {
            file,
            line: Some(line),
            why: why.into(),
        }
    }
}

impl Catalog {
    fn parse(raw: &'static str) -> Result<Catalog, DataError> {
        const FILE: &str = "iam-catalog.tsv";
        let at = |n: usize, why: &str| DataError::at(FILE, n + 1, why);
        let mut services: Vec<Service> = Vec::new();
        let mut actions = Vec::with_capacity(21_000);
        for (n, line) in raw.lines().enumerate() {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut f = line.split('\t');
            match f.next() {
                Some("S") => {
                    let prefix = f.next().ok_or_else(|| at(n, "no prefix"))?;
                    let name = f.next().unwrap_or(prefix);
                    services.push(Service {
                        prefix,
                        name,
                        actions: actions.len()..actions.len(),
                        resources: Vec::new(),
                    });
                }
                Some("R") => {
                    let svc = services.last_mut().ok_or_else(|| at(n, "R before S"))?;
                    let rt = f.next().unwrap_or_default();
                    let arn = f.next().unwrap_or_default();
                    svc.resources.push((rt, arn));
                }
                Some("A") => {
                    let si = services
                        .len()
                        .checked_sub(1)
                        .ok_or_else(|| at(n, "A before S"))?;
                    let name = f.next().ok_or_else(|| at(n, "no action"))?;
                    let level = f
                        .next()
                        .and_then(AccessLevel::from_code)
                        .ok_or_else(|| at(n, "bad level"))?;
                    actions.push(ActionInfo {
                        service: si as u16,
                        name,
                        level,
                        resource_types: f.next().unwrap_or_default(),
                    });
                    services[si].actions.end = actions.len();
                }
                _ => return Err(at(n, "unknown record")),
            }
        }
        let mut by_prefix = HashMap::new();
        for (i, s) in services.iter().enumerate() {
            by_prefix.insert(s.prefix.to_ascii_lowercase(), i);
        }
        let mut by_action = HashMap::with_capacity(actions.len());
        for (i, a) in actions.iter().enumerate() {
            let key =
                format!("{}:{}", services[a.service as usize].prefix, a.name).to_ascii_lowercase();
            by_action.insert(key, i);
        }
        let mut by_folded_prefix = HashMap::new();
        let mut buf = [0u8; FOLD_MAX];
        for (i, s) in services.iter().enumerate() {
            let whole = |why: String| DataError {
                file: FILE,
                line: None,
                why,
            };
            let key = fold(s.prefix, None, &mut buf)
                .ok_or_else(|| whole(format!("service {} does not fold", s.prefix)))?;
            if by_folded_prefix.insert(key.into(), i).is_some() {
                return Err(whole(format!("two service prefixes fold to {key}")));
            }
        }
        let mut by_folded: HashMap<Box<str>, Folded> = HashMap::with_capacity(actions.len());
        let mut add = |service: &'static str, operation: &'static str, action: usize| {
            let mut buf = [0u8; FOLD_MAX];
            let Some(key) = fold(service, Some(operation), &mut buf) else {
                return;
            };
            let c = Canonical {
                service,
                operation,
                action,
            };
            by_folded
                .entry(key.into())
                .and_modify(|f| {
                    if !matches!(f, Folded::One(o) if o.operation == operation) {
                        *f = Folded::Ambiguous
                    }
                })
                .or_insert(Folded::One(c));
        };
        for (i, a) in actions.iter().enumerate() {
            add(services[a.service as usize].prefix, a.name, i);
        }
        for (n, line) in API_OPERATIONS.lines().enumerate() {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut f = line.split('\t');
            let (Some(svc), Some(op), Some(iam), None) = (f.next(), f.next(), f.next(), f.next())
            else {
                return Err(DataError::at(
                    "api-operations.tsv",
                    n + 1,
                    "expected 3 fields",
                ));
            };
            let key = format!("{svc}:{iam}").to_ascii_lowercase();
            let &action = by_action.get(&key).ok_or_else(|| {
                DataError::at(
                    "api-operations.tsv",
                    n + 1,
                    format!("{svc}:{iam} is not in the catalog"),
                )
            })?;
            let service = services[actions[action].service as usize].prefix;
            add(service, op, action);
        }
        Ok(Catalog {
            services,
            actions,
            by_prefix,
            by_action,
            by_folded_prefix,
            by_folded,
        })
    }

    /// The catalog's spelling of `service:operation` written in any case, with
    /// surrounding whitespace, or as SDKs spell it (`delete_db_instance`,
    /// `delete-db-instance`, `deleteDBInstance`). `None` when it names no catalog action
    /// or API operation, or more than one. Allocation-free.
    pub fn canonical(&self, service: &str, operation: &str) -> Option<Canonical> {
        let mut buf = [0u8; FOLD_MAX];
        match self
            .by_folded
            .get(fold(service, Some(operation), &mut buf)?)?
        {
            Folded::One(c) => Some(*c),
            Folded::Ambiguous => None,
        }
    }

    /// The catalog's spelling of a service prefix given in any case, with surrounding
    /// whitespace, or with `_`/`-` dropped or added (`access_analyzer`). Allocation-free.
    pub fn service_prefix(&self, service: &str) -> Option<&'static str> {
        let mut buf = [0u8; FOLD_MAX];
        let i = self.by_folded_prefix.get(fold(service, None, &mut buf)?)?;
        Some(self.services[*i].prefix)
    }

    pub fn len(&self) -> usize {
        self.actions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// `service:Action` with the catalog's spelling.
    pub fn full_name(&self, idx: usize) -> String {
        let a = &self.actions[idx];
        format!("{}:{}", self.services[a.service as usize].prefix, a.name)
    }

    /// Look up one exact action, case-insensitively (`iam:passrole`).
    pub fn lookup(&self, action: &str) -> Option<usize> {
        self.by_action.get(&action.to_ascii_lowercase()).copied()
    }

    pub fn service(&self, prefix: &str) -> Option<&Service> {
        self.by_prefix
            .get(&prefix.to_ascii_lowercase())
            .map(|&i| &self.services[i])
    }

    /// Expand an IAM action pattern (`*`, `s3:Get*`, `iam:?assRole`) to catalog actions.
    /// Matching is case-insensitive, as IAM's is.
    pub fn expand(&self, pattern: &str) -> ActionSet {
        let mut set = ActionSet::empty(self.len());
        let p = pattern.trim().to_ascii_lowercase();
        if p == "*" {
            set.fill();
            return set;
        }
        let Some((svc, act)) = p.split_once(':') else {
            return set;
        };
        let svc_has_wild = svc.contains(['*', '?']);
        if !svc_has_wild {
            if let Some(s) = self.service(svc) {
                if act == "*" {
                    for i in s.actions.clone() {
                        set.insert(i);
                    }
                } else if !act.contains(['*', '?']) {
                    if let Some(i) = self.by_action.get(&p) {
                        set.insert(*i);
                    }
                } else {
                    for i in s.actions.clone() {
                        if glob_match(act.as_bytes(), self.actions[i].name.as_bytes()) {
                            set.insert(i);
                        }
                    }
                }
            }
            return set;
        }
        for s in &self.services {
            if glob_match(svc.as_bytes(), s.prefix.as_bytes()) {
                for i in s.actions.clone() {
                    if glob_match(act.as_bytes(), self.actions[i].name.as_bytes()) {
                        set.insert(i);
                    }
                }
            }
        }
        set
    }
}

/// Case-insensitive glob with `*` (any run) and `?` (one character); `pat` is lowercase.
pub fn glob_match(pat: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let (mut star, mut mark) = (usize::MAX, 0);
    while t < text.len() {
        if p < pat.len() && (pat[p] == b'?' || pat[p] == text[t].to_ascii_lowercase()) {
            p += 1;
            t += 1;
        } else if p < pat.len() && pat[p] == b'*' {
            star = p;
            mark = t;
            p += 1;
        } else if star != usize::MAX {
            p = star + 1;
            mark += 1;
            t = mark;
        } else {
            return false;
        }
    }
    while p < pat.len() && pat[p] == b'*' {
        p += 1;
    }
    p == pat.len()
}

/// A set of catalog actions as a bitset: expanding `*` to 20k actions stays cheap.
#[derive(Clone, PartialEq, Eq)]
pub struct ActionSet {
    words: Vec<u64>,
    len: usize,
}

impl std::fmt::Debug for ActionSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ActionSet({} actions)", self.count())
    }
}

impl ActionSet {
    pub fn empty(len: usize) -> ActionSet {
        ActionSet {
            words: vec![0; len.div_ceil(64)],
            len,
        }
    }

    pub fn fill(&mut self) {
        for w in &mut self.words {
            *w = u64::MAX;
        }
        let extra = self.words.len() * 64 - self.len;
        if extra > 0 {
            if let Some(last) = self.words.last_mut() {
                *last >>= extra;
            }
        }
    }

    pub fn insert(&mut self, i: usize) {
        self.words[i / 64] |= 1 << (i % 64);
    }

    pub fn contains(&self, i: usize) -> bool {
        self.words[i / 64] & (1 << (i % 64)) != 0
    }

    pub fn union_with(&mut self, o: &ActionSet) {
        for (a, b) in self.words.iter_mut().zip(&o.words) {
            *a |= b;
        }
    }

    pub fn subtract(&mut self, o: &ActionSet) {
        for (a, b) in self.words.iter_mut().zip(&o.words) {
            *a &= !b;
        }
    }

    pub fn complement(&self) -> ActionSet {
        let mut all = ActionSet::empty(self.len);
        all.fill();
        all.subtract(self);
        all
    }

    pub fn count(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    pub fn is_full(&self) -> bool {
        self.count() == self.len
    }

    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(wi, &w)| {
            let mut w = w;
            std::iter::from_fn(move || {
                if w == 0 {
                    return None;
                }
                let b = w.trailing_zeros() as usize;
                w &= w - 1;
                Some(wi * 64 + b)
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_data_names_file_and_line() {
        let e = Catalog::parse("# c\nS\tiam\tIAM\nX\tnope\n").err().unwrap();
        assert_eq!(e, DataError::at("iam-catalog.tsv", 3, "unknown record"));
        assert_eq!(e.to_string(), "iam-catalog.tsv line 3: unknown record");
        let e = Catalog::parse("A\tGetUser\tR\t\n").err().unwrap();
        assert_eq!(e.to_string(), "iam-catalog.tsv line 1: A before S");
    }

    #[test]
    fn catalog_is_complete_and_levels_are_right() {
        let c = catalog();
        assert!(c.len() > 15_000, "only {} actions", c.len());
        let cu = c.lookup("ec2:RunInstances").unwrap();
        assert_eq!(c.actions[cu].level, AccessLevel::Write);
        let go = c.lookup("s3:GetObject").unwrap();
        assert_eq!(c.actions[go].level, AccessLevel::Read);
        let cpv = c.lookup("IAM:createpolicyversion").unwrap();
        assert_eq!(c.actions[cpv].level, AccessLevel::PermissionsManagement);
        let ls = c.lookup("s3:ListAllMyBuckets").unwrap();
        assert_eq!(c.actions[ls].level, AccessLevel::List);
    }

    #[test]
    fn expands_wildcards() {
        let c = catalog();
        assert_eq!(c.expand("*").count(), c.len());
        let iam = c.expand("iam:*");
        assert_eq!(iam.count(), c.service("iam").unwrap().actions.len());
        let get = c.expand("s3:Get*");
        assert!(get.count() > 20);
        assert!(get.iter().all(|i| c.actions[i].name.starts_with("Get")));
        assert_eq!(c.expand("iam:?assRole").count(), 1);
        assert_eq!(c.expand("nosuchservice:*").count(), 0);
        assert!(c.expand("*:CreateAccessKey").count() >= 1);
    }

    #[test]
    fn glob_edge_cases() {
        assert!(glob_match(b"get*", b"GetObject"));
        assert!(glob_match(b"*object", b"GetObject"));
        assert!(!glob_match(b"get", b"GetObject"));
        assert!(glob_match(b"*", b""));
        assert!(glob_match(b"a*b*c", b"AxxBxxC"));
        assert!(!glob_match(b"a*b*c", b"AxxBxx"));
    }
}
