//! Rebuilds the generated command API when `SIDERPY_SPEC` (another spec
//! for `siderpy_macros::commands!`) changes: a proc-macro cannot say so.

fn main() {
    println!("cargo:rerun-if-env-changed=SIDERPY_SPEC");
    println!("cargo:rerun-if-changed=build.rs");
}
