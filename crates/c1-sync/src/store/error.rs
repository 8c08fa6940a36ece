//! The store's error type. Every variant names the file it is about.

use std::io;
use std::path::{Path, PathBuf};

/// Failure to read or write a c1z file.
///
/// Every variant carries the path of the c1z file involved (the target of a writer or the file a
/// reader opened), so the message alone tells the operator which file is at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The file exists but does not start with the c1z v1 magic `C1ZF\0` (nor the v3 one).
    #[error("{}: not a c1z file", path.display())]
    NotC1z {
        /// The file.
        path: PathBuf,
    },

    /// The file is a c1z v3 (Pebble) file, which this store neither reads nor writes.
    #[error("{}: unsupported c1z v3 (Pebble) file", path.display())]
    UnsupportedV3 {
        /// The file.
        path: PathBuf,
    },

    /// The decompressed database would exceed the size limit (4 GiB by default).
    #[error("{}: decompressed c1z is larger than the {limit} byte limit", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit in bytes that was exceeded.
        limit: u64,
    },

    /// The zstd stream after the magic could not be decoded.
    #[error("{}: c1z payload is not a valid zstd stream", path.display())]
    Decompress {
        /// The file.
        path: PathBuf,
        /// The decoder's error.
        #[source]
        source: io::Error,
    },

    /// The decompressed payload is not a SQLite database.
    #[error("{}: c1z payload is not a SQLite database", path.display())]
    NotSqlite {
        /// The file.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },

    /// The database holds one of the c1z tables as something else (a view, a virtual table), or
    /// a trigger: the SDK writes neither, and reading one would run whatever query it holds.
    #[error("{}: c1z database object {name} is a {kind}, not a plain table", path.display())]
    UnexpectedSchema {
        /// The file.
        path: PathBuf,
        /// The object's name.
        name: String,
        /// What it is: `view`, `virtual table` or `trigger`.
        kind: String,
    },

    /// A file system operation failed.
    #[error("{}: could not {action}", path.display())]
    Io {
        /// The c1z file the operation was for.
        path: PathBuf,
        /// What was being done, e.g. "create the temporary directory".
        action: &'static str,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },

    /// A SQLite statement failed.
    #[error("{}: could not {action}", path.display())]
    Sqlite {
        /// The c1z file the database belongs to.
        path: PathBuf,
        /// What was being done, e.g. "insert resources".
        action: &'static str,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },

    /// A `data` blob in the database is not a valid protobuf message of the expected type.
    #[error("{}: row {row_id} of {table} is not a valid {message} message", path.display())]
    Decode {
        /// The file.
        path: PathBuf,
        /// The table, e.g. `v1_resources`.
        table: &'static str,
        /// The row's `id`.
        row_id: i64,
        /// The message type, e.g. `c1.connector.v2.Resource`.
        message: &'static str,
        /// The protobuf decoder's error.
        #[source]
        source: c1_model::DecodeError,
    },

    /// A record handed to the writer lacks a field its row needs (for example a resource without an id).
    #[error("{}: cannot store {kind} #{index}: {reason}", path.display())]
    InvalidRecord {
        /// The target file.
        path: PathBuf,
        /// `resource type`, `resource`, `entitlement` or `grant`.
        kind: &'static str,
        /// Position of the record in the slice passed to the writer.
        index: usize,
        /// What is missing.
        reason: &'static str,
    },

    /// The requested sync id is not in the file's `v1_sync_runs`.
    #[error("{}: no sync with id {sync_id}", path.display())]
    SyncNotFound {
        /// The file.
        path: PathBuf,
        /// The id that was asked for.
        sync_id: String,
    },

    /// The writer was used again after one of its calls had already failed.
    #[error("{}: the writer stopped after an earlier error", path.display())]
    WriterStopped {
        /// The target file.
        path: PathBuf,
    },

    /// Another writer holds the file's lock: it is writing the file now. Nothing was touched.
    #[error("{}: another process{} is writing this file", path.display(), holder(*pid))]
    Busy {
        /// The target file.
        path: PathBuf,
        /// The process id the other writer recorded in the lock file, when it is there.
        pid: Option<u32>,
    },

    /// Grant expansion, the last phase of a full sync, failed (a connector's expandable grant is
    /// inconsistent, or a stored grant is corrupt).
    #[error("{}: grant expansion failed", path.display())]
    Expansion {
        /// The c1z file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: crate::expand::ExpansionError,
    },

    /// A fault injected by a test through the writer's hidden hook.
    #[doc(hidden)]
    #[error("{}: injected fault before rename", path.display())]
    InjectedFault {
        /// The target file.
        path: PathBuf,
    },
}

impl StoreError {
    /// The c1z file this error is about.
    pub fn path(&self) -> &Path {
        match self {
            Self::NotC1z { path }
            | Self::UnsupportedV3 { path }
            | Self::TooLarge { path, .. }
            | Self::Decompress { path, .. }
            | Self::NotSqlite { path, .. }
            | Self::UnexpectedSchema { path, .. }
            | Self::Io { path, .. }
            | Self::Sqlite { path, .. }
            | Self::Decode { path, .. }
            | Self::InvalidRecord { path, .. }
            | Self::SyncNotFound { path, .. }
            | Self::WriterStopped { path }
            | Self::Busy { path, .. }
            | Self::Expansion { path, .. }
            | Self::InjectedFault { path } => path,
        }
    }

    pub(crate) fn io(path: &Path, action: &'static str, source: io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            action,
            source,
        }
    }

    pub(crate) fn sqlite(path: &Path, action: &'static str, source: rusqlite::Error) -> Self {
        Self::Sqlite {
            path: path.to_path_buf(),
            action,
            source,
        }
    }
}

/// ` (pid N)` when the pid is known, else nothing.
fn holder(pid: Option<u32>) -> String {
    match pid {
        Some(pid) => format!(" (pid {pid})"),
        None => String::new(),
    }
}
