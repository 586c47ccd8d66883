//! `--merge`: a module's published spec completed by what a live server
//! reports. Modules publish their commands' arguments and docs
//! (`commands.json` at the root of their repositories) but no key specs or
//! flags; the server reports key specs, flags and arity for every loaded
//! module command, but often no arguments in `COMMAND DOCS`. The merge
//! keeps every field the published spec has and adds those it lacks from
//! the server, so the typed API gets both its arguments and its routing.

use serde_json::{Map, Value as Json};

use crate::Error;

/// Fields taken from the server when the published entry lacks them.
const FROM_SERVER: &[&str] = &["arity", "key_specs", "command_flags", "acl_categories", "hints", "doc_flags"];

/// `published` with, for each of its commands the server knows, the
/// fields it lacks among arity, key specs, flags, ACL categories, hints and
/// doc flags; and the server's commands that share a
/// prefix with the published ones (`JSON.` for RedisJSON) but that the
/// published spec does not have, as the server reports them.
///
/// # Errors
/// [`Error::Shape`] when `published` is not an object of commands.
pub fn merge(published: &Json, live: &Json) -> Result<Json, Error> {
    let published = published
        .as_object()
        .ok_or_else(|| Error::Shape("the published spec is not an object keyed by command name".into()))?;
    let live = live.as_object().cloned().unwrap_or_default();
    let prefixes: Vec<String> = published.keys().filter_map(|name| prefix(name)).collect();
    let mut out = Map::new();
    for (name, entry) in published {
        let mut entry = entry.clone();
        if let (Some(fields), Some(Json::Object(server))) = (entry.as_object_mut(), live.get(name)) {
            for &field in FROM_SERVER {
                match (fields.get(field), server.get(field)) {
                    (None | Some(Json::Null), Some(v)) => {
                        fields.insert(field.to_owned(), v.clone());
                    }
                    (Some(Json::Array(mine)), Some(v)) if mine.is_empty() => {
                        fields.insert(field.to_owned(), v.clone());
                    }
                    _ => {}
                }
            }
        }
        out.insert(name.clone(), entry);
    }
    for (name, entry) in live {
        let ours = prefix(&name).is_some_and(|p| prefixes.contains(&p));
        if ours && !out.contains_key(&name) {
            out.insert(name, entry);
        }
    }
    out.sort_keys();
    Ok(Json::Object(out))
}

/// `JSON.` of `JSON.GET`: a module's commands share it.
fn prefix(name: &str) -> Option<String> {
    let (p, _) = name.split_once('.')?;
    Some(format!("{p}."))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn published_arguments_and_server_routing() {
        let published = json!({
            "JSON.GET": {"summary": "Gets", "arguments": [{"name": "key", "type": "key"}], "group": "json"},
            "JSON.OLD": {"summary": "not loaded"},
        });
        let key_specs = json!([{"begin_search": {"type": "index", "spec": {"index": 1}}}]);
        let live = json!({
            "JSON.GET": {"summary": "server", "group": "module", "arity": -2, "key_specs": key_specs,
                         "command_flags": ["readonly"], "arguments": []},
            "JSON.NEW": {"summary": "newer than the published spec", "arity": 2},
            "BF.ADD": {"summary": "another module's"},
            "GET": {"summary": "the server's own"},
        });
        let merged = merge(&published, &live).unwrap();
        let get = &merged["JSON.GET"];
        assert_eq!((&get["summary"], &get["group"]), (&json!("Gets"), &json!("json")), "published fields win");
        assert_eq!(get["arguments"][0]["name"], "key");
        assert_eq!(
            (&get["arity"], &get["key_specs"], &get["command_flags"]),
            (&json!(-2), &key_specs, &json!(["readonly"]))
        );
        assert_eq!(merged["JSON.OLD"], published["JSON.OLD"]);
        assert_eq!(merged["JSON.NEW"]["arity"], 2);
        let names: Vec<&String> = merged.as_object().unwrap().keys().collect();
        assert_eq!(names, ["JSON.GET", "JSON.NEW", "JSON.OLD"]);
        assert!(merge(&json!([]), &live).is_err());
    }
}
