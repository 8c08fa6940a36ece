//! The transport: retry rules, Retry-After, error messages and decode-error snippets.

use super::messages::{error_message, snippet_around};
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
    assert_eq!(team[0].users.as_ref().map(Vec::len), Some(1));
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
        first[0].contains(
            " WARN env0_request{method=\"GET\" path=/organizations query=\"\" attempt=2 status=200}"
        ) && first[0].ends_with("value=soon"),
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
