//! What every API request passes through first: Basic auth, the rate limit, latency and the
//! injected faults (an HTTP status, a reset, a truncated body, a cut-short JSON).

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
/// The most teams one page holds, whatever `limit` asks for.
use super::{AppState, message};

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

/// Counting, rate limit, latency, faults and authentication, in that order, for every API request.
pub(super) async fn gate(State(st): AppStateRef, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    if path.starts_with("/_fake/") {
        return next.run(req).await;
    }
    let now = Instant::now();
    st.stats.arrival(&path, now);
    let (resp, label) = gated(&st, req, next, now).await;
    st.stats.outcome(&path, &label);
    tracing::debug!(%path, outcome = %label, "request");
    resp
}

pub(super) async fn gated(
    st: &AppState,
    req: Request,
    next: Next,
    now: Instant,
) -> (Response, String) {
    if let Some(limiter) = &st.limiter
        && let Err(wait) = limiter.admit(req.uri().path(), now)
    {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let mut resp = message(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests");
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        return (resp, "429".to_owned());
    }
    if !st.latency.is_zero() {
        tokio::time::sleep(st.latency).await;
    }
    let fault = st.draw_fault(req.uri().path());
    match fault {
        Some(FaultKind::Status(code)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let text = match code {
                429 => "Too Many Requests",
                500 | 502 => "Internal server error",
                _ => status.canonical_reason().unwrap_or("Injected fault"),
            };
            return (message(status, text), code.to_string());
        }
        Some(FaultKind::Reset) => return (reset_response(), "reset".to_owned()),
        Some(FaultKind::Truncate | FaultKind::Cut) | None => {}
    }
    if !st.authorized(req.headers()) {
        return (
            message(StatusCode::UNAUTHORIZED, "Unauthorized"),
            "401".to_owned(),
        );
    }
    let resp = next.run(req).await;
    match fault {
        Some(FaultKind::Truncate) => (truncate(resp).await, "truncate".to_owned()),
        Some(FaultKind::Cut) => (cut(resp).await, "cut".to_owned()),
        _ => {
            let label = resp.status().as_u16().to_string();
            (resp, label)
        }
    }
}
