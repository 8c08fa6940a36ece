//! Sending requests: rate limit, retry with backoff, status mapping, bounded body reads and
//! decoding.

use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder, Retryable};
use http::header::{ACCEPT, AUTHORIZATION, RETRY_AFTER};
use http::{HeaderMap, HeaderValue};
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::error::Category;
use tracing::Instrument;
use url::Url;

use crate::auth::basic_authorization;
use crate::body::BodyBuffer;
use crate::config::{ClientConfig, RetryEvent, RetryHook};
use crate::de::opt_string;
use crate::error::{Error, status_text};
use crate::notice;
use crate::ratelimit::{Limiter, TokioClock};

/// Longest env0 message kept in an error, in characters.
const MESSAGE_CHARS: usize = 200;
/// Most of an error response body read to find its message.
const ERROR_BODY_BYTES: usize = 64 * 1024;
/// Largest up-front allocation for a body, whatever Content-Length claims.
const PREALLOCATE_BYTES: u64 = 64 * 1024 * 1024;
/// Characters of body shown on either side of a decode error.
const SNIPPET_HALF: usize = 100;

/// One request target: the URL and how it is named in logs and errors (`GET /path?query`).
#[derive(Clone, Debug)]
pub(crate) struct Endpoint {
    url: Url,
    name: String,
}

impl Endpoint {
    pub(crate) fn name(&self) -> &str {
        &self.name
    }
}

/// The shared state behind an [`Env0Client`](crate::Env0Client) and its clones.
pub(crate) struct Transport {
    http: reqwest::Client,
    base_url: Url,
    limiter: Limiter<TokioClock>,
    max_retries: u32,
    retry_base_delay: Duration,
    max_retry_delay: Duration,
    max_body_bytes: u64,
    seeds: Mutex<StdRng>,
    on_retry: Option<RetryHook>,
    key_id: String,
    timeout: Duration,
    requests_per_minute: u32,
    user_agent: String,
    parallel_decoding: bool,
    /// Unparseable timestamps logged so far (see [`notice::TIMESTAMP_WARNINGS`]).
    timestamps_logged: AtomicU32,
}

/// What a decode produced, and in how many runs (1: by the serial decoder; see `split.rs`).
#[derive(Debug)]
pub(crate) struct Decoded<T> {
    pub(crate) value: T,
    pub(crate) runs: usize,
}

impl Transport {
    pub(crate) fn new(config: ClientConfig) -> Result<Transport, Error> {
        config.validate()?;
        let base_url = config.resolved_base_url()?;
        let requests_per_minute = NonZeroU32::new(config.requests_per_minute)
            .ok_or_else(|| Error::invalid_config("requests per minute must be at least 1"))?;
        let user_agent = HeaderValue::from_str(&config.user_agent).map_err(|_| {
            Error::invalid_config(format!(
                "the user agent `{}` is not a valid HTTP header value",
                config.user_agent.escape_default()
            ))
        })?;

        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        headers.insert(
            AUTHORIZATION,
            basic_authorization(&config.key_id, &config.secret)?,
        );

        let http = reqwest::Client::builder()
            .user_agent(user_agent)
            .default_headers(headers)
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(30)))
            // A redirect is not part of env0's API; following one could carry the credentials
            // somewhere else, so it is reported as an unexpected status instead.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::invalid_config(format!("cannot build the HTTP client: {e}")))?;

        let seed = config
            .jitter_seed
            .unwrap_or_else(|| RandomState::new().hash_one(0x656e_7630_u64));

        Ok(Transport {
            http,
            base_url,
            limiter: Limiter::new(requests_per_minute, TokioClock::new()),
            max_retries: config.max_retries,
            retry_base_delay: config.retry_base_delay,
            max_retry_delay: config.max_retry_delay,
            max_body_bytes: config.max_body_bytes,
            seeds: Mutex::new(StdRng::seed_from_u64(seed)),
            on_retry: config.on_retry,
            key_id: config.key_id,
            timeout: config.timeout,
            requests_per_minute: config.requests_per_minute,
            user_agent: config.user_agent,
            parallel_decoding: config.parallel_decoding,
            timestamps_logged: AtomicU32::new(0),
        })
    }

    pub(crate) fn base_url(&self) -> &Url {
        &self.base_url
    }

    /// Whether large list bodies may be decoded on several threads.
    pub(crate) fn parallel_decoding(&self) -> bool {
        self.parallel_decoding
    }

    /// `GET <base>/<segments...>?<query>`, every segment and value percent-encoded.
    pub(crate) fn endpoint(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
    ) -> Result<Endpoint, Error> {
        let mut url = self.base_url.clone();
        url.path_segments_mut()
            .map_err(|()| Error::invalid_config("the base URL cannot carry a path"))?
            .pop_if_empty()
            .extend(segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let name = match url.query() {
            Some(q) => format!("GET {}?{q}", url.path()),
            None => format!("GET {}", url.path()),
        };
        Ok(Endpoint { url, name })
    }

    /// Sends `GET endpoint` until it succeeds, fails permanently or runs out of retries, and
    /// decodes the JSON body.
    pub(crate) async fn get_json<T: DeserializeOwned>(
        &self,
        endpoint: &Endpoint,
    ) -> Result<T, Error> {
        self.get_decoded(endpoint, &|body: &[u8]| {
            serde_json::from_slice(body).map(|value| Decoded { value, runs: 1 })
        })
        .await
    }

    /// Like [`get_json`](Self::get_json) with a custom `decode` of the body, which runs once per
    /// attempt that gets a `200`. A body whose JSON ends early (serde_json's end-of-input
    /// category) is retried like a connection cut short; any other decode error is permanent.
    pub(crate) async fn get_decoded<T, D>(
        &self,
        endpoint: &Endpoint,
        decode: &D,
    ) -> Result<T, Error>
    where
        D: Fn(&[u8]) -> Result<Decoded<T>, serde_json::Error> + Sync,
    {
        let started = tokio::time::Instant::now();
        let attempts = &AtomicU32::new(0);
        let fetch = move || async move {
            let attempt = attempts.fetch_add(1, Ordering::Relaxed) + 1;
            self.attempt(endpoint, attempt, decode).await
        };
        let result = fetch
            .retry(self.backoff())
            .when(Failure::is_retryable)
            .adjust(|failure: &Failure, wait| {
                wait.map(|backoff| {
                    failure
                        .retry_after()
                        .map_or(backoff, |asked| asked.min(self.max_retry_delay))
                })
            })
            .notify(|failure: &Failure, wait| {
                self.report_retry(endpoint, attempts.load(Ordering::Relaxed), failure, wait);
            })
            .await;
        result.map_err(|failure| {
            failure.into_error(
                endpoint,
                attempts.load(Ordering::Relaxed),
                started.elapsed(),
            )
        })
    }

    /// Exponential steps from the base delay, doubling, capped, one per retry; each wait drawn
    /// uniformly from zero to the step ("full jitter").
    fn backoff(&self) -> FullJitter {
        let seed = self
            .seeds
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .next_u64();
        FullJitter {
            steps: ExponentialBuilder::new()
                .with_min_delay(self.retry_base_delay)
                .with_max_delay(self.max_retry_delay)
                .with_factor(2.0)
                .with_max_times(self.max_retries as usize)
                .build(),
            rng: StdRng::seed_from_u64(seed),
        }
    }

    fn report_retry(&self, endpoint: &Endpoint, attempt: u32, failure: &Failure, wait: Duration) {
        let status = failure.status();
        let reason = failure.reason();
        tracing::debug!(
            endpoint = %endpoint.name,
            attempt,
            status,
            wait_ms = wait.as_millis() as u64,
            reason = %reason,
            "retrying env0 request"
        );
        if let Some(hook) = &self.on_retry {
            hook(&RetryEvent {
                endpoint: endpoint.name.clone(),
                attempt,
                wait,
                status,
                retry_after: failure.retry_after(),
                reason,
            });
        }
    }

    /// One attempt: wait for the rate limiter, send, map the status, read and decode.
    async fn attempt<T, D>(
        &self,
        endpoint: &Endpoint,
        attempt: u32,
        decode: &D,
    ) -> Result<T, Failure>
    where
        D: Fn(&[u8]) -> Result<Decoded<T>, serde_json::Error> + Sync,
    {
        let throttled = self.limiter.acquire().await;
        let span = tracing::debug_span!(
            "env0_request",
            method = "GET",
            path = %endpoint.url.path(),
            query = endpoint.url.query().unwrap_or(""),
            attempt,
            status = tracing::field::Empty,
            duration_ms = tracing::field::Empty,
        );
        async move {
            if !throttled.is_zero() {
                tracing::trace!(
                    waited_ms = throttled.as_millis() as u64,
                    "rate limiter delayed the request"
                );
            }
            let started = tokio::time::Instant::now();
            let outcome = self.exchange(endpoint, decode).await;
            let duration_ms = started.elapsed().as_millis() as u64;
            tracing::Span::current().record("duration_ms", duration_ms);
            match &outcome {
                Ok(_) => tracing::debug!(duration_ms, "env0 request done"),
                Err(failure) => {
                    tracing::debug!(duration_ms, reason = %failure.reason(), "env0 request failed");
                }
            }
            outcome
        }
        .instrument(span)
        .await
    }

    async fn exchange<T, D>(&self, endpoint: &Endpoint, decode: &D) -> Result<T, Failure>
    where
        D: Fn(&[u8]) -> Result<Decoded<T>, serde_json::Error> + Sync,
    {
        let response = self
            .http
            .get(endpoint.url.clone())
            .send()
            .await
            .map_err(Failure::transport)?;
        let status = response.status();
        tracing::Span::current().record("status", status.as_u16());
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));

        if status.is_success() {
            let started = std::time::Instant::now();
            let body = self.read_body(response, endpoint).await?;
            let read = started.elapsed();
            let bytes = body
                .as_slice()
                .map_err(|bug| Failure::Permanent(internal(endpoint, &bug)))?;
            let (decoded, notices) = notice::collect(|| decode(bytes));
            let decoded = match decoded {
                Ok(decoded) => decoded,
                Err(error) if error.classify() == Category::Eof => {
                    return Err(Failure::CutShort(JsonPlace::of(&error)));
                }
                Err(error) => {
                    return Err(Failure::Permanent(decode_error(&error, bytes, endpoint)));
                }
            };
            tracing::debug!(
                bytes = body.len(),
                runs = decoded.runs,
                read_ms = u64::try_from(read.as_millis()).unwrap_or(u64::MAX),
                decode_ms = u64::try_from(started.elapsed().saturating_sub(read).as_millis())
                    .unwrap_or(u64::MAX),
                "env0 response body read and decoded"
            );
            // Once per response that decoded, in the request's span.
            if !notices.is_empty() {
                notices.log(&self.timestamps_logged);
            }
            // Free the body before the caller builds on what was decoded.
            drop(body);
            return Ok(decoded.value);
        }

        let message = read_error_message(response).await;
        let endpoint = endpoint.name.clone();
        Err(match status.as_u16() {
            429 => Failure::RateLimited { retry_after },
            code @ 500..=599 => Failure::Server {
                status: code,
                message,
                retry_after,
            },
            401 => Failure::Permanent(Error::Unauthorized { endpoint, message }),
            402 => Failure::Permanent(Error::NotInPlan { endpoint, message }),
            403 => Failure::Permanent(Error::Forbidden { endpoint, message }),
            404 => Failure::Permanent(Error::NotFound { endpoint, message }),
            code => Failure::Permanent(Error::UnexpectedStatus {
                endpoint,
                status: code,
                message,
            }),
        })
    }

    /// Reads the whole body, refusing more than the configured limit. A body cut short or
    /// unreadable is a retryable transport failure.
    async fn read_body(
        &self,
        mut response: reqwest::Response,
        endpoint: &Endpoint,
    ) -> Result<BodyBuffer, Failure> {
        let limit = self.max_body_bytes;
        let too_large = || {
            Failure::Permanent(Error::BodyTooLarge {
                endpoint: endpoint.name.clone(),
                limit,
            })
        };
        let declared = response.content_length();
        if declared.is_some_and(|len| len > limit) {
            return Err(too_large());
        }
        let capacity = declared.unwrap_or(0).min(limit).min(PREALLOCATE_BYTES);
        let mut body = BodyBuffer::with_capacity(usize::try_from(capacity).unwrap_or(0));
        while let Some(chunk) = response.chunk().await.map_err(Failure::transport)? {
            if (body.len() as u64).saturating_add(chunk.len() as u64) > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk)
                .map_err(|bug| Failure::Permanent(internal(endpoint, &bug)))?;
        }
        Ok(body)
    }
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Env0Client")
            .field("base_url", &self.base_url.as_str())
            .field("key_id", &self.key_id)
            .field("secret", &"[redacted]")
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .field("requests_per_minute", &self.requests_per_minute)
            .field("user_agent", &self.user_agent)
            .field("retry_base_delay", &self.retry_base_delay)
            .field("max_retry_delay", &self.max_retry_delay)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish_non_exhaustive()
    }
}

/// Backon's exponential steps with full jitter on top (backon's own jitter only adds).
struct FullJitter {
    steps: ExponentialBackoff,
    rng: StdRng,
}

impl Iterator for FullJitter {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let step = self.steps.next()?;
        Some(step.mul_f64(self.rng.random::<f64>()))
    }
}

/// Why one attempt failed.
enum Failure {
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
struct JsonPlace {
    reason: String,
    line: usize,
    column: usize,
}

impl JsonPlace {
    fn of(error: &serde_json::Error) -> JsonPlace {
        JsonPlace {
            reason: without_position(error),
            line: error.line(),
            column: error.column(),
        }
    }
}

impl Failure {
    fn transport(error: reqwest::Error) -> Failure {
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

    fn is_retryable(&self) -> bool {
        match self {
            Failure::Permanent(_) => false,
            Failure::RateLimited { .. } | Failure::Server { .. } | Failure::CutShort(_) => true,
            Failure::Transport { retryable, .. } => *retryable,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Failure::RateLimited { retry_after } | Failure::Server { retry_after, .. } => {
                *retry_after
            }
            Failure::Permanent(_) | Failure::Transport { .. } | Failure::CutShort(_) => None,
        }
    }

    fn status(&self) -> Option<u16> {
        match self {
            Failure::Permanent(e) => e.status(),
            Failure::RateLimited { .. } => Some(429),
            Failure::Server { status, .. } => Some(*status),
            Failure::CutShort(_) => Some(200),
            Failure::Transport { .. } => None,
        }
    }

    fn reason(&self) -> String {
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

    fn into_error(self, endpoint: &Endpoint, attempts: u32, elapsed: Duration) -> Error {
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

/// A complete body that is not the expected JSON: [`Error::Decode`] with position and snippet.
fn decode_error(error: &serde_json::Error, body: &[u8], endpoint: &Endpoint) -> Error {
    let (line, column) = (error.line(), error.column());
    Error::Decode {
        endpoint: endpoint.name.clone(),
        reason: without_position(error),
        line,
        column,
        snippet: snippet_around(body, line, column),
    }
}

/// serde_json's message without its ` at line L column C` suffix.
fn without_position(error: &serde_json::Error) -> String {
    let full = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    full.strip_suffix(&suffix).unwrap_or(&full).to_owned()
}

fn internal(endpoint: &Endpoint, bug: &impl fmt::Display) -> Error {
    Error::Internal {
        endpoint: endpoint.name.clone(),
        message: bug.to_string(),
    }
}

/// At most `2 * SNIPPET_HALF` characters of `body` around a 1-based line and column, control
/// characters replaced by spaces.
pub(crate) fn snippet_around(body: &[u8], line: usize, column: usize) -> String {
    let mut line_start = 0;
    for _ in 1..line {
        match body
            .get(line_start..)
            .and_then(|rest| rest.iter().position(|&b| b == b'\n'))
        {
            Some(pos) => line_start += pos + 1,
            None => break,
        }
    }
    let offset = line_start
        .saturating_add(column.saturating_sub(1))
        .min(body.len());
    let start = offset.saturating_sub(SNIPPET_HALF);
    let end = offset.saturating_add(SNIPPET_HALF).min(body.len());
    // `start <= offset <= end <= body.len()` by construction; if that ever broke, the snippet
    // says so rather than showing nothing.
    let Some(window) = body.get(start..end) else {
        debug_assert!(
            false,
            "snippet window {start}..{end} outside a {}-byte body",
            body.len()
        );
        return format!("(no snippet: window {start}..{end} is outside the body; this is a bug)");
    };
    String::from_utf8_lossy(window)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(2 * SNIPPET_HALF)
        .collect()
}

/// env0's error message: JSON `message` (or `error`), else the raw text; sanitised and
/// truncated. Reading problems give an empty message: the status already says enough.
async fn read_error_message(mut response: reqwest::Response) -> String {
    let mut body = Vec::new();
    while body.len() < ERROR_BODY_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    body.truncate(ERROR_BODY_BYTES);
    error_message(&body)
}

pub(crate) fn error_message(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct ErrorBody {
        #[serde(default, deserialize_with = "opt_string")]
        message: Option<String>,
        #[serde(default, deserialize_with = "opt_string")]
        error: Option<String>,
    }
    let text = match serde_json::from_slice::<ErrorBody>(body) {
        Ok(parsed) => parsed.message.or(parsed.error).unwrap_or_default(),
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    };
    sanitize(&text)
}

/// One line, control characters and runs of whitespace collapsed, at most 200 characters.
fn sanitize(text: &str) -> String {
    let mut out = String::new();
    let mut chars = 0;
    for word in text.split(|c: char| c.is_whitespace() || c.is_control()) {
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
            chars += 1;
        }
        for c in word.chars() {
            if chars >= MESSAGE_CHARS {
                out.push('…');
                return out;
            }
            out.push(c);
            chars += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("1.5", now),
            Some(Duration::from_millis(1500))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(12));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(12))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(12));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }

    #[test]
    fn full_jitter_stays_within_doubling_capped_steps() {
        let mut backoff = FullJitter {
            steps: ExponentialBuilder::new()
                .with_min_delay(Duration::from_secs(1))
                .with_max_delay(Duration::from_secs(30))
                .with_factor(2.0)
                .with_max_times(8)
                .build(),
            rng: StdRng::seed_from_u64(7),
        };
        let caps = [1, 2, 4, 8, 16, 30, 30, 30];
        let waits: Vec<Duration> = backoff.by_ref().collect();
        assert_eq!(waits.len(), 8);
        for (wait, cap) in waits.iter().zip(caps) {
            assert!(*wait <= Duration::from_secs(cap), "{wait:?} > {cap}s");
        }
        // Full jitter: waits are not all at the cap.
        assert!(
            waits
                .iter()
                .zip(caps)
                .any(|(w, c)| *w < Duration::from_secs(c) / 2)
        );
    }

    #[test]
    fn error_message_prefers_json_message_then_raw_text() {
        assert_eq!(
            error_message(br#"{"message":"Internal server error"}"#),
            "Internal server error"
        );
        assert_eq!(error_message(br#"{"error":"nope","x":1}"#), "nope");
        assert_eq!(
            error_message(b"<html>\n  Bad   Gateway\n</html>"),
            "<html> Bad Gateway </html>"
        );
        assert_eq!(error_message(b""), "");
        let long = "x".repeat(500);
        let msg = error_message(long.as_bytes());
        assert_eq!(msg.chars().count(), 201);
        assert!(msg.ends_with('…'));
    }

    #[test]
    fn snippet_is_centred_and_bounded() {
        let body = format!("[\n\"{}\",\n  {{\"id\": oops}}\n]", "y".repeat(300));
        let err = serde_json::from_str::<serde_json::Value>(&body).unwrap_err();
        let snippet = snippet_around(body.as_bytes(), err.line(), err.column());
        assert!(snippet.contains("oops"), "{snippet}");
        assert!(snippet.chars().count() <= 200);
        assert!(!snippet.contains('\n'));
        assert_eq!(snippet_around(b"", 1, 0), "");
        assert_eq!(snippet_around(b"ab", 9, 9), "ab");
    }

    /// A `tracing` writer that keeps everything in memory.
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Lives here rather than in `tests/it` because `tracing` caches callsite interest
    /// process-wide: in the integration binary, other tests running the same requests on other
    /// threads without a subscriber race with this one. No other unit test sends requests.
    #[tokio::test]
    async fn trace_logs_show_spans_and_retries_but_never_the_secret() {
        use base64::Engine as _;

        const SECRET: &str = "log-S3CRET-never-shown";
        let captured = Captured::default();
        let sink = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
            .with_ansi(false)
            .with_writer(move || sink.clone())
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);

        let mut server = mockito::Server::new_async().await;
        let busy = server
            .mock("GET", "/organizations")
            .with_status(503)
            .with_body("busy")
            .expect(1)
            .create_async()
            .await;
        let ok = server
            .mock("GET", "/organizations")
            .with_body(r#"[{"id":"o1","createdAt":"soon"}]"#)
            .expect(1)
            .create_async()
            .await;
        // Twelve unparseable timestamps: with the one above, the first ten are warnings.
        let keys: Vec<String> = (0..12)
            .map(|i| format!(r#"{{"id":"k{i}","lastUsedAt":"never {i}"}}"#))
            .collect();
        let api_keys = server
            .mock("GET", "/api-keys")
            .match_query(mockito::Matcher::Any)
            .with_body(format!("[{}]", keys.join(",")))
            .expect(1)
            .create_async()
            .await;
        let teams = server
            .mock("GET", "/teams/organizations/o1")
            .match_query(mockito::Matcher::Any)
            .with_body(r#"{"teams":[{"id":"t1","users":[{"user_id":"u1"},{"email":"x"},{}]}]}"#)
            .expect(1)
            .create_async()
            .await;
        let denied = server
            .mock("GET", "/organizations/o1/users")
            .with_status(401)
            .expect(1)
            .create_async()
            .await;
        let config = ClientConfig::new("key-id".into(), secrecy::SecretString::from(SECRET))
            .base_url(&server.url())
            .unwrap()
            .retry_base_delay(Duration::from_millis(1))
            .max_retry_delay(Duration::from_millis(2));
        let client = crate::Env0Client::new(config).unwrap();
        client.organizations().await.unwrap();
        client
            .organization_users(&crate::OrgId::new("o1"))
            .await
            .unwrap_err();
        client.api_keys(&crate::OrgId::new("o1")).await.unwrap();
        let team = client.all_teams(&crate::OrgId::new("o1")).await.unwrap();
        assert_eq!(team[0].users.len(), 1);
        busy.assert_async().await;
        ok.assert_async().await;
        denied.assert_async().await;
        api_keys.assert_async().await;
        teams.assert_async().await;

        let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let encoded = base64::engine::general_purpose::STANDARD.encode(format!("key-id:{SECRET}"));
        assert!(!logs.contains(SECRET), "{logs}");
        assert!(!logs.contains(&encoded), "{logs}");
        assert!(!logs.contains("Basic "), "{logs}");
        for expected in [
            "env0_request{method=\"GET\" path=/organizations query=\"\" attempt=1 status=503",
            "env0_request{method=\"GET\" path=/organizations query=\"\" attempt=2 status=200",
            "env0_request{method=\"GET\" path=/organizations/o1/users query=\"\" attempt=1 status=401",
            "duration_ms=",
            "retrying env0 request endpoint=GET /organizations attempt=1 status=503 wait_ms=",
        ] {
            assert!(logs.contains(expected), "missing `{expected}` in:\n{logs}");
        }

        // What decoding noticed is logged once per response, inside the request's span, the
        // first ten unparseable timestamps of the client as warnings and the rest at debug.
        let noticed: Vec<&str> = logs
            .lines()
            .filter(|l| l.contains("timestamp that does not parse"))
            .collect();
        assert_eq!(noticed.len(), 13, "{logs}");
        let (first, keys) = noticed.split_at(1);
        assert!(
            first[0].contains(" WARN env0_request{method=\"GET\" path=/organizations query=\"\" attempt=2 status=200}")
                && first[0].ends_with("value=soon"),
            "{}",
            first[0]
        );
        for (i, line) in keys.iter().enumerate() {
            let level = if i < 9 { " WARN " } else { " DEBUG " };
            assert!(line.contains(level), "{i}: {line}");
            assert!(
                line.contains("env0_request{method=\"GET\" path=/api-keys"),
                "{line}"
            );
            assert!(line.ends_with(&format!("value=never {i}")), "{line}");
        }
        let skipped: Vec<&str> = logs
            .lines()
            .filter(|l| l.contains("skipped embedded user entries without a user_id"))
            .collect();
        assert_eq!(skipped.len(), 1, "{logs}");
        assert!(
            skipped[0].contains(" WARN env0_request{method=\"GET\" path=/teams/organizations/o1")
                && skipped[0].ends_with("skipped=2"),
            "{}",
            skipped[0]
        );
    }
}
