//! What the generated API must refuse to compile (and, under shadowed
//! prelude names and `deny(warnings)`, what it must accept). The `.stderr`
//! snapshots depend on the rustc version: regenerate them with
//! `TRYBUILD=overwrite cargo test -p siderpy-core --test ui` after an
//! upgrade, and review the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/wrong_type/*.rs");
    t.compile_fail("tests/ui/missing_argument/*.rs");
    t.compile_fail("tests/ui/oneof/*.rs");
    t.pass("tests/ui/hygiene/*.rs");
}
