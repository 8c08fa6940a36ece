//! One attempt's failure, whether it is worth retrying, and how long to wait before the next.

use std::time::{Duration, SystemTime};

use backon::ExponentialBackoff;
use rand::Rng;
use rand::rngs::StdRng;

use super::Endpoint;
use super::messages::without_position;
use crate::error::{Error, status_text};

/// Backon's exponential steps with full jitter on top (backon's own jitter only adds).
pub(super) struct FullJitter {
    pub(super) steps: ExponentialBackoff,
    pub(super) rng: StdRng,
}

impl Iterator for FullJitter {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let step = self.steps.next()?;
        Some(step.mul_f64(self.rng.random::<f64>()))
    }
}

/// Why one attempt failed.
pub(super) enum Failure {
    /// Not worth retrying; returned as is.
    Permanent(Error),
    RateLimited {
        retry_after: Option<Duration>,
    },
    Server {
        status: u16,
        message: String,
        retry_after: Option<Duration>,
    },
    Transport {
        reason: &'static str,
        retryable: bool,
        source: reqwest::Error,
    },
    /// A `200` whose body ended before its JSON did.
    CutShort(JsonPlace),
}

/// Where and why a JSON body ended early.
pub(super) struct JsonPlace {
    reason: String,
    line: usize,
    column: usize,
}

impl JsonPlace {
    pub(super) fn at(reason: String, line: usize, column: usize) -> JsonPlace {
        JsonPlace {
            reason,
            line,
            column,
        }
    }

    pub(super) fn of(error: &serde_json::Error) -> JsonPlace {
        JsonPlace {
            reason: without_position(error),
            line: error.line(),
            column: error.column(),
        }
    }
}

impl Failure {
    pub(super) fn transport(error: reqwest::Error) -> Failure {
        let reason = if error.is_timeout() {
            "request timed out"
        } else if error.is_connect() {
            "could not connect"
        } else if error.is_body() || error.is_decode() {
            "response body cut short or unreadable"
        } else if error.is_builder() {
            "could not build the request"
        } else {
            "request failed"
        };
        Failure::Transport {
            reason,
            retryable: !error.is_builder(),
            source: error.without_url(),
        }
    }

    pub(super) fn is_retryable(&self) -> bool {
        match self {
            Failure::Permanent(_) => false,
            Failure::RateLimited { .. } | Failure::Server { .. } | Failure::CutShort(_) => true,
            Failure::Transport { retryable, .. } => *retryable,
        }
    }

    pub(super) fn retry_after(&self) -> Option<Duration> {
        match self {
            Failure::RateLimited { retry_after } | Failure::Server { retry_after, .. } => {
                *retry_after
            }
            Failure::Permanent(_) | Failure::Transport { .. } | Failure::CutShort(_) => None,
        }
    }

    pub(super) fn status(&self) -> Option<u16> {
        match self {
            Failure::Permanent(e) => e.status(),
            Failure::RateLimited { .. } => Some(429),
            Failure::Server { status, .. } => Some(*status),
            Failure::CutShort(_) => Some(200),
            Failure::Transport { .. } => None,
        }
    }

    pub(super) fn reason(&self) -> String {
        match self {
            Failure::Permanent(e) => e.to_string(),
            Failure::RateLimited { .. } => status_text(429),
            Failure::Server { status, .. } => status_text(*status),
            Failure::Transport { reason, .. } => (*reason).to_owned(),
            Failure::CutShort(place) => format!(
                "response JSON cut short ({} at line {} column {})",
                place.reason, place.line, place.column
            ),
        }
    }

    pub(super) fn into_error(self, endpoint: &Endpoint, attempts: u32, elapsed: Duration) -> Error {
        let endpoint = endpoint.name.clone();
        match self {
            Failure::Permanent(e) => e,
            Failure::RateLimited { .. } => Error::RateLimited {
                endpoint,
                attempts,
                elapsed,
            },
            Failure::Server {
                status, message, ..
            } => Error::Server {
                endpoint,
                status,
                attempts,
                elapsed,
                message,
            },
            Failure::Transport { reason, source, .. } => Error::Transport {
                endpoint,
                reason: reason.to_owned(),
                attempts,
                elapsed,
                source: Box::new(source),
            },
            Failure::CutShort(JsonPlace {
                reason,
                line,
                column,
            }) => Error::Incomplete {
                endpoint,
                reason,
                line,
                column,
                attempts,
                elapsed,
            },
        }
    }
}

/// `Retry-After` as delay-seconds (integer or decimal) or an HTTP date; a date in the past means
/// now. Anything else is ignored.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).ok();
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}
