//! `--help`, subcommand help, `--version` and `capabilities`.

use crate::support::{Outcome, SECRET, Sandbox};

#[test]
fn root_help_lists_flags_env_vars_defaults_and_exit_codes() {
    let sb = Sandbox::new();
    let out = Outcome::of(sb.cmd().arg("--help"));
    assert_eq!(out.code, 0, "{}", out.stderr);
    sb.insta(None)
        .bind(|| insta::assert_snapshot!("help", out.stdout));
}

#[test]
fn inspect_help() {
    let sb = Sandbox::new();
    let out = Outcome::of(sb.cmd().args(["inspect", "--help"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    sb.insta(None)
        .bind(|| insta::assert_snapshot!("help_inspect", out.stdout));
}

#[test]
fn help_never_shows_environment_values() {
    let sb = Sandbox::new();
    let out = Outcome::of(
        sb.cmd()
            .arg("--help")
            .env("BATON_API_KEY_SECRET", SECRET)
            .env("BATON_API_KEY_ID", "visible-key-id-value"),
    );
    assert_eq!(out.code, 0);
    assert!(
        out.stdout.contains("[env: BATON_API_KEY_SECRET]"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains(SECRET));
    assert!(!out.stdout.contains("visible-key-id-value"));
}

#[test]
fn version_names_the_binary() {
    let sb = Sandbox::new();
    let out = Outcome::of(sb.cmd().arg("--version"));
    assert_eq!(out.code, 0);
    assert_eq!(
        out.stdout,
        format!("baton-env0 {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn capabilities_prints_baton_json_without_credentials() {
    let sb = Sandbox::new();
    let out = Outcome::of(sb.cmd().arg("capabilities"));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        baton_env0::docs::capabilities_json().unwrap(),
        "same as the generated file"
    );
    sb.insta(None)
        .bind(|| insta::assert_snapshot!("capabilities", out.stdout));
}

#[test]
fn unknown_flag_is_a_usage_error() {
    let sb = Sandbox::new();
    let out = Outcome::of(sb.cmd().arg("--log-level").arg("loud"));
    assert_eq!(out.code, 2);
    sb.insta(None)
        .bind(|| insta::assert_snapshot!("usage_error_bad_log_level", out.failure_report()));
}
