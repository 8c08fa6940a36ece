//! Protobuf codegen for `crates/c1-model`: our `.proto` files → prost Rust types.
//!
//! The protos are compiled in-process with `protox` (no `protoc` binary), the resulting
//! `FileDescriptorSet` is handed to `prost-build`, and each generated module is formatted with the
//! workspace's `rustfmt.toml` so `cargo fmt --check` accepts the checked-in result.
//!
//! Output is deterministic: proto files are passed in sorted order, maps use `BTreeMap`, and
//! nothing machine- or time-dependent ends up in the generated text.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use super::{GeneratedFile, RUST_HEADER};
use crate::util::workspace_root;

/// Where the `.proto` sources live (the include root), relative to the workspace root.
const PROTO_ROOT: &str = "crates/c1-model/proto";
/// The package directory under [`PROTO_ROOT`] whose files are compiled.
const PROTO_PACKAGE_DIR: &str = "c1/connector/v2";
/// Where generated Rust goes, relative to the workspace root.
const OUT_DIR: &str = "crates/c1-model/src/generated";
/// Protobuf packages we generate; anything else prost emits (well-known types) is ignored.
const PACKAGES: &[&str] = &["c1.connector.v2"];

/// Generates `crates/c1-model/src/generated/<package>.rs` (dots replaced by underscores).
pub(crate) fn generate() -> anyhow::Result<Vec<GeneratedFile>> {
    let root = workspace_root();
    let include = root.join(PROTO_ROOT);
    let protos = proto_files(&include)?;

    let fds = protox::Compiler::new([&include])
        .with_context(|| format!("preparing the protobuf compiler for {}", include.display()))?
        .include_source_info(true)
        .include_imports(true)
        .open_files(&protos)
        .map_err(|err| anyhow::anyhow!("compiling protos under {}: {err}", include.display()))?
        .file_descriptor_set();

    let out = tempfile::tempdir().context("creating a temporary directory for prost-build")?;
    prost_build::Config::new()
        .out_dir(out.path())
        .enable_type_names()
        .type_name_domain(["."], "type.googleapis.com")
        .btree_map(["."])
        // Profiles are encoded twice per user; our `Struct` encodes them directly (structs.rs).
        .extern_path(".google.protobuf.Struct", "crate::Struct")
        .compile_fds(fds)
        .context("running prost-build")?;

    let mut files = Vec::new();
    for package in PACKAGES {
        let generated = out.path().join(format!("{package}.rs"));
        if !generated.is_file() {
            bail!(
                "prost-build produced no code for package {package} (are its .proto files under {PROTO_ROOT}?)"
            );
        }
        let formatted = rustfmt(&root, &generated)?;
        files.push(GeneratedFile {
            path: format!("{OUT_DIR}/{}.rs", package.replace('.', "_")),
            contents: format!("{RUST_HEADER}{formatted}"),
        });
    }
    Ok(files)
}

/// The `.proto` files of the package directory, relative to the include root, sorted.
fn proto_files(include: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let dir = include.join(PROTO_PACKAGE_DIR);
    let mut protos = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = entry
            .with_context(|| format!("listing {}", dir.display()))?
            .path();
        if path.extension().is_some_and(|ext| ext == "proto") {
            let relative = path.strip_prefix(include).with_context(|| {
                format!("{} is not under {}", path.display(), include.display())
            })?;
            protos.push(relative.to_path_buf());
        }
    }
    if protos.is_empty() {
        bail!("no .proto files in {}", dir.display());
    }
    protos.sort();
    Ok(protos)
}

/// Formats `file` in place with the workspace's rustfmt configuration and returns its contents.
fn rustfmt(root: &Path, file: &Path) -> anyhow::Result<String> {
    let status = Command::new("rustfmt")
        .arg("--edition")
        .arg("2024")
        .arg("--config-path")
        .arg(root.join("rustfmt.toml"))
        .arg(file)
        .status()
        .context("running rustfmt (is the rustfmt component installed?)")?;
    if !status.success() {
        bail!("rustfmt failed on {} ({status})", file.display());
    }
    std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_headed() {
        let first = generate().unwrap();
        let second = generate().unwrap();
        assert_eq!(first.len(), 1);
        assert_eq!(
            first[0].path,
            "crates/c1-model/src/generated/c1_connector_v2.rs"
        );
        assert_eq!(first[0].contents, second[0].contents);
        assert!(first[0].contents.starts_with(RUST_HEADER));
        assert!(
            first[0]
                .contents
                .contains("\"type.googleapis.com/c1.connector.v2.UserTrait\".into()")
        );
        // Maps are BTreeMaps, so encoding does not depend on insertion order.
        assert!(!first[0].contents.contains("HashMap"));
        assert!(first[0].contents.contains("BTreeMap"));
    }
}
