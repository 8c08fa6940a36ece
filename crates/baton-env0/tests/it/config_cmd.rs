//! `config`: every setting with its effective value and source, never the secret.

use crate::support::{ORG, Outcome, SECRET, Sandbox};

#[test]
fn config_describes_every_field_with_value_and_source() {
    let sb = Sandbox::new();
    sb.write(".baton.yaml", "workers: 3\nlog_level: debug\n");
    let out = Outcome::of(
        sb.cmd()
            .arg("config")
            .args(["--file", "out.c1z"])
            .env("BATON_API_KEY_ID", "key-from-env")
            .env("ENV0_API_SECRET", SECRET)
            .env("ENV0_ORGANIZATION_ID", ORG),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stdout.contains(SECRET));
    assert!(!out.stderr.contains(SECRET));
    sb.insta(None)
        .bind(|| insta::assert_snapshot!("config", out.stdout));
}

#[test]
fn config_without_anything_set_shows_defaults() {
    let sb = Sandbox::new();
    let out = Outcome::of(sb.cmd().arg("config"));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let field = |name: &str| {
        doc["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(field("api-key-secret")["set"], false);
    assert_eq!(field("file")["value"], "sync.c1z");
    assert_eq!(field("file")["source"], "default");
    assert_eq!(
        field("log-format")["value"],
        "json",
        "stderr is not a terminal"
    );
    assert_eq!(doc["config_file"], serde_json::Value::Null);
}

#[test]
fn unknown_config_keys_are_warned_about() {
    let sb = Sandbox::new();
    sb.write(".baton.yaml", "api-key-id: k\norganisation-id: typo\n");
    let out = Outcome::of(sb.cmd().args(["config", "--log-format", "console"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("WARN"), "{}", out.stderr);
    assert!(
        out.stderr.contains("unknown key `organisation-id` ignored"),
        "{}",
        out.stderr
    );
}

#[test]
fn invalid_config_file_is_a_usage_error() {
    let sb = Sandbox::new();
    sb.write("bad.yaml", "workers: many\n");
    let out = Outcome::of(sb.cmd().args(["config", "--config", "bad.yaml"]));
    sb.insta(None)
        .bind(|| insta::assert_snapshot!("config_file_invalid", out.failure_report()));
    assert_eq!(out.code, 2);
}
