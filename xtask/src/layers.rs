//! `cargo xtask check-layers`: enforces the architecture's dependency rules on `cargo metadata`.
//!
//! The rules (docs/ARCHITECTURE.md, "Architecture invariants"):
//! - dependencies between workspace crates point downward only:
//!   `baton-env0 → env0-connector → {env0-api, c1-sync → c1-model}`;
//! - `env0-api` knows nothing of ConductorOne (no `c1-*`), `c1-sync` never imports an `env0-*` crate,
//!   `env0-fake` depends on no workspace crate, and only `xtask` may depend on `baton-env0`;
//! - `c1-model` does no I/O: neither it nor anything it pulls in may be tokio, reqwest, hyper, axum
//!   or rusqlite; `c1-sync` never pulls in an HTTP client.
//!
//! Workspace edges are checked for every dependency kind (a dev-dependency on a higher layer is still a
//! cycle in spirit), with one listed exception: the CLI's tests may start `env0-fake`. Banned external
//! crates are checked transitively over normal (non-dev) dependencies and reported with the whole path.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::util::cargo;

/// Workspace crates each workspace crate may depend on (normal and build dependencies).
const ALLOWED: &[(&str, &[&str])] = &[
    ("c1-model", &[]),
    ("c1-sync", &["c1-model"]),
    ("env0-api", &[]),
    ("env0-connector", &["env0-api", "c1-sync", "c1-model"]),
    (
        "baton-env0",
        &["env0-connector", "env0-api", "c1-sync", "c1-model"],
    ),
    ("env0-fake", &[]),
    (
        "xtask",
        &[
            "baton-env0",
            "env0-connector",
            "env0-api",
            "c1-sync",
            "c1-model",
            "env0-fake",
        ],
    ),
];

/// Extra workspace crates a crate may use in its tests only.
const ALLOWED_DEV: &[(&str, &[&str])] = &[("baton-env0", &["env0-fake"])];

/// External crates that must not appear anywhere below a crate (normal dependencies, transitively).
const BANNED: &[(&str, &[&str])] = &[
    (
        "c1-model",
        &[
            "tokio",
            "reqwest",
            "hyper",
            "axum",
            "rusqlite",
            "libsqlite3-sys",
        ],
    ),
    ("c1-sync", &["reqwest", "hyper", "axum"]),
    ("env0-api", &["rusqlite", "libsqlite3-sys", "prost"]),
];

#[derive(Debug, Deserialize)]
pub(crate) struct Metadata {
    packages: Vec<Package>,
    workspace_members: Vec<String>,
    resolve: Resolve,
}

#[derive(Debug, Deserialize)]
struct Package {
    id: String,
    name: String,
}

#[derive(Debug, Deserialize)]
struct Resolve {
    nodes: Vec<Node>,
}

#[derive(Debug, Deserialize)]
struct Node {
    id: String,
    #[serde(default)]
    deps: Vec<NodeDep>,
}

#[derive(Debug, Deserialize)]
struct NodeDep {
    pkg: String,
    #[serde(default)]
    dep_kinds: Vec<DepKind>,
}

#[derive(Debug, Deserialize)]
struct DepKind {
    /// `null` for normal dependencies, `"dev"` or `"build"` otherwise.
    kind: Option<String>,
}

pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    if !args.is_empty() {
        bail!("usage: cargo xtask check-layers");
    }
    let output = cargo()
        .args(["metadata", "--format-version", "1"])
        .output()
        .context("running cargo metadata")?;
    if !output.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let metadata: Metadata =
        serde_json::from_slice(&output.stdout).context("parsing cargo metadata output")?;
    let violations = check(&metadata);
    if violations.is_empty() {
        println!(
            "check-layers: {} workspace crates follow the layer rules",
            metadata.workspace_members.len()
        );
        return Ok(());
    }
    for violation in &violations {
        eprintln!("forbidden dependency: {violation}");
    }
    bail!(
        "{} forbidden dependency edge(s); see docs/ARCHITECTURE.md",
        violations.len()
    )
}

/// Every rule the metadata breaks, as one human-readable line each, sorted.
pub(crate) fn check(metadata: &Metadata) -> Vec<String> {
    let names: BTreeMap<&str, &str> = metadata
        .packages
        .iter()
        .map(|p| (p.id.as_str(), p.name.as_str()))
        .collect();
    let nodes: BTreeMap<&str, &Node> = metadata
        .resolve
        .nodes
        .iter()
        .map(|n| (n.id.as_str(), n))
        .collect();
    let members: BTreeSet<&str> = metadata
        .workspace_members
        .iter()
        .map(String::as_str)
        .collect();
    let name_of = |id: &str| names.get(id).copied().unwrap_or("<unknown package>");

    let mut violations = BTreeSet::new();
    for member in &members {
        let crate_name = name_of(member);
        let Some(allowed) = lookup(ALLOWED, crate_name) else {
            violations.insert(format!(
                "{crate_name} is a workspace crate with no layer rule; add it to xtask/src/layers.rs"
            ));
            continue;
        };
        let allowed_dev = lookup(ALLOWED_DEV, crate_name).unwrap_or(&[]);
        let Some(node) = nodes.get(member) else {
            continue;
        };
        for dep in &node.deps {
            if !members.contains(dep.pkg.as_str()) {
                continue;
            }
            let dep_name = name_of(&dep.pkg);
            let only_dev = !dep.dep_kinds.is_empty()
                && dep
                    .dep_kinds
                    .iter()
                    .all(|k| k.kind.as_deref() == Some("dev"));
            // A crate may dev-depend on itself: that is how its own tests turn on a feature
            // (c1-sync's `test-hooks`); it adds no edge between layers.
            let own_tests = only_dev && dep_name == crate_name;
            let ok = allowed.contains(&dep_name)
                || (only_dev && allowed_dev.contains(&dep_name))
                || own_tests;
            if !ok {
                let kind = if only_dev { " (dev-dependency)" } else { "" };
                violations.insert(format!("{crate_name} -> {dep_name}{kind}"));
            }
        }
        for banned in lookup(BANNED, crate_name).unwrap_or(&[]) {
            if let Some(path) = normal_path(&nodes, member, banned, &name_of) {
                violations.insert(format!("{} (banned below {crate_name})", path.join(" -> ")));
            }
        }
    }
    violations.into_iter().collect()
}

fn lookup<'a>(table: &'a [(&str, &'a [&'a str])], name: &str) -> Option<&'a [&'a str]> {
    table.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

/// The shortest chain of normal dependencies from `from` to a package named `target`, as names.
fn normal_path<'a>(
    nodes: &BTreeMap<&'a str, &'a Node>,
    from: &'a str,
    target: &str,
    name_of: &dyn Fn(&str) -> &'a str,
) -> Option<Vec<&'a str>> {
    let mut parent: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = VecDeque::from([from]);
    let mut seen = BTreeSet::from([from]);
    while let Some(id) = queue.pop_front() {
        if id != from && name_of(id) == target {
            let mut path = vec![name_of(id)];
            let mut cur = id;
            while let Some(prev) = parent.get(cur) {
                path.push(name_of(prev));
                cur = prev;
            }
            path.reverse();
            return Some(path);
        }
        let Some(node) = nodes.get(id) else { continue };
        for dep in &node.deps {
            let normal = dep
                .dep_kinds
                .iter()
                .any(|k| k.kind.as_deref() != Some("dev"));
            if normal && seen.insert(dep.pkg.as_str()) {
                parent.insert(dep.pkg.as_str(), id);
                queue.push_back(dep.pkg.as_str());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Metadata {
        let path = crate::util::workspace_root()
            .join("fixtures/layers")
            .join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn clean_graph_passes() {
        assert_eq!(check(&fixture("clean.json")), Vec::<String>::new());
    }

    #[test]
    fn forbidden_edges_are_named() {
        assert_eq!(
            check(&fixture("forbidden.json")),
            vec![
                "c1-model -> reqwest (banned below c1-model)".to_owned(),
                "c1-model -> reqwest -> tokio (banned below c1-model)".to_owned(),
                "c1-sync -> c1-model -> reqwest (banned below c1-sync)".to_owned(),
                "c1-sync -> env0-api".to_owned(),
                "env0-api -> c1-model (dev-dependency)".to_owned(),
                "mystery-crate is a workspace crate with no layer rule; add it to xtask/src/layers.rs"
                    .to_owned(),
            ]
        );
    }

    #[test]
    fn the_real_workspace_passes() {
        let output = cargo()
            .args(["metadata", "--format-version", "1"])
            .output()
            .unwrap();
        assert!(output.status.success());
        let metadata: Metadata = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(check(&metadata), Vec::<String>::new());
    }
}
