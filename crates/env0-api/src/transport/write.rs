//! Sending writes (`PUT`, `POST`, `DELETE`) without ever sending one twice by accident.
//!
//! A write is sent again only when env0 cannot have acted on it: it answered 429 (its rate
//! limiter refuses before anything happens) or the connection could not be opened. Every other
//! failure after the request may have left (a timeout, a connection dropped before the answer, a
//! 5xx from env0 or a proxy in front of it) is [`Error::Unconfirmed`]: the caller reads the
//! state back and decides whether the write was applied. When no answer came before the timeout
//! (or a gateway answered 504), env0 may still be working on the write, which the error says.

use std::time::{Duration, SystemTime};

use http::header::{CONTENT_TYPE, RETRY_AFTER};

use super::messages::read_error_message;
use super::retry::Failure;
use super::{Endpoint, Transport, parse_retry_after, status_failure};
use crate::error::{Error, status_text};

/// The body of a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WriteBody {
    /// No body.
    Empty,
    /// Text sent verbatim as `text/plain; charset=utf-8` (env0's organization role call takes
    /// the bare role this way).
    Text(String),
    /// A JSON document, sent as `application/json`.
    Json(Vec<u8>),
}

/// Why one attempt of a write failed.
pub(super) enum WriteFailure {
    /// env0 cannot have acted on it: worth another attempt.
    NotSent(Failure),
    /// It may have been applied; `true` when env0 may still be working on it.
    Unconfirmed(String, bool),
    /// A refusal that another attempt would meet again.
    Permanent(Error),
}

impl super::Outcome for WriteFailure {
    fn reason(&self) -> String {
        match self {
            WriteFailure::NotSent(failure) => failure.reason(),
            WriteFailure::Unconfirmed(reason, _) => format!("outcome unknown: {reason}"),
            WriteFailure::Permanent(error) => error.to_string(),
        }
    }
}

impl Transport {
    /// Sends the write until env0 answers 2xx, refuses it, or its outcome becomes unknown (see
    /// the module docs). The response body is read and dropped.
    pub(crate) async fn write(&self, endpoint: &Endpoint, body: &WriteBody) -> Result<(), Error> {
        let started = tokio::time::Instant::now();
        let mut waits = self.backoff();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let failure = match self.write_attempt(endpoint, attempt, body).await {
                Ok(()) => return Ok(()),
                Err(WriteFailure::Permanent(error)) => return Err(error),
                Err(WriteFailure::Unconfirmed(reason, may_still_apply)) => {
                    return Err(Error::Unconfirmed {
                        endpoint: endpoint.name.clone(),
                        reason,
                        attempts: attempt,
                        elapsed: started.elapsed(),
                        may_still_apply,
                    });
                }
                Err(WriteFailure::NotSent(failure)) => failure,
            };
            let Some(backoff) = waits.next() else {
                return Err(failure.into_error(endpoint, attempt, started.elapsed()));
            };
            let wait = failure
                .retry_after()
                .map_or(backoff, |asked| asked.min(self.max_retry_after));
            self.report_retry(endpoint, attempt, &failure, wait);
            tokio::time::sleep(wait).await;
        }
    }

    async fn write_attempt(
        &self,
        endpoint: &Endpoint,
        attempt: u32,
        body: &WriteBody,
    ) -> Result<(), WriteFailure> {
        self.in_request_span(endpoint, attempt, self.send_write(endpoint, body))
            .await
    }

    async fn send_write(&self, endpoint: &Endpoint, body: &WriteBody) -> Result<(), WriteFailure> {
        let request = self
            .http
            .request(endpoint.method.clone(), endpoint.url.clone());
        let request = match body {
            WriteBody::Empty => request,
            WriteBody::Text(text) => request
                .header(CONTENT_TYPE, "text/plain; charset=utf-8")
                .body(text.clone()),
            WriteBody::Json(json) => request
                .header(CONTENT_TYPE, "application/json")
                .body(json.clone()),
        };
        let response = request.send().await.map_err(|error| {
            if error.is_connect() || error.is_builder() {
                // Nothing reached env0.
                WriteFailure::NotSent(Failure::transport(error))
            } else if error.is_timeout() {
                WriteFailure::Unconfirmed("no answer before the timeout".to_owned(), true)
            } else {
                WriteFailure::Unconfirmed(
                    "the connection closed before env0 answered".to_owned(),
                    false,
                )
            }
        })?;
        let status = response.status();
        tracing::Span::current().record("status", status.as_u16());
        if status.is_success() {
            drain(response).await;
            return Ok(());
        }
        let retry_after: Option<Duration> = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let message = read_error_message(response).await;
        match status_failure(status.as_u16(), retry_after, message, endpoint) {
            Failure::Permanent(error) => Err(WriteFailure::Permanent(error)),
            failure @ Failure::RateLimited { .. } => Err(WriteFailure::NotSent(failure)),
            // A gateway timeout: env0 itself may not have finished.
            Failure::Server {
                status, message, ..
            } => Err(WriteFailure::Unconfirmed(
                if message.is_empty() {
                    format!("env0 answered {}", status_text(status))
                } else {
                    format!("env0 answered {}: {message}", status_text(status))
                },
                status == 504,
            )),
            other => Err(WriteFailure::Unconfirmed(other.reason(), true)),
        }
    }
}

/// Reads what is left of a successful answer: the status already says the write was applied,
/// so a body that breaks off changes nothing.
async fn drain(mut response: reqwest::Response) {
    loop {
        match response.chunk().await {
            Ok(Some(_)) => {}
            Ok(None) => return,
            Err(error) => {
                tracing::debug!(%error, "the body of a successful write broke off");
                return;
            }
        }
    }
}
