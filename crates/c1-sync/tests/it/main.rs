//! Integration tests of c1-sync: one binary, one module per area.

mod engine;
mod expansion;
mod lifecycle;
mod provision;
mod reference;
mod store;
mod support;
