//! One writer per c1z file: an exclusive lock on a file beside the target.
//!
//! [`C1zWriter::open`](super::C1zWriter::open) takes the lock of its target before it touches
//! anything (before it cleans up abandoned scratch directories, creates its own or reads the
//! previous file) and keeps it until the new file has been renamed over the target and the
//! scratch directory is gone. A second writer of the same target fails at once with
//! [`StoreError::Busy`] and leaves everything as it was. Two writers of one file would otherwise
//! each carry over the same previous sync, and the second rename would silently drop the first
//! one's sync.
//!
//! The lock is an OS file lock (`flock` on Unix, `LockFileEx` on Windows, through
//! [`File::try_lock`]) on `<target>.lock`, so it goes away with its process, however that
//! process ends: a writer that was killed never leaves a stale lock. The target itself cannot
//! carry the lock, since every save replaces it with a new file.
//!
//! The lock file is created when missing and never removed: removing it would let a writer that
//! opened the old file (and locks it once its holder is done) and a writer that creates a new one
//! at the same path both believe they hold the lock. An empty or stale lock file is harmless.
//! While held it contains the holder's process id and a newline, so a refused writer can name
//! it; the holder empties it again when it lets go.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::StoreError;

/// The held lock of one target; released when dropped.
#[derive(Debug)]
pub(crate) struct TargetLock {
    file: File,
    path: PathBuf,
}

/// `<target>.lock`, beside the target.
pub(crate) fn lock_path(target: &Path) -> PathBuf {
    let mut name = target.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

impl TargetLock {
    /// Takes the lock of `target` without waiting: [`StoreError::Busy`] when another writer
    /// holds it.
    pub(crate) fn acquire(target: &Path) -> Result<TargetLock, StoreError> {
        let path = lock_path(target);
        let mut file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| StoreError::io(target, "create its lock file", e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StoreError::Busy {
                    path: target.to_path_buf(),
                    pid: holder(&mut file),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(StoreError::io(target, "lock its lock file", e));
            }
        }
        // Best effort: the pid only makes a refusal's message more helpful.
        if let Err(e) = write_pid(&mut file) {
            tracing::debug!(path = %path.display(), error = %e, "could not write the pid into the c1z lock file");
        }
        Ok(TargetLock { file, path })
    }
}

impl Drop for TargetLock {
    /// Empties the lock file (so it names no process that has let go), then closes it, which
    /// releases the lock.
    fn drop(&mut self) {
        if let Err(e) = self.file.set_len(0) {
            tracing::debug!(path = %self.path.display(), error = %e, "could not empty the c1z lock file");
        }
    }
}

fn write_pid(file: &mut File) -> std::io::Result<()> {
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    file.write_all(format!("{}\n", std::process::id()).as_bytes())
}

/// The pid the holder wrote into the lock file, if it is there in full (a line ending with a
/// newline: a holder that has just taken the lock may not have written it yet).
fn holder(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    // A pid is at most ten digits; read no more than a line's worth of anything else.
    file.take(32).read_to_string(&mut text).ok()?;
    text.strip_suffix('\n')?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_file_sits_beside_the_target() {
        assert_eq!(
            lock_path(Path::new("/a/b/out.c1z")),
            Path::new("/a/b/out.c1z.lock")
        );
        assert_eq!(lock_path(Path::new("out.c1z")), Path::new("out.c1z.lock"));
    }

    #[test]
    fn a_second_lock_is_refused_with_the_holders_pid_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.c1z");
        let first = TargetLock::acquire(&target).unwrap();
        assert_eq!(
            std::fs::read_to_string(lock_path(&target)).unwrap(),
            format!("{}\n", std::process::id())
        );
        let err = TargetLock::acquire(&target).unwrap_err();
        assert!(
            matches!(&err, StoreError::Busy { path, pid: Some(pid) }
                if path == &target && *pid == std::process::id()),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "{}: another process (pid {}) is writing this file",
                target.display(),
                std::process::id()
            )
        );
        // Another target in the same directory is not affected.
        let other = TargetLock::acquire(&dir.path().join("other.c1z")).unwrap();
        drop(other);

        drop(first);
        assert_eq!(
            std::fs::read(lock_path(&target)).unwrap(),
            b"",
            "a released lock file names no process"
        );
        let again = TargetLock::acquire(&target).unwrap();
        drop(again);
        assert!(
            lock_path(&target).exists(),
            "the lock file is never removed"
        );
    }

    #[test]
    fn a_holder_that_wrote_no_pid_is_refused_without_one() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.c1z");
        let first = TargetLock::acquire(&target).unwrap();
        // A holder caught between taking the lock and writing its pid, or a partial write.
        first.file.set_len(0).unwrap();
        let err = TargetLock::acquire(&target).unwrap_err();
        assert!(matches!(err, StoreError::Busy { pid: None, .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            format!("{}: another process is writing this file", target.display())
        );
        std::fs::write(lock_path(&target), b"123").unwrap();
        let err = TargetLock::acquire(&target).unwrap_err();
        assert!(matches!(err, StoreError::Busy { pid: None, .. }), "{err:?}");
    }
}
