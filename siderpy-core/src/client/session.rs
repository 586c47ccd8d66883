//! What a dedicated connection was changed to by its handle's own commands
//! (`SELECT`, `AUTH`, `HELLO`, `CLIENT SETNAME`, `RESET`, `CLIENT REPLY`),
//! so that a reconnect replays it and replies are awaited only when the
//! server sends them.
//!
//! Shared by every clone of a dedicated handle, since they share the
//! connection.

use crate::args::CmdArgs;
use crate::command::Effect;
use crate::error::{Error, Result};
use crate::info::{ConnectionInfo, Password, Protocol};

/// Whether the server answers commands (`CLIENT REPLY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Replies {
    On,
    /// `CLIENT REPLY OFF`: no reply until `CLIENT REPLY ON`.
    Off,
    /// `CLIENT REPLY SKIP`: no reply to the next command.
    Skip,
}

/// The settings a dedicated connection runs with now.
#[derive(Debug, Clone)]
pub(super) struct Session {
    /// What a reconnect sends in its handshake: the client's settings, as
    /// the handle's commands changed them.
    pub(super) info: ConnectionInfo,
    pub(super) replies: Replies,
}

/// A change a command makes to the session once the server accepts it,
/// worked out before sending (so a setting that cannot be replayed is
/// refused before it runs).
#[derive(Debug, Clone)]
pub(super) enum Change {
    Info(Box<ConnectionInfo>),
    Replies(Replies),
}

impl Session {
    pub(super) fn new(info: ConnectionInfo) -> Self {
        Session { info, replies: Replies::On }
    }

    /// What `args` (a command with `effect`) will change, if the server
    /// accepts it; `None` when it changes nothing a reconnect replays.
    ///
    /// # Errors
    /// [`Error::Usage`] for a setting a reconnect could not replay (a name
    /// or password that is not UTF-8, a db that is not a number).
    pub(super) fn change(&self, effect: Effect, args: &CmdArgs) -> Result<Option<Change>> {
        let words: Vec<String> = args
            .words()
            .iter()
            .map(|w| String::from_utf8(w.to_vec()))
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| Error::Usage("a setting a reconnect replays must be UTF-8 text".into()))?;
        // The name's words, then the arguments.
        let name_words = match effect {
            Effect::SetName | Effect::ClientReply => 2,
            _ => 1,
        };
        let words = words.get(name_words.min(words.len())..).unwrap_or_default();
        let mut info = self.info.clone();
        match effect {
            Effect::Select => {
                let db = words.first().and_then(|d| d.parse().ok());
                // Anything else is an error the server reports.
                let Some(db) = db else { return Ok(None) };
                info.db = db;
            }
            Effect::Auth => match words {
                [password] => {
                    info.username = None;
                    info.password = Some(Password::new(password.clone()));
                }
                [user, password] => {
                    info.username = Some(user.clone());
                    info.password = Some(Password::new(password.clone()));
                }
                _ => return Ok(None),
            },
            Effect::SetName => {
                let Some(name) = words.first() else { return Ok(None) };
                info.client_name = (!name.is_empty()).then(|| name.clone());
            }
            Effect::Hello => hello(&mut info, words),
            Effect::Reset => {
                // What RESET leaves: db 0, RESP2, the default user, no name.
                info.db = 0;
                info.protocol = Protocol::Resp2;
                info.username = None;
                info.password = None;
                info.client_name = None;
            }
            Effect::ClientReply => {
                let mode = match words.first().map(|w| w.to_ascii_uppercase()).as_deref() {
                    Some("ON") => Replies::On,
                    Some("OFF") => Replies::Off,
                    Some("SKIP") => Replies::Skip,
                    _ => return Ok(None),
                };
                return Ok(Some(Change::Replies(mode)));
            }
            _ => return Ok(None),
        }
        Ok(Some(Change::Info(Box::new(info))))
    }

    /// Whether the server will answer the command about to be sent (which
    /// makes `change`), moving the reply mode on past it. Called with the
    /// session locked around the send, so clones sharing the connection
    /// agree on which command goes unanswered.
    pub(super) fn answered(&mut self, change: Option<&Change>) -> bool {
        match change {
            // ON is answered whatever the mode was.
            Some(Change::Replies(Replies::On)) => {
                self.replies = Replies::On;
                true
            }
            Some(Change::Replies(Replies::Off)) => {
                self.replies = Replies::Off;
                false
            }
            // SKIP while OFF changes nothing on the server.
            Some(Change::Replies(Replies::Skip)) => {
                if self.replies != Replies::Off {
                    self.replies = Replies::Skip;
                }
                false
            }
            _ => match self.replies {
                Replies::On => true,
                Replies::Off => false,
                Replies::Skip => {
                    self.replies = Replies::On;
                    false
                }
            },
        }
    }

    /// Takes a change the server accepted (reply modes change as they are
    /// sent, in [`answered`](Self::answered)).
    pub(super) fn apply(&mut self, change: Change) {
        if let Change::Info(info) = change {
            self.info = *info;
        }
    }
}

/// `HELLO [protover [AUTH username password] [SETNAME clientname]]`.
fn hello(info: &mut ConnectionInfo, words: &[String]) {
    let mut rest = words;
    if let Some((proto, tail)) = rest.split_first() {
        match proto.as_str() {
            "2" => info.protocol = Protocol::Resp2,
            "3" => info.protocol = Protocol::Resp3,
            _ => {}
        }
        rest = tail;
    }
    while let Some((option, tail)) = rest.split_first() {
        match (option.to_ascii_uppercase().as_str(), tail) {
            ("AUTH", [user, password, tail @ ..]) => {
                info.username = (user != "default").then(|| user.clone());
                info.password = Some(Password::new(password.clone()));
                rest = tail;
            }
            ("SETNAME", [name, tail @ ..]) => {
                info.client_name = (!name.is_empty()).then(|| name.clone());
                rest = tail;
            }
            _ => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(words: &[&str]) -> CmdArgs {
        let mut c = CmdArgs::with_name(words[0]);
        for w in &words[1..] {
            c.push(*w);
        }
        c
    }

    fn after(session: &mut Session, effect: Effect, words: &[&str]) -> bool {
        let change = session.change(effect, &cmd(words)).unwrap();
        let answered = session.answered(change.as_ref());
        if let Some(change) = change {
            session.apply(change);
        }
        answered
    }

    #[test]
    fn settings_follow_the_commands() {
        let mut s = Session::new(ConnectionInfo::tcp("h", 1));
        after(&mut s, Effect::Select, &["SELECT", "4"]);
        after(&mut s, Effect::SetName, &["CLIENT SETNAME", "worker"]);
        after(&mut s, Effect::Auth, &["AUTH", "alice", "pw"]);
        assert_eq!(
            (s.info.db, s.info.client_name.as_deref(), s.info.username.as_deref()),
            (4, Some("worker"), Some("alice"))
        );
        assert_eq!(s.info.password.as_ref().map(Password::expose), Some("pw"));
        after(&mut s, Effect::Hello, &["HELLO", "3", "AUTH", "default", "pw2", "SETNAME", "w2"]);
        assert_eq!(
            (s.info.protocol, s.info.username.as_deref(), s.info.client_name.as_deref()),
            (Protocol::Resp3, None, Some("w2"))
        );
        after(&mut s, Effect::Reset, &["RESET"]);
        assert_eq!((s.info.db, s.info.protocol, s.info.client_name.as_deref()), (0, Protocol::Resp2, None));
        assert!(s.info.password.is_none());
        // SKIP and the next command go unanswered; then replies again.
        assert!(!after(&mut s, Effect::ClientReply, &["CLIENT", "REPLY", "skip"]));
        assert!(!after(&mut s, Effect::None, &["GET", "k"]));
        assert!(after(&mut s, Effect::None, &["GET", "k"]));
        // OFF until ON, which is answered; SKIP while OFF changes nothing.
        assert!(!after(&mut s, Effect::ClientReply, &["CLIENT REPLY", "OFF"]));
        assert!(!after(&mut s, Effect::ClientReply, &["CLIENT REPLY", "SKIP"]));
        assert!(!after(&mut s, Effect::None, &["GET", "k"]));
        assert!(!after(&mut s, Effect::None, &["GET", "k"]));
        assert!(after(&mut s, Effect::ClientReply, &["CLIENT REPLY", "ON"]));
        assert!(after(&mut s, Effect::None, &["GET", "k"]));
        assert_eq!(s.replies, Replies::On);
        // Not a number: the server says so, nothing changes.
        after(&mut s, Effect::Select, &["SELECT", "x"]);
        assert_eq!(s.info.db, 0);
        let bad = {
            let mut c = CmdArgs::with_name("CLIENT SETNAME");
            c.push(&b"\xff"[..]);
            c
        };
        assert!(matches!(s.change(Effect::SetName, &bad), Err(Error::Usage(_))));
    }
}
