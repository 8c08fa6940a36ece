//! `inspect`: the users of a c1z in each format, after a real sync against mockito.

use crate::support::{Endpoint, Env0, Outcome, Sandbox};

/// Syncs the fixture organization into `sync.c1z` in the sandbox.
fn synced() -> (Sandbox, Env0) {
    let sb = Sandbox::new();
    let env0 = Env0::healthy();
    let out = Outcome::of(&mut sb.cmd_for(&env0.server));
    assert_eq!(out.code, 0, "{}", out.stderr);
    (sb, env0)
}

#[test]
fn inspect_formats() {
    let (sb, _env0) = synced();
    for format in ["table", "json", "csv"] {
        let out = Outcome::of(sb.cmd().args(["inspect", "--format", format]));
        assert_eq!(out.code, 0, "{}", out.stderr);
        sb.insta(None)
            .bind(|| insta::assert_snapshot!(format!("inspect_{format}"), out.stdout));
    }
}

#[test]
fn inspect_reads_the_file_named_by_file_or_argument_and_a_given_sync() {
    let (sb, _env0) = synced();
    std::fs::rename(sb.join("sync.c1z"), sb.join("other.c1z")).unwrap();
    let by_arg = Outcome::of(sb.cmd().args(["inspect", "other.c1z", "--format", "json"]));
    assert_eq!(by_arg.code, 0, "{}", by_arg.stderr);
    let by_env = Outcome::of(
        sb.cmd()
            .args(["inspect", "--format", "json"])
            .env("BATON_FILE", "other.c1z"),
    );
    assert_eq!(by_env.stdout, by_arg.stdout);
    let doc: serde_json::Value = serde_json::from_str(&by_arg.stdout).unwrap();
    let sync_id = doc["sync_id"].as_str().unwrap();
    let picked = Outcome::of(sb.cmd().args([
        "inspect",
        "other.c1z",
        "--format",
        "json",
        "--sync-id",
        sync_id,
    ]));
    assert_eq!(picked.stdout, by_arg.stdout);
    assert_eq!(doc["users"].as_array().unwrap().len(), 6);
}

#[test]
fn inspect_unknown_sync_id_is_a_usage_error() {
    let (sb, _env0) = synced();
    let out = Outcome::of(sb.cmd().args(["inspect", "--sync-id", "nope"]));
    assert_eq!(out.code, 2);
    sb.insta(None)
        .bind(|| insta::assert_snapshot!("inspect_unknown_sync", out.failure_report()));
}

/// A member whose name and email carry a terminal escape sequence, a bidi override and a
/// spreadsheet formula: the table shows them escaped, CSV neutralises the formula, JSON is exact.
#[test]
fn inspect_output_cannot_attack_its_reader() {
    let sb = Sandbox::new();
    let mut env0 = Env0::empty();
    env0.ok(Endpoint::Organizations)
        .ok(Endpoint::ApiKeys)
        .ok(Endpoint::Roles)
        .no_access();
    let name = "A\u{1b}[31m\u{1b}]0;pwned\u{7}B\u{202e}gnp.exe";
    let users = serde_json::json!([{
        "role": "User",
        "status": "Active",
        "user": { "user_id": "auth0|evil", "email": "=cmd|'/c calc'!A0", "name": name }
    }]);
    env0.ok_with(Endpoint::Users, &users.to_string());
    let out = Outcome::of(&mut sb.cmd_for(&env0.server));
    assert_eq!(out.code, 0, "{}", out.stderr);

    let table = Outcome::of(sb.cmd().args(["inspect", "--format", "table"]));
    assert_eq!(table.code, 0, "{}", table.stderr);
    assert!(
        !table.stdout.contains(['\u{1b}', '\u{7}', '\u{202e}']),
        "raw controls reached the terminal: {:?}",
        table.stdout
    );
    assert!(
        table
            .stdout
            .contains("A\\u{1b}[31m\\u{1b}]0;pwned\\u{7}B\\u{202e}gnp.exe"),
        "{}",
        table.stdout
    );

    let csv = Outcome::of(sb.cmd().args(["inspect", "--format", "csv"]));
    assert_eq!(csv.code, 0, "{}", csv.stderr);
    let row = csv::Reader::from_reader(csv.stdout.as_bytes())
        .records()
        .map(Result::unwrap)
        .find(|r| &r[0] == "auth0|evil")
        .unwrap();
    assert_eq!(&row[2], "'=cmd|'/c calc'!A0", "{}", csv.stdout);

    let json = Outcome::of(sb.cmd().args(["inspect", "--format", "json"]));
    assert_eq!(json.code, 0, "{}", json.stderr);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let user = value["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == "auth0|evil")
        .unwrap();
    assert_eq!(user["display_name"], name);
    assert_eq!(user["email"], "=cmd|'/c calc'!A0");
}

/// ConductorOne's readers show the latest unfinished sync of a file that has no finished one;
/// so does `inspect` (the SDK's own file of a sync in progress).
#[test]
fn inspect_shows_the_unfinished_sync_of_a_file_without_a_finished_one() {
    let sb = Sandbox::new();
    let sdk = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/compat/baton-sdk-sync-in-progress.c1z");
    std::fs::copy(&sdk, sb.path().join("in-progress.c1z")).unwrap();
    let out = Outcome::of(
        sb.cmd()
            .args(["inspect", "--format", "json", "in-progress.c1z"]),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json["sync_id"], "3ARefY5G8eOytquwYgm41Nq07IZ");
    assert_eq!(json["ended_at"], serde_json::Value::Null);
    assert_eq!(json["users"].as_array().map(Vec::len), Some(10));
}
