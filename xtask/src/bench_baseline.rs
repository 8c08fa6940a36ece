//! The sync case's baselines: `baton-env0` as it was at an earlier commit, built from the clone's
//! own history and timed interleaved with the current build in the same run.
//!
//! - [`STREAMING`] (6753a37, before the users sync streamed): the 1k no-regression target.
//! - [`USERS_ONLY`] (82c4485, before organization roles, teams and projects became resources and
//!   grants): the users-only sync at 100k, which the access model asks to stay within 5 % of it.
//!   That build has no `--skip-projects` (it synced users only).
//!
//! Each baseline is checked out as a git worktree in `target/bench-baseline/<commit>/src` and
//! built into `target/bench-baseline/<commit>/target`; both stay between runs, so only the first
//! bench builds it. A clone without the commit (a shallow one, say) has no baseline: the bench
//! says so; the 1k target then falls back to the 1k sync's wall time over its floor against the
//! ratio recorded at the baseline, and the users-only comparison is left out.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde::Serialize;

use crate::bench::{median, sync_once_with};
use crate::demo::{FakeProcess, SecretFile};
use crate::util::{cargo, workspace_root};

/// One earlier build the sync case compares with.
pub(crate) struct Spec {
    pub(crate) commit: &'static str,
    /// What it is the baseline of, as printed.
    pub(crate) what: &'static str,
    /// The organization size (members) it is timed at.
    pub(crate) members: usize,
    /// Arguments of the baseline's syncs (this build's always add `--skip-projects`).
    pub(crate) args: &'static [&'static str],
}

impl Spec {
    /// The commit abbreviated, as printed.
    pub(crate) fn short(&self) -> &'static str {
        self.commit.get(..7).unwrap_or(self.commit)
    }
}

/// The last commit before the member list streamed.
pub(crate) const STREAMING: Spec = Spec {
    commit: "6753a37d5e4abbcec97d40a638cff3190919f128",
    what: "the 1k baseline",
    members: 1_000,
    args: &["--skip-projects"],
};

/// The last commit before the access model: users only, no role grants.
pub(crate) const USERS_ONLY: Spec = Spec {
    commit: "82c4485af280868d9c385d6c49d423a7d8b47e6d",
    what: "the users-only baseline",
    members: 100_000,
    args: &[],
};

/// Interleaved pairs of syncs (this build, then the baseline).
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
/// when the clone does not hold its commit.
pub(crate) fn build(spec: &Spec) -> Result<Option<PathBuf>> {
    let root = workspace_root();
    let short = spec.short();
    let what = spec.what;
    let commit = format!("{}^{{commit}}", spec.commit);
    if !git(&root, &["cat-file", "-e", &commit])?.status.success() {
        println!("==> no {what}: commit {short} is not in this clone's history (fetch it)");
        return Ok(None);
    }
    let dir = root.join("target").join("bench-baseline").join(short);
    let src = dir.join("src");
    let head = git(&src, &["rev-parse", "HEAD"]).ok();
    let checked_out = head.is_some_and(|out| {
        out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == spec.commit
    });
    if !checked_out {
        println!("==> checking out {short} ({what}) in {}", src.display());
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
                spec.commit,
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
    println!("==> building baton-env0 at {short} ({what})");
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

/// [`PAIRS`] pairs of syncs, this build (users only) then the baseline, and both medians.
pub(crate) fn against(
    spec: &Spec,
    current: &Path,
    baseline: &Path,
    fake: &FakeProcess,
    org_id: &str,
    secret: &SecretFile,
    work: &Path,
) -> Result<Baseline> {
    let current_args = ["--skip-projects".to_owned()];
    let baseline_args: Vec<String> = spec.args.iter().map(|&a| a.to_owned()).collect();
    let (mut now, mut before) = (Vec::new(), Vec::new());
    for i in 0..PAIRS {
        for (bin, args, walls) in [
            (current, &current_args[..], &mut now),
            (baseline, &baseline_args[..], &mut before),
        ] {
            let output = work.join(format!("baseline-{i}-{}.c1z", walls.len()));
            let (wall, _) = sync_once_with(bin, fake, org_id, secret, &output, args)?;
            let _ = std::fs::remove_file(&output);
            walls.push(wall.as_secs_f64() * 1000.0);
        }
    }
    let current_median_wall_ms = median(now.into_iter());
    let median_wall_ms = median(before.into_iter());
    let ratio = current_median_wall_ms / median_wall_ms;
    println!(
        "    against {} ({}, {PAIRS} interleaved pairs): {current_median_wall_ms:.1} ms / {median_wall_ms:.1} ms = {ratio:.3}",
        spec.short(),
        spec.what,
    );
    Ok(Baseline {
        commit: spec.commit,
        pairs: PAIRS,
        median_wall_ms,
        current_median_wall_ms,
        ratio,
    })
}
