//! `--check`: what differs between a regenerated spec and the file on disk.

use std::collections::BTreeSet;
use std::fmt;

use serde_json::Value as Json;

/// How many names each section of a [`Diff`] lists before summing up the rest.
const SHOWN: usize = 50;

/// Fields of an entry that only document it: a change to these alone
/// changes no generated signature or behaviour, so it is listed last, and
/// only when asked for.
const DOC_FIELDS: &[&str] =
    &["summary", "since", "complexity", "group", "history", "doc_flags", "deprecated_since", "replaced_by"];

/// Fields of an argument that only document it.
const ARG_DOC_FIELDS: &[&str] = &["display_text", "since", "deprecated_since", "summary"];

/// The field holding a command's arguments (the generated signature).
const ARGUMENTS: &str = "arguments";

/// The differences between the spec on disk and a regenerated one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diff {
    /// Commands only the regenerated spec has.
    pub added: Vec<String>,
    /// Commands only the file on disk has.
    pub removed: Vec<String>,
    /// Commands in both whose entries differ beyond their docs, with what
    /// differs: `arguments` (what the generated method takes) first, with
    /// the arguments added (`+name`), removed (`-name`) or changed
    /// (`~name`), then the other fields (`arity`, `key_specs`...).
    pub changed: Vec<(String, Vec<String>)>,
    /// Commands whose entries differ only in their docs (summary, since,
    /// complexity, argument display texts...), with the fields.
    pub docs_only: Vec<(String, Vec<String>)>,
    /// Whether [`Display`](fmt::Display) lists [`Self::docs_only`] (else it
    /// counts them).
    pub show_docs: bool,
    /// Set when the file on disk is not a JSON object: why.
    pub unreadable: Option<String>,
}

impl Diff {
    /// True when the contents are the same and only the bytes differ
    /// (formatting, key order, escaping).
    pub fn formatting_only(&self) -> bool {
        self.unreadable.is_none()
            && self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
            && self.docs_only.is_empty()
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
            (Some(a), Some(b)) if a != b => {
                let fields = changed_fields(a, b);
                let (docs, rest): (Vec<String>, Vec<String>) =
                    fields.into_iter().partition(|f| DOC_FIELDS.contains(&f.as_str()));
                let mut rest: Vec<String> = rest
                    .into_iter()
                    .flat_map(|f| if f == ARGUMENTS { argument_changes(a, b) } else { vec![f] })
                    .collect();
                if rest.is_empty() {
                    let mut docs = docs;
                    if changed_fields(a, b).iter().any(|f| f == ARGUMENTS) {
                        docs.push(format!("{ARGUMENTS} (docs)"));
                    }
                    diff.docs_only.push((name.clone(), docs));
                } else {
                    rest.extend(docs);
                    diff.changed.push((name.clone(), rest));
                }
            }
            _ => {}
        }
    }
    // What changes a signature first.
    diff.changed.sort_by_key(|(_, fields)| !fields.iter().any(|f| f.starts_with(ARGUMENTS)));
    Some(diff)
}

/// What differs between two entries' arguments, docs aside: `arguments:
/// +name`, `arguments: -name`, `arguments: ~name` (top-level names); empty
/// when only their docs differ.
fn argument_changes(old: &Json, new: &Json) -> Vec<String> {
    let args = |e: &Json| -> Vec<(String, Json)> {
        e.get(ARGUMENTS)
            .and_then(Json::as_array)
            .map(|a| {
                a.iter()
                    .map(|x| (x.get("name").and_then(Json::as_str).unwrap_or("").to_owned(), strip_docs(x)))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (old, new) = (args(old), args(new));
    let mut out = Vec::new();
    for (name, a) in &new {
        match old.iter().find(|(n, _)| n == name) {
            None => out.push(format!("{ARGUMENTS}: +{name}")),
            Some((_, b)) if a != b => out.push(format!("{ARGUMENTS}: ~{name}")),
            _ => {}
        }
    }
    out.extend(old.iter().filter(|(n, _)| !new.iter().any(|(m, _)| m == n)).map(|(n, _)| format!("{ARGUMENTS}: -{n}")));
    if out.is_empty() && old.iter().map(|(n, _)| n).ne(new.iter().map(|(n, _)| n)) {
        out.push(format!("{ARGUMENTS}: order"));
    }
    out
}

/// An argument without the fields that only document it.
fn strip_docs(arg: &Json) -> Json {
    match arg {
        Json::Object(o) => Json::Object(
            o.iter()
                .filter(|(k, _)| !ARG_DOC_FIELDS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), if k == ARGUMENTS { strip_docs(v) } else { v.clone() }))
                .collect(),
        ),
        Json::Array(items) => Json::Array(items.iter().map(strip_docs).collect()),
        other => other.clone(),
    }
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

/// A summary for people, what users' code feels first: counts, then the
/// names of added (`+`) and removed (`-`) commands, then changed ones (`~`,
/// with what changed: arguments first), and last the commands whose docs
/// alone changed (`.`), listed when [`Diff::show_docs`] is set.
impl fmt::Display for Diff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(why) = &self.unreadable {
            return write!(f, "the spec on disk is unreadable: {why}");
        }
        if self.formatting_only() {
            return f.write_str("same commands, but not byte-identical (formatting, key order or escaping differ)");
        }
        write!(
            f,
            "{} added, {} removed, {} changed, {} with docs-only changes",
            self.added.len(),
            self.removed.len(),
            self.changed.len(),
            self.docs_only.len()
        )?;
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
        let listed =
            |c: &[(String, Vec<String>)]| c.iter().map(|(n, fields)| format!("{n} ({})", fields.join(", "))).collect();
        section(f, '~', listed(&self.changed))?;
        if self.show_docs {
            section(f, '.', listed(&self.docs_only))?;
        } else if !self.docs_only.is_empty() {
            write!(f, "\n  . {} commands with docs-only changes (--docs lists them)", self.docs_only.len())?;
        }
        Ok(())
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
        assert_eq!(d.to_string(), "1 added, 1 removed, 1 changed, 0 with docs-only changes\n  + A\n  - C\n  ~ B (y)");
    }

    #[test]
    fn signatures_first_docs_last() {
        let old = json!({
            "GET": {"summary": "old", "arguments": [{"name": "key", "type": "key", "display_text": "k"}]},
            "SET": {"arity": -3, "summary": "s", "arguments": [{"name": "key", "type": "key"}, {"name": "get", "type": "pure-token"}]},
            "TTL": {"arity": 2},
            "ZRANK": {"arguments": [{"name": "key", "type": "key"}]},
        });
        let new = json!({
            "GET": {"summary": "new", "arguments": [{"name": "key", "type": "key", "display_text": "key"}]},
            "SET": {"arity": -3, "summary": "t", "arguments": [{"name": "key", "type": "string"}, {"name": "ifeq", "type": "string"}]},
            "TTL": {"arity": 3},
            "ZRANK": {"arguments": [{"name": "key", "type": "key"}, {"name": "withscore", "type": "pure-token", "optional": true}]},
        });
        let text = crate::pyjson::to_string(&new);
        let mut d = diff(&old.to_string(), &new, &text).unwrap();
        assert_eq!(
            d.changed,
            [
                (
                    "SET".to_owned(),
                    vec![
                        "arguments: ~key".to_owned(),
                        "arguments: +ifeq".into(),
                        "arguments: -get".into(),
                        "summary".into()
                    ]
                ),
                ("ZRANK".to_owned(), vec!["arguments: +withscore".to_owned()]),
                ("TTL".to_owned(), vec!["arity".to_owned()]),
            ]
        );
        assert_eq!(d.docs_only, [("GET".to_owned(), vec!["summary".to_owned(), "arguments (docs)".into()])]);
        let text = d.to_string();
        assert!(text.starts_with("0 added, 0 removed, 3 changed, 1 with docs-only changes\n  ~ SET"), "{text}");
        assert!(text.ends_with("  . 1 commands with docs-only changes (--docs lists them)"), "{text}");
        d.show_docs = true;
        assert!(d.to_string().ends_with("  . GET (summary, arguments (docs))"), "{d}");
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
