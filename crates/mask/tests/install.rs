//! A site's own rules replace the embedded ones for the whole process (its own test
//! binary: the rules are process-wide).

use parapet_mask::{install, is_secret_name, masked, Masker, DEFAULT_RULES, MASK};
use serde_json::json;

#[test]
fn installed_rules_are_used_everywhere_and_only_once() {
    let custom = DEFAULT_RULES.replace("\"dsn\"", "\"dsn\", \"launchcode\"");
    install(Masker::from_toml(&custom).unwrap()).unwrap();
    assert!(is_secret_name("LAUNCH_CODE"));
    assert_eq!(masked(&json!({"launch_code": "0000"}))["launch_code"], MASK);
    let again = install(Masker::from_toml(DEFAULT_RULES).unwrap());
    assert!(again.is_err(), "rules cannot change once in use");
}
