//! Generates siderpy's typed command API from a Redis command specification
//! (`commands.json`) at compile time. Work in progress: see the issue tracker.

#![forbid(unsafe_code)]
