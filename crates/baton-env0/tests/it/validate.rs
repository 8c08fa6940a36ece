//! `validate`: credentials and organization access.

use crate::support::{Endpoint, Env0, Outcome, Sandbox};

#[test]
fn validate_prints_the_organization_and_what_can_be_synced() {
    let sb = Sandbox::new();
    let env0 = Env0::healthy();
    let out = Outcome::of(sb.cmd_for(&env0.server).arg("validate"));
    env0.assert_hit();
    assert_eq!(out.code, 0, "{}", out.stderr);
    sb.insta(None)
        .bind(|| insta::assert_snapshot!("validate_ok", out.stdout));
    assert!(!sb.join("sync.c1z").exists(), "validate writes nothing");
}

#[test]
fn validate_reports_custom_roles_it_cannot_see() {
    let sb = Sandbox::new();
    let mut env0 = Env0::empty();
    env0.ok(Endpoint::Organizations)
        .ok(Endpoint::Users)
        .ok(Endpoint::ApiKeys)
        .fail(Endpoint::Roles, 403)
        .no_access();
    let out = Outcome::of(sb.cmd_for(&env0.server).arg("validate"));
    env0.assert_hit();
    assert_eq!(out.code, 0, "{}", out.stderr);
    sb.insta(None)
        .bind(|| insta::assert_snapshot!("validate_roles_denied", out.stdout));
}

#[test]
fn validate_fails_with_exit_4_when_api_keys_are_hidden() {
    let sb = Sandbox::new();
    let mut env0 = Env0::empty();
    env0.ok(Endpoint::Organizations)
        .ok(Endpoint::Users)
        .fail(Endpoint::ApiKeys, 403)
        .ok(Endpoint::Roles)
        .no_access();
    let out = Outcome::of(sb.cmd_for(&env0.server).arg("validate"));
    env0.assert_hit();
    assert_eq!(out.code, 4);
    sb.insta(None).bind(|| {
        insta::assert_snapshot!(
            "validate_api_keys_denied",
            format!("{}---\n{}", out.stdout, out.failure_report())
        );
    });
}
