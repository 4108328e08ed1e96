//! The emulator: every opcode of protocols 0-5 over a symbolic stack, mark stack and
//! memo, as CPython's `_Unpickler` runs them, except that nothing is imported or called.
//! Imports, calls and attribute writes are recorded as they would happen, so a payload
//! that only runs before a later error (a truncated file) is still seen.

use super::args::{int_value, io_halt, latin1};
use super::input::{escape_decode, parse_int, raw_unicode_escape, BlobSource};
use super::value::{Value, KEEP_DICT};
use super::{Event, EventKind, Import, Limits};
use crate::globals::Globals;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Instant;

mod calls;

/// Why emulation stopped early.
#[derive(Debug, Clone)]
pub struct Halt {
    pub offset: u64,
    pub message: String,
    /// The budget ran out (as opposed to malformed input).
    pub budget: bool,
}

pub struct Vm<'g> {
    pub globals: &'g Globals,
    pub limits: Limits,
    pub imports: Vec<Import>,
    pub events: Vec<Event>,
    pub ops: u64,
    pub kept_bytes: usize,
    pub deadline: Option<Instant>,
    pub depth: u8,
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: HashMap<u64, Value>,
    protocol: u8,
}

/// The result of one complete pickle.
pub struct Done {
    pub value: Value,
    pub protocol: u8,
}

pub(super) type Step<T> = Result<T, Halt>;

impl<'g> Vm<'g> {
    pub fn new(globals: &'g Globals, limits: Limits, deadline: Option<Instant>, depth: u8) -> Self {
        Vm {
            globals,
            limits,
            imports: Vec::new(),
            events: Vec::new(),
            ops: 0,
            kept_bytes: 0,
            deadline,
            depth,
            stack: Vec::new(),
            marks: Vec::new(),
            memo: HashMap::new(),
            protocol: 0,
        }
    }

    /// Run one pickle from the source's position to its STOP. `ops_before` lets the
    /// caller tell "failed on the first opcode" (not a pickle) from a broken one.
    pub fn run(&mut self, src: &mut BlobSource<'_>) -> Step<Done> {
        self.stack.clear();
        self.marks.clear();
        self.memo.clear();
        self.protocol = 0;
        loop {
            let at = src.pos();
            let op = match src.byte().map_err(|e| io_halt(at, e))? {
                Some(op) => op,
                None => return Err(halt(at, "input ends before the STOP opcode")),
            };
            self.ops += 1;
            if self.ops > self.limits.max_ops {
                return Err(Halt {
                    offset: at,
                    message: format!("opcode budget of {} exhausted", self.limits.max_ops),
                    budget: true,
                });
            }
            if self.ops & 0xffff == 0 {
                if let Some(d) = self.deadline {
                    if Instant::now() > d {
                        return Err(Halt {
                            offset: at,
                            message: "time budget exhausted".into(),
                            budget: true,
                        });
                    }
                }
            }
            if op == b'.' {
                let value = self.pop(at)?;
                return Ok(Done {
                    value,
                    protocol: self.protocol,
                });
            }
            self.step(op, at, src)?;
            if self.stack.len() > self.limits.max_stack {
                return Err(Halt {
                    offset: at,
                    message: format!("stack grew past {} entries", self.limits.max_stack),
                    budget: true,
                });
            }
        }
    }

    /// Run a complete pickle embedded in the current one (joblib object arrays) without
    /// disturbing the outer stack and memo.
    pub fn run_inner(&mut self, src: &mut BlobSource<'_>) -> Step<()> {
        let saved = (
            std::mem::take(&mut self.stack),
            std::mem::take(&mut self.marks),
            std::mem::take(&mut self.memo),
            self.protocol,
        );
        let r = self.run(src);
        (self.stack, self.marks, self.memo, self.protocol) = saved;
        r.map(|_| ())
    }

    fn step(&mut self, op: u8, at: u64, src: &mut BlobSource<'_>) -> Step<()> {
        match op {
            b'(' => self.marks.push(self.stack.len()),
            b'0' => {
                if self.stack.len() > self.mark_floor() {
                    self.stack.pop();
                } else {
                    self.pop_mark(at)?;
                }
            }
            b'1' => {
                self.pop_mark(at)?;
            }
            b'2' => {
                let top = self.top(at)?.clone();
                self.push(top);
            }
            b'F' => {
                let l = self.text_line(src, at, "FLOAT")?;
                let v = l
                    .trim()
                    .parse::<f64>()
                    .map_err(|_| halt(at, "FLOAT is not a number"))?;
                self.push(Value::Float(v));
            }
            b'I' => {
                let l = self.text_line(src, at, "INT")?;
                let v = match l.as_str() {
                    "00" => Value::Bool(false),
                    "01" => Value::Bool(true),
                    t => int_value(t).ok_or_else(|| halt(at, "INT is not an integer"))?,
                };
                self.push(v);
            }
            b'L' => {
                let l = self.text_line(src, at, "LONG")?;
                let t = l.strip_suffix('L').unwrap_or(&l);
                let v = int_value(t).ok_or_else(|| halt(at, "LONG is not an integer"))?;
                self.push(v);
            }
            b'J' => {
                let b = self.fixed::<4>(src, at)?;
                self.push(Value::Int(i64::from(i32::from_le_bytes(b))));
            }
            b'K' => {
                let b = self.fixed::<1>(src, at)?;
                self.push(Value::Int(i64::from(b[0])));
            }
            b'M' => {
                let b = self.fixed::<2>(src, at)?;
                self.push(Value::Int(i64::from(u16::from_le_bytes(b))));
            }
            0x8a | 0x8b => {
                let n = if op == 0x8a {
                    u64::from(self.fixed::<1>(src, at)?[0])
                } else {
                    let n = i32::from_le_bytes(self.fixed::<4>(src, at)?);
                    u64::try_from(n).map_err(|_| halt(at, "LONG4 with a negative length"))?
                };
                let v = self.long_bytes(src, at, n)?;
                self.push(v);
            }
            b'G' => {
                let b = self.fixed::<8>(src, at)?;
                self.push(Value::Float(f64::from_be_bytes(b)));
            }
            b'N' => self.push(Value::None),
            0x88 => self.push(Value::Bool(true)),
            0x89 => self.push(Value::Bool(false)),
            b'S' => {
                let line = self.raw_line(src, at, "STRING")?;
                let q = line.first().copied();
                if line.len() < 2 || !matches!(q, Some(b'\'' | b'"')) || line.last().copied() != q {
                    return Err(halt(at, "STRING argument is not quoted"));
                }
                let bytes = escape_decode(&line[1..line.len() - 1]);
                self.push(Value::text(latin1(&bytes)));
            }
            b'V' => {
                let line = self.raw_line(src, at, "UNICODE")?;
                self.push(Value::text(raw_unicode_escape(&line)));
            }
            b'T' | b'X' | 0x8d | b'U' | 0x8c => {
                let n = match op {
                    b'U' | 0x8c => u64::from(self.fixed::<1>(src, at)?[0]),
                    0x8d => u64::from_le_bytes(self.fixed::<8>(src, at)?),
                    b'T' => {
                        let n = i32::from_le_bytes(self.fixed::<4>(src, at)?);
                        u64::try_from(n)
                            .map_err(|_| halt(at, "BINSTRING with a negative length"))?
                    }
                    _ => u64::from(u32::from_le_bytes(self.fixed::<4>(src, at)?)),
                };
                let v = self.string(src, at, n, matches!(op, b'X' | 0x8d | 0x8c))?;
                self.push(v);
            }
            b'B' | b'C' | 0x8e | 0x96 => {
                let n = match op {
                    b'C' => u64::from(self.fixed::<1>(src, at)?[0]),
                    b'B' => u64::from(u32::from_le_bytes(self.fixed::<4>(src, at)?)),
                    _ => u64::from_le_bytes(self.fixed::<8>(src, at)?),
                };
                let v = self.bytes(src, at, n)?;
                self.push(v);
            }
            0x97 | 0x98 => {
                if op == 0x97 {
                    self.push(Value::Opaque);
                } else {
                    self.top(at)?;
                }
            }
            b')' => self.push(Value::Tuple(Rc::from(Vec::new()))),
            b't' => {
                let items = self.pop_mark(at)?;
                self.push(Value::Tuple(items.into()));
            }
            0x85..=0x87 => {
                let n = usize::from(op - 0x84);
                let items = self.pop_n(at, n)?;
                self.push(Value::Tuple(items.into()));
            }
            b']' => self.push(Value::List),
            b'l' => {
                self.pop_mark(at)?;
                self.push(Value::List);
            }
            b'}' => self.push(new_dict()),
            b'd' => {
                let items = self.pop_mark(at)?;
                if items.len() % 2 == 1 {
                    return Err(halt(at, "DICT with an odd number of items"));
                }
                let d = new_dict();
                fill_dict(&d, items);
                self.push(d);
            }
            0x8f => self.push(Value::Set),
            0x91 => {
                self.pop_mark(at)?;
                self.push(Value::Set);
            }
            b'a' => {
                let v = self.pop(at)?;
                self.mutate_top(at, "append", std::slice::from_ref(&v))?;
            }
            b'e' | 0x90 => {
                let items = self.pop_mark(at)?;
                let method = if op == b'e' { "extend" } else { "add" };
                self.mutate_top(at, method, &items)?;
            }
            b's' => {
                let pair = self.pop_n(at, 2)?;
                self.mutate_top(at, "__setitem__", &pair)?;
            }
            b'u' => {
                let items = self.pop_mark(at)?;
                if items.len() % 2 == 1 {
                    return Err(halt(at, "SETITEMS with an odd number of items"));
                }
                self.mutate_top(at, "__setitem__", &items)?;
            }
            b'c' => {
                let module = self.text_line(src, at, "GLOBAL")?;
                let name = self.text_line(src, at, "GLOBAL")?;
                importable(at, &module, "GLOBAL")?;
                let g = self.import(at, &module, &name, "GLOBAL");
                self.push(g);
            }
            0x93 => {
                let name = self.pop(at)?;
                let module = self.pop(at)?;
                let g = match (module.as_str(), name.as_str()) {
                    (Some(m), Some(n)) => self.import(at, m, n, "STACK_GLOBAL"),
                    _ => {
                        self.event(
                            at,
                            EventKind::UnresolvableGlobal,
                            describe_operands(&module, &name),
                        );
                        Value::Opaque
                    }
                };
                self.push(g);
            }
            b'i' => {
                let module = self.text_line(src, at, "INST")?;
                let name = self.text_line(src, at, "INST")?;
                importable(at, &module, "INST")?;
                let args = self.pop_mark(at)?;
                let g = self.import(at, &module, &name, "INST");
                let v = self.call(at, g, Value::Tuple(args.into()));
                self.push(v);
            }
            b'o' => {
                let mut items = self.pop_mark(at)?;
                if items.is_empty() {
                    return Err(halt(at, "OBJ without a class"));
                }
                let cls = items.remove(0);
                let v = self.call(at, cls, Value::Tuple(items.into()));
                self.push(v);
            }
            b'R' | 0x81 => {
                let args = self.pop(at)?;
                let callee = self.pop(at)?;
                let v = self.call(at, callee, args);
                self.push(v);
            }
            0x92 => {
                let _kwargs = self.pop(at)?;
                let args = self.pop(at)?;
                let cls = self.pop(at)?;
                let v = self.call(at, cls, args);
                self.push(v);
            }
            b'b' => {
                let state = self.pop(at)?;
                let target = self.top(at)?.clone();
                self.build(at, target, state, src)?;
            }
            b'P' => {
                let l = self.raw_line(src, at, "PERSID")?;
                if !l.is_ascii() {
                    return Err(halt(at, "PERSID is not ASCII"));
                }
                self.push(Value::Persistent);
            }
            b'Q' => {
                self.pop(at)?;
                self.push(Value::Persistent);
            }
            0x82..=0x84 => {
                let code = match op {
                    0x82 => u32::from(self.fixed::<1>(src, at)?[0]),
                    0x83 => u32::from(u16::from_le_bytes(self.fixed::<2>(src, at)?)),
                    _ => i32::from_le_bytes(self.fixed::<4>(src, at)?) as u32,
                };
                self.event(at, EventKind::Extension, format!("extension code {code}"));
                self.push(Value::Opaque);
            }
            b'p' | b'g' => {
                let l = self.text_line(src, at, if op == b'p' { "PUT" } else { "GET" })?;
                let key = match parse_int(&l) {
                    Some(Ok(k)) if k >= 0 => k as u64,
                    _ => return Err(halt(at, "memo key is not a non-negative integer")),
                };
                self.memo_op(at, op == b'p', key)?;
            }
            b'q' | b'h' => {
                let key = u64::from(self.fixed::<1>(src, at)?[0]);
                self.memo_op(at, op == b'q', key)?;
            }
            b'r' | b'j' => {
                let key = u64::from(u32::from_le_bytes(self.fixed::<4>(src, at)?));
                self.memo_op(at, op == b'r', key)?;
            }
            0x94 => {
                let key = self.memo.len() as u64;
                self.memo_op(at, true, key)?;
            }
            0x80 => {
                let p = self.fixed::<1>(src, at)?[0];
                if p > 5 {
                    return Err(halt(at, &format!("unsupported pickle protocol {p}")));
                }
                self.protocol = p;
            }
            0x95 => {
                self.fixed::<8>(src, at)?;
            }
            other => {
                return Err(halt(at, &format!("unknown opcode 0x{other:02x}")));
            }
        }
        Ok(())
    }

    /// APPEND/SETITEM and friends: a method call on the top of the stack. Harmless on
    /// containers and on objects the pickle built, a call into an import otherwise.
    fn mutate_top(&mut self, at: u64, method: &str, items: &[Value]) -> Step<()> {
        let target = self.top(at)?.clone();
        match target {
            Value::Dict(d) if method == "__setitem__" => {
                fill_dict(&Value::Dict(d), items.to_vec());
            }
            Value::Global(i) => {
                let name = format!("{}.{method}", self.imports[i].full);
                self.event(at, EventKind::ComputedCall, name);
            }
            _ => {}
        }
        Ok(())
    }

    fn memo_op(&mut self, at: u64, put: bool, key: u64) -> Step<()> {
        if put {
            let v = self.top(at)?.clone();
            if self.memo.len() >= self.limits.max_memo && !self.memo.contains_key(&key) {
                return Err(Halt {
                    offset: at,
                    message: format!("memo grew past {} entries", self.limits.max_memo),
                    budget: true,
                });
            }
            self.memo.insert(key, v);
        } else {
            let v = self
                .memo
                .get(&key)
                .cloned()
                .ok_or_else(|| halt(at, &format!("memo key {key} was never stored")))?;
            self.push(v);
        }
        Ok(())
    }

    pub fn event(&mut self, at: u64, kind: EventKind, subject: String) {
        if self.events.len() < 1000 {
            self.events.push(Event {
                offset: at,
                kind,
                subject,
            });
        }
    }

    fn push(&mut self, v: Value) {
        self.stack.push(v);
    }
    fn mark_floor(&self) -> usize {
        self.marks.last().copied().unwrap_or(0)
    }
    fn pop(&mut self, at: u64) -> Step<Value> {
        if self.stack.len() <= self.mark_floor() {
            return Err(halt(at, "stack underflow"));
        }
        Ok(self.stack.pop().expect("checked above"))
    }
    fn pop_n(&mut self, at: u64, n: usize) -> Step<Vec<Value>> {
        if self.stack.len() < self.mark_floor() + n {
            return Err(halt(at, "stack underflow"));
        }
        Ok(self.stack.split_off(self.stack.len() - n))
    }
    fn top(&self, at: u64) -> Step<&Value> {
        if self.stack.len() <= self.mark_floor() {
            return Err(halt(at, "stack underflow"));
        }
        Ok(self.stack.last().expect("checked above"))
    }
    fn pop_mark(&mut self, at: u64) -> Step<Vec<Value>> {
        let m = self
            .marks
            .pop()
            .ok_or_else(|| halt(at, "no MARK to pop to"))?;
        Ok(self.stack.split_off(m))
    }
}

fn new_dict() -> Value {
    Value::Dict(Rc::new(RefCell::new(Vec::new())))
}

fn fill_dict(d: &Value, items: Vec<Value>) {
    let Value::Dict(d) = d else { return };
    let mut d = d.borrow_mut();
    let mut it = items.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        if d.len() < KEEP_DICT {
            d.push((k.frozen(0), v.frozen(0)));
        }
    }
}

fn describe_operands(module: &Value, name: &Value) -> String {
    let show = |v: &Value| match v {
        Value::Str { text, full: true } => format!("'{}'", text.escape_debug()),
        Value::Str { .. } => "a truncated string".into(),
        Value::Global(_) => "an imported object".into(),
        Value::Object(_) => "the result of a call".into(),
        _ => "a computed value".into(),
    };
    format!("module {} and name {}", show(module), show(name))
}

/// A module `__import__` can find: dotted identifiers. Anything else (the first line of
/// a Python or text file read as GLOBAL) fails to load right there, so it is malformed,
/// not an import.
fn importable(at: u64, module: &str, op: &str) -> Result<(), Halt> {
    let ident = |p: &str| {
        let mut c = p.chars();
        c.next().is_some_and(|f| f == '_' || f.is_alphabetic())
            && c.all(|x| x == '_' || x.is_alphanumeric())
    };
    if module.split('.').all(ident) {
        return Ok(());
    }
    Err(halt(
        at,
        &format!(
            "{op} module {:?} is not a module name (loading fails here)",
            crate::prefix(module, 60)
        ),
    ))
}

pub fn halt(offset: u64, message: &str) -> Halt {
    Halt {
        offset,
        message: message.to_string(),
        budget: false,
    }
}
