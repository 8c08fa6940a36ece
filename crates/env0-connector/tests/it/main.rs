//! Integration tests of `env0-connector`: the connector against a mockito env0 serving the fixture
//! organizations of `fixtures/env0/`, snapshots of the mapped resources, validation failures,
//! paging, a full sync through `c1-sync`, and a property test of the mapping.

mod engine;
mod errors;
mod paging;
mod properties;
mod snapshots;
mod support;
