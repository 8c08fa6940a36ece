//! The writer's database thread: SQLite inserts run beside the caller, one batch at a time.
//!
//! [`C1zWriter`](super::C1zWriter)'s `put_*` methods check and encode their items on the calling
//! thread into a [`Rows`] batch (column values in two flat buffers) and hand it to this thread
//! through a small bounded channel; the thread inserts the batches in the order sent. A sync
//! therefore builds, checks and encodes the next page while SQLite stores the previous one, and at
//! most [`QUEUED_BATCHES`] batches wait in memory.
//!
//! The first SQLite error stops the thread; the caller sees it on its next `put_*` call or at
//! `finish`. Either way the sync fails and the target is never touched.
//!
//! When the OS refuses to start the thread, the loader stores each batch on the calling thread
//! as it is sent (same rows, same order, same errors, only without the overlap).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::JoinHandle;

use rusqlite::Connection;

use super::{StoreError, threads};

mod rows;
mod statements;
#[cfg(test)]
mod tests;

use rows::bookkeeping;
pub(crate) use rows::{Rows, Table};
use statements::{Statements, insert, load, write_error};

/// Batches that may wait for the database thread while the caller builds the next one.
pub(crate) const QUEUED_BATCHES: usize = 2;

/// What the database thread stored for the current sync, counted as it inserts (so `finish`
/// need not count it back out of the database, which took a query over every table).
#[derive(Debug, Default)]
pub(crate) struct Counts {
    /// Ids of the resource types stored.
    pub(crate) resource_types: BTreeSet<String>,
    /// Resources stored, per resource type id.
    pub(crate) resources: BTreeMap<String, u64>,
    pub(crate) entitlements: u64,
    pub(crate) grants: u64,
}

impl Counts {
    /// Counts one newly stored row of `table` whose first column is `first` (a resource type's
    /// id, a resource's type: text in every row the writer makes). A row without it is a bug in
    /// this module and fails the batch.
    fn add(&mut self, table: Table, first: Option<&str>) -> rusqlite::Result<()> {
        debug_assert!(
            first.is_some(),
            "a stored row of {} has no text first column",
            table.name()
        );
        let Some(first) = first else {
            return Err(bookkeeping(format!(
                "a row stored in {} has no text in its first column",
                table.name()
            )));
        };
        match table {
            Table::ResourceTypes => {
                if !self.resource_types.contains(first) {
                    self.resource_types.insert(first.to_owned());
                }
            }
            Table::Resources => match self.resources.get_mut(first) {
                Some(n) => *n += 1,
                None => {
                    self.resources.insert(first.to_owned(), 1);
                }
            },
            Table::Entitlements => self.entitlements += 1,
            Table::Grants => self.grants += 1,
        }
        Ok(())
    }
}

/// What the database thread gives back at the end: the connection and what it stored.
type Loaded = (Connection, Counts);

/// The database thread and the channel to it, or, when the OS refused the thread, the
/// connection itself.
#[derive(Debug)]
pub(crate) struct DatabaseThread {
    target: PathBuf,
    mode: Mode,
    /// Set once the loader has stopped on an error that was already returned.
    failed: bool,
}

#[derive(Debug)]
enum Mode {
    Thread {
        tx: Option<SyncSender<Rows>>,
        /// Batches the thread has inserted, handed back so their buffers are reused.
        spent: Receiver<Rows>,
        thread: Option<JoinHandle<Option<Result<Loaded, StoreError>>>>,
    },
    /// Every batch is stored by `send` itself, on the caller's thread.
    Inline(Box<Inline>),
}

/// The connection of a loader without a thread.
#[derive(Debug)]
struct Inline {
    /// `None` once a batch failed (the connection is dropped then).
    loaded: Option<Loaded>,
    sync_id: String,
    /// The last batch stored, for reuse.
    spent: Option<Rows>,
}

impl DatabaseThread {
    /// Moves `conn` to a new database thread that inserts with `sync_id`, or keeps it here and
    /// inserts on the calling thread when the OS refuses to start one.
    pub(crate) fn start(conn: Connection, target: &Path, sync_id: &str) -> DatabaseThread {
        let (tx, rx) = mpsc::sync_channel(QUEUED_BATCHES);
        let (back, spent) = mpsc::sync_channel(QUEUED_BATCHES);
        let thread_target = target.to_path_buf();
        let thread_sync_id = sync_id.to_owned();
        let mode = match threads::spawn("c1z-writer", conn, move |conn| {
            load(conn, &rx, &back, &thread_target, &thread_sync_id)
        }) {
            Ok(thread) => Mode::Thread {
                tx: Some(tx),
                spent,
                thread: Some(thread),
            },
            Err((conn, e)) => {
                tracing::warn!(
                    target = %target.display(),
                    error = %e,
                    "could not start the c1z database thread; storing rows on the calling thread"
                );
                Mode::Inline(Box::new(Inline {
                    loaded: Some((conn, Counts::default())),
                    sync_id: sync_id.to_owned(),
                    spent: None,
                }))
            }
        };
        DatabaseThread {
            target: target.to_path_buf(),
            mode,
            failed: false,
        }
    }

    /// An empty batch for `table`: one the loader has finished with when there is one (its
    /// buffers already have the size a batch needs), else a new one.
    pub(crate) fn rows(&mut self, table: Table, now: String, capacity: usize) -> Rows {
        let spent = match &mut self.mode {
            Mode::Thread { spent, .. } => spent.try_recv().ok(),
            Mode::Inline(inline) => inline.spent.take(),
        };
        match spent {
            Some(mut rows) => {
                rows.reset(table, now, capacity);
                rows
            }
            None => Rows::new(table, now, capacity),
        }
    }

    /// Queues `rows` (stores them at once without a thread); blocks while [`QUEUED_BATCHES`]
    /// batches are waiting. Fails with the loader's error when an earlier batch (or, without a
    /// thread, this one) failed.
    pub(crate) fn send(&mut self, rows: Rows) -> Result<(), StoreError> {
        if rows.values.is_empty() {
            return Ok(());
        }
        let sent = match &mut self.mode {
            Mode::Thread { tx, .. } => match tx {
                Some(tx) => tx.send(rows).is_ok(),
                None => false,
            },
            Mode::Inline(inline) => {
                let Inline {
                    loaded,
                    sync_id,
                    spent,
                } = &mut **inline;
                let Some((conn, counts)) = loaded else {
                    return Err(self.stopped());
                };
                // Statements are prepared per batch here: they borrow the connection, which
                // this value owns. Slower than on the thread, and only a fallback.
                let stored = insert(&mut Statements::new(conn), &rows, sync_id, counts);
                *spent = Some(rows);
                match stored {
                    Ok(()) => true,
                    Err(e) => {
                        *loaded = None;
                        self.failed = true;
                        return Err(write_error(&self.target, e));
                    }
                }
            }
        };
        if sent { Ok(()) } else { Err(self.stopped()) }
    }

    /// Waits for every queued batch and returns the connection and what was stored.
    pub(crate) fn finish(mut self) -> Result<(Connection, Counts), StoreError> {
        match self.take_result() {
            Some(result) => result,
            None => Err(StoreError::WriterStopped {
                path: self.target.clone(),
            }),
        }
    }

    /// The error that stopped the loader (once; later calls get [`StoreError::WriterStopped`]).
    fn stopped(&mut self) -> StoreError {
        match self.take_result() {
            Some(Err(e)) if !self.failed => {
                self.failed = true;
                e
            }
            _ => StoreError::WriterStopped {
                path: self.target.clone(),
            },
        }
    }

    /// Closes the channel, waits for the thread and takes its result; without a thread, takes
    /// the connection. `None` when it was already taken (or a batch failed without a thread).
    fn take_result(&mut self) -> Option<Result<Loaded, StoreError>> {
        match &mut self.mode {
            Mode::Thread { tx, thread, .. } => {
                *tx = None;
                let thread = thread.take()?;
                Some(match thread.join() {
                    Ok(Some(result)) => result,
                    Ok(None) => Err(StoreError::io(
                        &self.target,
                        "write the scratch database",
                        std::io::Error::other("the database thread never got its connection"),
                    )),
                    Err(_) => Err(StoreError::io(
                        &self.target,
                        "write the scratch database",
                        std::io::Error::other("the database thread panicked"),
                    )),
                })
            }
            Mode::Inline(inline) => inline.loaded.take().map(Ok),
        }
    }
}

impl Drop for DatabaseThread {
    /// Stops the thread after the batches already queued and waits for it (or closes the
    /// connection), so the connection is closed before the writer removes its temporary
    /// directory.
    fn drop(&mut self) {
        drop(self.take_result());
    }
}
