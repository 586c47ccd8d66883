//! Checks that span the whole API once it is lowered: what no single
//! command's lowering can see. Problems go to the context, all at once.

use std::collections::BTreeSet;

use crate::ctxt::{entry, Ctxt};
use crate::model::Api;
use crate::replies::{self, Replies};
use crate::spec::{Arg, ArgKind, Spec};

/// Checks `api` against the spec and the reply table it was lowered from.
pub fn api(spec: &Spec, api: &Api, replies: &Replies, cx: &mut Ctxt) {
    when_keys_name_setters(spec, api, replies, cx);
}

/// Every `when` key of a command's table entry that names one of its
/// optional arguments switched some setter's reply: one that did not names
/// an argument no setter sends alone (a block's member). A key naming no
/// optional argument is an option of another server version (HSCAN's
/// `novalues` is 7.4+; GEORADIUS's STORE `key` is `storekey` in newer
/// specs, where `key` is only the required key): the table serves every
/// spec, and a unit test checks each key names an argument of some spec.
fn when_keys_name_setters(spec: &Spec, api: &Api, replies: &Replies, cx: &mut Ctxt) {
    for plan in api.commands.iter().filter(|p| p.method.is_some()) {
        let Some(reply) = replies.entries.get(&plan.name) else { continue };
        let Some(cmd) = spec.commands.iter().find(|c| c.name == plan.name) else { continue };
        let mut names = BTreeSet::new();
        optional_names(cmd.arguments.iter().flatten(), false, &mut names);
        let used: BTreeSet<&str> = plan.setters.iter().filter_map(|s| s.when_key.as_deref()).collect();
        let unused = reply.when.iter().filter(|(k, _)| !used.contains(k.as_str()) && names.contains(k.as_str()));
        for (key, _) in unused {
            cx.error(
                replies::FILE,
                &format!("{}.when.{key}", entry(&plan.name)),
                "names an argument that no setter sends alone (name an optional argument, a oneof's member or a block's flag)",
            );
        }
    }
}

/// The names of the arguments that are optional or inside an optional one.
fn optional_names<'a>(args: impl Iterator<Item = &'a Arg>, inside: bool, out: &mut BTreeSet<&'a str>) {
    for a in args {
        let optional = inside || a.optional;
        if optional {
            out.insert(&a.name);
        }
        if let ArgKind::OneOf(m) | ArgKind::Block(m) = &a.kind {
            optional_names(m.iter(), optional, out);
        }
    }
}
