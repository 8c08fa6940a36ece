//! `env0-api`: the raw, typed HTTP client for the env0 REST API.
//!
//! It owns authentication (HTTP Basic with an API key id and secret), retry with backoff, the
//! client-side rate limit and the wire types exactly as env0 sends them.
//!
//! Architecture invariant: this crate knows nothing of ConductorOne. It must never depend on a
//! `c1-*` crate or on any other crate of this workspace.
//!
//! # Overview
//!
//! - [`ClientConfig`] → [`Env0Client::new`] → one method per endpoint, each returning wire models
//!   ([`Organization`], [`OrganizationUser`], [`ApiKey`], ...) with newtype ids ([`OrgId`],
//!   [`UserId`], ...).
//! - Every request waits for the rate limit of its method + URL path (env0 counts each path
//!   separately; the limit is shared by all clones of the client) and for a place among the
//!   requests in flight ([`ClientConfig::max_concurrent_requests`]), then is retried
//!   on 429, 5xx and network failures with exponential backoff and full jitter, honouring
//!   `Retry-After` (a wait env0 asks for is waited in full up to
//!   [`ClientConfig::max_retry_after`], 5 minutes by default). A body cut short is a network failure too, whether the connection broke
//!   before the declared length or a complete `200` carried JSON that stops early (a `GET` is
//!   safe to send again). 400, 401, 402, 403 and 404 are never retried, nor is a complete body
//!   that is not the expected JSON.
//! - Writes (organization roles, project roles, team members, team role assignments) are sent
//!   again only when env0 cannot have acted on them (429, a connection that never opened). Any
//!   other failure after a write may have left is [`Error::Unconfirmed`]: the caller reads the
//!   state back to learn whether it was applied.
//! - Decoding never logs: what it notices (a timestamp that does not parse, an embedded user
//!   without an id) is returned as data and logged once per response, in the request's span.
//! - Failures are one [`Error`] enum. No error, log line or `Debug` output contains the secret
//!   or the `Authorization` header.
//! - Each attempt runs in a `tracing` span `env0_request` (method, path, query, attempt, status,
//!   duration_ms); retries are logged at debug level with the wait, and can be observed with
//!   [`ClientConfig::on_retry`].

mod auth;
mod body;
mod config;
mod de;
mod endpoints;
mod error;
mod ids;
mod models;
mod notice;
mod parallel_decode;
mod ratelimit;
mod stream_decode;
mod transport;
mod writes;

pub use config::{
    ClientConfig, DEFAULT_BASE_URL, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_CONCURRENT_REQUESTS,
    DEFAULT_MAX_RETRIES, DEFAULT_MAX_RETRY_AFTER, DEFAULT_MAX_RETRY_DELAY,
    DEFAULT_REQUESTS_PER_MINUTE, DEFAULT_RETRY_BASE_DELAY, DEFAULT_TIMEOUT, RetryEvent, RetryHook,
    ThrottleEvent, ThrottleHook, default_user_agent,
};
pub use endpoints::{Env0Client, TEAMS_PAGE_LIMIT};
pub use error::{BoxError, Error};
pub use ids::{ApiKeyId, EnvironmentId, OrgId, ProjectId, RoleId, TeamId, UserId};
pub use models::{
    ApiKey, AssignmentScope, CustomRole, Organization, OrganizationUser, Project, ProjectRole,
    ProjectUserPermission, Role, Team, TeamRoleAssignment, TeamsPage, Timestamp, User,
};
/// Re-exported so callers build the secret with the same type the client takes.
pub use secrecy::SecretString;
pub use writes::Write;
