//! What the public API must refuse to compile, one folder of `tests/ui` per
//! topic, and (under shadowed prelude names and `deny(warnings)`) what the
//! generated code must accept. The `.stderr` snapshots depend on the rustc
//! version: regenerate them with `TRYBUILD=overwrite cargo test --test
//! compile_fail` after an upgrade, and review the diff.

#[test]
fn compile_fail() {
    let t = trybuild::TestCases::new();
    // Typed arguments: a wrong type, a missing required argument.
    t.compile_fail("tests/ui/wrong_type/*.rs");
    t.compile_fail("tests/ui/missing_argument/*.rs");
    // One argument or several where the spec takes several; nothing else.
    t.pass("tests/ui/one_or_many/*.rs");
    t.compile_fail("tests/ui/one_or_many_fail/*.rs");
    // Derives report every bad attribute, each at its span.
    t.compile_fail("tests/ui/derive/*.rs");
    // Mutually exclusive options cannot both be given.
    t.compile_fail("tests/ui/oneof/*.rs");
    // Stateful commands (MULTI, WATCH, SELECT...) are not methods of a pool.
    t.compile_fail("tests/ui/pool/*.rs");
    // `siderpy::commands!` says what is wrong with its input.
    t.compile_fail("tests/ui/user_spec/*.rs");
    // Generated code names everything by its full path.
    t.pass("tests/ui/hygiene/*.rs");
    // Commands are futures, with the futures crate's traits in scope.
    t.pass("tests/ui/futures/*.rs");
}
