//! Integration tests of c1-sync: one binary, one module per area.

mod engine;
mod expansion;
mod lifecycle;
mod reference;
mod store;
mod support;
