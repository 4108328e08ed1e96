//! Version ordering as each ecosystem defines it: PEP 440 for PyPI, SemVer 2.0 for npm.

use std::cmp::Ordering;

/// A PEP 440 version. Ordering follows the specification: epoch, release (trailing zeros
/// ignored), then dev-only releases before pre-releases before the release before
/// post-releases, dev releases before what they lead to, local labels last.
#[derive(Debug, Clone)]
pub struct Pep440 {
    epoch: u64,
    release: Vec<u64>,
    pre: Option<(u8, u64)>,
    post: Option<u64>,
    dev: Option<u64>,
    local: Vec<Local>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Local {
    // alphanumeric sorts before numeric
    Alpha(String),
    Num(u64),
}

fn take_num(s: &str) -> (Option<u64>, &str) {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    if end == 0 {
        return (None, s);
    }
    (s[..end].parse().ok(), &s[end..])
}

fn strip_sep(s: &str) -> &str {
    s.strip_prefix(['.', '-', '_']).unwrap_or(s)
}

impl Pep440 {
    pub fn parse(input: &str) -> Option<Pep440> {
        let lower = input.trim().to_ascii_lowercase();
        let mut s = lower.strip_prefix('v').unwrap_or(&lower);
        let (public, local) = match s.split_once('+') {
            Some((p, l)) => (p, Some(l)),
            None => (s, None),
        };
        s = public;
        let mut v = Pep440 {
            epoch: 0,
            release: Vec::new(),
            pre: None,
            post: None,
            dev: None,
            local: Vec::new(),
        };
        if let Some((e, rest)) = s.split_once('!') {
            v.epoch = e.parse().ok()?;
            s = rest;
        }
        loop {
            let (n, rest) = take_num(s);
            v.release.push(n?);
            s = rest;
            match s.strip_prefix('.') {
                Some(r) if r.starts_with(|c: char| c.is_ascii_digit()) => s = r,
                _ => break,
            }
        }
        // pre-release
        let t = strip_sep(s);
        for (spell, kind) in [
            ("alpha", 0u8),
            ("beta", 1),
            ("preview", 2),
            ("pre", 2),
            ("rc", 2),
            ("a", 0),
            ("b", 1),
            ("c", 2),
        ] {
            if let Some(r) = t.strip_prefix(spell) {
                let (n, r) = take_num(strip_sep(r));
                v.pre = Some((kind, n.unwrap_or(0)));
                s = r;
                break;
            }
        }
        // post-release: "-N" or [sep](post|rev|r)[sep]N
        if let Some(r) = s
            .strip_prefix('-')
            .filter(|r| r.starts_with(|c: char| c.is_ascii_digit()))
        {
            let (n, r) = take_num(r);
            v.post = n;
            s = r;
        } else {
            let t = strip_sep(s);
            for spell in ["post", "rev", "r"] {
                if let Some(r) = t.strip_prefix(spell) {
                    let (n, r) = take_num(strip_sep(r));
                    v.post = Some(n.unwrap_or(0));
                    s = r;
                    break;
                }
            }
        }
        let t = strip_sep(s);
        if let Some(r) = t.strip_prefix("dev") {
            let (n, r) = take_num(strip_sep(r));
            v.dev = Some(n.unwrap_or(0));
            s = r;
        }
        if !s.is_empty() {
            return None;
        }
        if let Some(l) = local {
            for seg in l.split(['.', '-', '_']) {
                if seg.is_empty() || !seg.chars().all(|c| c.is_ascii_alphanumeric()) {
                    return None;
                }
                v.local.push(match seg.parse() {
                    Ok(n) => Local::Num(n),
                    Err(_) => Local::Alpha(seg.to_string()),
                });
            }
        }
        Some(v)
    }

    fn release_cmp(&self, other: &Self) -> Ordering {
        let n = self.release.len().max(other.release.len());
        for i in 0..n {
            let a = self.release.get(i).copied().unwrap_or(0);
            let b = other.release.get(i).copied().unwrap_or(0);
            match a.cmp(&b) {
                Ordering::Equal => {}
                o => return o,
            }
        }
        Ordering::Equal
    }

    /// (class, kind, n): a dev-only release sorts before every pre-release, a final
    /// release after them.
    fn pre_key(&self) -> (i8, u8, u64) {
        match (self.pre, self.post, self.dev) {
            (None, None, Some(_)) => (-1, 0, 0),
            (None, _, _) => (1, 0, 0),
            (Some((k, n)), _, _) => (0, k, n),
        }
    }
    fn post_key(&self) -> (i8, u64) {
        self.post.map_or((-1, 0), |n| (0, n))
    }
    fn dev_key(&self) -> (i8, u64) {
        self.dev.map_or((1, 0), |n| (0, n))
    }
}

impl Ord for Pep440 {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| self.release_cmp(other))
            .then_with(|| self.pre_key().cmp(&other.pre_key()))
            .then_with(|| self.post_key().cmp(&other.post_key()))
            .then_with(|| self.dev_key().cmp(&other.dev_key()))
            .then_with(|| self.local.cmp(&other.local))
    }
}
impl PartialOrd for Pep440 {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for Pep440 {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Pep440 {}

/// A SemVer 2.0 version (npm). A leading `v` or `=` is accepted, build metadata ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SemVer {
    core: [u64; 3],
    pre: Vec<Local>,
}

impl SemVer {
    pub fn parse(input: &str) -> Option<SemVer> {
        let s = input.trim().trim_start_matches(['v', '=']);
        let s = s.split_once('+').map_or(s, |(a, _)| a);
        let (core, pre) = match s.split_once('-') {
            Some((c, p)) => (c, Some(p)),
            None => (s, None),
        };
        let mut parts = core.split('.');
        let mut c = [0u64; 3];
        for slot in &mut c {
            let p = parts.next()?;
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            *slot = p.parse().ok()?;
        }
        if parts.next().is_some() {
            return None;
        }
        let mut v = SemVer {
            core: c,
            pre: Vec::new(),
        };
        if let Some(p) = pre {
            for id in p.split('.') {
                if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                    return None;
                }
                v.pre.push(match id.parse() {
                    Ok(n) if id.bytes().all(|b| b.is_ascii_digit()) => Local::Num(n),
                    _ => Local::Alpha(id.to_string()),
                });
            }
        }
        Some(v)
    }
}

impl Ord for SemVer {
    fn cmp(&self, other: &Self) -> Ordering {
        self.core
            .cmp(&other.core)
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                // numeric identifiers sort before alphanumeric ones in SemVer
                (false, false) => {
                    for (a, b) in self.pre.iter().zip(&other.pre) {
                        let o = match (a, b) {
                            (Local::Num(x), Local::Num(y)) => x.cmp(y),
                            (Local::Num(_), Local::Alpha(_)) => Ordering::Less,
                            (Local::Alpha(_), Local::Num(_)) => Ordering::Greater,
                            (Local::Alpha(x), Local::Alpha(y)) => x.cmp(y),
                        };
                        if o != Ordering::Equal {
                            return o;
                        }
                    }
                    self.pre.len().cmp(&other.pre.len())
                }
            })
    }
}
impl PartialOrd for SemVer {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Compare two versions of one ecosystem; `None` when either does not parse.
pub fn compare(eco: crate::Ecosystem, a: &str, b: &str) -> Option<Ordering> {
    match eco {
        crate::Ecosystem::PyPI => Some(Pep440::parse(a)?.cmp(&Pep440::parse(b)?)),
        crate::Ecosystem::Npm => Some(SemVer::parse(a)?.cmp(&SemVer::parse(b)?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(s: &str) -> Pep440 {
        Pep440::parse(s).unwrap_or_else(|| panic!("{s} parses"))
    }

    #[test]
    fn pep440_specification_order() {
        // the ordering example of PEP 440, ascending
        let order = [
            "1.dev0",
            "1.0.dev456",
            "1.0a1",
            "1.0a2.dev456",
            "1.0a12.dev456",
            "1.0a12",
            "1.0b1.dev456",
            "1.0b2",
            "1.0b2.post345.dev456",
            "1.0b2.post345",
            "1.0rc1.dev456",
            "1.0rc1",
            "1.0",
            "1.0+abc.5",
            "1.0+abc.7",
            "1.0+5",
            "1.0.post456.dev34",
            "1.0.post456",
            "1.0.15",
            "1.1.dev1",
        ];
        for w in order.windows(2) {
            assert!(p(w[0]) < p(w[1]), "{} < {}", w[0], w[1]);
        }
        assert_eq!(p("1.0"), p("1.0.0"));
        assert_eq!(p("1.0-1"), p("1.0.post1"));
        assert_eq!(p("1.0c1"), p("1.0rc1"));
        assert_eq!(p("v2.0.0-ALPHA.1"), p("2.0.0a1"));
        assert!(p("1!0.1") > p("2.0"));
        assert!(Pep440::parse("not a version").is_none());
        assert!(Pep440::parse("1.0+").is_none());
    }

    #[test]
    fn semver_order() {
        let order = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "1.0.1",
            "4.17.11",
            "4.17.12",
        ];
        for w in order.windows(2) {
            assert!(
                SemVer::parse(w[0]).unwrap() < SemVer::parse(w[1]).unwrap(),
                "{} < {}",
                w[0],
                w[1]
            );
        }
        assert_eq!(
            SemVer::parse("v1.2.3+build").unwrap(),
            SemVer::parse("1.2.3").unwrap()
        );
        assert!(SemVer::parse("1.2").is_none());
    }

    proptest! {
        #[test]
        fn pep440_is_a_total_order(a in "[0-9]{1,3}(\\.[0-9]{1,3}){0,3}((a|b|rc)[0-9])?(\\.post[0-9])?(\\.dev[0-9])?",
                                   b in "[0-9]{1,3}(\\.[0-9]{1,3}){0,3}((a|b|rc)[0-9])?(\\.post[0-9])?(\\.dev[0-9])?") {
            let (x, y) = (p(&a), p(&b));
            prop_assert_eq!(x.cmp(&y), y.cmp(&x).reverse());
        }

        #[test]
        fn parsers_never_panic(s in "\\PC{0,40}") {
            let _ = Pep440::parse(&s);
            let _ = SemVer::parse(&s);
        }
    }
}
