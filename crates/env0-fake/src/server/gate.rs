//! What every API request passes through first: Basic auth, the rate limit, latency and the
//! injected faults (an HTTP status, a reset, a truncated body, a cut-short JSON, a dropped
//! answer, a late one); and the record of every write request.

use std::io;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use futures::StreamExt;

use crate::config::FaultKind;

use super::routes::AppStateRef;
use super::writes::Applied;
use super::{AppState, WriteRecord, is_read, lock, message, route_key};

/// A body that fails at once: hyper closes the connection before any byte of the response.
pub(super) fn reset_response() -> Response {
    let stream = futures::stream::once(async {
        Err::<Bytes, io::Error>(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "env0-fake: injected connection reset",
        ))
    });
    Response::new(Body::from_stream(stream))
}

/// Sends the headers with the full `Content-Length`, then half of the body, then fails so hyper
/// closes the connection: the client sees a body cut short, never a silently shorter one.
pub(super) async fn truncate(resp: Response) -> Response {
    let (mut parts, body) = resp.into_parts();
    let full = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let cut = full.slice(..full.len() / 2);
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(full.len()));
    let stream =
        futures::stream::iter([Ok::<Bytes, io::Error>(cut)]).chain(futures::stream::once(async {
            // Let hyper flush the partial body before the failure closes the connection.
            tokio::time::sleep(Duration::from_millis(20)).await;
            Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "env0-fake: injected truncated body",
            ))
        }));
    Response::from_parts(parts, Body::from_stream(stream))
}

/// A whole response with the same status and headers whose body is the first half of the
/// original, with a `Content-Length` that says so: HTTP sees nothing wrong, the JSON stops early.
pub(super) async fn cut(resp: Response) -> Response {
    let (mut parts, body) = resp.into_parts();
    let full = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let half = full.slice(..full.len() / 2);
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(half.len()));
    Response::from_parts(parts, Body::from(half))
}

/// The most bytes of a write's body the fake reads.
const MAX_WRITE_BODY: usize = 1 << 20;

/// How a request ended: the response, its label for the stats and write records, and whether
/// it changed the state.
pub(super) struct Outcome {
    resp: Response,
    label: String,
    applied: bool,
}

impl Outcome {
    fn new(resp: Response, label: impl Into<String>) -> Self {
        Outcome {
            resp,
            label: label.into(),
            applied: false,
        }
    }
}

/// Counting, rate limit, latency, faults and authentication, in that order, for every API
/// request; a write (any method but `GET` and `HEAD`) is also recorded with its body, outcome
/// and whether it applied.
pub(super) async fn gate(State(st): AppStateRef, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    if path.starts_with("/_fake/") {
        return next.run(req).await;
    }
    let method = req.method().clone();
    let key = route_key(&method, &path);
    let now = Instant::now();
    st.stats.arrival(&key, now);
    if is_read(&method) {
        let out = gated(&st, &key, req, next, now).await;
        st.stats.outcome(&key, &out.label);
        tracing::debug!(%key, outcome = %out.label, "request");
        return out.resp;
    }
    // A write runs to its end on a task of its own, as on a real server: a client that gives up
    // (a timeout) does not stop it from being applied and recorded.
    let task = tokio::spawn(write(st, key, req, next, now));
    match task.await {
        Ok(resp) => resp,
        Err(_) => message(
            StatusCode::INTERNAL_SERVER_ERROR,
            "env0-fake: the write task failed",
        ),
    }
}

/// [`gate`] for a write: gated, recorded with its body, outcome and whether it applied.
async fn write(
    st: std::sync::Arc<AppState>,
    key: String,
    req: Request,
    next: Next,
    now: Instant,
) -> Response {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let query = req.uri().query().unwrap_or_default().to_owned();
    let (parts, body) = req.into_parts();
    let (out, body) = match axum::body::to_bytes(body, MAX_WRITE_BODY).await {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let req = Request::from_parts(parts, Body::from(bytes));
            (gated(&st, &key, req, next, now).await, text)
        }
        Err(_) => (
            Outcome::new(
                message(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "the request body is unreadable or larger than 1 MiB",
                ),
                "413",
            ),
            String::new(),
        ),
    };
    st.stats.outcome(&key, &out.label);
    tracing::debug!(%key, outcome = %out.label, applied = out.applied, "write");
    lock(&st.writes).push(WriteRecord {
        method: method.to_string(),
        path,
        query,
        body,
        outcome: out.label,
        applied: out.applied,
    });
    out.resp
}

pub(super) async fn gated(
    st: &AppState,
    key: &str,
    req: Request,
    next: Next,
    now: Instant,
) -> Outcome {
    if let Some(limiter) = &st.limiter
        && let Err(wait) = limiter.admit(key, now)
    {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let mut resp = message(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests");
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        return Outcome::new(resp, "429");
    }
    if !st.latency.is_zero() {
        tokio::time::sleep(st.latency).await;
    }
    let read = is_read(req.method());
    // Drawn before anything is applied: a status or a reset leaves the state as it was.
    let fault = st.draw_fault(key, read);
    match fault {
        Some(FaultKind::Status(code)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let text = match code {
                429 => "Too Many Requests",
                500 | 502 => "Internal server error",
                _ => status.canonical_reason().unwrap_or("Injected fault"),
            };
            return Outcome::new(message(status, text), code.to_string());
        }
        Some(FaultKind::Reset) => return Outcome::new(reset_response(), "reset"),
        Some(FaultKind::Drop) if read => return Outcome::new(reset_response(), "drop"),
        Some(FaultKind::Late) => tokio::time::sleep(crate::config::LATE).await,
        Some(FaultKind::Truncate | FaultKind::Cut | FaultKind::Drop) | None => {}
    }
    if !st.authorized(req.headers()) {
        return Outcome::new(message(StatusCode::UNAUTHORIZED, "Unauthorized"), "401");
    }
    let resp = next.run(req).await;
    let applied = resp.extensions().get::<Applied>().is_some();
    let (resp, label) = match fault {
        Some(FaultKind::Truncate) => (truncate(resp).await, "truncate".to_owned()),
        Some(FaultKind::Cut) => (cut(resp).await, "cut".to_owned()),
        // A write was processed (and applied, unless refused); its answer is lost.
        Some(FaultKind::Drop) => (reset_response(), "drop".to_owned()),
        _ => {
            let label = resp.status().as_u16().to_string();
            (resp, label)
        }
    };
    Outcome {
        resp,
        label,
        applied,
    }
}
