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
//! | `PUT /organizations/{org}/users/{user}/role` | body: the role as raw text (`Admin`, `User` or a custom role id; a JSON-quoted string is unquoted); `200`, empty. 404 for a non-member or an API key, 400 for an unknown role |
//! | `POST /permissions/projects/{project}` | body `{userId, role}` (a member or an API key; `Admin`, `Deployer`, `Planner`, `Viewer` or a custom role id); `200 {id, userId, role}`. 400 `User already assigned to project` when they hold a role there, 400 for an unknown principal or role, 404 for an unknown project |
//! | `PUT /permissions/projects/{project}/users/{user}` | body `{role}`; `200 {id, userId, role}`; 404 when they hold no role there |
//! | `DELETE /permissions/projects/{project}/users/{user}` | `200`, empty; 404 when they hold no role there |
//! | `PUT /teams/{team}` | body `{name, description, userIds}`: replaces the name, the description (kept when absent) and the **whole member list**; `200` with the team as `GET /teams/{team}` answers it. 400 for an id that is neither a member, an API key nor already in the team; 404 for an unknown team |
//! | `PUT /roles/assignments/teams` | body `{teamId, role}` and exactly one of `organizationId`, `projectId`, `environmentId`: gives the team that role there, replacing the one it had; `200 {id, teamId, role}`. 400 for a malformed body or a role that does not fit the scope, 403 for another organization, 404 for an unknown team, project or any environment (not modelled) |
//! | `DELETE /roles/assignments/teams?teamId=&organizationId=\|projectId=` | `200`, empty; 404 when the team has no role there |
//! | `GET /_fake/stats` | [`Stats`] (no auth, not counted) |
//! | `GET /_fake/writes` | array of [`WriteRecord`]: every write request so far, in arrival order (no auth, not counted) |
//!
//! Wrong or missing credentials get 401, another organization's id 403, an unknown path 404, all
//! with a `{"message": "..."}` body. JSON request bodies need `Content-Type: application/json`
//! (else 400). Every API request passes, in order: the counters, the sliding-window rate limit
//! per method and URL path (429 with `Retry-After` when one method on one URL path, query string
//! aside, got its limit within 60 s: env0's way of counting; a `GET` and a `PUT` on one path
//! are two counters), the latency, the seeded fault draw (status, connection reset, a body cut
//! short after a full `Content-Length`, a whole response carrying only the first half of its
//! JSON, a write applied and its answer dropped, or a request held longer than a short client
//! timeout), and auth.
//!
//! The fake keeps state: a write changes the organization, and every later read, and
//! [`RunningFake::org`], shows it. Bodies stay pre-serialized; a write serializes again only
//! those it changed. A status fault or a reset leaves the state unchanged; `drop` applies the
//! write, then closes the connection without an answer; `late` applies it 2.5 s after it
//! arrived, whether or not the client is still waiting. [`RunningFake::writes`] lists every
//! write request with its outcome and whether it applied, and [`RunningFake::on_next_write`]
//! lets a test change the state right after the next applied write, as another administrator
//! would.
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
pub use server::{RunningFake, WriteRecord, spawn};
pub use stats::Stats;
