//! Integration tests of `env0-connector`: the connector against a mockito env0 serving the fixture
//! organizations of `fixtures/env0/`, snapshots of the mapped resources, validation failures,
//! paging, a full sync through `c1-sync`, and a property test of the mapping.

// `allow`, not `expect`: whether a helper unwraps changes with every test added.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail the test loudly on anything unexpected"
)]

mod access;
mod engine;
mod errors;
mod paging;
mod properties;
mod snapshots;
mod support;
