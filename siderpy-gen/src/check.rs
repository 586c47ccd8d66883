//! `--check`: what differs between a regenerated spec and the file on disk.

use std::collections::BTreeSet;
use std::fmt;

use serde_json::Value as Json;

/// How many names each section of a [`Diff`] lists before summing up the rest.
const SHOWN: usize = 50;

/// The differences between the spec on disk and a regenerated one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diff {
    /// Commands only the regenerated spec has.
    pub added: Vec<String>,
    /// Commands only the file on disk has.
    pub removed: Vec<String>,
    /// Commands in both whose entries differ, with the fields that differ.
    pub changed: Vec<(String, Vec<String>)>,
    /// Set when the file on disk is not a JSON object: why.
    pub unreadable: Option<String>,
}

impl Diff {
    /// True when the contents are the same and only the bytes differ
    /// (formatting, key order, escaping).
    pub fn formatting_only(&self) -> bool {
        self.unreadable.is_none() && self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// Compares the text of the spec on disk with a regenerated one.
///
/// `None` when the two are byte-identical.
///
/// ```
/// let new = serde_json::json!({"GET": {"arity": 2}, "SET": {"arity": -3}});
/// let text = siderpy_gen::pyjson::to_string(&new);
/// assert!(siderpy_gen::check::diff(&text, &new, &text).is_none());
/// let diff = siderpy_gen::check::diff(r#"{"GET": {"arity": 3}, "DEL": {}}"#, &new, &text).unwrap();
/// assert_eq!(diff.added, ["SET"]);
/// assert_eq!(diff.removed, ["DEL"]);
/// assert_eq!(diff.changed, [("GET".to_owned(), vec!["arity".to_owned()])]);
/// ```
pub fn diff(on_disk: &str, regenerated: &Json, regenerated_text: &str) -> Option<Diff> {
    if on_disk == regenerated_text {
        return None;
    }
    let empty = serde_json::Map::new();
    let new = regenerated.as_object().unwrap_or(&empty);
    let old = match serde_json::from_str::<Json>(on_disk) {
        Ok(Json::Object(old)) => old,
        Ok(other) => {
            return Some(Diff {
                unreadable: Some(format!("it holds a JSON {} instead of an object", kind(&other))),
                ..Diff::default()
            })
        }
        Err(e) => return Some(Diff { unreadable: Some(format!("it is not valid JSON: {e}")), ..Diff::default() }),
    };
    let mut diff = Diff::default();
    let names: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    for name in names {
        match (old.get(name), new.get(name)) {
            (None, Some(_)) => diff.added.push(name.clone()),
            (Some(_), None) => diff.removed.push(name.clone()),
            (Some(a), Some(b)) if a != b => diff.changed.push((name.clone(), changed_fields(a, b))),
            _ => {}
        }
    }
    Some(diff)
}

/// The top-level fields of two entries that differ (all of them, sorted).
fn changed_fields(old: &Json, new: &Json) -> Vec<String> {
    match (old.as_object(), new.as_object()) {
        (Some(a), Some(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            keys.into_iter().filter(|k| a.get(*k) != b.get(*k)).cloned().collect()
        }
        _ => vec!["(whole entry)".to_owned()],
    }
}

fn kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "boolean",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    }
}

/// A summary for people: counts, then the names of added (`+`), removed
/// (`-`) and changed (`~`, with the fields) commands.
impl fmt::Display for Diff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(why) = &self.unreadable {
            return write!(f, "the spec on disk is unreadable: {why}");
        }
        if self.formatting_only() {
            return f.write_str("same commands, but not byte-identical (formatting, key order or escaping differ)");
        }
        write!(f, "{} added, {} removed, {} changed", self.added.len(), self.removed.len(), self.changed.len())?;
        let section = |f: &mut fmt::Formatter<'_>, mark: char, lines: Vec<String>| -> fmt::Result {
            for line in lines.iter().take(SHOWN) {
                write!(f, "\n  {mark} {line}")?;
            }
            if lines.len() > SHOWN {
                write!(f, "\n  {mark} ... and {} more", lines.len() - SHOWN)?;
            }
            Ok(())
        };
        section(f, '+', self.added.clone())?;
        section(f, '-', self.removed.clone())?;
        section(f, '~', self.changed.iter().map(|(name, fields)| format!("{name} ({})", fields.join(", "))).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn summary_lists_names_and_fields() {
        let new = json!({"A": {"x": 1}, "B": {"x": 1, "y": 2}});
        let text = crate::pyjson::to_string(&new);
        let d = diff(r#"{"B": {"x": 1}, "C": 5}"#, &new, &text).unwrap();
        assert_eq!(d.to_string(), "1 added, 1 removed, 1 changed\n  + A\n  - C\n  ~ B (y)");
    }

    #[test]
    fn formatting_and_garbage() {
        let new = json!({"A": {"x": 1}});
        let text = crate::pyjson::to_string(&new);
        let d = diff(r#"{"A": {"x": 1}}"#, &new, &text).unwrap();
        assert!(d.formatting_only());
        assert!(d.to_string().contains("not byte-identical"));
        let d = diff("[1]", &new, &text).unwrap();
        assert!(d.to_string().contains("array instead of an object"), "{d}");
        let d = diff("{", &new, &text).unwrap();
        assert!(d.to_string().contains("not valid JSON"), "{d}");
    }

    #[test]
    fn long_lists_are_cut() {
        let new = json!({});
        let old: serde_json::Map<String, Json> = (0..60).map(|i| (format!("C{i:02}"), json!({}))).collect();
        let d = diff(&Json::Object(old).to_string(), &new, "{}\n").unwrap();
        let text = d.to_string();
        assert!(text.ends_with("  - ... and 10 more"), "{text}");
        assert_eq!(text.lines().count(), 1 + SHOWN + 1);
    }
}
