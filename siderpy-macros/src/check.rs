//! Checks that span the whole API once it is lowered: what no single
//! command's lowering can see. Problems go to the context, all at once.

use std::collections::BTreeSet;

use crate::ctxt::{entry, Ctxt};
use crate::model::Api;
use crate::replies::{self, Replies};

/// Checks `api` against the reply table it was lowered with.
pub fn api(api: &Api, replies: &Replies, cx: &mut Ctxt) {
    when_keys_name_setters(api, replies, cx);
}

/// Every `when` key of a command's table entry switched some setter's
/// reply: a key that did not names no optional argument (a typo, or the
/// spec's name was not used).
fn when_keys_name_setters(api: &Api, replies: &Replies, cx: &mut Ctxt) {
    for plan in api.commands.iter().filter(|p| p.method.is_some()) {
        let Some(reply) = replies.entries.get(&plan.name) else { continue };
        let used: BTreeSet<&str> = plan.setters.iter().filter_map(|s| s.when_key.as_deref()).collect();
        for (key, _) in reply.when.iter().filter(|(k, _)| !used.contains(k.as_str())) {
            cx.error(
                replies::FILE,
                &format!("{}.when.{key}", entry(&plan.name)),
                "names no optional argument of the command (use its spec `name`)",
            );
        }
    }
}
