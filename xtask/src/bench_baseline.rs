//! The baseline of the sync case's 1k no-regression target: `baton-env0` as it was before the
//! users sync streamed ([`BASELINE_COMMIT`]), built from the clone's own history and timed
//! interleaved with the current build in the same run.
//!
//! The baseline is checked out as a git worktree in `target/bench-baseline/src` and built into
//! `target/bench-baseline/target`; both stay between runs, so only the first bench builds it.
//! A clone without that commit (a shallow one, say) has no baseline: the bench says so and the
//! target falls back to the 1k sync's wall time over its floor against the ratio recorded at the
//! baseline.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde::Serialize;

use crate::util::{cargo, workspace_root};

/// The last commit before the member list streamed.
pub(crate) const BASELINE_COMMIT: &str = "6753a37d5e4abbcec97d40a638cff3190919f128";
/// [`BASELINE_COMMIT`] abbreviated, as printed.
pub(crate) fn short_commit() -> &'static str {
    BASELINE_COMMIT.get(..7).unwrap_or(BASELINE_COMMIT)
}

/// Interleaved pairs of 1k syncs (this build, then the baseline).
pub(crate) const PAIRS: usize = 11;

/// Both builds' median wall time over the same interleaved runs.
#[derive(Serialize)]
pub(crate) struct Baseline {
    pub(crate) commit: &'static str,
    pub(crate) pairs: usize,
    pub(crate) median_wall_ms: f64,
    pub(crate) current_median_wall_ms: f64,
    /// `current_median_wall_ms / median_wall_ms`.
    pub(crate) ratio: f64,
}

fn git(dir: &Path, args: &[&str]) -> Result<std::process::Output> {
    Command::new("git")
        .current_dir(dir)
        .args(args)
        .output()
        .with_context(|| format!("cannot run git {}", args.join(" ")))
}

/// The baseline's `baton-env0` release binary, built if needed; `None` (with a line saying why)
/// when the clone does not hold [`BASELINE_COMMIT`].
pub(crate) fn build() -> Result<Option<PathBuf>> {
    let root = workspace_root();
    let short = short_commit();
    let commit = format!("{BASELINE_COMMIT}^{{commit}}");
    if !git(&root, &["cat-file", "-e", &commit])?.status.success() {
        println!(
            "==> no 1k baseline: commit {short} is not in this clone's history (fetch it, or the 1k target uses the recorded floor ratio)"
        );
        return Ok(None);
    }
    let dir = root.join("target").join("bench-baseline");
    let src = dir.join("src");
    let head = git(&src, &["rev-parse", "HEAD"]).ok();
    let checked_out = head.is_some_and(|out| {
        out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == BASELINE_COMMIT
    });
    if !checked_out {
        println!(
            "==> checking out {short} (the 1k baseline) in {}",
            src.display()
        );
        let _ = std::fs::remove_dir_all(&src);
        let _ = git(&root, &["worktree", "prune"]);
        let src_text = src.to_string_lossy();
        let added = git(
            &root,
            &[
                "worktree",
                "add",
                "--force",
                "--detach",
                &src_text,
                BASELINE_COMMIT,
            ],
        )?;
        if !added.status.success() {
            bail!(
                "git worktree add {} {short} failed: {}",
                src.display(),
                String::from_utf8_lossy(&added.stderr).trim()
            );
        }
    }
    println!("==> building baton-env0 at {short} (the 1k baseline)");
    let target = dir.join("target");
    let status = cargo()
        .current_dir(&src)
        .args(["build", "--release", "--locked", "-p", "baton-env0"])
        .arg("--target-dir")
        .arg(&target)
        .status()
        .context("cannot run cargo build for the baseline")?;
    if !status.success() {
        bail!("building baton-env0 at {short} failed ({status})");
    }
    Ok(Some(target.join("release").join("baton-env0")))
}
