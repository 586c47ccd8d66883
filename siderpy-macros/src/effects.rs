//! What a command does to the connection it is sent on, for the commands
//! that do something to it: the one table every executor reads (through the
//! `effect` of each command's `CommandInfo`).
//!
//! The spec cannot say this: `commands.json` has no flag for it (its
//! `pubsub` flag marks `PUBLISH` as much as `SUBSCRIBE`; `SELECT`, `AUTH` or
//! `CLIENT REPLY` carry nothing that sets them apart from `PING`). So it is
//! this table, one line per command, named by its full spec name; an entry
//! the spec does not have (an older server's spec) is simply unused. Every
//! command not listed here leaves its connection as it found it.
//!
//! Each value is the name of a variant of the runtime's `Effect` enum
//! (documented there); the macro emits it as `Effect::<variant>`.

/// `(command, Effect variant)`, sorted by command.
pub const EFFECTS: &[(&str, &str)] = &[
    ("ASKING", "Asking"),
    ("AUTH", "Auth"),
    ("CLIENT REPLY", "ClientReply"),
    ("CLIENT SETNAME", "SetName"),
    ("CLIENT TRACKING", "Tracking"),
    ("DISCARD", "EndTransaction"),
    ("EXEC", "EndTransaction"),
    ("HELLO", "Hello"),
    ("MONITOR", "Monitor"),
    ("MULTI", "Multi"),
    ("PSUBSCRIBE", "Subscribe"),
    ("PUNSUBSCRIBE", "Unsubscribe"),
    ("QUIT", "Quit"),
    ("READONLY", "ReadOnly"),
    ("READWRITE", "ReadOnly"),
    ("RESET", "Reset"),
    ("SELECT", "Select"),
    ("SSUBSCRIBE", "Subscribe"),
    ("SUBSCRIBE", "Subscribe"),
    ("SUNSUBSCRIBE", "Unsubscribe"),
    ("UNSUBSCRIBE", "Unsubscribe"),
    ("UNWATCH", "Unwatch"),
    ("WATCH", "Watch"),
];

/// The variant for commands that leave their connection as they found it.
pub const NONE: &str = "None";

/// The effect of the command called `name` (a full spec name).
pub fn of(name: &str) -> &'static str {
    match EFFECTS.binary_search_by(|(n, _)| n.cmp(&name)) {
        Ok(i) => EFFECTS[i].1,
        Err(_) => NONE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_and_found() {
        assert!(EFFECTS.windows(2).all(|w| w[0].0 < w[1].0), "sorted, once each");
        assert_eq!(of("CLIENT REPLY"), "ClientReply");
        assert_eq!(of("WATCH"), "Watch");
        assert_eq!(of("GET"), NONE);
        assert_eq!(of("CLIENT"), NONE);
    }

    #[test]
    fn every_entry_is_in_the_bundled_spec() {
        let mut cx = crate::ctxt::Ctxt::new();
        let spec = crate::spec::parse(include_str!("../../commands.json"), crate::spec::FILE, &mut cx);
        for (name, _) in EFFECTS {
            assert!(spec.commands.iter().any(|c| c.name == *name), "{name} is not in commands.json");
        }
    }
}
