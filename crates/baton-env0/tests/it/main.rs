//! Integration tests of the built `baton-env0` binary (assert_cmd) against mockito env0 servers.

// `allow`, not `expect`: whether a helper unwraps changes with every test added.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail the test loudly on anything unexpected"
)]

mod access;
mod concurrent;
mod config_cmd;
mod e2e;
mod failures;
mod help;
mod inspect;
mod precedence;
mod provision;
mod rows;
mod secrets;
mod support;
mod sync;
mod validate;
