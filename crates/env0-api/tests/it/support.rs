//! Shared helpers: credentials, fixtures, a mock server and a fast client.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use env0_api::{ClientConfig, Env0Client, OrgId, RetryEvent, SecretString};
use mockito::{Matcher, Mock, ServerGuard};

pub(crate) const KEY_ID: &str = "test-key-id";
/// Distinctive so a leak anywhere is easy to find.
pub(crate) const SECRET: &str = "s3cr3t-Do-Not-Leak-7f1c";
pub(crate) const ORG: &str = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9";

pub(crate) fn org() -> OrgId {
    OrgId::new(ORG)
}

/// `Basic base64(KEY_ID:SECRET)`, as env0 expects it.
pub(crate) fn basic_auth() -> String {
    format!("Basic {}", STANDARD.encode(format!("{KEY_ID}:{SECRET}")))
}

/// Every textual form of the credentials that must never leak.
pub(crate) fn secret_forms() -> Vec<String> {
    vec![
        SECRET.to_owned(),
        STANDARD.encode(format!("{KEY_ID}:{SECRET}")),
        basic_auth(),
    ]
}

pub(crate) fn assert_no_secret(what: &str, text: &str) {
    for form in secret_forms() {
        assert!(!text.contains(&form), "{what} leaks the secret: {text}");
    }
}

pub(crate) fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/env0")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

pub(crate) async fn server() -> ServerGuard {
    mockito::Server::new_async().await
}

/// A config for `server` with tiny backoffs, a seeded jitter and a rate limit that never
/// throttles a test.
pub(crate) fn config(server: &ServerGuard) -> ClientConfig {
    config_for(&server.url())
}

/// Like [`config`] for any loopback `url`.
pub(crate) fn config_for(url: &str) -> ClientConfig {
    ClientConfig::new(KEY_ID.to_owned(), SecretString::from(SECRET))
        .base_url(url)
        .expect("a loopback http URL")
        .retry_base_delay(Duration::from_millis(1))
        .max_retry_delay(Duration::from_millis(4))
        .max_retry_after(Duration::from_millis(4))
        .requests_per_minute(600_000)
        .jitter_seed(7)
}

pub(crate) fn client(server: &ServerGuard) -> Env0Client {
    Env0Client::new(config(server)).expect("valid config")
}

/// A client that records every retry it reports.
pub(crate) fn recording_client(config: ClientConfig) -> (Env0Client, Arc<Mutex<Vec<RetryEvent>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    let client = Env0Client::new(config.on_retry(move |e| sink.lock().unwrap().push(e.clone())))
        .expect("valid config");
    (client, events)
}

/// `GET path?query` with the Basic credentials, the JSON accept and content type env0's own
/// clients send, and our user agent, exactly.
pub(crate) fn get(server: &mut ServerGuard, path: &str, query: &str) -> Mock {
    server
        .mock("GET", path)
        .match_query(Matcher::Exact(query.to_owned()))
        .match_header("authorization", basic_auth().as_str())
        .match_header("accept", "application/json")
        .match_header("content-type", "application/json")
        .match_header(
            "user-agent",
            format!("baton-env0/{}", env!("CARGO_PKG_VERSION")).as_str(),
        )
}

/// [`get`] answering 200 with a JSON body, expected exactly once.
pub(crate) async fn ok_json(server: &mut ServerGuard, path: &str, query: &str, body: &str) -> Mock {
    get(server, path, query)
        .with_status(200)
        .with_header("content-type", "application/json")
        .with_body(body)
        .expect(1)
        .create_async()
        .await
}

/// A raw HTTP/1.1 server on a thread, for failures mockito cannot produce. The n-th connection
/// gets `responses[n]` verbatim once its request head is read, then the connection closes.
/// Joining the handle gives the request heads received. Gives up waiting for a connection after
/// ten seconds so a failing test cannot hang.
pub(crate) fn scripted_server(
    responses: Vec<Vec<u8>>,
) -> (String, std::thread::JoinHandle<Vec<String>>) {
    use std::io::{ErrorKind, Read, Write};

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let mut heads = Vec::new();
        for response in responses {
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            let mut stream = loop {
                match listener.accept() {
                    Ok((stream, _)) => break stream,
                    Err(e)
                        if e.kind() == ErrorKind::WouldBlock
                            && std::time::Instant::now() < deadline =>
                    {
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    Err(_) => return heads,
                }
            };
            stream.set_nonblocking(false).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut head = Vec::new();
            let mut buf = [0_u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let _ = stream.write_all(&response);
            let _ = stream.flush();
            heads.push(String::from_utf8_lossy(&head).into_owned());
        }
        heads
    });
    (url, handle)
}

/// A complete `200 OK` JSON response that closes the connection.
pub(crate) fn http_ok(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A `200 OK` that promises `declared` bytes of body and sends only `sent`.
pub(crate) fn http_cut_short(declared: usize, sent: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {declared}\r\n\r\n{sent}"
    )
    .into_bytes()
}

/// A config with the test credentials for a raw server URL.
pub(crate) fn raw_config(url: &str) -> ClientConfig {
    ClientConfig::new(KEY_ID.to_owned(), SecretString::from(SECRET))
        .base_url(url)
        .expect("loopback http")
        .retry_base_delay(Duration::from_millis(1))
        .max_retry_delay(Duration::from_millis(2))
        .max_retry_after(Duration::from_millis(2))
        .jitter_seed(7)
}
