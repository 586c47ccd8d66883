//! Errors collected while reading the spec and the reply table, so that one
//! build reports every bad entry. The spec has no spans: each error names
//! its file, entry and JSON pointer (`"CLIENT KILL".arguments[2]`), and the
//! macro attaches them all to its invocation.

/// Where an error is: a file, a JSON entry and a path inside it.
#[derive(Debug, Default)]
pub struct Ctxt {
    errors: Vec<String>,
}

impl Ctxt {
    pub fn new() -> Self {
        Ctxt::default()
    }

    /// Records `msg` about `at` (`"SET".arguments[2]`) in `file`.
    pub fn error(&mut self, file: &str, at: &str, msg: impl std::fmt::Display) {
        if at.is_empty() {
            self.errors.push(format!("{file}: {msg}"));
        } else {
            self.errors.push(format!("{file}: {at}: {msg}"));
        }
    }

    /// How many errors so far.
    pub fn count(&self) -> usize {
        self.errors.len()
    }

    /// Every error so far, or `Ok` if there were none.
    pub fn check(self) -> Result<(), Vec<String>> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(self.errors)
        }
    }
}

/// `"NAME"` as the entry part of a pointer.
pub fn entry(name: &str) -> String {
    format!("{name:?}")
}
