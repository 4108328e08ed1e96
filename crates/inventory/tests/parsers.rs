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
