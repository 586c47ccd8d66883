//! The syntax line of a command, as redis-cli and the Redis docs print it:
//! `SET key value [NX | XX] [GET] [EX seconds | PX milliseconds | ...]`.

use crate::spec::{Arg, ArgKind, Command};

/// How wide a syntax line may be in the docs before it wraps.
const WIDTH: usize = 78;

/// The whole syntax of `cmd`, on one line.
pub fn command(cmd: &Command) -> String {
    let mut s = cmd.name.clone();
    for a in cmd.arguments.iter().flatten() {
        s.push(' ');
        s.push_str(&arg(a));
    }
    s
}

/// The syntax of one argument (`[EX seconds | PX milliseconds]`).
pub fn arg(a: &Arg) -> String {
    let content = content(a);
    let token = a.token.as_deref().map(token_text);
    let mut s = match (&token, &a.kind) {
        (Some(t), ArgKind::PureToken) => t.clone(),
        (Some(t), _) if !(a.multiple && a.multiple_token) => format!("{t} {content}"),
        _ => content.clone(),
    };
    if a.multiple {
        let item = match (&token, a.multiple_token) {
            (Some(t), true) if a.kind != ArgKind::PureToken => format!("{t} {content}"),
            _ => content,
        };
        if a.multiple_token {
            s = item.clone();
        }
        s = format!("{s} [{item} ...]");
    }
    if a.optional {
        format!("[{s}]")
    } else {
        s
    }
}

/// An argument without its token, optional brackets or repetition.
fn content(a: &Arg) -> String {
    match &a.kind {
        ArgKind::PureToken => a.token.as_deref().map(token_text).unwrap_or_else(|| a.name.clone()),
        ArgKind::OneOf(members) => {
            let inner =
                members.iter().map(|m| arg(&Arg { optional: false, ..m.clone() })).collect::<Vec<_>>().join(" | ");
            if a.optional && a.token.is_none() {
                inner
            } else {
                format!("<{inner}>")
            }
        }
        ArgKind::Block(members) => members.iter().map(arg).collect::<Vec<_>>().join(" "),
        _ => a.display_text.clone().unwrap_or_else(|| a.name.clone()),
    }
}

fn token_text(t: &str) -> String {
    if t.is_empty() {
        "\"\"".to_owned()
    } else {
        t.to_owned()
    }
}

/// `line` broken at spaces into lines of at most [`WIDTH`] characters
/// (where it can), continuation lines indented by two spaces.
pub fn wrap(line: &str) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in line.split(' ') {
        let cur = lines.last_mut().expect("one line");
        if !cur.trim().is_empty() && cur.len() + 1 + word.len() > WIDTH {
            lines.push(format!("  {word}"));
        } else {
            if !cur.is_empty() {
                cur.push(' ');
            }
            cur.push_str(word);
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctxt::Ctxt;
    use crate::spec;

    fn syntax_of(name: &str) -> String {
        let mut cx = Ctxt::new();
        let s = spec::parse(include_str!("../../commands.json"), spec::FILE, &mut cx);
        command(s.commands.iter().find(|c| c.name == name).unwrap())
    }

    #[test]
    fn like_redis_cli() {
        assert_eq!(
            syntax_of("SET"),
            "SET key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL]"
        );
        assert_eq!(syntax_of("GET"), "GET key");
        assert_eq!(syntax_of("ZADD"), "ZADD key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]");
        assert_eq!(syntax_of("SORT"), "SORT key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC | DESC] [ALPHA] [STORE destination]");
        assert_eq!(
            syntax_of("ZUNIONSTORE"),
            "ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE <SUM | MIN | MAX>]"
        );
        assert_eq!(
            syntax_of("GEOSEARCH"),
            "GEOSEARCH key <FROMMEMBER member | FROMLONLAT longitude latitude> <BYRADIUS radius <M | KM | FT | MI> | BYBOX width height <M | KM | FT | MI>> [ASC | DESC] [COUNT count [ANY]] [WITHCOORD] [WITHDIST] [WITHHASH]"
        );
        assert_eq!(syntax_of("XADD"), "XADD key [NOMKSTREAM] [<MAXLEN | MINID> [= | ~] threshold [LIMIT count]] <* | id> field value [field value ...]");
        assert_eq!(syntax_of("MIGRATE").split(' ').nth(3).unwrap(), "<key");
        assert_eq!(
            syntax_of("CLIENT LIST"),
            "CLIENT LIST [TYPE <NORMAL | MASTER | REPLICA | PUBSUB>] [ID client-id [client-id ...]]"
        );
    }

    #[test]
    fn wraps_long_lines() {
        let lines = wrap(&syntax_of("SET"));
        assert_eq!(lines[0], "SET key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT");
        assert_eq!(lines[1], "  unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL]");
        assert_eq!(wrap("GET key"), ["GET key"]);
    }
}
