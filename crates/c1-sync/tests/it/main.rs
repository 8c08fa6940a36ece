//! Integration tests of c1-sync: one binary, one module per area.

// `allow`, not `expect`: whether a helper unwraps changes with every test added.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail the test loudly on anything unexpected"
)]

mod corrupt;
mod engine;
mod expansion;
mod lifecycle;
mod provision;
mod reference;
mod rewrite;
mod store;
mod support;
