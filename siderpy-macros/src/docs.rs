//! The docs of generated items, built from the spec: a method's summary,
//! facts, syntax and reply line; notes on arguments; spec text made safe
//! for rustdoc.

use crate::model::Setter;
use crate::replies::ReplyTy;
use crate::spec::{Arg, ArgKind, Command};
use crate::syntax;

/// A method's docs: summary, facts, syntax, reply types, setters, then
/// `notes`.
pub fn method(cmd: &Command, reply: &ReplyTy, setters: &[Setter], notes: Vec<String>) -> Vec<String> {
    let mut docs = Vec::new();
    docs.push(if cmd.summary.is_empty() { format!("The `{}` command.", cmd.name) } else { plain(&cmd.summary) });
    docs.push(String::new());
    let mut facts = Vec::new();
    if let Some(s) = &cmd.since {
        facts.push(format!("Since {s}"));
    }
    if !cmd.group.is_empty() {
        facts.push(format!("group `{}`", cmd.group));
    }
    if let Some(c) = &cmd.complexity {
        facts.push(format!("complexity {}", plain(c)));
    }
    if !facts.is_empty() {
        docs.push(facts.join(" · "));
        docs.push(String::new());
    }
    docs.push("```text".into());
    docs.extend(syntax::wrap(&syntax::command(cmd)));
    docs.push("```".into());
    docs.push(String::new());
    let mut reply_line = format!("Replies `{reply}` by default");
    for s in setters.iter().filter(|s| s.reply.is_some()) {
        reply_line.push_str(&format!("; `{}` after `.{}()`", s.reply.as_ref().expect("filtered"), s.ident));
    }
    docs.push(reply_line + ".");
    if !setters.is_empty() {
        let list: Vec<String> = setters.iter().map(|s| format!("`.{}()`", s.ident)).collect();
        docs.push(String::new());
        docs.push(format!("Optional arguments are set on the returned `Cmd`: {}.", list.join(", ")));
    }
    for n in notes {
        docs.push(String::new());
        docs.push(n);
    }
    docs
}

pub fn contains_unix_time(a: &Arg) -> bool {
    match &a.kind {
        ArgKind::UnixTime => true,
        ArgKind::OneOf(m) | ArgKind::Block(m) => m.iter().any(contains_unix_time),
        _ => false,
    }
}

/// What to say of an argument's version and time unit, if anything.
pub fn since_note(a: &Arg) -> Option<String> {
    let since = a.since.as_ref().map(|s| format!("Since {s}."));
    let deprecated = a.deprecated_since.as_ref().map(|d| format!("Deprecated since {d}."));
    let mut notes: Vec<String> = since.into_iter().chain(deprecated).collect();
    if contains_unix_time(a) {
        notes.push(UNIX_TIME_NOTE.to_owned());
    }
    (!notes.is_empty()).then(|| notes.join(" "))
}

/// Said of every argument of type `unix-time`.
pub const UNIX_TIME_NOTE: &str = "Times of type `unix-time` are Unix timestamps (`i64`), in the unit the name says.";

/// Spec text made safe for rustdoc markdown: whitespace collapsed, and
/// brackets and angle brackets escaped outside code spans (so they are not
/// read as links or HTML).
pub fn plain(s: &str) -> String {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = String::with_capacity(s.len());
    let mut in_code = false;
    for c in s.chars() {
        if c == '`' {
            in_code = !in_code;
        } else if !in_code && matches!(c, '[' | ']' | '<' | '>' | '\\' | '*' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    if in_code {
        out.push('`');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docs_are_markdown_safe() {
        assert_eq!(plain("O(N) [see <x>]  `a [b]`\n y"), r"O(N) \[see \<x\>\] `a [b]` y");
    }
}
