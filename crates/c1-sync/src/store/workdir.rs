//! The writer's scratch directory beside the target, and the clean-up of ones left behind.
//!
//! A writer keeps its scratch database (as large as the uncompressed sync) in a directory named
//! `.c1z-work-*` beside the target, removed when the writer is dropped. A process that is killed
//! outright (SIGKILL, the OOM killer, a power cut) never gets to remove it. So each directory
//! holds a lock file that its writer keeps locked for as long as it lives, and every new writer
//! first removes the directories beside its target whose lock it can take: their writer is gone.
//!
//! The lock file is created and locked under a temporary name, then renamed into place, so a
//! directory's `owner.lock` is locked from the moment it exists; a directory without one (still
//! being created, or written by an older version) is left alone.

use std::fs::{self, File};
use std::path::Path;

use tempfile::TempDir;

use super::StoreError;

/// Name prefix of scratch directories.
pub(crate) const PREFIX: &str = ".c1z-work-";
/// The lock file inside a scratch directory.
const LOCK: &str = "owner.lock";
const LOCK_PENDING: &str = "owner.lock.new";

/// A scratch directory owned by this process while the value lives.
#[derive(Debug)]
pub(crate) struct WorkDir {
    // Held only for its lock. Declared before `dir`: the lock file is closed (and unlocked)
    // before the directory is removed, which some platforms need.
    _lock: File,
    dir: TempDir,
}

impl WorkDir {
    /// Creates a locked scratch directory in `parent`; `target` names the c1z in errors.
    pub(crate) fn create(parent: &Path, target: &Path) -> Result<WorkDir, StoreError> {
        let fail = |action, e| StoreError::io(target, action, e);
        let dir = tempfile::Builder::new()
            .prefix(PREFIX)
            .tempdir_in(parent)
            .map_err(|e| fail("create a temporary directory beside it", e))?;
        let pending = dir.path().join(LOCK_PENDING);
        let lock = File::create(&pending).map_err(|e| fail("create its scratch lock file", e))?;
        lock.lock()
            .map_err(|e| fail("lock its scratch lock file", e))?;
        fs::rename(&pending, dir.path().join(LOCK))
            .map_err(|e| fail("create its scratch lock file", e))?;
        Ok(WorkDir { _lock: lock, dir })
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Removes the scratch directories in `parent` whose writer is gone (their lock can be taken).
/// Returns how many were removed. Problems (an unreadable directory, a file that cannot be
/// removed) are logged and skipped: the clean-up never fails a sync.
pub(crate) fn remove_abandoned(parent: &Path) -> usize {
    let Ok(entries) = fs::read_dir(parent) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let is_scratch = entry.file_name().to_string_lossy().starts_with(PREFIX)
            && entry.file_type().is_ok_and(|t| t.is_dir());
        if !is_scratch {
            continue;
        }
        let path = entry.path();
        let Ok(lock) = File::options().read(true).write(true).open(path.join(LOCK)) else {
            continue;
        };
        if lock.try_lock().is_err() {
            // Locked: its writer is still running.
            continue;
        }
        match fs::remove_dir_all(&path) {
            Ok(()) => {
                removed += 1;
                tracing::info!(path = %path.display(), "removed the scratch directory of a sync that was killed");
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot remove the scratch directory of a sync that was killed");
            }
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_directories_whose_writer_is_gone_are_removed() {
        let parent = tempfile::tempdir().unwrap();
        let target = parent.path().join("sync.c1z");
        // A live writer's directory, one left by a killed writer (lock file, no lock held), one
        // without a lock file, and a file that merely has the prefix.
        let live = WorkDir::create(parent.path(), &target).unwrap();
        let killed = WorkDir::create(parent.path(), &target).unwrap();
        let killed_path = killed.path().to_path_buf();
        std::fs::write(killed_path.join("sync.db"), b"scratch").unwrap();
        let WorkDir { _lock: lock, dir } = killed;
        drop(lock);
        let killed_dir = dir.keep();
        let unlocked = parent.path().join(format!("{PREFIX}nolock"));
        std::fs::create_dir(&unlocked).unwrap();
        let plain = parent.path().join(format!("{PREFIX}file"));
        std::fs::write(&plain, b"x").unwrap();

        assert_eq!(remove_abandoned(parent.path()), 1);
        assert!(!killed_dir.exists());
        assert!(
            live.path().join(LOCK).exists(),
            "the live writer keeps its directory"
        );
        assert!(unlocked.exists() && plain.exists());

        let live_path = live.path().to_path_buf();
        drop(live);
        assert!(!live_path.exists());
        assert_eq!(remove_abandoned(parent.path()), 0);
    }
}
