//! Request counters (served at `GET /_fake/stats`) and the per-method-and-path sliding-window
//! rate limiter.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

const MINUTE: Duration = Duration::from_secs(60);
const SECOND: Duration = Duration::from_secs(1);

/// What the fake has seen. API requests only; `/_fake/*` is not counted.
///
/// The per-path maps key a `GET` (or `HEAD`) by its URL path (`"/teams/x"`) and any other
/// method by method and path (`"PUT /teams/x"`): env0 counts its rate limit per method and path,
/// and the sum of `by_path` stays `total`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Stats {
    /// API requests received.
    pub total: u64,
    /// Requests by URL path (without the query string); writes by `"METHOD path"`.
    pub by_path: BTreeMap<String, u64>,
    /// Outcomes: the HTTP status as text (`"200"`, `"429"`, ...), or `"reset"` / `"truncate"` /
    /// `"drop"` for connections the fake cut, or `"cut"` for a whole response carrying half its
    /// JSON.
    pub by_status: BTreeMap<String, u64>,
    /// Outcomes (as in `by_status`) by URL path (writes by `"METHOD path"`).
    #[serde(default)]
    pub by_path_status: BTreeMap<String, BTreeMap<String, u64>>,
    /// The most requests received in any sliding 60 s window.
    pub max_in_60s: u64,
    /// The most requests received in any sliding 1 s window.
    pub max_in_1s: u64,
    /// The most requests one URL path received in any sliding 60 s window, by path, writes by
    /// `"METHOD path"` (what env0's per-method-and-path rate limit counts).
    #[serde(default)]
    pub max_in_60s_by_path: BTreeMap<String, u64>,
}

impl Stats {
    /// Requests answered with `status` (`"200"`, `"reset"`, ...).
    pub fn status_count(&self, status: &str) -> u64 {
        self.by_status.get(status).copied().unwrap_or(0)
    }

    /// Requests with `method` to `path` (`GET` counts under the bare path).
    pub fn method_path_count(&self, method: &str, path: &str) -> u64 {
        if method.eq_ignore_ascii_case("GET") || method.eq_ignore_ascii_case("HEAD") {
            self.path_count(path)
        } else {
            self.path_count(&format!("{} {path}", method.to_ascii_uppercase()))
        }
    }

    /// Requests to `path` (`GET`s; a write's key is `"METHOD path"`).
    pub fn path_count(&self, path: &str) -> u64 {
        self.by_path.get(path).copied().unwrap_or(0)
    }

    /// The most requests any one path received in a sliding 60 s window.
    pub fn busiest_path_in_60s(&self) -> u64 {
        self.max_in_60s_by_path.values().copied().max().unwrap_or(0)
    }

    /// Requests to `path` answered with `status` (`"200"`, `"cut"`, ...).
    pub fn path_status_count(&self, path: &str, status: &str) -> u64 {
        self.by_path_status
            .get(path)
            .and_then(|outcomes| outcomes.get(status))
            .copied()
            .unwrap_or(0)
    }
}

#[derive(Default)]
struct Inner {
    stats: Stats,
    last_minute: VecDeque<Instant>,
    last_second: VecDeque<Instant>,
    by_path_last_minute: HashMap<String, VecDeque<Instant>>,
}

/// Thread-safe recorder behind the stats endpoint.
#[derive(Default)]
pub(crate) struct Recorder {
    inner: Mutex<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Drops entries older than `window` before `now` and returns the count left.
fn slide(q: &mut VecDeque<Instant>, now: Instant, window: Duration) -> usize {
    while q
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) >= window)
    {
        q.pop_front();
    }
    q.len()
}

impl Recorder {
    /// Counts a request arriving at `now`.
    pub(crate) fn arrival(&self, path: &str, now: Instant) {
        let mut g = lock(&self.inner);
        let inner = &mut *g;
        inner.stats.total += 1;
        *inner.stats.by_path.entry(path.to_owned()).or_insert(0) += 1;
        inner.last_minute.push_back(now);
        inner.last_second.push_back(now);
        let in_minute = slide(&mut inner.last_minute, now, MINUTE) as u64;
        let in_second = slide(&mut inner.last_second, now, SECOND) as u64;
        inner.stats.max_in_60s = inner.stats.max_in_60s.max(in_minute);
        inner.stats.max_in_1s = inner.stats.max_in_1s.max(in_second);
        let recent = inner
            .by_path_last_minute
            .entry(path.to_owned())
            .or_default();
        recent.push_back(now);
        let in_path_minute = slide(recent, now, MINUTE) as u64;
        let most = inner
            .stats
            .max_in_60s_by_path
            .entry(path.to_owned())
            .or_insert(0);
        *most = (*most).max(in_path_minute);
    }

    /// Counts the outcome of a request to `path`.
    pub(crate) fn outcome(&self, path: &str, label: &str) {
        let mut g = lock(&self.inner);
        *g.stats.by_status.entry(label.to_owned()).or_insert(0) += 1;
        *g.stats
            .by_path_status
            .entry(path.to_owned())
            .or_default()
            .entry(label.to_owned())
            .or_insert(0) += 1;
    }

    pub(crate) fn snapshot(&self) -> Stats {
        lock(&self.inner).stats.clone()
    }

    pub(crate) fn reset(&self) {
        *lock(&self.inner) = Inner::default();
    }
}

/// Sliding 60 s window limiter per key, counting the way env0 does (method + URL path without
/// the query string; the key is the server's `route_key`: the path for a `GET`, `"PUT /path"`
/// for a write): admits at most `limit` requests under one key in any 60 s, whatever the other
/// keys receive.
pub(crate) struct Limiter {
    limit: usize,
    admitted: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl Limiter {
    pub(crate) fn new(limit: u32) -> Self {
        Limiter {
            limit: limit as usize,
            admitted: Mutex::new(HashMap::new()),
        }
    }

    /// Admits a request under `key` at `now`, or returns how long until that key has a free
    /// slot.
    pub(crate) fn admit(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let mut keys = lock(&self.admitted);
        let q = keys.entry(key.to_owned()).or_default();
        if slide(q, now, MINUTE) < self.limit {
            q.push_back(now);
            return Ok(());
        }
        let wait = q.front().map_or(MINUTE, |t| {
            MINUTE.saturating_sub(now.saturating_duration_since(*t))
        });
        Err(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_maxima_follow_the_sliding_windows() {
        let r = Recorder::default();
        let t0 = Instant::now();
        for ms in [0, 100, 200, 1500, 1600, 61_000] {
            r.arrival("/x", t0 + Duration::from_millis(ms));
        }
        let s = r.snapshot();
        assert_eq!(s.total, 6);
        assert_eq!(s.path_count("/x"), 6);
        assert_eq!(s.max_in_1s, 3);
        assert_eq!(s.max_in_60s, 5);
        assert_eq!(s.busiest_path_in_60s(), 5);
    }

    #[test]
    fn per_path_maxima_count_each_path_alone() {
        let r = Recorder::default();
        let t0 = Instant::now();
        for (path, s) in [
            ("/a", 0),
            ("/b", 1),
            ("/a", 2),
            ("/b", 30),
            ("/b", 59),
            ("/a", 70),
        ] {
            r.arrival(path, t0 + Duration::from_secs(s));
        }
        let s = r.snapshot();
        assert_eq!(s.max_in_60s, 5);
        assert_eq!(s.max_in_60s_by_path["/a"], 2);
        assert_eq!(s.max_in_60s_by_path["/b"], 3);
        assert_eq!(s.busiest_path_in_60s(), 3);
    }

    #[test]
    fn limiter_admits_up_to_the_limit_per_path_and_minute() {
        let l = Limiter::new(2);
        let t0 = Instant::now();
        assert!(l.admit("/a", t0).is_ok());
        assert!(l.admit("/a", t0 + Duration::from_secs(10)).is_ok());
        let wait = l.admit("/a", t0 + Duration::from_secs(20)).unwrap_err();
        assert_eq!(wait, Duration::from_secs(40));
        assert!(
            l.admit("/b", t0 + Duration::from_secs(20)).is_ok(),
            "another path"
        );
        assert!(l.admit("/a", t0 + Duration::from_secs(60)).is_ok());
    }
}
