//! `env0-fake`: a fake env0 API server (axum) for the demo, tests and benchmarks, with a
//! deterministic organization generator and seeded fault injection.
//!
//! Architecture invariant: it implements the env0 wire format independently and must never depend
//! on another crate of this workspace, so it can catch the client's mistakes rather than share them.
