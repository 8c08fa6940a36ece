//! The one error type of this crate.
//!
//! No variant ever holds the API key secret or the `Authorization` header: errors carry the
//! endpoint (method, path and query, which never contain credentials), counts, durations and a
//! short, sanitised excerpt of what env0 answered.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

/// A boxed error used as the `#[source]` of transport failures.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Everything that can go wrong when talking to env0.
///
/// `endpoint` fields read like `GET /organizations/3f2a.../users`. Messages are single lines.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// env0 answered 401: the key id or secret is wrong, the key was deleted, or the caller's IP
    /// is not on the organization's allowlist. Never retried.
    #[error(
        "env0 returned 401 Unauthorized for {endpoint}{}; check the API key id and secret (and the organization's IP allowlist)",
        detail(.message)
    )]
    Unauthorized {
        /// The request that was refused.
        endpoint: String,
        /// env0's message, sanitised and truncated (may be empty).
        message: String,
    },

    /// env0 answered 403: the key is valid but may not call this endpoint. Never retried.
    #[error(
        "env0 returned 403 Forbidden for {endpoint}{}; the API key lacks the permission this endpoint needs",
        detail(.message)
    )]
    Forbidden {
        /// The request that was refused.
        endpoint: String,
        /// env0's message, sanitised and truncated (may be empty).
        message: String,
    },

    /// env0 answered 402: the feature behind this endpoint is not in the organization's plan.
    /// Never retried.
    #[error(
        "env0 returned 402 Payment Required for {endpoint}{}; the feature is not in the organization's plan",
        detail(.message)
    )]
    NotInPlan {
        /// The request that was refused.
        endpoint: String,
        /// env0's message, sanitised and truncated (may be empty).
        message: String,
    },

    /// env0 answered 404. Never retried.
    #[error("env0 returned 404 Not Found for {endpoint}{}", detail(.message))]
    NotFound {
        /// The request whose target does not exist.
        endpoint: String,
        /// env0's message, sanitised and truncated (may be empty).
        message: String,
    },

    /// env0 answered another status this client does not retry (400, 405, 409, a redirect, ...).
    #[error("env0 returned {} for {endpoint}{}", status_text(*.status), detail(.message))]
    UnexpectedStatus {
        /// The request.
        endpoint: String,
        /// The HTTP status code.
        status: u16,
        /// env0's message, sanitised and truncated (may be empty).
        message: String,
    },

    /// env0 kept answering 429 until the retries ran out.
    #[error(
        "env0 returned 429 Too Many Requests for {endpoint} after {} over {}",
        attempts_text(*.attempts),
        secs(*.elapsed)
    )]
    RateLimited {
        /// The request.
        endpoint: String,
        /// How many times the request was sent.
        attempts: u32,
        /// Time from the first attempt to giving up.
        elapsed: Duration,
    },

    /// env0 kept answering 5xx until the retries ran out.
    #[error(
        "env0 returned {} for {endpoint} after {} over {}{}",
        status_text(*.status),
        attempts_text(*.attempts),
        secs(*.elapsed),
        detail(.message)
    )]
    Server {
        /// The request.
        endpoint: String,
        /// The last HTTP status code (500..=599).
        status: u16,
        /// How many times the request was sent.
        attempts: u32,
        /// Time from the first attempt to giving up.
        elapsed: Duration,
        /// env0's last message, sanitised and truncated (may be empty).
        message: String,
    },

    /// The request or the response body failed at the network level (connect error, timeout,
    /// reset, body cut short) until the retries ran out.
    #[error(
        "could not talk to env0 for {endpoint}: {reason} (after {} over {})",
        attempts_text(*.attempts),
        secs(*.elapsed)
    )]
    Transport {
        /// The request.
        endpoint: String,
        /// What failed, in a few words (for example `request timed out`).
        reason: String,
        /// How many times the request was sent.
        attempts: u32,
        /// Time from the first attempt to giving up.
        elapsed: Duration,
        /// The underlying HTTP client error.
        #[source]
        source: BoxError,
    },

    /// A successful response was complete but not the JSON this client expects (bad syntax,
    /// wrong types, a required field missing). Never retried.
    #[error(
        "could not decode the env0 response for {endpoint}: {reason} at line {line} column {column} near `{snippet}`"
    )]
    Decode {
        /// The request.
        endpoint: String,
        /// What was wrong (for example ``missing field `user_id` ``).
        reason: String,
        /// 1-based line of the error in the body.
        line: usize,
        /// 1-based column of the error in the body.
        column: usize,
        /// At most 200 characters of the body around the error position, control characters
        /// replaced by spaces.
        snippet: String,
    },

    /// env0 answered `200` with a body that ended before its JSON did, on every attempt until
    /// the retries ran out. A body cut short is transient (the request is a `GET`, so it is
    /// retried like a reset connection); a body that is complete but wrong is [`Error::Decode`].
    #[error(
        "the env0 response for {endpoint} ended before its JSON did ({reason} at line {line} column {column}) after {} over {}",
        attempts_text(*.attempts),
        secs(*.elapsed)
    )]
    Incomplete {
        /// The request.
        endpoint: String,
        /// serde_json's account of where the text stopped (for example `EOF while parsing a
        /// string`), from the last attempt.
        reason: String,
        /// 1-based line where the last attempt's body ended.
        line: usize,
        /// 1-based column where the last attempt's body ended.
        column: usize,
        /// How many times the request was sent.
        attempts: u32,
        /// Time from the first attempt to giving up.
        elapsed: Duration,
    },

    /// A write (`PUT`, `POST`, `DELETE`) whose outcome is unknown: it may have reached env0 and
    /// been applied, fully or not at all (the connection closed before the answer, no answer
    /// before the timeout, a 5xx). Never sent again by this client: read the state back to
    /// find out.
    #[error(
        "env0 may or may not have applied {endpoint}: {reason} (after {} over {})",
        attempts_text(*.attempts),
        secs(*.elapsed)
    )]
    Unconfirmed {
        /// The write.
        endpoint: String,
        /// What happened, in a few words.
        reason: String,
        /// How many times the request was sent (earlier attempts were refused before env0
        /// acted on them).
        attempts: u32,
        /// Time from the first attempt to giving up.
        elapsed: Duration,
        /// Whether env0 may still be working on it: no answer came before the timeout, or a
        /// gateway in front of env0 gave up waiting (504). Then a state read back at once may
        /// not show the write yet, and sending it again could apply it twice.
        may_still_apply: bool,
    },

    /// A consistency check inside this client failed while reading a response: a bug in this
    /// crate, reported instead of a wrong answer.
    #[error(
        "internal error in the env0 client while reading the response for {endpoint}: {message}; this is a bug"
    )]
    Internal {
        /// The request.
        endpoint: String,
        /// Which check failed.
        message: String,
    },

    /// The response body was larger than the configured limit
    /// ([`ClientConfig::max_body_bytes`](crate::ClientConfig::max_body_bytes)).
    #[error("the env0 response for {endpoint} is larger than the limit of {limit} bytes")]
    BodyTooLarge {
        /// The request.
        endpoint: String,
        /// The configured limit in bytes.
        limit: u64,
    },

    /// The response decoded but made no sense (for example a teams page key that repeats).
    #[error("unexpected env0 response for {endpoint}: {message}")]
    UnexpectedResponse {
        /// The request.
        endpoint: String,
        /// What was wrong.
        message: String,
    },

    /// The client configuration was refused before any request was made.
    #[error("invalid env0 client configuration: {message}")]
    InvalidConfig {
        /// What is wrong and which rule it breaks.
        message: String,
    },
}

impl Error {
    /// True for failures that may pass if tried again later: rate limiting, server errors,
    /// transport errors and bodies cut short (all of which this client already retried).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::RateLimited { .. }
                | Error::Server { .. }
                | Error::Transport { .. }
                | Error::Incomplete { .. }
        )
    }

    /// The HTTP status env0 answered with, if the failure was an HTTP status.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Unauthorized { .. } => Some(401),
            Error::NotInPlan { .. } => Some(402),
            Error::Forbidden { .. } => Some(403),
            Error::NotFound { .. } => Some(404),
            Error::RateLimited { .. } => Some(429),
            Error::UnexpectedStatus { status, .. } | Error::Server { status, .. } => Some(*status),
            Error::Transport { .. }
            | Error::Decode { .. }
            | Error::Incomplete { .. }
            | Error::Unconfirmed { .. }
            | Error::Internal { .. }
            | Error::BodyTooLarge { .. }
            | Error::UnexpectedResponse { .. }
            | Error::InvalidConfig { .. } => None,
        }
    }

    /// The request the error is about (`GET /path?query`), if any.
    pub fn endpoint(&self) -> Option<&str> {
        match self {
            Error::Unauthorized { endpoint, .. }
            | Error::Forbidden { endpoint, .. }
            | Error::NotInPlan { endpoint, .. }
            | Error::NotFound { endpoint, .. }
            | Error::UnexpectedStatus { endpoint, .. }
            | Error::RateLimited { endpoint, .. }
            | Error::Server { endpoint, .. }
            | Error::Transport { endpoint, .. }
            | Error::Decode { endpoint, .. }
            | Error::Incomplete { endpoint, .. }
            | Error::Unconfirmed { endpoint, .. }
            | Error::Internal { endpoint, .. }
            | Error::BodyTooLarge { endpoint, .. }
            | Error::UnexpectedResponse { endpoint, .. } => Some(endpoint),
            Error::InvalidConfig { .. } => None,
        }
    }

    /// How many times the request was sent before giving up, for errors reached after retrying.
    pub fn attempts(&self) -> Option<u32> {
        match self {
            Error::RateLimited { attempts, .. }
            | Error::Server { attempts, .. }
            | Error::Transport { attempts, .. }
            | Error::Incomplete { attempts, .. }
            | Error::Unconfirmed { attempts, .. } => Some(*attempts),
            _ => None,
        }
    }

    /// True for a write whose outcome is unknown ([`Error::Unconfirmed`]).
    pub fn is_unconfirmed(&self) -> bool {
        matches!(self, Error::Unconfirmed { .. })
    }

    /// True for a write whose outcome is unknown and that env0 may still be working on (see
    /// [`Error::Unconfirmed`]'s `may_still_apply`).
    pub fn may_still_apply(&self) -> bool {
        matches!(
            self,
            Error::Unconfirmed {
                may_still_apply: true,
                ..
            }
        )
    }

    /// True when the API key was rejected (401).
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, Error::Unauthorized { .. })
    }

    /// True when the key may not use the endpoint (403) or the plan lacks the feature (402).
    pub fn is_access_denied(&self) -> bool {
        matches!(self, Error::Forbidden { .. } | Error::NotInPlan { .. })
    }

    pub(crate) fn invalid_config(message: impl Into<String>) -> Self {
        Error::InvalidConfig {
            message: message.into(),
        }
    }
}

/// `": message"` or nothing when env0 sent no message.
fn detail(message: &str) -> Detail<'_> {
    Detail(message)
}

struct Detail<'a>(&'a str);

impl fmt::Display for Detail<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            Ok(())
        } else {
            write!(f, ": {}", self.0)
        }
    }
}

/// `500 Internal Server Error`, or just the number for codes without a canonical reason.
pub(crate) fn status_text(status: u16) -> String {
    match http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
    {
        Some(reason) => format!("{status} {reason}"),
        None => status.to_string(),
    }
}

fn secs(elapsed: Duration) -> String {
    format!("{:.1}s", elapsed.as_secs_f64())
}

/// `1 attempt`, `3 attempts`.
fn attempts_text(attempts: u32) -> String {
    if attempts == 1 {
        "1 attempt".to_owned()
    } else {
        format!("{attempts} attempts")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_exhausted_message_names_attempts_and_time() {
        let err = Error::Server {
            endpoint: "GET /organizations/o1/users".into(),
            status: 500,
            attempts: 9,
            elapsed: Duration::from_millis(12_340),
            message: "Internal server error".into(),
        };
        assert_eq!(
            err.to_string(),
            "env0 returned 500 Internal Server Error for GET /organizations/o1/users after 9 attempts over 12.3s: Internal server error"
        );
        assert!(err.is_transient());
        assert_eq!(err.status(), Some(500));
        assert_eq!(err.attempts(), Some(9));
    }

    #[test]
    fn empty_message_adds_no_colon() {
        let err = Error::NotFound {
            endpoint: "GET /x".into(),
            message: String::new(),
        };
        assert_eq!(err.to_string(), "env0 returned 404 Not Found for GET /x");
        assert!(!err.is_transient());
    }

    #[test]
    fn unknown_status_code_prints_number_only() {
        assert_eq!(status_text(599), "599");
        assert_eq!(status_text(418), "418 I'm a teapot");
    }
}
