//! `c1-model`: the ConductorOne connector data model (`c1.connector.v2`) and its deterministic
//! protobuf encoding, plus builders that hide `Any` type URLs and baton id conventions.
//!
//! Architecture invariant: no I/O. This crate must never depend on tokio, reqwest, rusqlite or
//! any other crate of this workspace.
