//! Every parser of untrusted input on hostile bytes: no panics, whatever comes in.

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn random_bytes(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        parapet_inventory::fuzzing::all_parsers(&data);
    }

    #[test]
    fn almost_valid_documents(
        prefix in prop::sample::select(vec![
            "Metadata-Version: 2.1\nName: ", "[[package]]\nname = \"", "{\"lockfileVersion\":3,\"packages\":{\"node_modules/",
            "{\"default\":{\"", "EXPOSE ", "CMD vllm serve --port ", "c.ServerApp.ip = '", "{\"id\":\"X\",\"affected\":[{\"package\":{\"ecosystem\":\"PyPI\",\"name\":\"",
        ]),
        rest in "\\PC{0,200}",
    ) {
        parapet_inventory::fuzzing::all_parsers(format!("{prefix}{rest}").as_bytes());
    }
}

/// Lock files, manifests and OSV records nested a hundred thousand deep: refused by
/// the parsers' own depth limits (serde_json's 128, toml's), never a stack overflow.
#[test]
fn hostile_nesting_never_takes_a_reader_down() {
    let n = 100_000;
    for text in [
        format!("{}{}", "[".repeat(n), "]".repeat(n)),
        format!("{}1{}", "{\"a\":".repeat(n), "}".repeat(n)),
        format!("a = {}{}", "[".repeat(n), "]".repeat(n)),
        format!("a = {}{}", "{b = ".repeat(n), "}".repeat(n)),
        "[a.".repeat(n),
    ] {
        parapet_inventory::fuzzing::all_parsers(text.as_bytes());
    }
}
