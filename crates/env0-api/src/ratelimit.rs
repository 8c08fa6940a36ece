//! Client-side rate limit, kept per method + URL path (without the query string), the way env0
//! counts: the configured limit applies to each path separately, and in any window of
//! [`RATE_WINDOW`] no path is sent more than the limit.
//!
//! Each path keeps the send times of its last `limit` requests (a sliding-window log). A request
//! may go when the path has sent fewer than `limit` in the window, or once the oldest of those
//! is a whole window old; otherwise the limiter says how long to wait. The times are taken when
//! the request is about to be sent, so a path is never over its limit whatever the concurrency.

use std::collections::{HashMap, VecDeque};
use std::num::NonZeroU32;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// env0 counts requests over the last 60 seconds; the extra second absorbs the difference between
/// when a request leaves here and when env0 counts it (two requests a window apart may travel at
/// different speeds).
pub(crate) const RATE_WINDOW: Duration = Duration::from_secs(61);

/// Paths tracked before idle ones (nothing sent within a window) are forgotten.
const PRUNE_AT: usize = 4096;

/// A monotonic clock: time elapsed since some fixed start.
pub(crate) trait Clock: Send + Sync {
    fn now(&self) -> Duration;
}

/// A per-path sliding-window rate limiter over any [`Clock`].
pub(crate) struct Limiter<C: Clock> {
    limit: usize,
    window: Duration,
    clock: C,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Per path, the send times of its latest requests (at most `limit`), oldest first.
    paths: HashMap<String, VecDeque<Duration>>,
    /// Tracked paths above which idle ones are pruned.
    prune_at: usize,
}

impl<C: Clock> Limiter<C> {
    pub(crate) fn new(requests_per_minute: NonZeroU32, clock: C) -> Self {
        Limiter::with_window(requests_per_minute, RATE_WINDOW, clock)
    }

    pub(crate) fn with_window(limit: NonZeroU32, window: Duration, clock: C) -> Self {
        Limiter {
            limit: usize::try_from(limit.get()).unwrap_or(usize::MAX),
            window,
            clock,
            state: Mutex::new(State {
                paths: HashMap::new(),
                prune_at: PRUNE_AT,
            }),
        }
    }

    /// Takes a slot for `path` if one is free now; otherwise says how long until one is (taking
    /// nothing).
    pub(crate) fn try_acquire(&self, path: &str) -> Result<(), Duration> {
        let now = self.clock.now();
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.paths.len() >= state.prune_at && !state.paths.contains_key(path) {
            let window = self.window;
            state.paths.retain(|_, sent| {
                sent.back()
                    .is_some_and(|last| now.saturating_sub(*last) < window)
            });
            state.prune_at = (state.paths.len() * 2).max(PRUNE_AT);
        }
        let sent = state.paths.entry(path.to_owned()).or_default();
        if sent.len() >= self.limit {
            // `limit` is at least 1, so the log is not empty here.
            let oldest = sent.front().copied().unwrap_or(now);
            let free_at = oldest + self.window;
            if free_at > now {
                return Err(free_at.saturating_sub(now));
            }
            sent.pop_front();
        }
        sent.push_back(now);
        Ok(())
    }
}

impl<C: Clock> std::fmt::Debug for Limiter<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("limit_per_path", &self.limit)
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

/// A clock reading tokio's time, so the limiter and the sleeps agree (also under tokio's paused
/// test clock).
#[derive(Clone, Debug)]
pub(crate) struct TokioClock {
    start: tokio::time::Instant,
}

impl TokioClock {
    pub(crate) fn new() -> Self {
        TokioClock {
            start: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Duration {
        self.start.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A clock that moves only when told to.
    #[derive(Clone, Default)]
    struct FakeClock(Arc<AtomicU64>);

    impl FakeClock {
        fn advance(&self, by: Duration) {
            let nanos = u64::try_from(by.as_nanos()).unwrap();
            self.0.fetch_add(nanos, Ordering::SeqCst);
        }
    }

    impl Clock for FakeClock {
        fn now(&self) -> Duration {
            Duration::from_nanos(self.0.load(Ordering::SeqCst))
        }
    }

    fn limit(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).unwrap()
    }

    /// Sends to `path` as soon as the limiter allows, advancing the fake clock by exactly the
    /// waits it asks for; returns the (fake) send time.
    fn send(limiter: &Limiter<FakeClock>, clock: &FakeClock, path: &str) -> Duration {
        loop {
            match limiter.try_acquire(path) {
                Ok(()) => return clock.now(),
                Err(wait) => {
                    assert!(!wait.is_zero(), "a refused slot must ask for a wait");
                    clock.advance(wait);
                }
            }
        }
    }

    /// The most requests any window of `window` holds in a sorted list of send times.
    fn busiest_window(sent: &[Duration], window: Duration) -> usize {
        let mut start = 0;
        let mut most = 0;
        for end in 0..sent.len() {
            while sent[end].saturating_sub(sent[start]) >= window {
                start += 1;
            }
            most = most.max(end - start + 1);
        }
        most
    }

    #[test]
    fn a_path_gets_its_limit_at_once_then_waits_for_the_oldest_to_leave_the_window() {
        let clock = FakeClock::default();
        let limiter = Limiter::new(limit(3), clock.clone());
        let sent: Vec<Duration> = (0..7)
            .map(|_| send(&limiter, &clock, "GET /roles/assignments/teams"))
            .collect();
        let secs: Vec<u64> = sent.iter().map(Duration::as_secs).collect();
        assert_eq!(secs, [0, 0, 0, 61, 61, 61, 122]);
    }

    #[test]
    fn each_path_has_its_own_limit() {
        let clock = FakeClock::default();
        let limiter = Limiter::new(limit(2), clock.clone());
        assert_eq!(limiter.try_acquire("GET /a"), Ok(()));
        assert_eq!(limiter.try_acquire("GET /a"), Ok(()));
        assert_eq!(limiter.try_acquire("GET /a"), Err(RATE_WINDOW));
        // Another path is not held back by the busy one.
        assert_eq!(limiter.try_acquire("GET /b"), Ok(()));
        assert_eq!(limiter.try_acquire("GET /b"), Ok(()));
        clock.advance(Duration::from_secs(10));
        assert_eq!(
            limiter.try_acquire("GET /a"),
            Err(RATE_WINDOW.saturating_sub(Duration::from_secs(10)))
        );
    }

    #[test]
    fn idle_paths_are_forgotten_and_busy_ones_kept() {
        let clock = FakeClock::default();
        let limiter = Limiter::new(limit(1), clock.clone());
        assert_eq!(limiter.try_acquire("GET /busy"), Ok(()));
        clock.advance(RATE_WINDOW);
        for i in 0..PRUNE_AT - 1 {
            assert_eq!(limiter.try_acquire(&format!("GET /p/{i}")), Ok(()));
        }
        // A new path beyond 4096 prunes: `/busy` is a window old and goes, the others stay.
        assert_eq!(limiter.try_acquire("GET /new"), Ok(()));
        let state = limiter.state.lock().unwrap();
        assert_eq!(state.paths.len(), PRUNE_AT);
        assert!(!state.paths.contains_key("GET /busy"));
        drop(state);
        assert!(limiter.try_acquire("GET /p/0").is_err(), "still limited");
    }

    proptest! {
        /// Whatever the arrival pattern over several paths, no path ever has more than `limit`
        /// requests in one window, and a request waits only when its own path is full.
        #[test]
        fn no_window_of_any_path_exceeds_the_limit(
            n in 1u32..6,
            arrivals in proptest::collection::vec((0usize..3, 0u64..30_000), 1..200),
        ) {
            let clock = FakeClock::default();
            let limiter = Limiter::new(limit(n), clock.clone());
            let mut sent: Vec<Vec<Duration>> = vec![Vec::new(); 3];
            for (path, gap_ms) in arrivals {
                clock.advance(Duration::from_millis(gap_ms));
                let asked = clock.now();
                let name = format!("GET /p{path}");
                let at = send(&limiter, &clock, &name);
                let log = &mut sent[path];
                if at > asked {
                    // It waited: its path was full when it asked, and it went as soon as the
                    // oldest of those left the window.
                    let in_window = log.iter().filter(|t| asked.saturating_sub(**t) < RATE_WINDOW).count();
                    prop_assert_eq!(in_window, n as usize, "waited with room: {:?}", log);
                    prop_assert_eq!(at, log[log.len() - n as usize] + RATE_WINDOW);
                }
                log.push(at);
            }
            for log in &sent {
                prop_assert!(busiest_window(log, RATE_WINDOW) <= n as usize);
                prop_assert!(busiest_window(log, Duration::from_secs(60)) <= n as usize);
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn waits_are_on_tokios_clock() {
        let limiter = Limiter::new(limit(2), TokioClock::new());
        let started = tokio::time::Instant::now();
        for _ in 0..5 {
            while let Err(wait) = limiter.try_acquire("GET /x") {
                tokio::time::sleep(wait).await;
            }
        }
        // Two at 0 s, two at 61 s, one at 122 s.
        assert_eq!(started.elapsed(), RATE_WINDOW * 2);
    }
}
