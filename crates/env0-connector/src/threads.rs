//! Helper threads that are a speed-up, never a requirement: when the OS refuses to start one (a
//! thread limit, no memory for its stack), the caller does the work on its own thread.

use std::io;
use std::thread::{Builder, Scope, ScopedJoinHandle};

/// Starts `work` on a scoped thread named `name`, or says why the OS refused (then `work` is
/// dropped unrun, and the caller does the work itself).
pub(crate) fn spawn_scoped<'scope, T, F>(
    scope: &'scope Scope<'scope, '_>,
    name: &str,
    work: F,
) -> io::Result<ScopedJoinHandle<'scope, T>>
where
    F: FnOnce() -> T + Send + 'scope,
    T: Send + 'scope,
{
    #[cfg(test)]
    if refusal::refuse() {
        return Err(io::Error::other("the test refused a thread"));
    }
    Builder::new()
        .name(name.to_owned())
        .spawn_scoped(scope, work)
}

/// The seam tests use to make the OS "refuse" threads started from the current thread.
#[cfg(test)]
pub(crate) mod refusal {
    use std::cell::Cell;

    thread_local! {
        /// `Some(refused so far)` while refusing.
        static REFUSING: Cell<Option<usize>> = const { Cell::new(None) };
    }

    /// Whether to refuse this thread (counting it when so).
    pub(super) fn refuse() -> bool {
        REFUSING.with(|refusing| match refusing.get() {
            Some(refused) => {
                refusing.set(Some(refused + 1));
                true
            }
            None => false,
        })
    }

    /// Runs `f` with every helper thread it starts refused; returns its result and how many
    /// threads were refused.
    pub(crate) fn refusing<R>(f: impl FnOnce() -> R) -> (R, usize) {
        REFUSING.with(|refusing| refusing.set(Some(0)));
        let result = f();
        let refused = REFUSING
            .with(|refusing| refusing.replace(None))
            .unwrap_or(0);
        (result, refused)
    }
}
