//! Integration tests of the env0 client against mockito servers.
//!
//! Payloads live in `fixtures/env0/<endpoint>-<case>.json` at the workspace root.

// `allow`, not `expect`: whether a helper unwraps changes with every test added.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail the test loudly on anything unexpected"
)]

mod config;
mod decoding;
mod endpoints;
mod hygiene;
mod limits;
mod nasty;
mod retry;
mod support;
mod writes;
