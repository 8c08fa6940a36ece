//! The check that `docs/ARCHITECTURE.md`'s module map lists every source file and nothing else.

use std::collections::BTreeSet;
use std::path::Path;

/// Source files under `dir` (relative to the workspace root), tests and generated code aside.
fn source_files(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
    let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = dir.join(&name);
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            if name != "tests" && name != "generated" {
                source_files(root, &rel, out);
            }
        } else if Path::new(&name).extension().is_some_and(|e| e == "rs") && name != "tests.rs" {
            out.insert(rel.to_string_lossy().into_owned());
        }
    }
}

/// The paths the module map lists: a "`<crate>/src/`:" line, then "- `<file>`: …" lines.
fn listed(architecture: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut base: Option<&str> = None;
    for line in architecture.lines() {
        if let Some(dir) = line
            .strip_prefix('`')
            .and_then(|l| l.strip_suffix("/src/`:"))
        {
            base = Some(dir);
        } else if line.starts_with('#') {
            base = None;
        } else if let (Some(dir), Some(rest)) = (base, line.strip_prefix("- `"))
            && let Some((file, _)) = rest.split_once("`:")
        {
            out.insert(format!("{dir}/src/{file}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_module_map_names_every_module_and_nothing_else() {
        let root = crate::util::workspace_root();
        let mut files = BTreeSet::new();
        for entry in std::fs::read_dir(root.join("crates")).unwrap().flatten() {
            let src = Path::new("crates").join(entry.file_name()).join("src");
            source_files(&root, &src, &mut files);
        }
        source_files(&root, Path::new("xtask/src"), &mut files);
        let architecture =
            std::fs::read_to_string(root.join("docs/ARCHITECTURE.md")).expect("ARCHITECTURE.md");
        let listed = listed(&architecture);
        let missing: Vec<&String> = files.difference(&listed).collect();
        let extra: Vec<&String> = listed.difference(&files).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "docs/ARCHITECTURE.md's module map is out of date: not listed {missing:?}; listed but gone {extra:?}"
        );
    }

    #[test]
    fn listed_paths_are_read_under_their_crate() {
        let text = "`crates/a/src/`:\n\n- `lib.rs`: A.\n- `x/mod.rs`: X.\n### Next\n- `b.rs`: no.";
        let got: Vec<String> = listed(text).into_iter().collect();
        assert_eq!(got, ["crates/a/src/lib.rs", "crates/a/src/x/mod.rs"]);
    }
}
