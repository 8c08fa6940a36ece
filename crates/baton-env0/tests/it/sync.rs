//! The default action: a full sync, its summary line and `--summary-json`.

use crate::support::{Env0, Outcome, Sandbox, plain_lines};

#[test]
fn sync_writes_the_c1z_and_one_summary_line() {
    let sb = Sandbox::new();
    let env0 = Env0::healthy();
    let out = Outcome::of(sb.cmd_for(&env0.server).args([
        "--log-format",
        "console",
        "--log-level",
        "error",
    ]));
    env0.assert_hit();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "", "a sync prints nothing on stdout");
    let bytes = std::fs::read(sb.join("sync.c1z")).unwrap();
    assert!(bytes.starts_with(b"C1ZF\0"), "a c1z v1 file");
    sb.insta(Some(&env0.server))
        .bind(|| insta::assert_snapshot!("sync_summary_console", out.stderr));
}

#[test]
fn json_logs_end_with_a_json_summary_line() {
    let sb = Sandbox::new();
    let env0 = Env0::healthy();
    let out = Outcome::of(sb.cmd_for(&env0.server).args(["--file", "org.c1z"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        plain_lines(out.stderr.as_bytes()),
        "",
        "every stderr line is JSON: {}",
        out.stderr
    );
    let last: serde_json::Value = serde_json::from_str(out.stderr.lines().last().unwrap()).unwrap();
    let fields = &last["fields"];
    assert_eq!(fields["message"], "sync finished");
    assert_eq!(fields["users"], 6);
    assert_eq!(fields["humans"], 3);
    assert_eq!(fields["api_keys"], 3);
    assert_eq!(fields["output"], "org.c1z");
    assert!(sb.join("org.c1z").is_file());
}

#[test]
fn summary_json_holds_the_report() {
    let sb = Sandbox::new();
    let env0 = Env0::healthy();
    let out = Outcome::of(
        sb.cmd_for(&env0.server)
            .env("BATON_SUMMARY_JSON", "report.json"),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sb.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["connector"], "env0");
    assert_eq!(report["resources_by_type"]["user"], 6);
    assert_eq!(report["principals"]["humans"], 3);
    assert_eq!(report["principals"]["api_keys"], 3);
    assert_eq!(report["output"], "sync.c1z");
    assert_eq!(report["sync_id"].as_str().unwrap().len(), 27, "a KSUID");
}

#[test]
fn a_second_sync_keeps_the_previous_one() {
    let sb = Sandbox::new();
    let env0 = Env0::healthy();
    for _ in 0..2 {
        let out = Outcome::of(&mut sb.cmd_for(&env0.server));
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    let reader = c1_sync::C1zReader::open(&sb.join("sync.c1z")).unwrap();
    let finished = reader
        .sync_runs()
        .unwrap()
        .into_iter()
        .filter(c1_sync::SyncRun::is_finished)
        .count();
    assert_eq!(finished, 2);
}
