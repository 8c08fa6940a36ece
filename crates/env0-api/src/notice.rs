//! What decoding noticed, returned as data instead of logged from inside serde.
//!
//! A few wire values are accepted with a remark: a timestamp that does not parse is kept as text,
//! an embedded user without an id is skipped. The serde code that meets them cannot log (it may
//! run on a decode thread, or run twice when the parallel decoder falls back to the serial one),
//! so it records them in the [`collect`] scope of the thread it runs on. Whoever decodes takes
//! them as [`Notices`] and logs them once, in the request's span ([`Notices::log`]).
//!
//! Outside any scope (a caller deserializing a wire type with serde_json directly), the remarks
//! are dropped: the values themselves ([`Timestamp::Raw`](crate::Timestamp::Raw)) still say it.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU32, Ordering};

/// Unparseable timestamps logged at warn level by one client before the rest go to debug level.
pub(crate) const TIMESTAMP_WARNINGS: u32 = 10;
/// Most unparseable timestamp values one decode keeps to show; the rest are only counted.
const KEPT_VALUES: usize = 32;
/// Characters of an unparseable timestamp shown.
const SHOWN_CHARS: usize = 64;

/// What one decode noticed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Notices {
    /// The first [`KEPT_VALUES`] timestamps that did not parse, each cut to [`SHOWN_CHARS`].
    timestamps: Vec<String>,
    /// How many timestamps did not parse.
    unparseable_timestamps: usize,
    /// Embedded user entries skipped because they had no `user_id`.
    skipped_users: usize,
}

impl Notices {
    /// True when nothing was noticed.
    pub(crate) fn is_empty(&self) -> bool {
        self.unparseable_timestamps == 0 && self.skipped_users == 0
    }

    /// How many timestamps did not parse.
    #[cfg(test)]
    pub(crate) fn unparseable_timestamps(&self) -> usize {
        self.unparseable_timestamps
    }

    /// The unparseable timestamps kept to show, in the order they were met.
    #[cfg(test)]
    pub(crate) fn timestamps(&self) -> &[String] {
        &self.timestamps
    }

    /// How many embedded user entries were skipped.
    #[cfg(test)]
    pub(crate) fn skipped_users(&self) -> usize {
        self.skipped_users
    }

    fn timestamp(&mut self, raw: &str) {
        self.unparseable_timestamps += 1;
        if self.timestamps.len() < KEPT_VALUES {
            self.timestamps
                .push(raw.chars().take(SHOWN_CHARS).collect());
        }
    }

    /// Adds `later`'s remarks after these.
    pub(crate) fn absorb(&mut self, later: Notices) {
        let room = KEPT_VALUES.saturating_sub(self.timestamps.len());
        self.timestamps
            .extend(later.timestamps.into_iter().take(room));
        self.unparseable_timestamps += later.unparseable_timestamps;
        self.skipped_users += later.skipped_users;
    }

    /// Logs the remarks, once each, in the current span. The first [`TIMESTAMP_WARNINGS`]
    /// unparseable timestamps (counted in `warned`, shared by a client's requests) are warnings,
    /// the rest debug lines; values beyond the kept ones are summed up in one debug line.
    pub(crate) fn log(&self, warned: &AtomicU32) {
        for value in &self.timestamps {
            if warned.fetch_add(1, Ordering::Relaxed) < TIMESTAMP_WARNINGS {
                tracing::warn!(value = %value, "env0 sent a timestamp that does not parse; kept as text");
            } else {
                tracing::debug!(value = %value, "env0 sent a timestamp that does not parse; kept as text");
            }
        }
        let unshown = self.unparseable_timestamps - self.timestamps.len();
        if unshown > 0 {
            tracing::debug!(
                count = unshown,
                "env0 sent more timestamps that do not parse; kept as text"
            );
        }
        if self.skipped_users > 0 {
            tracing::warn!(
                skipped = self.skipped_users,
                "skipped embedded user entries without a user_id"
            );
        }
    }
}

thread_local! {
    /// The innermost [`collect`] scope of this thread, if any.
    static CURRENT: RefCell<Option<Notices>> = const { RefCell::new(None) };
}

/// Runs `f` in a fresh scope and returns what was noticed in it (on this thread). Scopes nest:
/// the outer scope sees nothing of an inner one unless it is [`merge`]d into it.
pub(crate) fn collect<R>(f: impl FnOnce() -> R) -> (R, Notices) {
    /// Puts the outer scope back, also when `f` panics.
    struct Restore(Option<Notices>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let outer = self.0.take();
            CURRENT.with(|current| *current.borrow_mut() = outer);
        }
    }
    let outer = CURRENT.with(|current| current.borrow_mut().replace(Notices::default()));
    let restore = Restore(outer);
    let result = f();
    let noticed = CURRENT.with(|current| current.borrow_mut().take());
    drop(restore);
    debug_assert!(noticed.is_some(), "a notice scope vanished while it ran");
    (result, noticed.unwrap_or_default())
}

fn record(note: impl FnOnce(&mut Notices)) {
    CURRENT.with(|current| {
        if let Some(notices) = current.borrow_mut().as_mut() {
            note(notices);
        }
    });
}

/// Adds `notices` (collected in an inner scope, or on another thread) to the current scope.
pub(crate) fn merge(notices: Notices) {
    record(|current| current.absorb(notices));
}

/// A timestamp that did not parse and is kept as `raw`.
pub(crate) fn unparseable_timestamp(raw: &str) {
    record(|current| current.timestamp(raw));
}

/// `count` embedded user entries skipped for lack of an id.
pub(crate) fn skipped_users(count: usize) {
    record(|current| current.skipped_users += count);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_collect_on_their_thread_nest_and_drop_what_is_not_merged() {
        unparseable_timestamp("outside any scope");
        let ((), outer) = collect(|| {
            unparseable_timestamp("soon");
            let ((), inner) = collect(|| {
                unparseable_timestamp("inner");
                skipped_users(2);
            });
            assert_eq!(inner.unparseable_timestamps(), 1);
            assert_eq!(inner.skipped_users(), 2);
            let ((), dropped) = collect(|| unparseable_timestamp("thrown away"));
            assert_eq!(dropped.timestamps(), ["thrown away"]);
            merge(inner);
            std::thread::scope(|s| {
                // Another thread has scopes of its own.
                s.spawn(|| unparseable_timestamp("elsewhere"));
            });
        });
        assert_eq!(outer.timestamps(), ["soon", "inner"]);
        assert_eq!(outer.unparseable_timestamps(), 2);
        assert_eq!(outer.skipped_users(), 2);
        assert!(collect(|| ()).1.is_empty());
    }

    #[test]
    fn a_panic_inside_a_scope_restores_the_outer_one() {
        let ((), outer) = collect(|| {
            let caught = std::panic::catch_unwind(|| {
                collect(|| {
                    unparseable_timestamp("lost");
                    panic!("decode bug");
                })
            });
            assert!(caught.is_err());
            unparseable_timestamp("kept");
        });
        assert_eq!(outer.timestamps(), ["kept"]);
    }

    #[test]
    fn values_are_kept_up_to_a_bound_and_counted_beyond_it() {
        let long = "x".repeat(500);
        let ((), mut first) = collect(|| {
            for _ in 0..KEPT_VALUES + 5 {
                unparseable_timestamp(&long);
            }
        });
        assert_eq!(first.timestamps().len(), KEPT_VALUES);
        assert_eq!(first.unparseable_timestamps(), KEPT_VALUES + 5);
        assert!(
            first
                .timestamps()
                .iter()
                .all(|t| t.chars().count() == SHOWN_CHARS)
        );
        let ((), later) = collect(|| unparseable_timestamp("late"));
        first.absorb(later);
        assert_eq!(first.timestamps().len(), KEPT_VALUES);
        assert_eq!(first.unparseable_timestamps(), KEPT_VALUES + 6);
    }
}
