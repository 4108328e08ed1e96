//! The emulator on hand-assembled pickles: bypass tricks, budgets, protocol features.

use parapet_modelscan::globals::Globals;
use parapet_modelscan::pickle::{scan_slice, Limits};
use proptest::prelude::*;

fn scan(data: &[u8]) -> parapet_modelscan::pickle::StreamScan {
    scan_slice(data, &Globals::default(), &Limits::default(), None, 0)
}

fn subjects(data: &[u8]) -> Vec<String> {
    scan(data)
        .findings()
        .into_iter()
        .map(|f| f.subject)
        .collect()
}

fn short_unicode(s: &str) -> Vec<u8> {
    let mut v = vec![0x8c, s.len() as u8];
    v.extend_from_slice(s.as_bytes());
    v
}

#[test]
fn stack_global_through_the_memo_is_resolved() {
    // 'os' and 'system' stored in the memo, fetched back for STACK_GLOBAL
    let mut p = vec![0x80, 4];
    p.extend(short_unicode("os"));
    p.extend([0x94]); // MEMOIZE 0
    p.extend(short_unicode("system"));
    p.extend([0x94, b'0', b'0']); // MEMOIZE 1, POP, POP
    p.extend([b'h', 0, b'h', 1, 0x93]); // BINGET 0, BINGET 1, STACK_GLOBAL
    p.extend(short_unicode("id"));
    p.extend([0x85, b'R', b'.']);
    let f = scan(&p).findings();
    assert_eq!(f[0].subject, "os.system");
    assert_eq!(f[0].offset, Some(22));
    assert_eq!(
        f[0].evidence.as_deref(),
        Some("called at offset 28 with ('id',)")
    );
}

#[test]
fn nested_pickle_payload_is_scanned() {
    let inner = b"cposix\nsystem\n(S'id'\ntR.";
    let mut p = b"cpickle\nloads\n(".to_vec();
    p.push(b'C');
    p.push(inner.len() as u8);
    p.extend_from_slice(inner);
    p.extend_from_slice(b"tR.");
    let s = subjects(&p);
    assert!(s.contains(&"pickle.loads".to_string()), "{s:?}");
    let f = scan(&p).findings();
    let nested = f
        .iter()
        .find(|f| f.kind == "nested-pickle")
        .expect("nested finding");
    assert!(nested.why.contains("posix.system"), "{nested:?}");
}

#[test]
fn getattr_on_an_allowed_global_is_judged_as_the_attribute() {
    // getattr(collections.OrderedDict, '__init__') -> a dunder hop
    let p = b"cbuiltins\ngetattr\n(ccollections\nOrderedDict\nS'__init__'\ntR.";
    let s = subjects(p);
    assert!(
        s.contains(&"collections.OrderedDict.__init__".to_string()),
        "{s:?}"
    );
}

#[test]
fn unlisted_globals_are_suspicious_and_allowed_ones_are_silent() {
    let p = b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\nq\x00)Rq\x01cmylib.models\nNet\nq\x02)R.";
    let f = scan(p).findings();
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].subject, "mylib.models.Net");
    assert_eq!(f[0].severity, parapet_modelscan::Severity::Suspicious);
}

#[test]
fn build_on_an_import_and_extension_codes_are_findings() {
    let p = b"ctorch\n_utils\n}S'x'\nS'y'\nsb0\x82\x01.";
    let kinds: Vec<String> = scan(p).findings().into_iter().map(|f| f.kind).collect();
    assert!(kinds.contains(&"attribute-write".to_string()), "{kinds:?}");
    assert!(kinds.contains(&"extension-code".to_string()), "{kinds:?}");
}

#[test]
fn budgets_stop_hostile_streams() {
    // a million DUPs of None: over a small opcode budget
    let mut p = vec![b'N'];
    p.extend(std::iter::repeat_n(b'2', 1_000_000));
    p.push(b'.');
    let limits = Limits {
        max_ops: 10_000,
        ..Limits::default()
    };
    let s = scan_slice(&p, &Globals::default(), &limits, None, 0);
    let h = s.halt.expect("budget halt");
    assert!(h.budget && h.message.contains("opcode budget"), "{h:?}");
    // a string length far beyond the input is an error, not an allocation
    let s = scan(b"\x80\x04\x8d\xff\xff\xff\xff\xff\xff\xff\x7f");
    assert!(s.halt.unwrap().message.contains("only 0 remain"));
    // deep nesting of marks costs nothing but stack entries
    let s = scan(&[b'('; 100_000]);
    assert!(s.halt.is_some());
}

#[test]
fn protocol_five_and_long_forms_parse() {
    // BYTEARRAY8, LONG4, BINUNICODE8, FRAME, EMPTY_SET + ADDITEMS, FROZENSET
    let mut p = vec![0x80, 5, 0x95];
    p.extend(20u64.to_le_bytes());
    p.push(0x96);
    p.extend(3u64.to_le_bytes());
    p.extend(b"abc");
    p.push(0x8b);
    p.extend(2i32.to_le_bytes());
    p.extend([1, 2]);
    p.push(0x8d);
    p.extend(2u64.to_le_bytes());
    p.extend(b"hi");
    p.extend([0x8f, b'(', b'K', 1, 0x90, b'(', b'K', 2, 0x91, b']', b'.']);
    let s = scan(&p);
    assert_eq!(s.pickles.len(), 1, "{:?}", s.halt);
    assert!(s.findings().is_empty());
}

#[test]
fn joblib_array_bytes_are_skipped_not_parsed() {
    // NumpyArrayWrapper BUILD followed by 16 raw bytes that look like a GLOBAL opcode
    let mut p = b"\x80\x03cjoblib.numpy_pickle\nNumpyArrayWrapper\n)\x81}(X\x05\x00\x00\x00shapeK\x02\x85X\x05\x00\x00\x00dtypecnumpy\ndtype\nX\x02\x00\x00\x00f8\x89\x88\x87Rub".to_vec();
    p.extend_from_slice(b"cos\nsystem\n\x00\x00\x00\x00\x00");
    p.push(b'.');
    let s = scan(&p);
    assert_eq!(s.pickles.len(), 1, "{:?}", s.halt);
    assert!(s.findings().is_empty(), "{:?}", s.findings());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        let s = scan(&data);
        let _ = s.findings();
    }

    #[test]
    fn arbitrary_opcode_soup_never_panics(ops in proptest::collection::vec(
        prop_oneof![
            Just(b'('), Just(b'N'), Just(b')'), Just(b'R'), Just(b'b'), Just(b's'), Just(b'u'),
            Just(b'a'), Just(b'e'), Just(b'0'), Just(b'1'), Just(b'2'), Just(0x93), Just(0x94),
            Just(0x81), Just(0x92), Just(b'o'), Just(b't'), Just(b'd'), Just(b'l'), Just(0x85),
            Just(b'}'), Just(b']'), Just(0x8f), Just(0x90), Just(0x91), Just(b'Q'), Just(b'.'),
        ], 0..300), prefix in proptest::collection::vec(any::<u8>(), 0..8)) {
        let mut data = vec![0x80, 4];
        data.extend(short_unicode("os"));
        data.extend(short_unicode("system"));
        data.extend(prefix);
        data.extend(ops);
        let _ = scan(&data).findings();
    }
}
