//! `env0-fake`: a fake env0 API server (axum) for the demo, tests and benchmarks, with a
//! deterministic organization generator and seeded fault injection.
//!
//! Architecture invariant: it implements the env0 wire format independently and must never depend
//! on another crate of this workspace, so it can catch the client's mistakes rather than share them.
//!
//! Endpoints (env0's wire shapes as `docs/env0-api.md` describes them and the recorded payloads in
//! `fixtures/env0/` show them), all behind HTTP Basic auth:
//!
//! | Request | Answer |
//! |---|---|
//! | `GET /organizations` | array with the one organization |
//! | `GET /organizations/{org}/users` | array of members |
//! | `GET /api-keys?organizationId=` | array of API keys |
//! | `GET /roles?organizationId=` | array of custom roles |
//! | `GET /teams/organizations/{org}?limit=N[&offset=KEY]` | `{"teams": [...], "nextPageKey": "..."}` (no key on the last page); a bare array without `limit`; without `users` under `--teams-without-users` |
//! | `GET /teams/{team}` | one team, always with `users` |
//! | `GET /projects?organizationId=` | array of projects |
//! | `GET /permissions/projects/{project}` | array of `{id, userId, role}` |
//! | `GET /roles/assignments/teams?organizationId=\|projectId=` | array of `{id, teamId, role}` |
//! | `GET /_fake/stats` | [`Stats`] (no auth, not counted) |
//!
//! Wrong or missing credentials get 401, another organization's id 403, an unknown path 404, all
//! with a `{"message": "..."}` body. Every API request passes, in order: the counters, the
//! per-path sliding-window rate limit (429 with `Retry-After` when one URL path, query string
//! aside, got its limit within 60 s: env0's way of counting), the latency, the seeded fault draw
//! (status, connection reset, a body cut short after a full `Content-Length`, or a whole
//! response carrying only the first half of its JSON), and auth.
//!
//! ```no_run
//! # async fn demo() -> Result<(), env0_fake::FakeError> {
//! use env0_fake::{FakeConfig, GenerateOptions, Org};
//! let org = Org::generate(GenerateOptions { users: 300, api_keys: 30, teams: 5, projects: 3, seed: 7 });
//! let fake = env0_fake::spawn(FakeConfig::new(org)).await?;
//! println!("{} serves {}", fake.base_url(), fake.org_id());
//! # Ok(()) }
//! ```

mod config;
mod error;
mod generate;
mod model;
mod server;
mod stats;

pub use config::{
    Credentials, DEMO_KEY_ID, DEMO_KEY_SECRET, Endpoint, FakeConfig, FaultKind, Faults,
    parse_forced_statuses,
};
pub use error::FakeError;
pub use generate::GenerateOptions;
pub use model::{
    ApiKey, CustomRole, Maybe, Member, Org, Organization, Project, ProjectPermission, Team,
    TeamRoleAssignment, TeamRoleAssignments, User,
};
pub use server::{RunningFake, spawn};
pub use stats::Stats;
