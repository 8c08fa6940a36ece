//! `baton-env0`: the operator CLI. It parses configuration, wires the env0 connector into the
//! sync engine, and maps failures to documented exit codes.
//!
//! Architecture invariant: nothing depends on this crate; it must never be a dependency of a
//! library crate of this workspace.
