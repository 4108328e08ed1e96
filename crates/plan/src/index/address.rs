//! Terraform addresses, split without allocating: absolute resource instance addresses
//! (`module.a["x.y"].module.b[0].aws_s3_bucket.c[1]`) and the relative references that
//! configuration expressions list (`aws_iam_policy.p.arn`, `module.logs.policy_arn`,
//! `var.name`). Instance keys are numbers or quoted strings that may hold dots,
//! brackets and escaped quotes; only dots outside keys separate steps.

/// Byte ranges of the top-level steps of an address (split at dots outside `[...]`).
fn steps(s: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let (mut depth, mut in_str, mut escaped, mut start) = (0usize, false, false, 0usize);
    for (i, b) in s.bytes().enumerate() {
        if in_str {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' if depth > 0 => in_str = true,
            b'[' => depth += 1,
            b']' => depth = depth.saturating_sub(1),
            b'.' if depth == 0 => {
                out.push((start, i));
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push((start, s.len()));
    out
}

/// A step's name and its instance key (with brackets), if any: `b["x"]` -> (`b`, `["x"]`).
fn name_key(step: &str) -> (&str, Option<&str>) {
    match step.find('[') {
        Some(i) => (&step[..i], Some(&step[i..])),
        None => (step, None),
    }
}

/// An absolute resource instance address, as slices of the address text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Instance<'s> {
    /// The module instance with a trailing dot (`module.a["x"].`), or empty for root.
    pub module: &'s str,
    /// Module instance and resource without the instance key: the resource's group.
    pub group: &'s str,
    /// The instance key with brackets (`[0]`, `["k"]`), if any.
    pub key: Option<&'s str>,
}

/// Split `module.a["x"].data.aws_x.y[0]`. `None` when it is not a resource address.
pub fn instance(address: &str) -> Option<Instance<'_>> {
    let st = steps(address);
    let mut i = 0;
    while i + 2 < st.len() && &address[st[i].0..st[i].1] == "module" {
        i += 2;
    }
    let module_end = if i == 0 { 0 } else { st[i].0 };
    let rest = &st[i..];
    let n = match rest.first().map(|&(a, b)| &address[a..b]) {
        Some("data") => 3,
        Some("module") | None => return None,
        Some(_) => 2,
    };
    if rest.len() != n {
        return None;
    }
    let (a, b) = rest[n - 1];
    let (name, key) = name_key(&address[a..b]);
    if name.is_empty() || rest[..n - 1].iter().any(|&(a, b)| a == b) {
        return None;
    }
    Some(Instance {
        module: &address[..module_end],
        group: &address[..a + name.len()],
        key,
    })
}

/// The module instances an address is inside, outermost first: for each, the call
/// (`module.a["x"].module.b`, the parent instance plus the call name) and the instance
/// with its trailing dot (`module.a["x"].module.b[0].`).
pub fn module_chain(address: &str) -> Vec<(&str, &str)> {
    let st = steps(address);
    let mut out = Vec::new();
    let mut i = 0;
    while i + 2 < st.len() && &address[st[i].0..st[i].1] == "module" {
        let (a, b) = st[i + 1];
        let (name, _) = name_key(&address[a..b]);
        out.push((&address[..a + name.len()], &address[..=b]));
        i += 2;
    }
    out
}

/// The module instance an instance prefix is called from: `module.a.module.b[0].` ->
/// (`module.a.`, `b`). `None` for the root module.
pub fn parent_call(module: &str) -> Option<(&str, &str)> {
    let trimmed = module.strip_suffix('.')?;
    let st = steps(trimmed);
    if st.len() < 2 {
        return None;
    }
    let (a, b) = st[st.len() - 1];
    let (name, _) = name_key(&trimmed[a..b]);
    Some((&module[..st[st.len() - 2].0], name))
}

/// What one entry of an expression's `references` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reference<'s> {
    /// A resource or data source in the same module: `aws_x.y` / `data.aws_x.y`, with
    /// its instance key when the reference names one.
    Resource {
        group: &'s str,
        key: Option<&'s str>,
    },
    /// An output of a called module: `module.NAME[KEY].OUTPUT`; output `None` for the
    /// whole module object.
    Module {
        call: &'s str,
        key: Option<&'s str>,
        output: Option<&'s str>,
    },
    /// An input variable of the module the expression is in.
    Var(&'s str),
    /// `local.*`, `each.*`, `count.*`, `path.*`, `self.*`, `terraform.*`: nothing the
    /// plan's configuration lets us follow.
    Other,
}

/// Parse one reference string as Terraform writes it.
pub fn reference(r: &str) -> Reference<'_> {
    let st = steps(r);
    let step = |i: usize| st.get(i).map(|&(a, b)| &r[a..b]);
    let (first, _) = name_key(step(0).unwrap_or_default());
    match first {
        "var" => match step(1) {
            Some(s) => Reference::Var(name_key(s).0),
            None => Reference::Other,
        },
        "module" => match step(1) {
            Some(s) => {
                let (call, key) = name_key(s);
                Reference::Module {
                    call,
                    key,
                    output: step(2).map(|o| name_key(o).0),
                }
            }
            None => Reference::Other,
        },
        "local" | "each" | "count" | "path" | "self" | "terraform" | "" => Reference::Other,
        "data" => match (st.get(1), st.get(2)) {
            (Some(_), Some(&(a, b))) => {
                let (name, key) = name_key(&r[a..b]);
                Reference::Resource {
                    group: &r[..a + name.len()],
                    key,
                }
            }
            _ => Reference::Other,
        },
        _ => match st.get(1) {
            Some(&(a, b)) => {
                let (name, key) = name_key(&r[a..b]);
                Reference::Resource {
                    group: &r[..a + name.len()],
                    key,
                }
            }
            None => Reference::Other,
        },
    }
}

/// `module.a["x"].aws_s3_bucket.b[0]` -> `module.a.aws_s3_bucket.b`.
pub fn strip_keys(address: &str) -> String {
    let mut out = String::with_capacity(address.len());
    let st = steps(address);
    for (n, &(a, b)) in st.iter().enumerate() {
        if n > 0 {
            out.push('.');
        }
        out.push_str(name_key(&address[a..b]).0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_instance_addresses() {
        let a = r#"module.a["x.y]"].module.b[0].aws_s3_bucket.c["k\"]."]"#;
        let i = instance(a).unwrap();
        assert_eq!(i.module, r#"module.a["x.y]"].module.b[0]."#);
        assert_eq!(i.group, r#"module.a["x.y]"].module.b[0].aws_s3_bucket.c"#);
        assert_eq!(i.key, Some(r#"["k\"]."]"#));
        let d = instance("data.aws_iam_policy_document.p").unwrap();
        assert_eq!(
            (d.module, d.group, d.key),
            ("", "data.aws_iam_policy_document.p", None)
        );
        assert_eq!(instance("aws_x").map(|i| i.group), None);
        assert_eq!(instance("aws_x.y.z").map(|i| i.group), None);
        assert_eq!(instance("module.m").map(|i| i.group), None);
        assert_eq!(instance("module.m.module.n").map(|i| i.module), None);
        assert_eq!(
            module_chain(r#"module.a["x"].module.b[0].aws_x.y"#),
            vec![
                ("module.a", r#"module.a["x"]."#),
                (r#"module.a["x"].module.b"#, r#"module.a["x"].module.b[0]."#)
            ]
        );
        assert_eq!(
            parent_call(r#"module.a["x"].module.b[0]."#),
            Some((r#"module.a["x"]."#, "b"))
        );
        assert_eq!(parent_call("module.a."), Some(("", "a")));
        assert_eq!(parent_call(""), None);
    }

    #[test]
    fn parses_references() {
        use Reference::*;
        assert_eq!(
            reference("aws_iam_policy.p.arn"),
            Resource {
                group: "aws_iam_policy.p",
                key: None
            }
        );
        assert_eq!(
            reference(r#"aws_instance.w["a.b"].id"#),
            Resource {
                group: "aws_instance.w",
                key: Some(r#"["a.b"]"#)
            }
        );
        assert_eq!(
            reference(r#"data.template_file.foo[1].vars["baz"]"#),
            Resource {
                group: "data.template_file.foo",
                key: Some("[1]")
            }
        );
        assert_eq!(reference("data.template_file"), Other);
        assert_eq!(
            reference(r#"module.foo["k"].bar"#),
            Module {
                call: "foo",
                key: Some(r#"["k"]"#),
                output: Some("bar")
            }
        );
        assert_eq!(
            reference("module.foo"),
            Module {
                call: "foo",
                key: None,
                output: None
            }
        );
        assert_eq!(reference("var.example[0]"), Var("example"));
        for o in [
            "local.x",
            "each.key",
            "count.index",
            "path.module",
            "self.id",
            "terraform.workspace",
            "",
        ] {
            assert_eq!(reference(o), Other, "{o}");
        }
    }

    #[test]
    fn strips_instance_keys() {
        assert_eq!(
            strip_keys(r#"module.a["x.y]"].aws_s3_bucket.b[0]"#),
            "module.a.aws_s3_bucket.b"
        );
        assert_eq!(
            strip_keys(r#"module.a["q\"]"].aws_x.b"#),
            "module.a.aws_x.b"
        );
    }
}
