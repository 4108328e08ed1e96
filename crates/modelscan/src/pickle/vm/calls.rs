//! What the emulator does where CPython would import, call or set state: record it,
//! evaluate the few calls that only build data, and scan nested pickles.

use super::{Step, Vm};
use crate::globals::full_name;
use crate::pickle::input::BlobSource;
use crate::pickle::value::{Object, Value};
use crate::pickle::{EventKind, Import};
use std::rc::Rc;

impl Vm<'_> {
    /// Record an import as `find_class` would perform it.
    pub(super) fn import(&mut self, at: u64, module: &str, name: &str, via: &'static str) -> Value {
        let class = self.globals.classify(module, name);
        self.imports.push(Import {
            full: full_name(module, name),
            offset: at,
            via,
            class,
            calls: Vec::new(),
        });
        Value::Global(self.imports.len() - 1)
    }

    pub(super) fn call(&mut self, at: u64, callee: Value, args: Value) -> Value {
        let idx = match &callee {
            Value::Global(i) => Some(*i),
            _ => {
                let mut text = String::new();
                callee.preview(&|i| self.imports[i].full.clone(), &mut text, 120);
                self.event(at, EventKind::ComputedCall, text);
                None
            }
        };
        if let Some(i) = idx {
            let mut text = String::new();
            args.preview(&|i| self.imports[i].full.clone(), &mut text, 200);
            let imp = &mut self.imports[i];
            if imp.calls.len() < 3 {
                imp.calls.push((at, text));
            }
            let full = imp.full.clone();
            if let Some(v) = self.resolve_getattr(at, &full, &args) {
                return v;
            }
            if let Some(v) = encode_latin1(&full, &args) {
                return v;
            }
            self.nested(at, &full, &args);
        }
        Value::Object(Rc::new(Object { callee: idx, args }))
    }

    /// `getattr(<global>, 'name')` names a new global: judge it as one.
    fn resolve_getattr(&mut self, at: u64, callee: &str, args: &Value) -> Option<Value> {
        if callee != "builtins.getattr" {
            return None;
        }
        let Value::Tuple(items) = args else {
            return None;
        };
        let (Some(Value::Global(base)), Some(attr)) =
            (items.first(), items.get(1).and_then(Value::as_str))
        else {
            return None;
        };
        let base = self.imports[*base].full.clone();
        let (module, name) = base.rsplit_once('.').unwrap_or((&base, ""));
        let name = format!("{name}.{attr}");
        Some(self.import(at, module, &name, "getattr"))
    }

    /// A nested `pickle.loads(b"...")`: scan the payload too.
    fn nested(&mut self, at: u64, callee: &str, args: &Value) {
        const LOADERS: [&str; 6] = [
            "pickle.loads",
            "_pickle.loads",
            "pickle._loads",
            "dill.loads",
            "cloudpickle.loads",
            "joblib.numpy_pickle.loads",
        ];
        if !LOADERS.contains(&callee) || self.depth >= self.limits.max_depth {
            return;
        }
        let Value::Tuple(items) = args else { return };
        let Some(Value::Bytes {
            data: Some(data), ..
        }) = items.first()
        else {
            return;
        };
        let data = data.clone();
        let inner = crate::pickle::scan_slice(
            &data,
            self.globals,
            &self.limits,
            self.deadline,
            self.depth + 1,
        );
        for e in inner.findings() {
            self.event(
                at,
                EventKind::Nested,
                format!(
                    "{} at offset {} of the nested payload: {}",
                    e.subject,
                    e.offset.unwrap_or(0),
                    e.why
                ),
            );
        }
    }

    pub(super) fn build(
        &mut self,
        at: u64,
        target: Value,
        state: Value,
        src: &mut BlobSource<'_>,
    ) -> Step<()> {
        match &target {
            Value::Global(i) => {
                let name = self.imports[*i].full.clone();
                self.event(at, EventKind::AttributeWrite, name);
            }
            Value::Object(o) => {
                let wrapper = o
                    .callee
                    .map(|i| {
                        self.imports[i]
                            .full
                            .ends_with("numpy_pickle.NumpyArrayWrapper")
                    })
                    .unwrap_or(false);
                if wrapper {
                    let array = crate::pickle::joblib::skip_array(self, at, &state, src)?;
                    *self.stack.last_mut().expect("BUILD target is on the stack") = array;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// `_codecs.encode(text, 'latin1')` is how protocol 0-2 pickles spell bytes; evaluate it
/// so a nested `pickle.loads` payload built that way is scanned too.
fn encode_latin1(callee: &str, args: &Value) -> Option<Value> {
    if callee != "_codecs.encode" {
        return None;
    }
    let Value::Tuple(items) = args else {
        return None;
    };
    let text = items.first()?.as_str()?;
    let enc = items.get(1).and_then(Value::as_str).unwrap_or("utf-8");
    let data: Vec<u8> = match enc.to_ascii_lowercase().replace('-', "_").as_str() {
        "latin1" | "latin_1" | "iso8859_1" | "iso_8859_1" => text
            .chars()
            .map(|c| u8::try_from(u32::from(c)).ok())
            .collect::<Option<_>>()?,
        "utf8" | "utf_8" => text.as_bytes().to_vec(),
        _ => return None,
    };
    Some(Value::Bytes {
        len: data.len() as u64,
        data: Some(data.into()),
    })
}
