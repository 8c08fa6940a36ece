//! Starting the store's helper threads, so that an OS that refuses a thread (too many threads or
//! processes, a container's pid limit, no memory for a stack) costs speed, not the sync.
//!
//! [`spawn`] and [`spawn_scoped`] start a named thread with [`std::thread::Builder`]; when the OS
//! refuses, they hand the work's input back with the OS's error, and the caller does the work on
//! its own thread instead. (The closure given to the OS is dropped on refusal, so the input
//! reaches the thread through a channel after it has started.)
//!
//! Tests make every start on the current thread fail with [`refusing`].

use std::io;
use std::sync::mpsc;
use std::thread::{self, JoinHandle, Scope, ScopedJoinHandle};

/// Starts a thread named `name` that runs `work(input)`. When the OS refuses to start it, returns
/// `input` with the OS's error. The thread's result is `None` only if it never got its input,
/// which cannot happen once this has returned `Ok`.
pub(crate) fn spawn<S, R>(
    name: &str,
    input: S,
    work: impl FnOnce(S) -> R + Send + 'static,
) -> Result<JoinHandle<Option<R>>, (S, io::Error)>
where
    S: Send + 'static,
    R: Send + 'static,
{
    let (give, take) = mpsc::sync_channel(1);
    let started = match refused() {
        Some(e) => Err(e),
        None => thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || take.recv().ok().map(work)),
    };
    hand_over(started, &give, input)
}

/// [`spawn`] for a thread of `scope`.
pub(crate) fn spawn_scoped<'scope, S, R>(
    scope: &'scope Scope<'scope, '_>,
    name: &str,
    input: S,
    work: impl FnOnce(S) -> R + Send + 'scope,
) -> Result<ScopedJoinHandle<'scope, Option<R>>, (S, io::Error)>
where
    S: Send + 'scope,
    R: Send + 'scope,
{
    let (give, take) = mpsc::sync_channel(1);
    let started = match refused() {
        Some(e) => Err(e),
        None => thread::Builder::new()
            .name(name.to_owned())
            .spawn_scoped(scope, move || take.recv().ok().map(work)),
    };
    hand_over(started, &give, input)
}

/// Sends `input` to a thread that started, or hands it back.
fn hand_over<H, S>(
    started: io::Result<H>,
    give: &mpsc::SyncSender<S>,
    input: S,
) -> Result<H, (S, io::Error)> {
    match started {
        // The channel has room for one value, so this never blocks; it fails only if the
        // thread is already gone, and then the input comes back.
        Ok(handle) => match give.send(input) {
            Ok(()) => Ok(handle),
            Err(mpsc::SendError(input)) => Err((
                input,
                io::Error::other("the thread ended before it was given its work"),
            )),
        },
        Err(e) => Err((input, e)),
    }
}

/// The error a start is refused with when a test asked for it (see [`refusing`]).
#[cfg(not(test))]
#[inline]
pub(crate) fn refused() -> Option<io::Error> {
    None
}

#[cfg(test)]
thread_local! {
    static REFUSE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    static REFUSALS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The error a start is refused with when a test asked for it (see [`refusing`]).
#[cfg(test)]
pub(crate) fn refused() -> Option<io::Error> {
    if REFUSE.get() {
        REFUSALS.set(REFUSALS.get() + 1);
        Some(io::Error::new(
            io::ErrorKind::WouldBlock,
            "thread start refused by a test",
        ))
    } else {
        None
    }
}

/// Runs `f` with every thread start on this thread refused (including zstd's workers, see
/// `envelope.rs`); returns its result and how many starts were refused.
#[cfg(test)]
pub(crate) fn refusing<R>(f: impl FnOnce() -> R) -> (R, usize) {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            REFUSE.set(false);
        }
    }
    REFUSALS.set(0);
    REFUSE.set(true);
    let reset = Reset;
    let result = f();
    drop(reset);
    (result, REFUSALS.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_started_thread_gets_its_input_and_a_refused_one_gives_it_back() {
        let handle = spawn("t", vec![1, 2, 3], |v: Vec<i32>| v.iter().sum::<i32>()).unwrap();
        assert_eq!(handle.join().unwrap(), Some(6));

        let (result, refusals) = refusing(|| spawn("t", vec![1, 2, 3], |v: Vec<i32>| v.len()));
        let (back, err) = result.unwrap_err();
        assert_eq!((back, refusals), (vec![1, 2, 3], 1));
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);

        let ran = thread::scope(|scope| {
            let handle = spawn_scoped(scope, "t", 5, |n| n * 2).unwrap();
            handle.join().unwrap()
        });
        assert_eq!(ran, Some(10));
        let (back, refusals) =
            refusing(|| thread::scope(|scope| spawn_scoped(scope, "t", 5, |n| n * 2).map(|_| ())));
        assert_eq!((back.unwrap_err().0, refusals), (5, 1));
        assert!(refused().is_none(), "refusal ends with `refusing`");
    }
}
