//! The HTTP server: routes with env0's wire shapes, Basic auth, latency, faults, rate limit, stats.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use futures::StreamExt;
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

type AppStateRef = State<Arc<AppState>>;
type Params = Query<HashMap<String, String>>;

async fn organizations(State(st): AppStateRef) -> Response {
    if let Some(r) = st.forced(Endpoint::Organizations) {
        return r;
    }
    json(st.bodies.organizations.clone())
}

async fn users(State(st): AppStateRef, Path(org): Path<String>) -> Response {
    if let Some(r) = st.forced(Endpoint::Users) {
        return r;
    }
    if let Some(r) = st.reject_org(Some(&org)) {
        return r;
    }
    json(st.bodies.users.clone())
}

async fn api_keys(State(st): AppStateRef, Query(q): Params) -> Response {
    if let Some(r) = st.forced(Endpoint::ApiKeys) {
        return r;
    }
    if let Some(r) = st.reject_org(q.get("organizationId")) {
        return r;
    }
    json(st.bodies.api_keys.clone())
}

async fn roles(State(st): AppStateRef, Query(q): Params) -> Response {
    if let Some(r) = st.forced(Endpoint::Roles) {
        return r;
    }
    if let Some(r) = st.reject_org(q.get("organizationId")) {
        return r;
    }
    json(st.bodies.roles.clone())
}

async fn projects(State(st): AppStateRef, Query(q): Params) -> Response {
    if let Some(r) = st.forced(Endpoint::Projects) {
        return r;
    }
    if let Some(r) = st.reject_org(q.get("organizationId")) {
        return r;
    }
    json(st.bodies.projects.clone())
}

/// The opaque `nextPageKey`: base64 of a DynamoDB-style key naming the last team returned. It
/// holds `+`, `/` or `=` often enough to catch a client that does not URL-encode it.
fn page_key(org_id: &str, team: &Team) -> String {
    let key = serde_json::json!({ "id": team.id, "organizationId": org_id });
    STANDARD.encode(key.to_string())
}

fn page_start(st: &AppState, offset: &str) -> Option<usize> {
    let decoded = STANDARD.decode(offset).ok()?;
    let key: serde_json::Value = serde_json::from_slice(&decoded).ok()?;
    let id = key.get("id")?.as_str()?;
    st.listed_teams
        .iter()
        .position(|t| t.id == id)
        .map(|i| i + 1)
}

/// The paged teams answer.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<'a> {
    teams: &'a [Team],
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_key: Option<String>,
}

async fn teams(State(st): AppStateRef, Path(org): Path<String>, Query(q): Params) -> Response {
    if let Some(r) = st.forced(Endpoint::Teams) {
        return r;
    }
    if let Some(r) = st.reject_org(Some(&org)) {
        return r;
    }
    let name = q.get("name").filter(|n| !n.is_empty());
    let Some(limit) = q.get("limit") else {
        // Legacy shape: a bare array of every team.
        if let Some(name) = name {
            let matching: Vec<&Team> = st
                .listed_teams
                .iter()
                .filter(|t| t.name.value() == Some(name))
                .collect();
            return match to_bytes("teams", &matching) {
                Ok(b) => json(b),
                Err(_) => message(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error"),
            };
        }
        return json(st.bodies.teams.clone());
    };
    let limit = match limit.parse::<usize>() {
        Ok(n) if n > 0 => n.min(MAX_PAGE),
        _ => return message(StatusCode::BAD_REQUEST, "limit must be a positive integer"),
    };
    let start = match q.get("offset").filter(|o| !o.is_empty()) {
        None => 0,
        Some(offset) => match page_start(&st, offset) {
            Some(i) => i,
            None => return message(StatusCode::BAD_REQUEST, "Invalid offset"),
        },
    };
    let rest = st.listed_teams.get(start..).unwrap_or_default();
    let page = rest.get(..limit).unwrap_or(rest);
    let next = (start + page.len() < st.listed_teams.len())
        .then(|| page.last().map(|t| page_key(&st.org.organization.id, t)))
        .flatten();
    match to_bytes(
        "teams",
        &Envelope {
            teams: page,
            next_page_key: next,
        },
    ) {
        Ok(b) => json(b),
        Err(_) => message(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error"),
    }
}

async fn team(State(st): AppStateRef, Path(team): Path<String>) -> Response {
    if let Some(r) = st.forced(Endpoint::Team) {
        return r;
    }
    match st.bodies.team.get(&team) {
        Some(b) => json(b.clone()),
        None => message(StatusCode::NOT_FOUND, "Team not found"),
    }
}

async fn project_permissions(State(st): AppStateRef, Path(project): Path<String>) -> Response {
    if let Some(r) = st.forced(Endpoint::ProjectPermissions) {
        return r;
    }
    match st.bodies.project_permissions.get(&project) {
        Some(b) => json(b.clone()),
        None => message(StatusCode::NOT_FOUND, "Project not found"),
    }
}

async fn team_role_assignments(State(st): AppStateRef, Query(q): Params) -> Response {
    if let Some(r) = st.forced(Endpoint::TeamRoleAssignments) {
        return r;
    }
    let scopes: Vec<&str> = ["organizationId", "projectId", "environmentId"]
        .into_iter()
        .filter(|k| q.get(*k).is_some_and(|v| !v.is_empty()))
        .collect();
    match scopes.as_slice() {
        ["organizationId"] => st
            .reject_org(q.get("organizationId"))
            .unwrap_or_else(|| json(st.bodies.team_assignments_org.clone())),
        ["projectId"] => {
            let project = q.get("projectId").map(String::as_str).unwrap_or_default();
            match st.bodies.team_assignments_project.get(project) {
                Some(b) => json(b.clone()),
                None => message(StatusCode::NOT_FOUND, "Project not found"),
            }
        }
        // Environments are not modelled: none has team assignments.
        ["environmentId"] => json(Bytes::from_static(b"[]")),
        _ => message(
            StatusCode::BAD_REQUEST,
            "exactly one of organizationId, projectId or environmentId is required",
        ),
    }
}

async fn not_found() -> Response {
    message(StatusCode::NOT_FOUND, "Not Found")
}

async fn stats(State(st): AppStateRef) -> Response {
    match to_bytes("stats", &st.stats.snapshot()) {
        Ok(b) => json(b),
        Err(_) => message(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error"),
    }
}

/// A body that fails at once: hyper closes the connection before any byte of the response.
fn reset_response() -> Response {
    let stream = futures::stream::once(async {
        Err::<Bytes, io::Error>(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "env0-fake: injected connection reset",
        ))
    });
    Response::new(Body::from_stream(stream))
}

/// Sends the headers with the full `Content-Length`, then half of the body, then fails so hyper
/// closes the connection: the client sees a body cut short, never a silently shorter one.
async fn truncate(resp: Response) -> Response {
    let (mut parts, body) = resp.into_parts();
    let full = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let cut = full.slice(..full.len() / 2);
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(full.len()));
    let stream =
        futures::stream::iter([Ok::<Bytes, io::Error>(cut)]).chain(futures::stream::once(async {
            // Let hyper flush the partial body before the failure closes the connection.
            tokio::time::sleep(Duration::from_millis(20)).await;
            Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "env0-fake: injected truncated body",
            ))
        }));
    Response::from_parts(parts, Body::from_stream(stream))
}

/// A whole response with the same status and headers whose body is the first half of the
/// original, with a `Content-Length` that says so: HTTP sees nothing wrong, the JSON stops early.
async fn cut(resp: Response) -> Response {
    let (mut parts, body) = resp.into_parts();
    let full = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let half = full.slice(..full.len() / 2);
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(half.len()));
    Response::from_parts(parts, Body::from(half))
}

/// Counting, rate limit, latency, faults and authentication, in that order, for every API request.
async fn gate(State(st): AppStateRef, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    if path.starts_with("/_fake/") {
        return next.run(req).await;
    }
    let now = Instant::now();
    st.stats.arrival(&path, now);
    let (resp, label) = gated(&st, req, next, now).await;
    st.stats.outcome(&path, &label);
    tracing::debug!(%path, outcome = %label, "request");
    resp
}

async fn gated(st: &AppState, req: Request, next: Next, now: Instant) -> (Response, String) {
    if let Some(limiter) = &st.limiter
        && let Err(wait) = limiter.admit(req.uri().path(), now)
    {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let mut resp = message(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests");
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        return (resp, "429".to_owned());
    }
    if !st.latency.is_zero() {
        tokio::time::sleep(st.latency).await;
    }
    let fault = st.draw_fault(req.uri().path());
    match fault {
        Some(FaultKind::Status(code)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let text = match code {
                429 => "Too Many Requests",
                500 | 502 => "Internal server error",
                _ => status.canonical_reason().unwrap_or("Injected fault"),
            };
            return (message(status, text), code.to_string());
        }
        Some(FaultKind::Reset) => return (reset_response(), "reset".to_owned()),
        Some(FaultKind::Truncate | FaultKind::Cut) | None => {}
    }
    if !st.authorized(req.headers()) {
        return (
            message(StatusCode::UNAUTHORIZED, "Unauthorized"),
            "401".to_owned(),
        );
    }
    let resp = next.run(req).await;
    match fault {
        Some(FaultKind::Truncate) => (truncate(resp).await, "truncate".to_owned()),
        Some(FaultKind::Cut) => (cut(resp).await, "cut".to_owned()),
        _ => {
            let label = resp.status().as_u16().to_string();
            (resp, label)
        }
    }
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
