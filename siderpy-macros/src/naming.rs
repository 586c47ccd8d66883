//! How spec names become Rust identifiers. Every rule is a pure function over
//! strings, named once here and documented in the crate docs.

/// Commands whose method is not the snake_case of their name.
pub const METHOD_RENAMES: &[(&str, &str)] = &[("DEL", "delete"), ("EXEC", "execute")];

/// Appended to any identifier that is a Rust keyword (`TYPE` -> `type_`).
pub const KEYWORD_SUFFIX: &str = "_";

/// Appended to a setter whose name a method of `Cmd` itself already has
/// (`name` -> `name_arg`), or that an earlier setter of the same command
/// took; repeated until the name is free.
pub const COLLISION_SUFFIX: &str = "_arg";

/// Methods every `Cmd` has: setters may not take these names. A `Cmd` is
/// a `Future`, so the methods of the futures crate's `FutureExt` and
/// `TryFutureExt` are among them: a setter of the same name would be
/// ambiguous wherever those traits are in scope.
pub const CMD_METHODS: &[&str] = &[
    "returning",
    "with_timeout",
    "name",
    "queue",
    "into_future",
    "from_parts",
    "poll",
    // FutureExt
    "map",
    "map_into",
    "then",
    "left_future",
    "right_future",
    "into_stream",
    "flatten",
    "flatten_stream",
    "fuse",
    "inspect",
    "catch_unwind",
    "shared",
    "remote_handle",
    "boxed",
    "boxed_local",
    "unit_error",
    "never_error",
    "poll_unpin",
    "now_or_never",
    // TryFutureExt
    "flatten_sink",
    "map_ok",
    "map_err",
    "map_ok_or_else",
    "err_into",
    "ok_into",
    "and_then",
    "or_else",
    "try_flatten",
    "try_flatten_stream",
    "unwrap_or_else",
    "try_poll_unpin",
    "inspect_ok",
    "inspect_err",
];

/// Every Rust keyword, strict, reserved and edition-dependent: none of them
/// can name a method, parameter or type as is.
pub const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate", "do", "dyn", "else",
    "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "macro", "match", "mod",
    "move", "mut", "override", "priv", "pub", "ref", "return", "self", "Self", "static", "struct", "super", "trait",
    "true", "try", "type", "typeof", "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// The words of a spec name: runs of ASCII letters and digits, everything
/// else (`-`, `.`, `:`, `/`, spaces, `_`) separates them.
pub fn words(name: &str) -> Vec<String> {
    name.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_owned).collect()
}

/// `snake_case` of a spec name, or `None` when it has no letters or
/// digits. A name starting with a digit gets a leading `n`.
pub fn snake(name: &str) -> Option<String> {
    let words = words(name);
    if words.is_empty() {
        return None;
    }
    let s = words.iter().map(|w| w.to_ascii_lowercase()).collect::<Vec<_>>().join("_");
    Some(if s.starts_with(|c: char| c.is_ascii_digit()) { format!("n{s}") } else { s })
}

/// `CamelCase` of a spec name (`CLIENT NO-EVICT` -> `ClientNoEvict`), or
/// `None` when it has no letters or digits. A name starting with a digit
/// gets a leading `N`.
pub fn camel(name: &str) -> Option<String> {
    let words = words(name);
    if words.is_empty() {
        return None;
    }
    let mut s = String::new();
    for w in words {
        let lower = w.to_ascii_lowercase();
        let mut chars = lower.chars();
        if let Some(first) = chars.next() {
            s.push(first.to_ascii_uppercase());
            s.extend(chars);
        }
    }
    Some(if s.starts_with(|c: char| c.is_ascii_digit()) { format!("N{s}") } else { s })
}

/// `ident` made usable: a keyword gets [`KEYWORD_SUFFIX`].
pub fn unkeyword(ident: String) -> String {
    if KEYWORDS.contains(&ident.as_str()) {
        ident + KEYWORD_SUFFIX
    } else {
        ident
    }
}

/// The method of a command: [`METHOD_RENAMES`], else the snake_case of
/// the full name (`CLIENT KILL` -> `client_kill`, `JSON.GET` -> `json_get`),
/// keywords suffixed.
pub fn method(command: &str) -> Option<String> {
    if let Some((_, m)) = METHOD_RENAMES.iter().find(|(c, _)| c.eq_ignore_ascii_case(command)) {
        return Some((*m).to_owned());
    }
    snake(command).map(unkeyword)
}

/// The marker type of a command in `kind` (`CLIENT KILL` -> `ClientKill`).
pub fn kind(command: &str) -> Option<String> {
    camel(command).map(unkeyword)
}

/// The word an argument is known by: its token when the token is a word
/// (`EX`, `LIMIT`), else its name (`=` -> `equal`, `*` -> `auto_id`).
pub fn label<'a>(name: &'a str, token: Option<&'a str>) -> &'a str {
    match token {
        Some(t) if t.chars().any(|c| c.is_ascii_alphabetic()) => t,
        _ => name,
    }
}

/// `name`, or `name` with [`COLLISION_SUFFIX`] (then a number) appended
/// until `taken` says it is free.
pub fn free(name: String, taken: impl Fn(&str) -> bool) -> String {
    if !taken(&name) {
        return name;
    }
    let base = name + COLLISION_SUFFIX;
    if !taken(&base) {
        return base;
    }
    (2..).map(|i| format!("{base}{i}")).find(|n| !taken(n)).expect("some number is free")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods() {
        assert_eq!(method("GET").unwrap(), "get");
        assert_eq!(method("CLIENT KILL").unwrap(), "client_kill");
        assert_eq!(method("CLIENT NO-EVICT").unwrap(), "client_no_evict");
        assert_eq!(method("CONFIG GET").unwrap(), "config_get");
        assert_eq!(method("JSON.GET").unwrap(), "json_get");
        assert_eq!(method("GEORADIUS_RO").unwrap(), "georadius_ro");
        assert_eq!(method("DEL").unwrap(), "delete");
        assert_eq!(method("exec").unwrap(), "execute");
        assert_eq!(method("TYPE").unwrap(), "type_");
        assert_eq!(method("MOVE").unwrap(), "move_");
        assert_eq!(method("3D.ADD").unwrap(), "n3d_add");
        assert_eq!(method("..."), None);
    }

    #[test]
    fn kinds_and_labels() {
        assert_eq!(kind("CLIENT NO-EVICT").unwrap(), "ClientNoEvict");
        assert_eq!(kind("GEORADIUSBYMEMBER_RO").unwrap(), "GeoradiusbymemberRo");
        assert_eq!(kind("SELF").unwrap(), "Self_");
        assert_eq!(camel("ip:port").unwrap(), "IpPort");
        assert_eq!(snake("yes/no").unwrap(), "yes_no");
        assert_eq!(snake("unix-time-seconds").unwrap(), "unix_time_seconds");
        assert_eq!(label("seconds", Some("EX")), "EX");
        assert_eq!(label("approximately", Some("~")), "approximately");
        assert_eq!(label("empty_string", Some("")), "empty_string");
        assert_eq!(label("count", None), "count");
    }

    #[test]
    fn collisions() {
        let taken = ["name", "name_arg"];
        assert_eq!(free("name".into(), |n| taken.contains(&n)), "name_arg2");
        assert_eq!(free("count".into(), |n| taken.contains(&n)), "count");
        assert_eq!(free("returning".into(), |n| CMD_METHODS.contains(&n)), "returning_arg");
        assert_eq!(unkeyword("match".into()), "match_");
    }
}
