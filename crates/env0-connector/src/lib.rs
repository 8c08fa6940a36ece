//! `env0-connector`: the env0 domain model, its mapping into ConductorOne resources (users,
//! organization roles, teams, projects), entitlements and grants, and the `c1-sync` connector for
//! one env0 organization.
//!
//! Architecture invariant: it depends on `env0-api`, `c1-sync` and `c1-model` only; it must never
//! depend on the CLI (`baton-env0`) or on the fake server (`env0-fake`).
//!
//! # Layers
//!
//! - [`domain`]: [`Principal`] (a person or an API key), built from env0 wire types and
//!   independent of them.
//! - [`directory`]: members + API keys + custom role names merged into one sorted [`Directory`].
//! - [`mapping`]: a principal as a ConductorOne `user` resource, field by field as
//!   `docs/user-mapping.md` specifies.
//! - [`access`]: roles, teams and projects as resources, entitlements, direct grants and the
//!   structural expandable grants of inheritance, as `docs/access-model.md` specifies; the
//!   requests that read them and the `role`, `team` and `project` syncers.
//! - [`Env0Connector`]: the [`c1_sync::Connector`] for one organization ([`ConnectorOptions`]:
//!   page size, `skip_projects`, request concurrency, per-project progress), plus
//!   [`Env0Connector::summary`] and [`Env0Connector::check_access`] for the CLI.
//!
//! # Errors
//!
//! Connector errors wrap [`env0_api::Error`] (transient exactly when
//! [`env0_api::Error::is_transient`]) or, when this crate has more to say (foreign organization,
//! missing permission), an [`Error`] that still carries the env0 error. [`api_error`] reaches the
//! env0 error either way.

pub mod access;
mod connector;
pub mod directory;
pub mod domain;
mod error;
pub mod mapping;
mod packed;
pub mod provision;
mod validate;

pub use connector::{ConnectorOptions, DEFAULT_PAGE_SIZE, Env0Connector};
pub use directory::{Directory, PrincipalSummary};
pub use domain::{Membership, OrgRole, Principal, PrincipalKind, Warning};
pub use error::{Error, api_error};
pub use validate::{AccessReport, Visibility};
