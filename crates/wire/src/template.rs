//! Request URI templates of the rest protocols (`/{Bucket}/{Key+}?uploads`): parsing and
//! matching a request path and query against them.

use crate::text::percent_decode;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Part {
    Lit(String),
    Label(String),
    /// `{Key+}`: the rest of the path, slashes included.
    Greedy(String),
}

/// One path segment: literal text and labels (`{Name}`, or `prefix{Name}suffix`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Segment(pub Vec<Part>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    pub segments: Vec<Segment>,
    /// Literal query parts: `?uploads` is (uploads, None), `?list-type=2` is (list-type, Some(2)).
    pub query: Vec<(String, Option<String>)>,
    /// The number of literal characters in the path: more is more specific.
    pub literal_len: usize,
    pub greedy: bool,
}

/// What a matched template bound: label name -> percent-decoded value.
pub(crate) type Labels = Vec<(String, String)>;

impl Template {
    pub fn parse(uri: &str) -> Result<Template, String> {
        let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
        if !path.starts_with('/') {
            return Err(format!("request URI {uri:?} does not start with /"));
        }
        let mut segments = Vec::new();
        let mut literal_len = 0;
        let mut greedy = false;
        let raw: Vec<&str> = path[1..].split('/').collect();
        for seg in raw.iter() {
            // "/" alone is the root: no segments.
            if seg.is_empty() && raw.len() == 1 {
                break;
            }
            let mut parts = Vec::new();
            let mut rest = *seg;
            while !rest.is_empty() {
                match rest.find('{') {
                    Some(0) => {
                        let end = rest
                            .find('}')
                            .ok_or_else(|| format!("unclosed label in {uri:?}"))?;
                        let name = &rest[1..end];
                        if let Some(n) = name.strip_suffix('+') {
                            if greedy || end + 1 != rest.len() {
                                return Err(format!(
                                    "greedy label not alone at a segment's end in {uri:?}"
                                ));
                            }
                            greedy = true;
                            parts.push(Part::Greedy(n.to_string()));
                        } else {
                            parts.push(Part::Label(name.to_string()));
                        }
                        rest = &rest[end + 1..];
                    }
                    Some(n) => {
                        literal_len += n;
                        parts.push(Part::Lit(rest[..n].to_string()));
                        rest = &rest[n..];
                    }
                    None => {
                        literal_len += rest.len();
                        parts.push(Part::Lit(rest.to_string()));
                        rest = "";
                    }
                }
            }
            if parts.windows(2).any(|w| {
                matches!(w[0], Part::Label(_) | Part::Greedy(_))
                    && matches!(w[1], Part::Label(_) | Part::Greedy(_))
            }) {
                return Err(format!("adjacent labels in {uri:?}"));
            }
            segments.push(Segment(parts));
        }
        let query = query
            .split('&')
            .filter(|q| !q.is_empty())
            .map(|q| match q.split_once('=') {
                Some((k, v)) => (k.to_string(), Some(v.to_string())),
                None => (q.to_string(), None),
            })
            .collect();
        Ok(Template {
            segments,
            query,
            literal_len,
            greedy,
        })
    }

    /// Matches a raw (percent-encoded) request path. Segments are split before they are
    /// decoded, so an encoded `%2F` stays inside its label. A path that ends in one extra
    /// `/` matches a template without it (S3 reads `/bucket/` as `/bucket`).
    pub fn match_path(&self, path: &str) -> Option<Labels> {
        self.match_segments(&split_path(path)?)
    }

    /// [`Template::match_path`] on a path already split by [`split_path`].
    pub fn match_segments(&self, segs: &[&str]) -> Option<Labels> {
        let mut labels = Vec::new();
        let segs =
            if !self.greedy && segs.len() == self.segments.len() + 1 && segs.last() == Some(&"") {
                &segs[..segs.len() - 1]
            } else {
                segs
            };
        let Some(g) = self
            .segments
            .iter()
            .position(|s| matches!(s.0.last(), Some(Part::Greedy(_))))
        else {
            if segs.len() != self.segments.len() {
                return None;
            }
            for (seg, raw) in self.segments.iter().zip(segs) {
                match_segment(&seg.0, raw, &mut labels)?;
            }
            return Some(labels);
        };
        // A greedy label takes one or more whole segments: those before it match one to
        // one from the start, those after it from the end.
        let after = self.segments.len() - g - 1;
        if segs.len() < g + 1 + after {
            return None;
        }
        for (seg, raw) in self.segments[..g].iter().zip(segs) {
            match_segment(&seg.0, raw, &mut labels)?;
        }
        let tail = segs.len() - after;
        for (seg, raw) in self.segments[g + 1..].iter().zip(&segs[tail..]) {
            match_segment(&seg.0, raw, &mut labels)?;
        }
        let parts = &self.segments[g].0;
        let Some(Part::Greedy(name)) = parts.last() else {
            return None;
        };
        let prefix: String = parts[..parts.len() - 1]
            .iter()
            .map(|p| match p {
                Part::Lit(l) => l.as_str(),
                _ => "",
            })
            .collect();
        let joined = segs[g..tail].join("/");
        let decoded = percent_decode(&joined)?;
        let value = decoded.strip_prefix(prefix.as_str())?;
        if value.is_empty() {
            return None;
        }
        labels.push((name.clone(), value.to_string()));
        Some(labels)
    }
}

/// A raw path's segments (`/` is none); None without a leading `/`.
pub(crate) fn split_path(path: &str) -> Option<Vec<&str>> {
    let body = path.strip_prefix('/')?;
    Some(if body.is_empty() {
        Vec::new()
    } else {
        body.split('/').collect()
    })
}

/// Matches one raw segment against literal and label parts (labels are non-empty).
fn match_segment(parts: &[Part], raw: &str, labels: &mut Labels) -> Option<()> {
    let decoded = percent_decode(raw)?;
    let mut rest: &str = &decoded;
    let mut i = 0;
    while i < parts.len() {
        match &parts[i] {
            Part::Lit(l) => rest = rest.strip_prefix(l.as_str())?,
            Part::Label(name) => {
                // The label runs to the next literal (or the end of the segment).
                let value = match parts.get(i + 1) {
                    Some(Part::Lit(next)) => {
                        let end = rest.rfind(next.as_str())?;
                        let v = &rest[..end];
                        rest = &rest[end..];
                        v
                    }
                    _ => std::mem::take(&mut rest),
                };
                if value.is_empty() {
                    return None;
                }
                labels.push((name.clone(), value.to_string()));
            }
            Part::Greedy(_) => return None,
        }
        i += 1;
    }
    rest.is_empty().then_some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(t: &str, p: &str) -> Option<Labels> {
        Template::parse(t).unwrap().match_path(p)
    }

    #[test]
    fn labels_and_greedy() {
        assert_eq!(
            m("/{Bucket}/{Key+}", "/b/a/b%20c/d"),
            Some(vec![
                ("Bucket".into(), "b".into()),
                ("Key".into(), "a/b c/d".into())
            ])
        );
        assert_eq!(m("/{Bucket}/{Key+}", "/b"), None);
        assert_eq!(m("/{Bucket}/{Key+}", "/b/"), None);
        assert_eq!(
            m("/{Bucket}", "/b/"),
            Some(vec![("Bucket".into(), "b".into())])
        );
        assert_eq!(m("/{Bucket}", "/b/c"), None);
        assert_eq!(m("/", "/"), Some(vec![]));
        assert_eq!(m("/", "/x"), None);
        assert_eq!(
            m(
                "/2015-03-31/functions/{FunctionName}/invocations",
                "/2015-03-31/functions/f%2Fx/invocations"
            ),
            Some(vec![("FunctionName".into(), "f/x".into())])
        );
        assert_eq!(m("/functions/{F}/x", "/functions//x"), None);
        assert_eq!(
            m("/v/mrap/{name+}/policy", "/v/mrap/a/b/policy"),
            Some(vec![("name".into(), "a/b".into())])
        );
        assert_eq!(m("/v/mrap/{name+}/policy", "/v/mrap/policy"), None);
        assert_eq!(
            m("/v1/{Name}:run", "/v1/abc:run"),
            Some(vec![("Name".into(), "abc".into())])
        );
    }

    #[test]
    fn query_literals() {
        let t = Template::parse("/{Bucket}?select&select-type=2").unwrap();
        assert_eq!(
            t.query,
            vec![
                ("select".into(), None),
                ("select-type".into(), Some("2".into()))
            ]
        );
        assert!(Template::parse("/{A+}/{B+}").is_err());
        assert!(Template::parse("/{A+}x").is_err());
        assert!(Template::parse("x").is_err());
    }
}
