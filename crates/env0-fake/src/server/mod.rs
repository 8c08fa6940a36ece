//! The HTTP server: routes with env0's wire shapes, Basic auth, latency, faults, rate limit, stats.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::{Credentials, Endpoint, FakeConfig, FaultKind, Faults};
use crate::error::FakeError;
use crate::model::{Maybe, Org, Team};
use crate::stats::{Limiter, Recorder, Stats};

/// The most teams one page holds, whatever `limit` asks for.
mod gate;
mod routes;

use gate::gate;
use routes::{
    api_keys, not_found, organizations, project_permissions, projects, roles, stats, team,
    team_role_assignments, teams, users,
};

const MAX_PAGE: usize = 100;

/// Pre-serialized response bodies, cloned per request (cheap: `Bytes` is reference-counted).
struct Bodies {
    organizations: Bytes,
    users: Bytes,
    api_keys: Bytes,
    roles: Bytes,
    projects: Bytes,
    teams: Bytes,
    /// `GET /teams/{team}` by team id: always with `users` (`[]` when the team has none).
    team: HashMap<String, Bytes>,
    project_permissions: HashMap<String, Bytes>,
    team_assignments_org: Bytes,
    team_assignments_project: HashMap<String, Bytes>,
}

struct AppState {
    org: Org,
    /// The teams as the list serves them (without `users` under `--teams-without-users`).
    listed_teams: Vec<Team>,
    bodies: Bodies,
    credentials: Credentials,
    latency: Duration,
    faults: Faults,
    /// One fault stream per URL path, made on its first request.
    fault_rngs: Mutex<HashMap<String, ChaCha8Rng>>,
    limiter: Option<Limiter>,
    forced: std::collections::BTreeMap<Endpoint, u16>,
    stats: Recorder,
}

fn to_bytes<T: Serialize + ?Sized>(what: &'static str, v: &T) -> Result<Bytes, FakeError> {
    serde_json::to_vec(v)
        .map(Bytes::from)
        .map_err(|source| FakeError::Serialize { what, source })
}

impl AppState {
    fn new(config: FakeConfig) -> Result<AppState, FakeError> {
        let org = config.org;
        let mut project_permissions = HashMap::new();
        for project in &org.projects {
            let perms = org
                .project_permissions
                .get(&project.id)
                .map_or(&[][..], Vec::as_slice);
            project_permissions.insert(project.id.clone(), to_bytes("permissions", perms)?);
        }
        let mut team_assignments_project = HashMap::new();
        for project in &org.projects {
            let list = org
                .team_role_assignments
                .projects
                .get(&project.id)
                .map_or(&[][..], Vec::as_slice);
            team_assignments_project.insert(project.id.clone(), to_bytes("assignments", list)?);
        }
        let mut team = HashMap::new();
        for t in &org.teams {
            let mut full = t.clone();
            if full.users.value().is_none() {
                full.users = Maybe::Value(Vec::new());
            }
            team.insert(t.id.clone(), to_bytes("team", &full)?);
        }
        let listed_teams: Vec<Team> = if config.teams_without_users {
            org.teams
                .iter()
                .map(|t| {
                    let mut listed = t.clone();
                    listed.users = Maybe::Missing;
                    listed
                })
                .collect()
        } else {
            org.teams.clone()
        };
        let bodies = Bodies {
            organizations: to_bytes("organizations", &[&org.organization])?,
            users: to_bytes("users", &org.members)?,
            api_keys: to_bytes("api-keys", &org.api_keys)?,
            roles: to_bytes("roles", &org.roles)?,
            projects: to_bytes("projects", &org.projects)?,
            teams: to_bytes("teams", &listed_teams)?,
            team,
            project_permissions,
            team_assignments_org: to_bytes("assignments", &org.team_role_assignments.organization)?,
            team_assignments_project,
        };
        Ok(AppState {
            fault_rngs: Mutex::new(HashMap::new()),
            faults: config.faults,
            limiter: config.rate_limit_per_minute.map(Limiter::new),
            org,
            listed_teams,
            bodies,
            credentials: config.credentials,
            latency: config.latency,
            forced: config.forced_status,
            stats: Recorder::default(),
        })
    }

    /// The fault for the next request to `path`, drawn from that path's own stream: which
    /// request of a path meets which fault does not depend on how requests to different paths
    /// interleave.
    fn draw_fault(&self, path: &str) -> Option<FaultKind> {
        if self.faults.is_empty() {
            return None;
        }
        let mut rngs = self
            .fault_rngs
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let rng = rngs.entry(path.to_owned()).or_insert_with(|| {
            let mut rng = ChaCha8Rng::seed_from_u64(self.faults.seed);
            rng.set_stream(fnv1a(path.as_bytes()));
            rng
        });
        let x: f64 = rng.random();
        self.faults.pick(x)
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(value) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return false;
        };
        let Some((scheme, encoded)) = value.trim().split_once(' ') else {
            return false;
        };
        if !scheme.eq_ignore_ascii_case("basic") {
            return false;
        }
        let Ok(decoded) = STANDARD.decode(encoded.trim()) else {
            return false;
        };
        let Some(colon) = decoded.iter().position(|b| *b == b':') else {
            return false;
        };
        let (user, rest) = decoded.split_at(colon);
        self.credentials
            .matches(user, rest.get(1..).unwrap_or_default())
    }

    fn forced(&self, endpoint: Endpoint) -> Option<Response> {
        self.forced.get(&endpoint).map(|code| {
            let status = StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            message(status, status.canonical_reason().unwrap_or("Forced status"))
        })
    }

    /// The error response when `org` is not this organization's id (400 when absent, 403 when
    /// another organization's).
    fn reject_org(&self, org: Option<&String>) -> Option<Response> {
        match org.map(String::as_str) {
            None | Some("") => Some(message(
                StatusCode::BAD_REQUEST,
                "organizationId is required",
            )),
            Some(id) if id == self.org.organization.id => None,
            Some(_) => Some(message(
                StatusCode::FORBIDDEN,
                "You do not have access to this organization",
            )),
        }
    }
}

/// The 64-bit FNV-1a hash of `bytes`: a stream number that is the same in every build.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A `{"message": ...}` error response.
fn message(status: StatusCode, text: &str) -> Response {
    let body = serde_json::json!({ "message": text }).to_string();
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

fn json(body: Bytes) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/organizations", get(organizations))
        .route("/organizations/{org}/users", get(users))
        .route("/api-keys", get(api_keys))
        .route("/roles", get(roles))
        .route("/teams/organizations/{org}", get(teams))
        .route("/teams/{team}", get(team))
        .route("/projects", get(projects))
        .route("/permissions/projects/{project}", get(project_permissions))
        .route("/roles/assignments/teams", get(team_role_assignments))
        .route("/_fake/stats", get(stats))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), gate))
        .with_state(state)
}

/// A fake server running on a loopback port. Dropping it stops the server.
pub struct RunningFake {
    addr: SocketAddr,
    state: Arc<AppState>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for RunningFake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningFake")
            .field("addr", &self.addr)
            .field("org_id", &self.state.org.organization.id)
            .finish_non_exhaustive()
    }
}

impl RunningFake {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The served organization's id.
    pub fn org_id(&self) -> &str {
        &self.state.org.organization.id
    }

    /// The served organization.
    pub fn org(&self) -> &Org {
        &self.state.org
    }

    /// The counters so far (the same as `GET /_fake/stats`).
    pub fn stats(&self) -> Stats {
        self.state.stats.snapshot()
    }

    /// Zeroes the counters.
    pub fn reset_stats(&self) {
        self.state.stats.reset();
    }

    /// Stops accepting connections and waits (at most a second) for open ones to finish.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(1), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for RunningFake {
    /// Signals a graceful shutdown; the server task ends once open connections close.
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Starts a fake on `127.0.0.1:config.port` (0: a free port) in the current tokio runtime.
///
/// The response bodies are serialized once here, so large organizations cost their
/// serialization at start, not per request.
pub async fn spawn(config: FakeConfig) -> Result<RunningFake, FakeError> {
    let wanted = SocketAddr::from(([127, 0, 0, 1], config.port));
    let listener = TcpListener::bind(wanted)
        .await
        .map_err(|source| FakeError::Bind {
            addr: wanted,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| FakeError::Bind {
        addr: wanted,
        source,
    })?;
    let state = Arc::new(AppState::new(config)?);
    let app = router(Arc::clone(&state));
    let (tx, rx) = oneshot::channel::<()>();
    let listener = listener.tap_io(|tcp| {
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::debug!(%err, "cannot set TCP_NODELAY");
        }
    });
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
        if let Err(err) = served {
            tracing::error!(%err, "env0-fake server stopped");
        }
    });
    Ok(RunningFake {
        addr,
        state,
        shutdown: Some(tx),
        task: Some(task),
    })
}
