//! Integration tests of the env0 client against mockito servers.
//!
//! Payloads live in `fixtures/env0/<endpoint>-<case>.json` at the workspace root.

mod config;
mod decoding;
mod endpoints;
mod hygiene;
mod nasty;
mod retry;
mod support;
