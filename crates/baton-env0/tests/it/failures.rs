//! The message, hint and exit code of every failure kind.

use std::net::TcpListener;

use mockito::Matcher;

use crate::support::{Endpoint, Env0, ORG, Outcome, Sandbox};

fn snapshot(sb: &Sandbox, env0: Option<&Env0>, name: &str, out: &Outcome) {
    sb.insta(env0.map(|e| &e.server))
        .bind(|| insta::assert_snapshot!(name, out.failure_report()));
}

#[test]
fn missing_credentials_are_listed_in_one_message() {
    let sb = Sandbox::new();
    let out = Outcome::of(&mut sb.cmd());
    assert_eq!(out.code, 2);
    snapshot(&sb, None, "missing_all_credentials", &out);
}

#[test]
fn only_the_missing_field_is_listed() {
    let sb = Sandbox::new();
    let out = Outcome::of(
        sb.cmd()
            .args(["validate", "--api-key-id", "k"])
            .env("ENV0_ORGANIZATION_ID", ORG),
    );
    assert_eq!(out.code, 2);
    snapshot(&sb, None, "missing_secret", &out);
}

#[test]
fn organization_id_must_be_a_uuid() {
    let sb = Sandbox::new();
    let out = Outcome::of(
        sb.cmd()
            .args(["--api-key-id", "k", "--api-key-secret", "s"])
            .env("BATON_ORGANIZATION_ID", "acme"),
    );
    assert_eq!(out.code, 2);
    snapshot(&sb, None, "bad_organization_id", &out);
}

#[test]
fn plain_http_is_refused_for_remote_hosts() {
    let sb = Sandbox::new();
    let out = Outcome::of(sb.cmd().args([
        "--api-key-id",
        "k",
        "--api-key-secret",
        "s",
        "--organization-id",
        ORG,
        "--base-url",
        "http://api.env0.com",
    ]));
    assert_eq!(out.code, 2);
    snapshot(&sb, None, "http_base_url", &out);
}

#[test]
fn missing_explicit_config_file() {
    let sb = Sandbox::new();
    let out = Outcome::of(
        sb.cmd()
            .arg("config")
            .env("BATON_CONFIG_PATH", "missing.yaml"),
    );
    assert_eq!(out.code, 2);
    snapshot(&sb, None, "missing_config_file", &out);
}

#[test]
fn rejected_key_is_exit_3() {
    let sb = Sandbox::new();
    let mut env0 = Env0::empty();
    env0.fail(Endpoint::Organizations, 401);
    let out = Outcome::of(&mut sb.cmd_for(&env0.server));
    env0.assert_hit();
    assert_eq!(out.code, 3);
    snapshot(&sb, Some(&env0), "unauthorized", &out);
}

#[test]
fn forbidden_users_listing_is_exit_4() {
    let sb = Sandbox::new();
    let mut env0 = Env0::empty();
    env0.ok(Endpoint::Organizations).fail(Endpoint::Users, 403);
    let out = Outcome::of(&mut sb.cmd_for(&env0.server));
    env0.assert_hit();
    assert_eq!(out.code, 4);
    snapshot(&sb, Some(&env0), "forbidden", &out);
}

#[test]
fn plan_without_api_keys_is_exit_4() {
    let sb = Sandbox::new();
    let mut env0 = Env0::empty();
    env0.ok(Endpoint::Organizations)
        .ok(Endpoint::Users)
        .fail(Endpoint::ApiKeys, 402);
    let out = Outcome::of(&mut sb.cmd_for(&env0.server));
    env0.assert_hit();
    assert_eq!(out.code, 4);
    snapshot(&sb, Some(&env0), "not_in_plan", &out);
    assert!(!sb.join("sync.c1z").exists(), "no output on failure");
}

#[test]
fn organization_not_visible_to_the_key_is_exit_4() {
    let sb = Sandbox::new();
    let mut env0 = Env0::empty();
    env0.ok(Endpoint::Organizations);
    let mut cmd = sb.cmd_for(&env0.server);
    cmd.args(["--organization-id", "11111111-2222-4333-8444-555555555555"]);
    let out = Outcome::of(&mut cmd);
    env0.assert_hit();
    assert_eq!(out.code, 4);
    snapshot(&sb, Some(&env0), "organization_not_visible", &out);
}

#[test]
fn server_errors_after_retries_are_exit_5() {
    let sb = Sandbox::new();
    let mut env0 = Env0::empty();
    let mock = env0
        .server
        .mock("GET", "/organizations")
        .with_status(500)
        .with_body(r#"{"message":"boom"}"#)
        .expect(2)
        .create();
    let out = Outcome::of(sb.cmd_for(&env0.server).args(["--max-retries", "1"]));
    mock.assert();
    assert_eq!(out.code, 5);
    snapshot(&sb, Some(&env0), "server_error_after_retries", &out);
}

#[test]
fn rate_limited_after_retries_is_exit_5() {
    let sb = Sandbox::new();
    let mut env0 = Env0::empty();
    let mock = env0
        .server
        .mock("GET", "/organizations")
        .with_status(429)
        .with_header("retry-after", "0")
        .expect(2)
        .create();
    let out = Outcome::of(sb.cmd_for(&env0.server).args(["--max-retries", "1"]));
    mock.assert();
    assert_eq!(out.code, 5);
    snapshot(&sb, Some(&env0), "rate_limited_after_retries", &out);
}

#[test]
fn unreachable_env0_is_exit_5() {
    let sb = Sandbox::new();
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let out = Outcome::of(sb.cmd().args([
        "--api-key-id",
        "k",
        "--api-key-secret",
        "s",
        "--organization-id",
        ORG,
        "--base-url",
        &url,
        "--max-retries",
        "1",
        "--retry-base-delay-ms",
        "1",
        "--log-format",
        "json",
    ]));
    assert_eq!(out.code, 5, "{}", out.stderr);
    let report = out.failure_report().replace(&url, "[ENV0]");
    let first_line = report.lines().nth(1).unwrap_or_default();
    assert!(
        first_line.starts_with("error: could not talk to env0 for GET /organizations: "),
        "{report}"
    );
    assert!(
        report.contains("hint: check network access to env0"),
        "{report}"
    );
}

#[test]
fn unwritable_output_is_exit_6_before_any_request() {
    let sb = Sandbox::new();
    sb.write("not-a-dir", "x");
    let mut env0 = Env0::empty();
    let untouched = env0.server.mock("GET", Matcher::Any).expect(0).create();
    let out = Outcome::of(
        sb.cmd_for(&env0.server)
            .args(["--file", "not-a-dir/out.c1z"]),
    );
    untouched.assert();
    assert_eq!(out.code, 6);
    snapshot(&sb, Some(&env0), "unwritable_output", &out);
}

#[test]
fn inspecting_a_file_that_is_not_a_c1z_is_exit_6() {
    let sb = Sandbox::new();
    sb.write("notes.c1z", "hello, not a c1z\n");
    let out = Outcome::of(sb.cmd().args(["inspect", "notes.c1z"]));
    assert_eq!(out.code, 6);
    snapshot(&sb, None, "inspect_not_c1z", &out);
}

#[test]
fn inspecting_a_missing_file_is_exit_6() {
    let sb = Sandbox::new();
    let out = Outcome::of(sb.cmd().arg("inspect"));
    assert_eq!(out.code, 6);
    snapshot(&sb, None, "inspect_missing_file", &out);
}

#[test]
fn an_existing_output_that_is_not_a_c1z_is_kept_and_exit_6() {
    let sb = Sandbox::new();
    sb.write("precious.txt", "do not overwrite\n");
    let mut env0 = Env0::empty();
    let untouched = env0.server.mock("GET", Matcher::Any).expect(0).create();
    let out = Outcome::of(sb.cmd_for(&env0.server).env("BATON_FILE", "precious.txt"));
    untouched.assert();
    assert_eq!(out.code, 6);
    assert_eq!(
        std::fs::read_to_string(sb.join("precious.txt")).unwrap(),
        "do not overwrite\n"
    );
    snapshot(&sb, Some(&env0), "output_not_c1z", &out);
}
