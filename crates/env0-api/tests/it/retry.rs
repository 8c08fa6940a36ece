//! Retry behaviour: what is retried, how long the client waits, and what it says when it gives
//! up. Backoffs are a few milliseconds (see `support::config`), so nothing here sleeps for real.

use std::time::{Duration, SystemTime};

use env0_api::{ClientConfig, Env0Client, Error, RetryEvent};

use crate::support::{
    basic_auth, client, config, get, http_cut_short, http_ok, ok_json, raw_config,
    recording_client, scripted_server, server,
};

#[tokio::test]
async fn rate_limited_with_retry_after_then_ok_waits_what_the_server_asked() {
    let mut server = server().await;
    let limited = get(&mut server, "/organizations", "")
        .with_status(429)
        .with_header("retry-after", "0")
        .with_body(r#"{"message":"Too many requests"}"#)
        .expect(1)
        .create_async()
        .await;
    let ok = ok_json(&mut server, "/organizations", "", r#"[{"id":"o1"}]"#).await;
    // A large base delay: had the client ignored Retry-After: 0 it would wait a random
    // fraction of 20 s, and the recorded wait would not be zero.
    let (client, events) = recording_client(
        config(&server)
            .retry_base_delay(Duration::from_secs(20))
            .max_retry_delay(Duration::from_secs(30)),
    );
    let orgs = client.organizations().await.unwrap();
    limited.assert_async().await;
    ok.assert_async().await;
    assert_eq!(orgs.len(), 1);
    let events = events.lock().unwrap().clone();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].attempt, 1);
    assert_eq!(events[0].status, Some(429));
    assert_eq!(events[0].retry_after, Some(Duration::ZERO));
    assert_eq!(events[0].wait, Duration::ZERO);
    assert_eq!(events[0].endpoint, "GET /organizations");
}

#[tokio::test]
async fn retry_after_as_http_date_is_honoured() {
    let mut server = server().await;
    let past = httpdate::fmt_http_date(SystemTime::now() - Duration::from_secs(60));
    let unavailable = get(&mut server, "/organizations", "")
        .with_status(503)
        .with_header("retry-after", &past)
        .expect(1)
        .create_async()
        .await;
    let ok = ok_json(&mut server, "/organizations", "", "[]").await;
    let (client, events) = recording_client(
        config(&server)
            .retry_base_delay(Duration::from_secs(20))
            .max_retry_delay(Duration::from_secs(30)),
    );
    client.organizations().await.unwrap();
    unavailable.assert_async().await;
    ok.assert_async().await;
    let events = events.lock().unwrap().clone();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].status, Some(503));
    assert_eq!(
        events[0].retry_after,
        Some(Duration::ZERO),
        "a past date means now"
    );
    assert_eq!(events[0].wait, Duration::ZERO);
}

/// The retry events of one `GET /organizations` answered 429 with `retry_after`, then 200,
/// by a client of `config`.
async fn one_429_then_ok(
    retry_after: &str,
    config: impl FnOnce(ClientConfig) -> ClientConfig,
) -> Vec<RetryEvent> {
    let mut server = server().await;
    let limited = get(&mut server, "/organizations", "")
        .with_status(429)
        .with_header("retry-after", retry_after)
        .expect(1)
        .create_async()
        .await;
    let ok = ok_json(&mut server, "/organizations", "", "[]").await;
    let (client, events) = recording_client(config(crate::support::config(&server)));
    client.organizations().await.unwrap();
    limited.assert_async().await;
    ok.assert_async().await;
    events.lock().unwrap().clone()
}

#[tokio::test]
async fn retry_after_is_capped_by_max_retry_after() {
    let events = one_429_then_ok("3600", |c| c).await;
    assert_eq!(events[0].retry_after, Some(Duration::from_secs(3600)));
    assert_eq!(
        events[0].wait,
        Duration::from_millis(4),
        "capped at max_retry_after"
    );
}

/// A per-minute window may ask for a longer wait than any backoff step: it is waited in full,
/// not cut to the backoff's cap (a retry sooner would only meet another 429).
#[tokio::test]
async fn retry_after_beyond_the_backoff_cap_is_waited_in_full() {
    let events = one_429_then_ok("0.05", |c| {
        c.max_retry_delay(Duration::from_millis(4))
            .max_retry_after(Duration::from_secs(300))
    })
    .await;
    assert_eq!(events[0].wait, Duration::from_millis(50));
}

#[tokio::test]
async fn three_server_errors_then_ok() {
    let mut server = server().await;
    let failing = get(&mut server, "/organizations", "")
        .with_status(500)
        .with_body(r#"{"message":"Internal server error"}"#)
        .expect(3)
        .create_async()
        .await;
    let ok = ok_json(
        &mut server,
        "/organizations",
        "",
        r#"[{"id":"o1","name":"Acme"}]"#,
    )
    .await;
    let (client, events) = recording_client(config(&server));
    let orgs = client.organizations().await.unwrap();
    failing.assert_async().await;
    ok.assert_async().await;
    assert_eq!(orgs[0].name.as_deref(), Some("Acme"));
    let events = events.lock().unwrap().clone();
    let attempts: Vec<u32> = events.iter().map(|e| e.attempt).collect();
    assert_eq!(attempts, [1, 2, 3]);
    for e in &events {
        assert_eq!(e.status, Some(500));
        assert!(e.wait <= Duration::from_millis(4), "{:?}", e.wait);
        assert_eq!(e.reason, "500 Internal Server Error");
    }
}

#[tokio::test]
async fn server_errors_forever_end_with_the_attempt_count() {
    let mut server = server().await;
    // Default max_retries (8): 9 attempts in all.
    let failing = get(&mut server, "/organizations", "")
        .with_status(502)
        .with_body(r#"{"message":"Internal server error"}"#)
        .expect(9)
        .create_async()
        .await;
    let err = client(&server).organizations().await.unwrap_err();
    failing.assert_async().await;
    let Error::Server {
        status,
        attempts,
        ref message,
        ..
    } = err
    else {
        panic!("expected a server error, got {err:?}");
    };
    assert_eq!((status, attempts), (502, 9));
    assert_eq!(message, "Internal server error");
    assert!(err.is_transient());
    assert_eq!(err.attempts(), Some(9));
    let text = err.to_string();
    assert!(
        text.starts_with(
            "env0 returned 502 Bad Gateway for GET /organizations after 9 attempts over "
        ),
        "{text}"
    );
    assert!(text.ends_with("s: Internal server error"), "{text}");
}

#[tokio::test]
async fn rate_limited_forever_is_a_rate_limited_error() {
    let mut server = server().await;
    let limited = get(&mut server, "/organizations", "")
        .with_status(429)
        .expect(3)
        .create_async()
        .await;
    let client = Env0Client::new(config(&server).max_retries(2)).unwrap();
    let err = client.organizations().await.unwrap_err();
    limited.assert_async().await;
    assert!(
        matches!(err, Error::RateLimited { attempts: 3, .. }),
        "{err:?}"
    );
    assert_eq!(err.status(), Some(429));
    assert!(
        err.to_string().starts_with(
            "env0 returned 429 Too Many Requests for GET /organizations after 3 attempts over "
        ),
        "{err}"
    );
}

#[tokio::test]
async fn zero_retries_sends_once() {
    let mut server = server().await;
    let failing = get(&mut server, "/organizations", "")
        .with_status(500)
        .expect(1)
        .create_async()
        .await;
    let client = Env0Client::new(config(&server).max_retries(0)).unwrap();
    let err = client.organizations().await.unwrap_err();
    failing.assert_async().await;
    assert_eq!(err.attempts(), Some(1));
}

/// Builds the error a single `status` answer produces, asserting the request was sent once.
async fn not_retried(status: usize, body: &str) -> Error {
    let mut server = server().await;
    let mock = get(&mut server, "/organizations", "")
        .with_status(status)
        .with_body(body)
        .expect(1)
        .create_async()
        .await;
    let (client, events) = recording_client(config(&server));
    let err = client.organizations().await.unwrap_err();
    mock.assert_async().await;
    assert!(
        events.lock().unwrap().is_empty(),
        "{status} must not be retried"
    );
    assert!(!err.is_transient(), "{status}");
    assert_eq!(err.status(), Some(status as u16));
    err
}

#[tokio::test]
async fn unauthorized_is_not_retried_and_hints_at_the_credentials() {
    let err = not_retried(401, r#"{"message":"Unauthorized"}"#).await;
    assert!(err.is_unauthorized());
    assert_eq!(
        err.to_string(),
        "env0 returned 401 Unauthorized for GET /organizations: Unauthorized; check the API key id \
         and secret (and the organization's IP allowlist)"
    );
}

#[tokio::test]
async fn forbidden_is_not_retried_and_names_the_endpoint() {
    let err = not_retried(403, "Forbidden").await;
    assert!(matches!(err, Error::Forbidden { .. }));
    assert!(err.is_access_denied());
    assert_eq!(
        err.to_string(),
        "env0 returned 403 Forbidden for GET /organizations: Forbidden; the API key lacks the \
         permission this endpoint needs"
    );
}

#[tokio::test]
async fn not_in_plan_is_not_retried() {
    let err = not_retried(402, r#"{"message":"Feature not available in your plan"}"#).await;
    assert!(matches!(err, Error::NotInPlan { .. }));
    assert!(err.is_access_denied());
    assert!(
        err.to_string().contains("not in the organization's plan"),
        "{err}"
    );
}

#[tokio::test]
async fn not_found_and_bad_request_are_not_retried() {
    let err = not_retried(404, "").await;
    assert_eq!(
        err.to_string(),
        "env0 returned 404 Not Found for GET /organizations"
    );
    let err = not_retried(400, r#"{"message":"organizationId is required"}"#).await;
    assert!(matches!(err, Error::UnexpectedStatus { status: 400, .. }));
    assert_eq!(
        err.to_string(),
        "env0 returned 400 Bad Request for GET /organizations: organizationId is required"
    );
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let mut server = server().await;
    let redirect = get(&mut server, "/organizations", "")
        .with_status(302)
        .with_header("location", "https://elsewhere.example/steal")
        .expect(1)
        .create_async()
        .await;
    let err = client(&server).organizations().await.unwrap_err();
    redirect.assert_async().await;
    assert!(
        matches!(err, Error::UnexpectedStatus { status: 302, .. }),
        "{err:?}"
    );
}

fn assert_authenticated(heads: &[String]) {
    for head in heads {
        assert!(
            head.starts_with("GET /organizations HTTP/1.1\r\n"),
            "{head}"
        );
        let auth = format!("authorization: {}\r\n", basic_auth()).to_lowercase();
        assert!(head.to_lowercase().contains(&auth), "{head}");
    }
}

#[tokio::test]
async fn a_body_cut_short_is_retried() {
    let (url, server) = scripted_server(vec![
        http_cut_short(100, r#"[{"id":"o1","na"#),
        http_ok(r#"[{"id":"o1","name":"Whole"}]"#),
    ]);
    let (client, events) = recording_client(raw_config(&url));
    let orgs = client.organizations().await.unwrap();
    let heads = server.join().unwrap();
    assert_eq!(heads.len(), 2);
    assert_authenticated(&heads);
    assert_eq!(orgs[0].name.as_deref(), Some("Whole"));
    let events = events.lock().unwrap().clone();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].status, None);
    assert_eq!(events[0].reason, "response body cut short or unreadable");
}

#[tokio::test]
async fn a_body_cut_short_every_time_ends_as_a_transport_error() {
    let (url, server) = scripted_server(vec![http_cut_short(50, "[{"); 3]);
    let client = Env0Client::new(raw_config(&url).max_retries(2)).unwrap();
    let err = client.organizations().await.unwrap_err();
    assert_eq!(server.join().unwrap().len(), 3);
    assert!(
        matches!(err, Error::Transport { attempts: 3, .. }),
        "{err:?}"
    );
    assert!(err.is_transient());
    assert!(
        err.to_string().starts_with(
            "could not talk to env0 for GET /organizations: response body cut short or unreadable (after 3 attempts over "
        ),
        "{err}"
    );
    assert!(
        std::error::Error::source(&err).is_some(),
        "keeps the HTTP error as source"
    );
}

#[tokio::test]
async fn a_connection_closed_without_an_answer_is_retried() {
    let (url, server) = scripted_server(vec![Vec::new(), http_ok("[]")]);
    let (client, events) = recording_client(raw_config(&url));
    assert!(client.organizations().await.unwrap().is_empty());
    let heads = server.join().unwrap();
    assert_eq!(heads.len(), 2);
    assert_authenticated(&heads);
    let events = events.lock().unwrap().clone();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].status, None);
}

#[tokio::test]
async fn connection_refused_is_retried_then_reported() {
    // Bind and release a port so nothing listens on it.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let config = env0_api::ClientConfig::new("id".into(), env0_api::SecretString::from("secret"))
        .base_url(&format!("http://127.0.0.1:{port}"))
        .unwrap()
        .retry_base_delay(Duration::from_millis(1))
        .max_retry_delay(Duration::from_millis(2))
        .max_retries(2);
    let (client, events) = recording_client(config);
    let err = client.organizations().await.unwrap_err();
    assert!(
        matches!(err, Error::Transport { attempts: 3, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains(": could not connect (after 3 attempts"),
        "{err}"
    );
    assert_eq!(events.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_and_is_retried() {
    // A listener that is never accepted from: the kernel completes the handshake and queues the
    // request, and no answer ever comes.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let config = env0_api::ClientConfig::new("id".into(), env0_api::SecretString::from("secret"))
        .base_url(&format!("http://127.0.0.1:{port}"))
        .unwrap()
        .timeout(Duration::from_millis(50))
        .retry_base_delay(Duration::from_millis(1))
        .max_retry_delay(Duration::from_millis(2))
        .max_retries(1);
    let (client, events) = recording_client(config);
    let err = client.organizations().await.unwrap_err();
    drop(silent);
    assert!(
        matches!(err, Error::Transport { attempts: 2, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains(": request timed out (after 2 attempts"),
        "{err}"
    );
    let events = events.lock().unwrap().clone();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].reason, "request timed out");
}

#[tokio::test]
async fn an_oversized_body_is_refused_without_retrying() {
    let mut server = server().await;
    let big = ok_json(
        &mut server,
        "/organizations",
        "",
        &format!("[{}]", "1,".repeat(100) + "1"),
    )
    .await;
    let client = Env0Client::new(config(&server).max_body_bytes(64)).unwrap();
    let err = client.organizations().await.unwrap_err();
    big.assert_async().await;
    assert_eq!(
        err.to_string(),
        "the env0 response for GET /organizations is larger than the limit of 64 bytes"
    );
}

#[tokio::test]
async fn the_authorization_header_is_sent_on_every_attempt() {
    let mut server = server().await;
    // Only requests with the right credentials match; anything else gets mockito's 501 and
    // would be retried into a failure.
    let failing = server
        .mock("GET", "/organizations")
        .match_header("authorization", basic_auth().as_str())
        .with_status(500)
        .expect(2)
        .create_async()
        .await;
    let ok = ok_json(&mut server, "/organizations", "", "[]").await;
    client(&server).organizations().await.unwrap();
    failing.assert_async().await;
    ok.assert_async().await;
}

/// A `200` with a complete HTTP body whose JSON stops early, answered `times` times, then the
/// whole list.
async fn cut_short_then_whole(
    server: &mut mockito::ServerGuard,
    path: &str,
    cut: &str,
    times: usize,
    whole: &str,
) -> (mockito::Mock, mockito::Mock) {
    let cut = get(server, path, "")
        .with_status(200)
        .with_header("content-type", "application/json")
        .with_body(cut)
        .expect(times)
        .create_async()
        .await;
    let whole = ok_json(server, path, "", whole).await;
    (cut, whole)
}

#[tokio::test]
async fn a_200_whose_json_ends_early_is_retried_like_a_reset() {
    let mut server = server().await;
    let (cut, whole) = cut_short_then_whole(
        &mut server,
        "/organizations",
        r#"[{"id":"o1","na"#,
        2,
        r#"[{"id":"o1","name":"Whole"}]"#,
    )
    .await;
    let (client, events) = recording_client(config(&server));
    let orgs = client.organizations().await.unwrap();
    cut.assert_async().await;
    whole.assert_async().await;
    assert_eq!(orgs[0].name.as_deref(), Some("Whole"));
    let events = events.lock().unwrap().clone();
    let attempts: Vec<u32> = events.iter().map(|e| e.attempt).collect();
    assert_eq!(attempts, [1, 2]);
    for e in &events {
        assert_eq!(e.status, Some(200));
        assert_eq!(
            e.reason,
            "response JSON cut short (EOF while parsing a string at line 1 column 15)"
        );
        assert!(
            e.wait <= Duration::from_millis(4),
            "same backoff: {:?}",
            e.wait
        );
    }
}

#[tokio::test]
async fn a_json_body_cut_short_every_time_names_the_endpoint_the_attempts_and_the_time() {
    let mut server = server().await;
    // Empty, or stopped inside a value, a list or an object: all end before the JSON does.
    for (cut, reason) in [
        ("", "EOF while parsing a value at line 1 column 0"),
        ("[", "EOF while parsing a list at line 1 column 1"),
        (
            r#"[{"id":"o1"},"#,
            "EOF while parsing a value at line 1 column 13",
        ),
        (
            r#"[{"id":"o1""#,
            "EOF while parsing an object at line 1 column 11",
        ),
        (
            "[{\"id\":tr",
            "EOF while parsing a value at line 1 column 9",
        ),
    ] {
        let mock = get(&mut server, "/organizations", "")
            .with_status(200)
            .with_body(cut)
            .expect(3)
            .create_async()
            .await;
        let (client, events) = recording_client(config(&server).max_retries(2));
        let err = client.organizations().await.unwrap_err();
        mock.assert_async().await;
        mock.remove_async().await;
        assert_eq!(events.lock().unwrap().len(), 2, "{cut:?}");
        assert!(
            matches!(err, Error::Incomplete { attempts: 3, .. }),
            "{cut:?}: {err:?}"
        );
        assert!(err.is_transient());
        assert_eq!(err.attempts(), Some(3));
        assert_eq!(err.endpoint(), Some("GET /organizations"));
        assert_eq!(err.status(), None);
        let text = err.to_string();
        let prefix = format!(
            "the env0 response for GET /organizations ended before its JSON did ({reason}) after 3 attempts over "
        );
        assert!(text.starts_with(&prefix), "{text}");
        assert!(text.ends_with('s'), "{text}");
    }
}

/// A member list of `count` members, in id order.
fn member_list(count: usize) -> String {
    let items: Vec<String> = (0..count)
        .map(|i| {
            format!(
                r#"{{"role":"User","status":"Active","user":{{"user_id":"auth0|{i:06}","email":"user{i}@example.com","name":"User Number {i}","created_at":"2024-01-02T03:04:05.000Z"}}}}"#
            )
        })
        .collect();
    format!("[{}]", items.join(","))
}

#[tokio::test]
async fn a_member_list_whose_connection_drops_mid_stream_is_read_again_from_its_start() {
    let whole = member_list(5_000);
    // The first answer stops inside a member well into the list, after thousands were decoded.
    let sent = whole.get(..whole.len() * 2 / 3).unwrap();
    let (url, server) = scripted_server(vec![http_cut_short(whole.len(), sent), http_ok(&whole)]);
    let (client, events) = recording_client(raw_config(&url));
    let converted = std::sync::atomic::AtomicUsize::new(0);
    // Every tenth member is noted and not kept.
    let (users, notes) = client
        .organization_users_with(&crate::support::org(), |m, notes: &mut Vec<String>| {
            converted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let id = m.user.user_id;
            if id.as_str().ends_with('0') {
                notes.push(id.as_str().to_owned());
                return None;
            }
            Some(id)
        })
        .await
        .unwrap();
    assert_eq!(server.join().unwrap().len(), 2);
    // The cut answer was decoded while it arrived (a body read whole would not be decoded)...
    let converted = converted.into_inner();
    assert!(converted > 5_000 + 1_000, "{converted} conversions");
    // ...and every member is there once, in order: nothing kept or noted from it survives.
    let (want_noted, want_kept): (Vec<String>, Vec<String>) = (0..5_000)
        .map(|i| format!("auth0|{i:06}"))
        .partition(|id| id.ends_with('0'));
    let got: Vec<String> = users.iter().map(|id| id.as_str().to_owned()).collect();
    assert_eq!(got, want_kept);
    assert_eq!(notes, want_noted);
    let events = events.lock().unwrap().clone();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].reason, "response body cut short or unreadable");
}

#[tokio::test]
async fn a_large_member_list_whose_json_ends_early_is_read_again_from_its_start() {
    let whole = member_list(40_000);
    assert!(whole.len() > 4 * 1024 * 1024, "large");
    let half = whole.get(..whole.len() / 2).unwrap();
    let path = format!("/organizations/{}/users", crate::support::ORG);
    let mut server = server().await;
    let (cut, full) = cut_short_then_whole(&mut server, &path, half, 1, &whole).await;
    let (client, events) = recording_client(config(&server));
    let (users, _) = client
        .organization_users_with(&crate::support::org(), |m, _: &mut Vec<()>| {
            Some(m.user.user_id)
        })
        .await
        .unwrap();
    cut.assert_async().await;
    full.assert_async().await;
    assert_eq!(users.len(), 40_000);
    assert_eq!(users[39_999].as_str(), "auth0|039999");
    let events = events.lock().unwrap().clone();
    assert_eq!(events.len(), 1);
    assert!(
        events[0]
            .reason
            .starts_with("response JSON cut short (EOF while parsing"),
        "{}",
        events[0].reason
    );
}

#[tokio::test]
async fn a_complete_body_with_bad_syntax_or_wrong_types_is_not_retried() {
    let large_bad = {
        let items: Vec<String> = (0..80_000)
            .map(|i| {
                let id = if i == 60_000 {
                    r#"["not","text"]"#.to_owned()
                } else {
                    format!("\"o{i:06}\"")
                };
                format!(r#"{{"id":{id},"name":"Organization number {i} with a long name"}}"#)
            })
            .collect();
        format!("[{}]", items.join(","))
    };
    assert!(large_bad.len() > 4 * 1024 * 1024);
    for (body, reason) in [
        (r#"[{"id":"o1",}]"#.to_owned(), "trailing comma"),
        (
            r#"[{"id":"o1"}] [{"id":"o2"}]"#.to_owned(),
            "trailing characters",
        ),
        (r#"[{"id":["o1"]}]"#.to_owned(), "invalid type: sequence"),
        (r#"[{"name":"no id"}]"#.to_owned(), "missing field `id`"),
        (large_bad, "invalid type: sequence"),
    ] {
        let mut server = server().await;
        let mock = ok_json(&mut server, "/organizations", "", &body).await;
        let (client, events) = recording_client(config(&server));
        let err = client.organizations().await.unwrap_err();
        mock.assert_async().await;
        assert!(events.lock().unwrap().is_empty(), "{reason}: not retried");
        assert!(matches!(err, Error::Decode { .. }), "{reason}: {err:?}");
        assert!(!err.is_transient());
        assert!(err.to_string().contains(reason), "{err}");
    }
}
