//! Sending requests: rate limit, retry with backoff, status mapping, bounded body reads and
//! decoding.

use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use backon::{BackoffBuilder, ExponentialBuilder, Retryable};
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderMap, HeaderValue, Method};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use serde::de::DeserializeOwned;
use tokio::sync::SemaphorePermit;
use tracing::Instrument;
use url::Url;

use crate::auth::basic_authorization;
use crate::config::{ClientConfig, RetryEvent, RetryHook, ThrottleEvent, ThrottleHook};
use crate::error::Error;
use crate::notice;
use crate::ratelimit::{Limiter, TokioClock};

/// What a path segment keeps as it is, as Go's `url.PathEscape` (and so env0's Terraform
/// provider) does: letters, digits, `-_.~` and `$&+,:;=@`. Everything else is percent-encoded,
/// `|` of an Auth0 user id (`auth0|…`) included.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b',')
    .remove(b':')
    .remove(b';')
    .remove(b'=')
    .remove(b'@');

mod messages;
mod retry;
mod sink;
#[cfg(test)]
mod tests;
mod write;

pub(crate) use write::WriteBody;

use messages::read_error_message;
pub(crate) use messages::{snippet_at, without_position};
pub(crate) use retry::parse_retry_after;
use retry::{Failure, FullJitter};

/// Longest env0 message kept in an error, in characters.
const MESSAGE_CHARS: usize = 200;
/// Most of an error response body read to find its message.
const ERROR_BODY_BYTES: usize = 64 * 1024;
/// Largest up-front allocation for a body, or for the list decoded from it while it arrives,
/// whatever Content-Length claims.
pub(crate) const PREALLOCATE_BYTES: u64 = 64 * 1024 * 1024;
/// Characters of body shown on either side of a decode error.
const SNIPPET_HALF: usize = 100;

/// One request target: the URL, how it is named in logs and errors (`GET /path?query`), and
/// what the rate limit counts it as (`GET /path`).
#[derive(Clone, Debug)]
pub(crate) struct Endpoint {
    method: Method,
    url: Url,
    name: String,
    limit_key: String,
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
    /// Places for requests in flight.
    in_flight: tokio::sync::Semaphore,
    on_throttle: Option<ThrottleHook>,
    max_retries: u32,
    retry_base_delay: Duration,
    max_retry_delay: Duration,
    max_retry_after: Duration,
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

/// What a decode produced, and in how many runs (1: by the serial decoder; see `parallel_decode`).
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
            in_flight: tokio::sync::Semaphore::new(
                config
                    .max_concurrent_requests
                    .min(tokio::sync::Semaphore::MAX_PERMITS),
            ),
            on_throttle: config.on_throttle,
            max_retries: config.max_retries,
            retry_base_delay: config.retry_base_delay,
            max_retry_delay: config.max_retry_delay,
            max_retry_after: config.max_retry_after,
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
        self.endpoint_for(Method::GET, segments, query)
    }

    /// `<method> <base>/<segments...>?<query>`, every segment and value percent-encoded.
    pub(crate) fn endpoint_for(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
    ) -> Result<Endpoint, Error> {
        let mut url = self.base_url.clone();
        if url.cannot_be_a_base() {
            return Err(Error::invalid_config("the base URL cannot carry a path"));
        }
        let mut path = url.path().trim_end_matches('/').to_owned();
        for segment in segments {
            path.push('/');
            path.extend(utf8_percent_encode(segment, PATH_SEGMENT));
        }
        url.set_path(&path);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let limit_key = format!("{method} {}", url.path());
        let name = match url.query() {
            Some(q) => format!("{limit_key}?{q}"),
            None => limit_key.clone(),
        };
        Ok(Endpoint {
            method,
            url,
            name,
            limit_key,
        })
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
        self.get_with(endpoint, &|declared| sink::Whole::new(decode, declared))
            .await
    }

    /// Like [`get_decoded`](Self::get_decoded) for a JSON list decoded while its body arrives
    /// (see `stream_decode`): the body is never held whole, each element goes to a collector
    /// made by `collect` for the attempt. Errors are the same as decoding the whole body; one cut
    /// short is retried from its start, with a fresh collector.
    pub(crate) async fn get_streamed_list<E, C, M>(
        &self,
        endpoint: &Endpoint,
        collect: &M,
    ) -> Result<C::Output, Error>
    where
        E: DeserializeOwned,
        C: crate::stream_decode::Collect<E>,
        M: Fn() -> C + Sync,
    {
        self.get_with(endpoint, &|declared| {
            sink::Streamed::new(collect(), declared)
        })
        .await
    }

    /// Sends `GET endpoint` until it succeeds, fails permanently or runs out of retries; each
    /// attempt that gets a `200` reads its body into a fresh sink from `sink` (given the declared
    /// length).
    async fn get_with<T, S, M>(&self, endpoint: &Endpoint, sink: &M) -> Result<T, Error>
    where
        S: sink::Sink<T>,
        M: Fn(Option<u64>) -> S + Sync,
    {
        let started = tokio::time::Instant::now();
        let attempts = &AtomicU32::new(0);
        let fetch = move || async move {
            let attempt = attempts.fetch_add(1, Ordering::Relaxed) + 1;
            self.attempt(endpoint, attempt, sink).await
        };
        let result = fetch
            .retry(self.backoff())
            .when(Failure::is_retryable)
            .adjust(|failure: &Failure, wait| {
                wait.map(|backoff| {
                    failure
                        .retry_after()
                        .map_or(backoff, |asked| asked.min(self.max_retry_after))
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

    /// Waits for a place among the requests in flight and a slot of the endpoint's path rate
    /// limit, in that order, so the slot is taken just before the request is sent. A request
    /// that must wait for its path gives its place back while it waits, so requests to other
    /// paths go meanwhile. Returns the place (held until the response is read) and the time
    /// spent waiting for the rate limit.
    async fn admit(&self, endpoint: &Endpoint) -> (Option<SemaphorePermit<'_>>, Duration) {
        let mut throttled = Duration::ZERO;
        loop {
            // The semaphore is never closed; were it, requests would go unbounded rather than
            // fail.
            let place = self.in_flight.acquire().await.ok();
            match self.limiter.try_acquire(&endpoint.limit_key) {
                Ok(()) => return (place, throttled),
                Err(wait) => {
                    drop(place);
                    let wait = wait.max(Duration::from_millis(1));
                    if let Some(hook) = &self.on_throttle {
                        hook(&ThrottleEvent {
                            path: endpoint.limit_key.clone(),
                            wait,
                        });
                    }
                    tokio::time::sleep(wait).await;
                    throttled += wait;
                }
            }
        }
    }

    /// One attempt: wait for the rate limiter, send, map the status, read and decode.
    async fn attempt<T, S, M>(
        &self,
        endpoint: &Endpoint,
        attempt: u32,
        sink: &M,
    ) -> Result<T, Failure>
    where
        S: sink::Sink<T>,
        M: Fn(Option<u64>) -> S + Sync,
    {
        self.in_request_span(endpoint, attempt, self.exchange(endpoint, sink))
            .await
    }

    /// Waits for the rate limit (see [`admit`](Self::admit)), then runs one attempt's `exchange`
    /// inside its `env0_request` span, logging the wait, the duration and the outcome.
    async fn in_request_span<T, E: Outcome>(
        &self,
        endpoint: &Endpoint,
        attempt: u32,
        exchange: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let (place, throttled) = self.admit(endpoint).await;
        let span = tracing::debug_span!(
            "env0_request",
            method = endpoint.method.as_str(),
            path = %endpoint.url.path(),
            query = endpoint.url.query().unwrap_or(""),
            attempt,
            status = tracing::field::Empty,
            duration_ms = tracing::field::Empty,
        );
        async move {
            if !throttled.is_zero() {
                tracing::debug!(
                    waited_ms = throttled.as_millis() as u64,
                    path = %endpoint.limit_key,
                    "the path's rate limit delayed the request"
                );
            }
            let started = tokio::time::Instant::now();
            let outcome = exchange.await;
            drop(place);
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

    async fn exchange<T, S, M>(&self, endpoint: &Endpoint, sink: &M) -> Result<T, Failure>
    where
        S: sink::Sink<T>,
        M: Fn(Option<u64>) -> S + Sync,
    {
        // env0's own clients send the JSON content type on every request, reads included.
        let response = self
            .http
            .get(endpoint.url.clone())
            .header(CONTENT_TYPE, "application/json")
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
            return self.read_body(response, endpoint, sink).await;
        }

        let message = read_error_message(response).await;
        Err(status_failure(
            status.as_u16(),
            retry_after,
            message,
            endpoint,
        ))
    }

    /// Reads the body into a sink as it arrives, refusing more than the configured limit. A
    /// body cut short or unreadable is a retryable transport failure.
    async fn read_body<T, S, M>(
        &self,
        mut response: reqwest::Response,
        endpoint: &Endpoint,
        sink: &M,
    ) -> Result<T, Failure>
    where
        S: sink::Sink<T>,
        M: Fn(Option<u64>) -> S + Sync,
    {
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
        let started = std::time::Instant::now();
        let mut decoding = Duration::ZERO;
        let mut noticed = notice::Notices::default();
        let mut sink = sink(declared.map(|len| len.min(limit)));
        let mut bytes: u64 = 0;
        while let Some(chunk) = response.chunk().await.map_err(Failure::transport)? {
            bytes = bytes.saturating_add(chunk.len() as u64);
            if bytes > limit {
                return Err(too_large());
            }
            let fed = std::time::Instant::now();
            let (outcome, remarks) = notice::collect(|| sink.feed(&chunk, endpoint));
            decoding += fed.elapsed();
            outcome?;
            noticed.absorb(remarks);
        }
        let finished = std::time::Instant::now();
        let (decoded, remarks) = notice::collect(|| sink.finish(endpoint));
        decoding += finished.elapsed();
        let decoded = decoded?;
        noticed.absorb(remarks);
        let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        tracing::debug!(
            bytes,
            runs = decoded.runs,
            read_ms = millis(started.elapsed().saturating_sub(decoding)),
            decode_ms = millis(decoding),
            "env0 response body read and decoded"
        );
        // Once per response that decoded, in the request's span.
        if !noticed.is_empty() {
            noticed.log(&self.timestamps_logged);
        }
        Ok(decoded.value)
    }
}

/// What the request span says of a failed attempt.
trait Outcome {
    fn reason(&self) -> String;
}

impl Outcome for Failure {
    fn reason(&self) -> String {
        Failure::reason(self)
    }
}

/// The failure an error status means: 429 and 5xx are worth retrying (for a `GET`), the rest
/// are permanent.
fn status_failure(
    status: u16,
    retry_after: Option<Duration>,
    message: String,
    endpoint: &Endpoint,
) -> Failure {
    let endpoint = endpoint.name.clone();
    match status {
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
            .field("max_retry_after", &self.max_retry_after)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish_non_exhaustive()
    }
}
