//! The API key secret appears in no output: logs at trace, errors, `config`, summaries.

use base64::Engine as _;

use crate::support::{Endpoint, Env0, KEY_ID, ORG, Outcome, SECRET, Sandbox, basic};

/// Every form of the secret that could leak.
fn forms() -> Vec<String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    vec![
        SECRET.to_owned(),
        basic(KEY_ID, SECRET),
        b64.encode(format!("{KEY_ID}:{SECRET}")),
        b64.encode(SECRET),
        SECRET.chars().rev().collect(),
    ]
}

fn assert_no_secret(what: &str, text: &str) {
    for form in forms() {
        assert!(
            !text.contains(&form),
            "{what} contains the secret (as `{form}`):\n{text}"
        );
    }
}

#[test]
fn trace_level_sync_never_prints_the_secret() {
    for format in ["json", "console"] {
        let sb = Sandbox::new();
        let env0 = Env0::healthy();
        let out = Outcome::of(sb.cmd_for(&env0.server).args([
            "--log-level",
            "trace",
            "--log-format",
            format,
            "--summary-json",
            "summary.json",
        ]));
        env0.assert_hit();
        assert_eq!(out.code, 0, "{}", out.stderr);
        // The logs really are verbose: env0-api's request logs are there.
        assert!(
            out.stderr.contains("TRACE") || out.stderr.contains("DEBUG"),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains("/organizations"), "{}", out.stderr);
        assert_no_secret("stdout", &out.stdout);
        assert_no_secret("stderr", &out.stderr);
        assert_no_secret(
            "summary",
            &std::fs::read_to_string(sb.join("summary.json")).unwrap(),
        );
    }
}

#[test]
fn secret_from_a_file_is_trimmed_used_and_never_printed() {
    let sb = Sandbox::new();
    let env0 = Env0::healthy();
    let path = sb.write("secret", &format!("{SECRET}\n"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let out = Outcome::of(
        sb.cmd()
            .args([
                "--api-key-id",
                KEY_ID,
                "--organization-id",
                ORG,
                "--base-url",
                &env0.server.url(),
            ])
            .args(["--log-level", "trace", "--log-format", "console"])
            .env("BATON_API_KEY_SECRET_FILE", &path),
    );
    env0.assert_hit();
    assert_eq!(out.code, 0, "{}", out.stderr);
    #[cfg(unix)]
    assert!(
        out.stderr
            .contains("is readable by group or others (mode 0644)"),
        "{}",
        out.stderr
    );
    assert_no_secret("stderr", &out.stderr);
    assert_no_secret("stdout", &out.stdout);
}

#[test]
fn secret_in_a_readable_config_file_is_warned_about_and_not_printed() {
    let sb = Sandbox::new();
    let env0 = Env0::healthy();
    let path = sb.write(
        ".baton.yaml",
        &format!("api-key-id: {KEY_ID}\napi-key-secret: {SECRET}\norganization-id: {ORG}\nbase-url: {}\n", env0.server.url()),
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    }
    let out = Outcome::of(
        sb.cmd()
            .args(["--log-level", "trace", "--log-format", "console"]),
    );
    env0.assert_hit();
    assert_eq!(out.code, 0, "{}", out.stderr);
    #[cfg(unix)]
    assert!(
        out.stderr
            .contains("holds api-key-secret and is readable by group or others (mode 0640)"),
        "{}",
        out.stderr
    );
    assert_no_secret("stderr", &out.stderr);
    let config = Outcome::of(sb.cmd().arg("config"));
    assert_eq!(config.code, 0, "{}", config.stderr);
    assert_no_secret("config", &config.stdout);
}

#[test]
fn failures_never_print_the_secret() {
    let sb = Sandbox::new();
    let mut env0 = Env0::empty();
    env0.fail(Endpoint::Organizations, 401);
    let out = Outcome::of(sb.cmd_for(&env0.server).args(["--log-level", "trace"]));
    assert_eq!(out.code, 3);
    assert_no_secret("stderr", &out.stderr);
    // A wrong secret is not echoed either.
    let out = Outcome::of(sb.cmd().args([
        "--api-key-secret",
        SECRET,
        "--organization-id",
        "not-a-uuid",
        "--api-key-id",
        "k",
    ]));
    assert_eq!(out.code, 2);
    assert_no_secret("stderr", &out.stderr);
    let out =
        Outcome::of(
            sb.cmd()
                .args(["--api-key-secret", SECRET, "--api-key-secret-file", "x"]),
        );
    assert_eq!(out.code, 2);
    assert_no_secret("stderr", &out.stderr);
}
