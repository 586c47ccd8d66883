//! Every entry of the spec has a generated method, except containers with
//! no arguments of their own (`CLIENT`, which only has subcommands).

use std::collections::BTreeSet;

#[test]
fn every_spec_entry_has_a_method() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/commands.json");
    let spec: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let containers: BTreeSet<&str> = spec.keys().filter_map(|k| k.split_once(' ').map(|(c, _)| c)).collect();
    let expected: BTreeSet<&str> = spec
        .iter()
        .filter(|(name, entry)| !(entry.get("arguments").is_none() && containers.contains(name.as_str())))
        .map(|(name, _)| name.as_str())
        .collect();
    let generated: BTreeSet<&str> = siderpy_core::__GENERATED_METHODS.iter().map(|(c, _)| *c).collect();
    let missing: Vec<_> = expected.difference(&generated).collect();
    let extra: Vec<_> = generated.difference(&expected).collect();
    println!("{} spec entries, {} generated methods", spec.len(), generated.len());
    assert!(missing.is_empty(), "no method for {missing:?}");
    assert!(extra.is_empty(), "methods for commands not in the spec: {extra:?}");
    let mut methods: Vec<&str> = siderpy_core::__GENERATED_METHODS.iter().map(|(_, m)| *m).collect();
    methods.sort_unstable();
    assert!(methods.windows(2).all(|w| w[0] != w[1]), "method names are unique");
    // Every entry, containers included, has a kind for `command_info`.
    for name in spec.keys() {
        assert_eq!(siderpy_core::command_info(name).map(|c| c.name), Some(name.as_str()));
    }
}

/// The published crate builds its API from the spec it carries; that spec
/// is the repository root's, which `siderpy-gen` regenerates (a link, which
/// nothing may turn into a stale copy).
#[test]
fn the_crate_carries_the_root_spec() {
    let root = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../commands.json")).unwrap();
    let carried = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/commands.json")).unwrap();
    assert!(root == carried, "siderpy-core/commands.json differs from the root commands.json: link it again");
}
