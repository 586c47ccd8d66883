//! Reply schemas: `COMMAND DOCS` does not carry a command's `reply_schema`
//! (the JSON Schema of its reply, whose `oneOf` branches say which
//! arguments produce which shape), but the server's source does, in one
//! JSON file per command under `src/commands/`. This merges them into a
//! generated spec, from that directory or from one JSON file.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value as Json;

use crate::Error;

/// The field of a command entry that holds its reply's schema.
pub const REPLY_SCHEMA: &str = "reply_schema";

/// The field of a subcommand's source file naming its container (`CLIENT`).
const CONTAINER: &str = "container";

/// Reply schemas by full command name (`"CLIENT KILL"`), read from `path`:
/// either a source tree's `src/commands/` directory (files like
/// `client-kill.json` holding `{"KILL": {"container": "CLIENT", ...}}`), or
/// one JSON object keyed by full command name whose values are entries
/// with a `reply_schema` (a `commands.json`) or the schemas themselves.
///
/// # Errors
/// [`Error::Io`] when a file cannot be read, [`Error::Shape`] when one is
/// not such JSON.
pub fn load(path: &Path) -> Result<BTreeMap<String, Json>, Error> {
    let mut out = BTreeMap::new();
    if path.is_dir() {
        let entries = std::fs::read_dir(path).map_err(|e| Error::Io(path.to_owned(), e))?;
        let mut files: Vec<_> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        for file in files {
            let root = read(&file)?;
            let Some(obj) = root.as_object() else { return Err(shape(&file, "not a JSON object")) };
            for (name, entry) in obj {
                let Some(schema) = entry.get(REPLY_SCHEMA) else { continue };
                let full = match entry.get(CONTAINER).and_then(Json::as_str) {
                    Some(container) => format!("{container} {name}"),
                    None => name.clone(),
                };
                out.insert(full.to_ascii_uppercase(), schema.clone());
            }
        }
    } else {
        let root = read(path)?;
        let Some(obj) = root.as_object() else { return Err(shape(path, "not a JSON object")) };
        for (name, entry) in obj {
            let schema = entry.get(REPLY_SCHEMA).unwrap_or(entry);
            out.insert(name.to_ascii_uppercase(), schema.clone());
        }
    }
    Ok(out)
}

/// Sets the `reply_schema` of every command of `spec` that `schemas` has
/// one for, replacing any it had; returns how many were set.
pub fn merge(spec: &mut Json, schemas: &BTreeMap<String, Json>) -> usize {
    let Some(commands) = spec.as_object_mut() else { return 0 };
    let mut n = 0;
    for (name, entry) in commands.iter_mut() {
        let (Some(schema), Some(entry)) = (schemas.get(&name.to_ascii_uppercase()), entry.as_object_mut()) else {
            continue;
        };
        entry.insert(REPLY_SCHEMA.to_owned(), schema.clone());
        n += 1;
    }
    n
}

fn read(path: &Path) -> Result<Json, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::Io(path.to_owned(), e))?;
    serde_json::from_str(&text).map_err(|e| shape(path, &format!("not valid JSON: {e}")))
}

fn shape(path: &Path, why: &str) -> Error {
    Error::Shape(format!("{}: {why}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn from_a_source_directory_and_from_a_file() {
        let dir = std::env::temp_dir().join(format!("siderpy-gen-schema-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let lpop = json!({"LPOP": {"arity": -2, "reply_schema": {"oneOf": [{"type": "null"}, {"type": "string"}]}}});
        let kill = json!({"KILL": {"container": "CLIENT", "reply_schema": {"type": "integer"}}});
        std::fs::write(dir.join("lpop.json"), lpop.to_string()).unwrap();
        std::fs::write(dir.join("client-kill.json"), kill.to_string()).unwrap();
        std::fs::write(dir.join("get.json"), r#"{"GET": {"arity": 2}}"#).unwrap();
        std::fs::write(dir.join("README"), "not json").unwrap();
        let schemas = load(&dir).unwrap();
        assert_eq!(schemas.keys().collect::<Vec<_>>(), ["CLIENT KILL", "LPOP"]);

        let mut spec = json!({"LPOP": {"arity": -2}, "CLIENT KILL": {"arity": -3}, "GET": {"arity": 2}});
        assert_eq!(merge(&mut spec, &schemas), 2);
        assert_eq!(spec["CLIENT KILL"][REPLY_SCHEMA], json!({"type": "integer"}));
        assert!(spec["GET"].get(REPLY_SCHEMA).is_none());

        let file = dir.join("schemas.json");
        std::fs::write(
            &file,
            json!({"GET": {"type": "string"}, "lpop": {"reply_schema": {"type": "null"}}}).to_string(),
        )
        .unwrap();
        let schemas = load(&file).unwrap();
        assert_eq!(schemas["GET"], json!({"type": "string"}));
        assert_eq!(schemas["LPOP"], json!({"type": "null"}));
        std::fs::write(dir.join("bad.json"), "[1]").unwrap();
        assert!(matches!(load(&dir), Err(Error::Shape(m)) if m.contains("bad.json")));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
