//! What errors say: env0's own message, sanitized and bounded, and the text around a decode error.

use std::fmt;

use serde::Deserialize;

use super::{ERROR_BODY_BYTES, Endpoint, MESSAGE_CHARS, SNIPPET_HALF};
use crate::de::opt_string;
use crate::error::Error;

/// A complete body that is not the expected JSON: [`Error::Decode`] with position and snippet.
pub(super) fn decode_error(error: &serde_json::Error, body: &[u8], endpoint: &Endpoint) -> Error {
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
pub(crate) fn without_position(error: &serde_json::Error) -> String {
    let full = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    full.strip_suffix(&suffix).unwrap_or(&full).to_owned()
}

pub(super) fn internal(endpoint: &Endpoint, bug: &impl fmt::Display) -> Error {
    Error::Internal {
        endpoint: endpoint.name.clone(),
        message: bug.to_string(),
    }
}

/// At most `2 * SNIPPET_HALF` characters of `body` around a 1-based line and column, control
/// characters replaced by spaces.
pub(super) fn snippet_around(body: &[u8], line: usize, column: usize) -> String {
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
    snippet_at(body, offset)
}

/// At most `2 * SNIPPET_HALF` characters of `body` around byte `offset`, control characters
/// replaced by spaces.
pub(crate) fn snippet_at(body: &[u8], offset: usize) -> String {
    let offset = offset.min(body.len());
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
pub(super) async fn read_error_message(mut response: reqwest::Response) -> String {
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

pub(super) fn error_message(body: &[u8]) -> String {
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
pub(super) fn sanitize(text: &str) -> String {
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
