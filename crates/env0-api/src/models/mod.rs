//! Wire models: env0's JSON exactly as sent, with lenient optional fields.
//!
//! Field names follow the wire: snake_case inside the Auth0-style `user` object, camelCase
//! everywhere else. Unknown fields are ignored. Every optional field accepts a missing key,
//! `null` and `""` (all read as `None`). Serializing writes the same wire names back.

mod keys;
mod projects;
mod scalars;
mod teams;
#[cfg(test)]
mod tests;
mod users;

pub use keys::{ApiKey, CustomRole};
pub use projects::{AssignmentScope, Project, ProjectUserPermission, TeamRoleAssignment};
pub use scalars::{ProjectRole, Role, Timestamp};
pub use teams::{Team, TeamsPage};
pub(crate) use users::UserWire;
pub use users::{Organization, OrganizationUser, User};
