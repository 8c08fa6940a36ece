//! Tuning knobs of a sync.

use std::time::Duration;

use backon::ExponentialBuilder;

/// Options of [`SyncEngine`](crate::SyncEngine). Build with `SyncOptions::default()` and the
/// `with_*` setters; fields are public for reading.
///
/// ```
/// use std::time::Duration;
/// use c1_sync::SyncOptions;
///
/// let options = SyncOptions::default().with_workers(8).with_retry_base_delay(Duration::from_millis(10));
/// assert_eq!(options.workers, 8);
/// assert_eq!(options.max_attempts, 5);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SyncOptions {
    /// Listing calls in flight at once (each resource type's listing, and each resource's
    /// entitlements or grants, is independent). Default 4; 0 is treated as 1. The output is the
    /// same for every value.
    pub workers: usize,
    /// Calls made for one page before a transient error fails the sync (first call included).
    /// Default 5; 0 is treated as 1.
    pub max_attempts: u32,
    /// Wait before the first retry; it doubles for each further retry. Default 1 s.
    pub retry_base_delay: Duration,
    /// Longest wait between two attempts, also the cap on a connector's
    /// [`retry_after`](crate::ConnectorError::with_retry_after). Default 30 s.
    pub retry_max_delay: Duration,
    /// Warning messages kept in [`SyncReport::warning_messages`](crate::SyncReport::warning_messages)
    /// (all warnings are counted). Default 100.
    pub max_warning_messages: usize,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            workers: 4,
            max_attempts: 5,
            retry_base_delay: Duration::from_secs(1),
            retry_max_delay: Duration::from_secs(30),
            max_warning_messages: 100,
        }
    }
}

impl SyncOptions {
    /// Sets [`workers`](Self::workers).
    pub fn with_workers(mut self, workers: usize) -> Self {
        self.workers = workers;
        self
    }

    /// Sets [`max_attempts`](Self::max_attempts).
    pub fn with_max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = max_attempts;
        self
    }

    /// Sets [`retry_base_delay`](Self::retry_base_delay).
    pub fn with_retry_base_delay(mut self, delay: Duration) -> Self {
        self.retry_base_delay = delay;
        self
    }

    /// Sets [`retry_max_delay`](Self::retry_max_delay).
    pub fn with_retry_max_delay(mut self, delay: Duration) -> Self {
        self.retry_max_delay = delay;
        self
    }

    /// Sets [`max_warning_messages`](Self::max_warning_messages).
    pub fn with_max_warning_messages(mut self, count: usize) -> Self {
        self.max_warning_messages = count;
        self
    }

    pub(crate) fn effective_workers(&self) -> usize {
        self.workers.max(1)
    }

    /// The backoff between attempts of one call.
    pub(crate) fn backoff(&self) -> ExponentialBuilder {
        let retries = self.max_attempts.max(1) - 1;
        ExponentialBuilder::new()
            .with_min_delay(self.retry_base_delay)
            .with_max_delay(self.retry_max_delay.max(self.retry_base_delay))
            .with_max_times(retries as usize)
    }

    /// The wait before the next attempt: the backoff's, raised to the connector's `retry_after`,
    /// capped at `retry_max_delay`.
    pub(crate) fn wait(&self, backoff: Duration, retry_after: Option<Duration>) -> Duration {
        let cap = self.retry_max_delay.max(backoff);
        retry_after.map_or(backoff, |wanted| wanted.max(backoff).min(cap))
    }
}

#[cfg(test)]
mod tests {
    use backon::BackoffBuilder;

    use super::*;

    #[test]
    fn backoff_doubles_and_stops_after_max_attempts() {
        let options = SyncOptions::default()
            .with_max_attempts(4)
            .with_retry_base_delay(Duration::from_secs(10))
            .with_retry_max_delay(Duration::from_secs(25));
        let waits: Vec<Duration> = options.backoff().build().collect();
        assert_eq!(waits, [10, 20, 25].map(Duration::from_secs));
    }

    #[test]
    fn one_attempt_means_no_retry() {
        let waits: Vec<Duration> = SyncOptions::default()
            .with_max_attempts(0)
            .backoff()
            .build()
            .collect();
        assert!(waits.is_empty());
    }

    #[test]
    fn retry_after_raises_the_wait_up_to_the_cap() {
        let options = SyncOptions::default().with_retry_max_delay(Duration::from_secs(30));
        let s = Duration::from_secs;
        assert_eq!(options.wait(s(2), None), s(2));
        assert_eq!(options.wait(s(2), Some(s(1))), s(2));
        assert_eq!(options.wait(s(2), Some(s(7))), s(7));
        assert_eq!(options.wait(s(2), Some(s(3600))), s(30));
    }

    #[test]
    fn zero_workers_means_one() {
        assert_eq!(
            SyncOptions::default().with_workers(0).effective_workers(),
            1
        );
        assert_eq!(SyncOptions::default().effective_workers(), 4);
    }
}
