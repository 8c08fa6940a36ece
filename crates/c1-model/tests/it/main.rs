//! Integration tests of `c1-model`'s public API: wire bytes, round trips, determinism and baton's
//! id conventions.

mod conventions;
mod determinism;
mod hand_encoded;
mod round_trip;
