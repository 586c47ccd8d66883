// The crate's documentation is the README, whose Rust blocks are doctests
// (`cargo test --doc`): the guide users read on GitHub, crates.io and
// docs.rs is one text, and it compiles.
#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
// docs.rs labels what a feature adds.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use siderpy_core::*;
