//! parapet-wire reading AWS's answers (what `parapet respond` gets back from AWS or from
//! whatever answers at its endpoint): any status and body give an answer or an error,
//! never a panic, and a 2xx body that cannot be read is never an empty success.
//!
//! Input: one byte choosing the protocol (even: XML, odd: JSON) and the status (the byte
//! / 2 % 4: 200, 400, 404, 500), then the body.
#![no_main]
use libfuzzer_sys::fuzz_target;
use parapet_wire::read_answer;

fuzz_target!(|data: &[u8]| {
    let Some((&first, body)) = data.split_first() else {
        return;
    };
    let json = first % 2 == 1;
    let status = [200, 400, 404, 500][(first / 2 % 4) as usize];
    if let Ok(a) = read_answer(status, body, json) {
        let _ = a.failure();
        if status == 200 && a.code.is_none() {
            assert!(a.ok());
        }
        let mut want = std::collections::BTreeMap::new();
        want.insert("Status".to_string(), "*".to_string());
        let _ = a.tree.find(&want);
    }
});
