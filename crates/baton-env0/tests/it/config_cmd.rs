//! `config`: every setting with its effective value and source, never the secret.

use std::fmt::Write as _;

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

/// Every key `config` says the file may hold is read from the file, in kebab-case and in
/// snake_case, and `config` then reports the file as its source: the settings table, the
/// resolution and the `config` output cannot drift apart.
#[test]
fn every_config_file_key_is_read_from_the_file() {
    let sb = Sandbox::new();
    let described = Outcome::of(sb.cmd().arg("config"));
    let doc: serde_json::Value = serde_json::from_str(&described.stdout).unwrap();
    let fields: Vec<serde_json::Value> = doc["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["config_key"].is_string())
        .cloned()
        .collect();
    assert!(fields.len() >= 14, "{fields:?}");
    for snake in [false, true] {
        let mut yaml = String::new();
        for f in &fields {
            let key = f["config_key"].as_str().unwrap();
            // The secret may come from the file as a value or a file, not both.
            if key == "api-key-secret-file" {
                continue;
            }
            let value = match (f["kind"].as_str().unwrap(), key) {
                (_, "organization-id") => ORG.to_owned(),
                (_, "base-url") => "http://127.0.0.1:9".to_owned(),
                ("int", _) => "7".to_owned(),
                ("bool", _) => "true".to_owned(),
                ("enum", _) => f["possible_values"][1].as_str().unwrap().to_owned(),
                _ => format!("from-file-{key}"),
            };
            let key = if snake {
                key.replace('-', "_")
            } else {
                key.to_owned()
            };
            writeln!(yaml, "{key}: \"{value}\"").unwrap();
        }
        sb.write("all.yaml", &yaml);
        let out = Outcome::of(sb.cmd().args(["config", "--config", "all.yaml"]));
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(!out.stderr.contains("unknown key"), "{}", out.stderr);
        let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        for f in doc["fields"].as_array().unwrap() {
            let Some(key) = f["config_key"].as_str() else {
                continue;
            };
            if key == "api-key-secret-file" {
                continue;
            }
            assert_eq!(
                f["source"], "config file all.yaml",
                "{key} (snake_case: {snake}): {f}"
            );
        }
    }
}
