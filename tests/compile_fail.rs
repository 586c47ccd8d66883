//! What the public API must refuse to compile, one folder of `tests/ui` per
//! topic. The `.stderr` snapshots depend on the rustc version: regenerate
//! them with `TRYBUILD=overwrite cargo test --test compile_fail` after an
//! upgrade, and review the diff.

#[test]
fn compile_fail() {
    let t = trybuild::TestCases::new();
    // Stateful commands (MULTI, WATCH, SELECT...) are not methods of a pool.
    t.compile_fail("tests/ui/pool/*.rs");
}
