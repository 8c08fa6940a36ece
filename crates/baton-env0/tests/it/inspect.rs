//! `inspect`: the users of a c1z in each format, after a real sync against mockito.

use crate::support::{Env0, Outcome, Sandbox};

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
