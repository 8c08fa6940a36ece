//! Integration tests of the built `baton-env0` binary (assert_cmd) against mockito env0 servers.

mod concurrent;
mod config_cmd;
mod e2e;
mod failures;
mod help;
mod inspect;
mod precedence;
mod secrets;
mod support;
mod sync;
mod validate;
