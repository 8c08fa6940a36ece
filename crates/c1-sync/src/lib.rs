//! `c1-sync`: the generic sync engine and the c1z store (writer and reader), reusable by any
//! ConductorOne connector.
//!
//! Architecture invariant: this crate never depends on an `env0-*` crate; the only workspace crate
//! it may use is `c1-model`.
