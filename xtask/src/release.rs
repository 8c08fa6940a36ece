//! `cargo xtask release <version> [--dry-run]`: cuts a release of `baton-env0`.
//!
//! Steps, in order, each printed before it runs:
//! 1. refuse unless `CHANGELOG.md` has a `## [<version>]` section;
//! 2. set the workspace version (and the versions of internal path dependencies) in `Cargo.toml`;
//! 3. build `baton-env0` with the `dist` profile (which also refreshes `Cargo.lock`);
//! 4. write `dist/baton-env0-<version>-<target>.tar.gz` (binary, README.md, LICENSE) and its `.sha256`.
//!
//! `--dry-run` prints the plan and changes nothing. Tagging and publishing stay manual on purpose.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};

use crate::util::{cargo, workspace_root};

pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    let (version, dry_run) = match args {
        [v] => (v.as_str(), false),
        [v, flag] | [flag, v] if flag == "--dry-run" => (v.as_str(), true),
        _ => bail!("usage: cargo xtask release <version> [--dry-run]"),
    };
    let root = workspace_root();
    let plan = Plan::new(&root, version, &host_target()?)?;
    plan.print();
    if dry_run {
        println!("dry run: nothing changed");
        return Ok(());
    }
    plan.bump_version()?;
    let binary = build_release(&root)?;
    plan.package(&binary)?;
    Ok(())
}

/// Everything a release will do, worked out before anything changes.
#[derive(Debug)]
pub(crate) struct Plan {
    root: PathBuf,
    version: String,
    current_version: String,
    target: String,
}

impl Plan {
    pub(crate) fn new(root: &Path, version: &str, target: &str) -> anyhow::Result<Self> {
        if !is_semver(version) {
            bail!("`{version}` is not a version of the form MAJOR.MINOR.PATCH[-PRE]");
        }
        let changelog_path = root.join("CHANGELOG.md");
        let changelog = std::fs::read_to_string(&changelog_path)
            .with_context(|| format!("reading {}", changelog_path.display()))?;
        if !has_changelog_section(&changelog, version) {
            bail!(
                "CHANGELOG.md has no section for {version}; add `## [{version}] - YYYY-MM-DD` with its changes first"
            );
        }
        let manifest = read_manifest(root)?;
        let current_version = workspace_version(&manifest)
            .context("Cargo.toml has no version in [workspace.package]")?;
        Ok(Self {
            root: root.to_path_buf(),
            version: version.to_owned(),
            current_version,
            target: target.to_owned(),
        })
    }

    fn archive_stem(&self) -> String {
        format!("baton-env0-{}-{}", self.version, self.target)
    }

    pub(crate) fn archive_path(&self) -> PathBuf {
        self.root
            .join("dist")
            .join(format!("{}.tar.gz", self.archive_stem()))
    }

    fn print(&self) {
        println!("release plan for baton-env0 {}:", self.version);
        println!(
            "  1. CHANGELOG.md has a section for {} (checked)",
            self.version
        );
        if self.current_version == self.version {
            println!(
                "  2. workspace version is already {} (no change)",
                self.version
            );
        } else {
            println!(
                "  2. set the workspace version {} -> {} in Cargo.toml",
                self.current_version, self.version
            );
        }
        println!("  3. cargo build --profile dist --package baton-env0 (refreshes Cargo.lock)");
        println!(
            "  4. write {} and its .sha256",
            self.relative(&self.archive_path())
        );
    }

    fn relative(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .display()
            .to_string()
    }

    pub(crate) fn bump_version(&self) -> anyhow::Result<()> {
        let manifest = read_manifest(&self.root)?;
        let updated = set_versions(&manifest, &self.current_version, &self.version);
        let path = self.root.join("Cargo.toml");
        std::fs::write(&path, updated).with_context(|| format!("writing {}", path.display()))
    }

    /// Writes the tarball and its checksum file; returns the tarball's path.
    pub(crate) fn package(&self, binary: &Path) -> anyhow::Result<PathBuf> {
        let dist = self.root.join("dist");
        std::fs::create_dir_all(&dist).with_context(|| format!("creating {}", dist.display()))?;
        let archive = self.archive_path();
        let stem = self.archive_stem();
        let file = std::fs::File::create(&archive)
            .with_context(|| format!("creating {}", archive.display()))?;
        let encoder = flate2::write::GzEncoder::new(file, flate2::Compression::best());
        let mut tar = tar::Builder::new(encoder);
        tar.mode(tar::HeaderMode::Deterministic);
        let entries: [(&Path, &str); 3] = [
            (binary, "baton-env0"),
            (&self.root.join("README.md"), "README.md"),
            (&self.root.join("LICENSE"), "LICENSE"),
        ];
        for (source, name) in entries {
            tar.append_path_with_name(source, format!("{stem}/{name}"))
                .with_context(|| format!("adding {} to the archive", source.display()))?;
        }
        let encoder = tar.into_inner().context("finishing the tar stream")?;
        encoder
            .finish()
            .context("finishing the gzip stream")?
            .sync_all()?;

        let bytes =
            std::fs::read(&archive).with_context(|| format!("reading {}", archive.display()))?;
        let digest = Sha256::digest(&bytes);
        let hex = hex(&digest);
        let sha_path = dist.join(format!("{stem}.tar.gz.sha256"));
        let mut sha = std::fs::File::create(&sha_path)
            .with_context(|| format!("creating {}", sha_path.display()))?;
        writeln!(sha, "{hex}  {stem}.tar.gz")?;
        println!(
            "wrote {} ({} bytes, sha256 {hex})",
            self.relative(&archive),
            bytes.len()
        );
        Ok(archive)
    }
}

/// Lower-case hexadecimal, as `sha256sum` prints it.
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

fn build_release(root: &Path) -> anyhow::Result<PathBuf> {
    let status = cargo()
        .args([
            "build",
            "--profile",
            "dist",
            "--package",
            "baton-env0",
            "--bin",
            "baton-env0",
        ])
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("cargo build --profile dist failed");
    }
    let target_dir =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let binary = target_dir
        .join("dist")
        .join(format!("baton-env0{}", std::env::consts::EXE_SUFFIX));
    if !binary.is_file() {
        bail!("cargo build succeeded but {} is missing", binary.display());
    }
    Ok(binary)
}

fn host_target() -> anyhow::Result<String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = std::process::Command::new(rustc)
        .arg("-vV")
        .output()
        .context("running rustc -vV")?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_owned)
        .context("rustc -vV printed no host line")
}

fn read_manifest(root: &Path) -> anyhow::Result<String> {
    let path = root.join("Cargo.toml");
    std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
}

fn is_semver(v: &str) -> bool {
    let (core, pre) = v.split_once('-').map_or((v, None), |(c, p)| (c, Some(p)));
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        && pre.is_none_or(|p| {
            !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
        })
}

fn has_changelog_section(changelog: &str, version: &str) -> bool {
    changelog.lines().any(|line| {
        line.strip_prefix("## ").is_some_and(|rest| {
            let rest = rest.trim_start_matches('[');
            rest.strip_prefix(version)
                .is_some_and(|after| after.is_empty() || after.starts_with([']', ' ']))
        })
    })
}

/// The `version` under `[workspace.package]`.
fn workspace_version(manifest: &str) -> Option<String> {
    let mut in_section = false;
    for line in manifest.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            in_section = trimmed == "[workspace.package]";
        } else if in_section && let Some(value) = trimmed.strip_prefix("version = ") {
            return Some(value.trim_matches('"').to_owned());
        }
    }
    None
}

/// Rewrites the `[workspace.package]` version and the versions of internal path dependencies.
fn set_versions(manifest: &str, from: &str, to: &str) -> String {
    let mut in_package = false;
    let mut out = String::with_capacity(manifest.len());
    for line in manifest.split_inclusive('\n') {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            in_package = trimmed == "[workspace.package]";
        }
        let old = format!("version = \"{from}\"");
        let new = format!("version = \"{to}\"");
        let internal_dep = line.contains("path = \"crates/");
        if (in_package && trimmed.starts_with("version = ")) || internal_dep {
            out.push_str(&line.replace(&old, &new));
        } else {
            out.push_str(line);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal copy of the repository layout the release touches.
    fn temp_repo(changelog: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = workspace_root();
        for file in ["Cargo.toml", "README.md", "LICENSE"] {
            std::fs::copy(root.join(file), dir.path().join(file)).unwrap();
        }
        std::fs::write(dir.path().join("CHANGELOG.md"), changelog).unwrap();
        dir
    }

    const CHANGELOG: &str = "# Changelog\n\n## [Unreleased]\n\n## [9.8.7] - 2026-12-01\n- things\n";

    #[test]
    fn refuses_a_version_without_a_changelog_section() {
        let repo = temp_repo(CHANGELOG);
        let err = Plan::new(repo.path(), "1.2.3", "x86_64-unknown-linux-gnu").unwrap_err();
        assert_eq!(
            err.to_string(),
            "CHANGELOG.md has no section for 1.2.3; add `## [1.2.3] - YYYY-MM-DD` with its changes first"
        );
    }

    #[test]
    fn refuses_a_malformed_version() {
        let repo = temp_repo(CHANGELOG);
        let err = Plan::new(repo.path(), "v1.2", "x86_64-unknown-linux-gnu").unwrap_err();
        assert!(
            err.to_string().starts_with("`v1.2` is not a version"),
            "{err}"
        );
    }

    #[test]
    fn planning_changes_nothing() {
        let repo = temp_repo(CHANGELOG);
        let before = std::fs::read(repo.path().join("Cargo.toml")).unwrap();
        let plan = Plan::new(repo.path(), "9.8.7", "x86_64-unknown-linux-gnu").unwrap();
        plan.print();
        assert_eq!(
            std::fs::read(repo.path().join("Cargo.toml")).unwrap(),
            before
        );
        assert!(!repo.path().join("dist").exists());
    }

    #[test]
    fn bumps_versions_and_packages_on_a_temporary_copy() {
        let repo = temp_repo(CHANGELOG);
        let plan = Plan::new(repo.path(), "9.8.7", "x86_64-unknown-linux-gnu").unwrap();
        plan.bump_version().unwrap();
        let manifest = std::fs::read_to_string(repo.path().join("Cargo.toml")).unwrap();
        assert_eq!(workspace_version(&manifest).as_deref(), Some("9.8.7"));
        assert!(
            manifest.contains("c1-model = { path = \"crates/c1-model\", version = \"9.8.7\" }")
        );
        assert!(!manifest.contains(&format!("version = \"{}\"", plan.current_version)));

        let binary = repo.path().join("fake-binary");
        std::fs::write(&binary, b"#!/bin/sh\necho hi\n").unwrap();
        let archive = plan.package(&binary).unwrap();
        assert_eq!(
            archive,
            repo.path()
                .join("dist/baton-env0-9.8.7-x86_64-unknown-linux-gnu.tar.gz")
        );

        let mut names = Vec::new();
        let gz = flate2::read::GzDecoder::new(std::fs::File::open(&archive).unwrap());
        for entry in tar::Archive::new(gz).entries().unwrap() {
            names.push(entry.unwrap().path().unwrap().display().to_string());
        }
        let stem = "baton-env0-9.8.7-x86_64-unknown-linux-gnu";
        assert_eq!(
            names,
            [
                format!("{stem}/baton-env0"),
                format!("{stem}/README.md"),
                format!("{stem}/LICENSE")
            ]
        );

        let sha = std::fs::read_to_string(repo.path().join(format!("dist/{stem}.tar.gz.sha256")))
            .unwrap();
        let expected = hex(&Sha256::digest(std::fs::read(&archive).unwrap()));
        assert_eq!(sha, format!("{expected}  {stem}.tar.gz\n"));
    }

    #[test]
    fn changelog_sections_match_whole_versions() {
        assert!(has_changelog_section("## [0.1.0] - 2026-11-30", "0.1.0"));
        assert!(has_changelog_section("## 0.1.0", "0.1.0"));
        assert!(!has_changelog_section("## [0.1.01] - x", "0.1.0"));
        assert!(!has_changelog_section("### [0.1.0]", "0.1.0"));
    }
}
