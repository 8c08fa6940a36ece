//! Client configuration.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use url::{Host, Url};

use crate::error::Error;

/// The public env0 API.
pub const DEFAULT_BASE_URL: &str = "https://api.env0.com";
/// Default per-request timeout (connect, send, and read the whole body).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Default number of retries after the first attempt (so 9 attempts in all).
pub const DEFAULT_MAX_RETRIES: u32 = 8;
/// Default client-side rate limit. env0 allows about 1000 requests a minute per source IP.
pub const DEFAULT_REQUESTS_PER_MINUTE: u32 = 900;
/// Default first backoff step; later steps double up to [`DEFAULT_MAX_RETRY_DELAY`].
pub const DEFAULT_RETRY_BASE_DELAY: Duration = Duration::from_secs(1);
/// Default cap on one backoff step between attempts.
pub const DEFAULT_MAX_RETRY_DELAY: Duration = Duration::from_secs(30);
/// Default cap on a wait env0 asks for with `Retry-After`: a per-minute window can ask for a
/// whole minute, which is waited in full (retrying sooner would only meet another `429` and
/// count against the window again).
pub const DEFAULT_MAX_RETRY_AFTER: Duration = Duration::from_secs(300);
/// Default number of requests in flight at once.
pub const DEFAULT_MAX_CONCURRENT_REQUESTS: usize = 4;
/// Default largest response body accepted (a users list of a big organization is tens of MB).
pub const DEFAULT_MAX_BODY_BYTES: u64 = 512 * 1024 * 1024;

/// The default user agent, `baton-env0/<version>`.
pub fn default_user_agent() -> String {
    format!("baton-env0/{}", env!("CARGO_PKG_VERSION"))
}

/// What the client reports before it waits and retries a request.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryEvent {
    /// The request, `GET /path?query`.
    pub endpoint: String,
    /// The attempt that failed (1 for the first).
    pub attempt: u32,
    /// How long the client waits before the next attempt.
    pub wait: Duration,
    /// The HTTP status of the failed attempt, if it got one.
    pub status: Option<u16>,
    /// The server's `Retry-After`, when it sent one (the wait honours it, capped).
    pub retry_after: Option<Duration>,
    /// Why the attempt failed, in a few words.
    pub reason: String,
}

/// A callback told about every retry, for progress reporting.
pub type RetryHook = Arc<dyn Fn(&RetryEvent) + Send + Sync>;

/// What the client reports when a request waits for the rate limit of its path.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ThrottleEvent {
    /// What the limit counts: the method and the URL path, without the query string
    /// (`GET /roles/assignments/teams`).
    pub path: String,
    /// How long the request waits before it asks again.
    pub wait: Duration,
}

/// A callback told every time a request waits for its path's rate limit.
pub type ThrottleHook = Arc<dyn Fn(&ThrottleEvent) + Send + Sync>;

/// How to reach env0 and how hard to try.
///
/// ```text
/// let config = ClientConfig::new(key_id, secret)
///     .base_url("http://127.0.0.1:8080")?
///     .max_retries(3);
/// ```
///
/// `Debug` never shows the secret.
#[derive(Clone)]
pub struct ClientConfig {
    /// `None` means [`DEFAULT_BASE_URL`].
    pub(crate) base_url: Option<Url>,
    pub(crate) key_id: String,
    pub(crate) secret: SecretString,
    pub(crate) timeout: Duration,
    pub(crate) max_retries: u32,
    pub(crate) requests_per_minute: u32,
    pub(crate) user_agent: String,
    pub(crate) retry_base_delay: Duration,
    pub(crate) max_retry_delay: Duration,
    pub(crate) max_retry_after: Duration,
    pub(crate) max_body_bytes: u64,
    pub(crate) jitter_seed: Option<u64>,
    pub(crate) on_retry: Option<RetryHook>,
    pub(crate) on_throttle: Option<ThrottleHook>,
    pub(crate) parallel_decoding: bool,
    pub(crate) max_concurrent_requests: usize,
}

impl ClientConfig {
    /// A configuration for the public API with the defaults: base URL `https://api.env0.com`,
    /// 60 s timeout, 8 retries, 900 requests per minute on each path, 4 requests in flight at
    /// once, user agent `baton-env0/<version>`.
    pub fn new(key_id: String, secret: SecretString) -> ClientConfig {
        ClientConfig {
            base_url: None,
            key_id,
            secret,
            timeout: DEFAULT_TIMEOUT,
            max_retries: DEFAULT_MAX_RETRIES,
            requests_per_minute: DEFAULT_REQUESTS_PER_MINUTE,
            user_agent: default_user_agent(),
            retry_base_delay: DEFAULT_RETRY_BASE_DELAY,
            max_retry_delay: DEFAULT_MAX_RETRY_DELAY,
            max_retry_after: DEFAULT_MAX_RETRY_AFTER,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            jitter_seed: None,
            on_retry: None,
            on_throttle: None,
            parallel_decoding: true,
            max_concurrent_requests: DEFAULT_MAX_CONCURRENT_REQUESTS,
        }
    }

    /// Sets the API base URL. It must be `https://`, or `http://` with a loopback host
    /// (`127.0.0.0/8`, `::1` or `localhost`); it may carry a path prefix but no credentials,
    /// query or fragment.
    pub fn base_url(mut self, base_url: &str) -> Result<ClientConfig, Error> {
        self.base_url = Some(parse_base_url(base_url)?);
        Ok(self)
    }

    /// Sets the per-request timeout (connect, send and read the whole body). Must be non-zero.
    pub fn timeout(mut self, timeout: Duration) -> ClientConfig {
        self.timeout = timeout;
        self
    }

    /// Sets how many times a failed request is retried (0 disables retrying).
    pub fn max_retries(mut self, max_retries: u32) -> ClientConfig {
        self.max_retries = max_retries;
        self
    }

    /// Sets the client-side rate limit, which applies to each method + URL path (without the
    /// query string) separately, the way env0 counts: in any 60-second window no path is sent
    /// more than this many requests. Must be non-zero.
    pub fn requests_per_minute(mut self, requests_per_minute: u32) -> ClientConfig {
        self.requests_per_minute = requests_per_minute;
        self
    }

    /// Sets the `User-Agent` header.
    pub fn user_agent(mut self, user_agent: String) -> ClientConfig {
        self.user_agent = user_agent;
        self
    }

    /// Sets the first backoff step (default 1 s). Waits are drawn uniformly from zero to
    /// `base * 2^(attempt-1)` ("full jitter"), never more than [`ClientConfig::max_retry_delay`].
    pub fn retry_base_delay(mut self, delay: Duration) -> ClientConfig {
        self.retry_base_delay = delay;
        self
    }

    /// Caps one backoff step between attempts (default 30 s). A wait env0 asks for with
    /// `Retry-After` has its own cap, [`ClientConfig::max_retry_after`].
    pub fn max_retry_delay(mut self, delay: Duration) -> ClientConfig {
        self.max_retry_delay = delay;
        self
    }

    /// Caps a wait env0 asks for with `Retry-After` (default 5 minutes); a shorter one is
    /// waited exactly as asked.
    pub fn max_retry_after(mut self, delay: Duration) -> ClientConfig {
        self.max_retry_after = delay;
        self
    }

    /// Sets the largest response body accepted (default 512 MiB). Larger bodies fail with
    /// [`Error::BodyTooLarge`].
    pub fn max_body_bytes(mut self, limit: u64) -> ClientConfig {
        self.max_body_bytes = limit;
        self
    }

    /// Seeds the backoff jitter, for reproducible waits in tests. Unseeded clients draw a random
    /// seed.
    pub fn jitter_seed(mut self, seed: u64) -> ClientConfig {
        self.jitter_seed = Some(seed);
        self
    }

    /// Whether a large list body (4 MiB or more) read whole may be decoded on up to four threads
    /// of its own (default: yes). Off, every body is decoded on the thread that awaits the
    /// request. What is accepted, and every error, is the same either way. The member list
    /// ([`Env0Client::organization_users_with`](crate::Env0Client::organization_users_with)) is
    /// decoded while it arrives instead, on the awaiting thread, whatever this says.
    pub fn parallel_decoding(mut self, enabled: bool) -> ClientConfig {
        self.parallel_decoding = enabled;
        self
    }

    /// Sets how many requests may be in flight at once across all clones of the client (at
    /// least 1). A request waiting for its path's rate limit does not hold a place.
    pub fn max_concurrent_requests(mut self, requests: usize) -> ClientConfig {
        self.max_concurrent_requests = requests;
        self
    }

    /// Registers a callback told every time a request waits for its path's rate limit.
    pub fn on_throttle(
        mut self,
        hook: impl Fn(&ThrottleEvent) + Send + Sync + 'static,
    ) -> ClientConfig {
        self.on_throttle = Some(Arc::new(hook));
        self
    }

    /// Registers a callback told about every retry before the client waits.
    pub fn on_retry(mut self, hook: impl Fn(&RetryEvent) + Send + Sync + 'static) -> ClientConfig {
        self.on_retry = Some(Arc::new(hook));
        self
    }

    /// The base URL requests go to.
    pub(crate) fn resolved_base_url(&self) -> Result<Url, Error> {
        match &self.base_url {
            Some(url) => Ok(url.clone()),
            None => parse_base_url(DEFAULT_BASE_URL),
        }
    }

    /// The configured API key id (the Basic-auth user name; not a secret).
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        if self.timeout.is_zero() {
            return Err(Error::invalid_config(
                "the request timeout must be above zero",
            ));
        }
        if self.requests_per_minute == 0 {
            return Err(Error::invalid_config(
                "requests per minute must be at least 1",
            ));
        }
        if self.max_retry_delay < self.retry_base_delay {
            return Err(Error::invalid_config(
                "the maximum retry delay must not be below the retry base delay",
            ));
        }
        if self.max_concurrent_requests == 0 {
            return Err(Error::invalid_config(
                "the number of concurrent requests must be at least 1",
            ));
        }
        if self.max_body_bytes == 0 {
            return Err(Error::invalid_config(
                "the maximum body size must be above zero",
            ));
        }
        Ok(())
    }
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field(
                "base_url",
                &self.base_url.as_ref().map_or(DEFAULT_BASE_URL, Url::as_str),
            )
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
            .field("jitter_seed", &self.jitter_seed)
            .field("on_retry", &self.on_retry.as_ref().map(|_| "set"))
            .field("on_throttle", &self.on_throttle.as_ref().map(|_| "set"))
            .field("parallel_decoding", &self.parallel_decoding)
            .field("max_concurrent_requests", &self.max_concurrent_requests)
            .finish()
    }
}

/// The rule for base URLs: `https`, or `http` to a loopback host only.
pub(crate) fn parse_base_url(raw: &str) -> Result<Url, Error> {
    const RULE: &str = "the base URL must use https:// (plain http:// is allowed only for a \
                        loopback host: 127.0.0.0/8, ::1 or localhost)";
    let url = Url::parse(raw.trim())
        .map_err(|e| Error::invalid_config(format!("base URL `{raw}` does not parse: {e}")))?;
    let shown = display_without_credentials(&url);
    match url.scheme() {
        "https" => {}
        "http" => {
            if !is_loopback(&url) {
                return Err(Error::invalid_config(format!(
                    "base URL `{shown}` is plain http to a non-loopback host; {RULE}"
                )));
            }
        }
        other => {
            return Err(Error::invalid_config(format!(
                "base URL `{shown}` uses the scheme `{other}`; {RULE}"
            )));
        }
    }
    if url.host().is_none() {
        return Err(Error::invalid_config(format!(
            "base URL `{shown}` has no host"
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::invalid_config(format!(
            "base URL `{shown}` must not contain credentials; pass the API key id and secret separately"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::invalid_config(format!(
            "base URL `{shown}` must not have a query or fragment"
        )));
    }
    Ok(url)
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// The URL with any user name or password removed, for messages.
fn display_without_credentials(url: &Url) -> String {
    let mut clean = url.clone();
    // Both setters only fail for URLs that cannot have credentials, which then have none.
    let _ = clean.set_username("");
    let _ = clean.set_password(None);
    clean.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(raw: &str) -> String {
        parse_base_url(raw).unwrap_err().to_string()
    }

    #[test]
    fn https_and_loopback_http_are_accepted() {
        for ok in [
            "https://api.env0.com",
            "https://example.test/prefix/",
            "http://127.0.0.1:8080",
            "http://127.1.2.3",
            "http://[::1]:9000",
            "http://localhost:3000",
            "http://LOCALHOST",
        ] {
            assert!(parse_base_url(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn plain_http_elsewhere_is_refused_naming_the_rule() {
        let msg = message("http://api.env0.com");
        assert!(
            msg.contains("loopback host: 127.0.0.0/8, ::1 or localhost"),
            "{msg}"
        );
        assert!(message("http://10.0.0.1").contains("plain http"));
        assert!(message("http://localhost.evil.test").contains("plain http"));
        assert!(message("ftp://localhost").contains("scheme `ftp`"));
        assert!(message("not a url").contains("does not parse"));
    }

    #[test]
    fn credentials_query_and_fragment_are_refused_without_echoing_them() {
        let msg = message("https://id:hunter2@api.env0.com");
        assert!(msg.contains("must not contain credentials"), "{msg}");
        assert!(!msg.contains("hunter2"), "{msg}");
        assert!(message("https://api.env0.com/?a=b").contains("query"));
    }

    #[test]
    fn defaults_match_the_contract() {
        let c = ClientConfig::new("id".into(), SecretString::from("s"));
        assert_eq!(
            c.resolved_base_url().unwrap().as_str(),
            "https://api.env0.com/"
        );
        assert_eq!(c.timeout, Duration::from_secs(60));
        assert_eq!(c.max_retries, 8);
        assert_eq!(c.requests_per_minute, 900);
        assert!(c.parallel_decoding);
        assert_eq!(c.max_concurrent_requests, 4);
        assert_eq!(
            c.user_agent,
            format!("baton-env0/{}", env!("CARGO_PKG_VERSION"))
        );
    }
}
