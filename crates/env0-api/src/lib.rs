//! `env0-api`: the raw, typed HTTP client for the env0 REST API.
//!
//! It owns authentication (HTTP Basic with an API key id and secret), retry with backoff, the
//! client-side rate limit and the wire types exactly as env0 sends them.
//!
//! Architecture invariant: this crate knows nothing of ConductorOne. It must never depend on a
//! `c1-*` crate or on any other crate of this workspace.
