// The spec path is relative to the invoking crate's Cargo.toml; a file
// that is not there is a compile error naming it.
siderpy::commands!(pub trait Missing = "specs/no-such-spec.json");

fn main() {}
