//! A tour of siderpy (filled in below as the API grows).
fn main() {}
