//! Client-side rate limit, shared by every request (and every clone) of one client.
//!
//! A GCRA limiter from `governor` with `rpm` cells per minute and a burst of one second's worth
//! (`ceil(rpm / 60)`), so no sliding 60 s window ever sees more than `rpm + burst` requests
//! (915 at the default 900/min, under env0's 1000/min).

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

/// A rate limiter over any clock that counts nanoseconds.
pub(crate) struct Limiter<C: Clock<Instant = Nanos>> {
    inner: RateLimiter<NotKeyed, InMemoryState, C, NoOpMiddleware<Nanos>>,
    quota: Quota,
}

impl<C: Clock<Instant = Nanos>> Limiter<C> {
    pub(crate) fn new(requests_per_minute: NonZeroU32, clock: C) -> Self {
        let burst =
            NonZeroU32::new(requests_per_minute.get().div_ceil(60)).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::per_minute(requests_per_minute).allow_burst(burst);
        Limiter {
            inner: RateLimiter::direct_with_clock(quota, clock),
            quota,
        }
    }

    /// Takes a slot if one is free now; otherwise says how long until one is (taking nothing).
    pub(crate) fn try_acquire(&self) -> Result<(), Duration> {
        self.inner
            .check()
            .map_err(|not_until| not_until.wait_time_from(self.inner.clock().now()))
    }

    /// Waits (on tokio's clock) until a slot is free and takes it. Returns the time waited.
    pub(crate) async fn acquire(&self) -> Duration {
        let mut waited = Duration::ZERO;
        loop {
            match self.try_acquire() {
                Ok(()) => return waited,
                Err(wait) => {
                    let wait = wait.max(Duration::from_millis(1));
                    tokio::time::sleep(wait).await;
                    waited += wait;
                }
            }
        }
    }

    pub(crate) fn burst(&self) -> u32 {
        self.quota.burst_size().get()
    }
}

impl<C: Clock<Instant = Nanos>> std::fmt::Debug for Limiter<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("replenish_interval", &self.quota.replenish_interval())
            .field("burst", &self.burst())
            .finish_non_exhaustive()
    }
}

/// A `governor` clock reading tokio's time, so the limiter and the sleeps agree (also under
/// tokio's paused test clock).
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
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        Nanos::from(self.start.elapsed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    fn rpm(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).unwrap()
    }

    /// Sends `n` requests as fast as the limiter allows, advancing the fake clock by exactly the
    /// waits it asks for, and returns the (fake) time each request went out.
    fn burst_schedule(
        limiter: &Limiter<FakeRelativeClock>,
        clock: &FakeRelativeClock,
        n: usize,
    ) -> Vec<Duration> {
        let mut sent = Vec::with_capacity(n);
        for _ in 0..n {
            loop {
                match limiter.try_acquire() {
                    Ok(()) => break,
                    Err(wait) => {
                        assert!(!wait.is_zero(), "a refused slot must ask for a wait");
                        clock.advance(wait);
                    }
                }
            }
            sent.push(Duration::from(clock.now()));
        }
        sent
    }

    #[test]
    fn burst_above_the_limit_is_spread_one_interval_apart() {
        let clock = FakeRelativeClock::default();
        let limiter = Limiter::new(rpm(60), clock.clone());
        assert_eq!(limiter.burst(), 1);
        let sent = burst_schedule(&limiter, &clock, 5);
        let secs: Vec<u64> = sent.iter().map(Duration::as_secs).collect();
        assert_eq!(secs, [0, 1, 2, 3, 4]);
    }

    #[test]
    fn default_rate_allows_one_second_burst_then_paces() {
        let clock = FakeRelativeClock::default();
        let limiter = Limiter::new(rpm(900), clock.clone());
        assert_eq!(limiter.burst(), 15);
        let sent = burst_schedule(&limiter, &clock, 1000);
        let at_start = sent.iter().filter(|t| t.is_zero()).count();
        assert_eq!(at_start, 15);
        // The rest follow one every 60/900 s = 66.67 ms.
        let gap = sent[16].saturating_sub(sent[15]);
        assert_eq!(gap.as_nanos(), 66_666_666);
        // No 60 s window holds more than rpm + burst requests.
        let window = Duration::from_secs(60);
        let mut start = 0;
        for end in 0..sent.len() {
            while sent[end].saturating_sub(sent[start]) >= window {
                start += 1;
            }
            assert!(
                end - start < 915,
                "window ending at {end} holds {}",
                end - start + 1
            );
        }
        // 1000 requests need at least (1000 - 15) intervals.
        assert!(sent[999] >= Duration::from_nanos(66_666_666 * 985));
    }

    #[test]
    fn limiter_is_shared_by_everyone_holding_it() {
        let clock = FakeRelativeClock::default();
        let limiter = std::sync::Arc::new(Limiter::new(rpm(60), clock.clone()));
        let other = std::sync::Arc::clone(&limiter);
        assert!(limiter.try_acquire().is_ok());
        assert_eq!(other.try_acquire(), Err(Duration::from_secs(1)));
    }

    #[tokio::test(start_paused = true)]
    async fn acquire_sleeps_on_tokios_clock() {
        let limiter = Limiter::new(rpm(120), TokioClock::new());
        let started = tokio::time::Instant::now();
        let mut waited = Duration::ZERO;
        for _ in 0..5 {
            waited += limiter.acquire().await;
        }
        // Burst 2, then one every 500 ms: requests at 0, 0, 0.5, 1.0, 1.5 s.
        assert_eq!(started.elapsed(), Duration::from_millis(1500));
        assert_eq!(waited, Duration::from_millis(1500));
    }
}
