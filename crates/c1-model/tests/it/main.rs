//! Integration tests of `c1-model`'s public API: wire bytes, round trips, determinism and baton's
//! id conventions.

// `allow`, not `expect`: whether a helper unwraps changes with every test added.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail the test loudly on anything unexpected"
)]

mod conventions;
mod determinism;
mod hand_encoded;
mod round_trip;
