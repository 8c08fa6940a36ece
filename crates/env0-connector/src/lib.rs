//! `env0-connector`: the env0 domain model, its mapping into ConductorOne user resources, and the
//! `c1-sync` connector for one env0 organization.
//!
//! Architecture invariant: it depends on `env0-api`, `c1-sync` and `c1-model` only; it must never
//! depend on the CLI (`baton-env0`) or on the fake server (`env0-fake`).
