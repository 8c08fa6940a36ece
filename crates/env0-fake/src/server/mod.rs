//! The HTTP server: routes with env0's wire shapes, Basic auth, latency, faults, rate limit, stats.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
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
use crate::model::Org;
use crate::stats::{Limiter, Recorder, Stats};

mod gate;
mod routes;
mod state;
mod writes;

pub use state::WriteRecord;

use gate::gate;
use routes::{
    api_keys, not_found, organizations, project_permissions, projects, roles, stats, team,
    team_role_assignments, teams, users, writes_log,
};
use state::Data;
use writes::{
    add_project_permission, delete_team_role, remove_project_permission, set_member_role,
    set_project_permission, set_team_role, update_team,
};

/// The most teams one page holds, whatever `limit` asks for.
const MAX_PAGE: usize = 100;

/// A test's change to the state, run once right after the next applied write.
type Hook = Box<dyn FnOnce(&mut Org) + Send + 'static>;

struct AppState {
    /// The served organization's id (never changes).
    org_id: String,
    teams_without_users: bool,
    /// The organization and its pre-serialized bodies: read-locked per read, write-locked per
    /// write.
    data: RwLock<Data>,
    credentials: Credentials,
    latency: Duration,
    faults: Faults,
    write_faults: Option<Faults>,
    /// One fault stream per method and URL path ([`route_key`]), made on its first request.
    fault_rngs: Mutex<HashMap<String, ChaCha8Rng>>,
    limiter: Option<Limiter>,
    forced: std::collections::BTreeMap<Endpoint, u16>,
    stats: Recorder,
    /// Every write request, in arrival order.
    writes: Mutex<Vec<WriteRecord>>,
    /// Runs once, right after the next applied write.
    hook: Mutex<Option<Hook>>,
    /// The last id handed out to a created assignment.
    last_id: AtomicU64,
}

fn to_bytes<T: Serialize + ?Sized>(what: &'static str, v: &T) -> Result<Bytes, FakeError> {
    serde_json::to_vec(v)
        .map(Bytes::from)
        .map_err(|source| FakeError::Serialize { what, source })
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The key a request is counted, rate-limited and given faults under: its URL path for a `GET`
/// (or `HEAD`), `"METHOD path"` (e.g. `"PUT /teams/x"`) for any other method. env0 counts its
/// rate limit per method and path, query string aside.
pub(crate) fn route_key(method: &Method, path: &str) -> String {
    if is_read(method) {
        path.to_owned()
    } else {
        format!("{method} {path}")
    }
}

/// `GET` and `HEAD` read; every other method is a write.
fn is_read(method: &Method) -> bool {
    *method == Method::GET || *method == Method::HEAD
}

impl AppState {
    fn new(config: FakeConfig) -> Result<AppState, FakeError> {
        let org_id = config.org.organization.id.clone();
        let data = Data::build(config.org, config.teams_without_users)?;
        Ok(AppState {
            org_id,
            teams_without_users: config.teams_without_users,
            data: RwLock::new(data),
            fault_rngs: Mutex::new(HashMap::new()),
            faults: config.faults,
            write_faults: config.write_faults,
            limiter: config.rate_limit_per_minute.map(Limiter::new),
            credentials: config.credentials,
            latency: config.latency,
            forced: config.forced_status,
            stats: Recorder::default(),
            writes: Mutex::new(Vec::new()),
            hook: Mutex::new(None),
            last_id: AtomicU64::new(0),
        })
    }

    /// The state, for reading.
    fn read(&self) -> RwLockReadGuard<'_, Data> {
        self.data.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// The state, for a write.
    fn write(&self) -> RwLockWriteGuard<'_, Data> {
        self.data.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// A fresh, deterministic, UUID-shaped id for a created assignment.
    fn fresh_id(&self) -> String {
        let n = self.last_id.fetch_add(1, Ordering::Relaxed) + 1;
        format!("fa4e0000-0000-4000-8000-{n:012x}")
    }

    /// The fault for the next request under `key` ([`route_key`]), drawn from that key's own
    /// stream: which request of a path meets which fault does not depend on how requests to
    /// other paths, or other methods on the same path, interleave with it.
    fn draw_fault(&self, key: &str, read: bool) -> Option<FaultKind> {
        let faults = match &self.write_faults {
            Some(writes) if !read => writes,
            _ => &self.faults,
        };
        if faults.is_empty() {
            return None;
        }
        let mut rngs = self
            .fault_rngs
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let rng = rngs.entry(key.to_owned()).or_insert_with(|| {
            let mut rng = ChaCha8Rng::seed_from_u64(faults.seed);
            rng.set_stream(fnv1a(key.as_bytes()));
            rng
        });
        let x: f64 = rng.random();
        faults.pick(x)
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
            Some(id) if id == self.org_id => None,
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
        .route(
            "/organizations/{org}/users/{user}/role",
            put(set_member_role),
        )
        .route("/teams/{team}", get(team).put(update_team))
        .route("/projects", get(projects))
        .route(
            "/permissions/projects/{project}",
            get(project_permissions).post(add_project_permission),
        )
        .route(
            "/permissions/projects/{project}/users/{user}",
            put(set_project_permission).delete(remove_project_permission),
        )
        .route(
            "/roles/assignments/teams",
            get(team_role_assignments)
                .put(set_team_role)
                .delete(delete_team_role),
        )
        .route("/_fake/stats", get(stats))
        .route("/_fake/writes", get(writes_log))
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
            .field("org_id", &self.state.org_id)
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
        &self.state.org_id
    }

    /// A copy of the organization as it is now, every write applied so far included.
    pub fn org(&self) -> Org {
        self.state.read().org.clone()
    }

    /// Every write request so far (any method but `GET` and `HEAD`, whatever its outcome), in
    /// arrival order (the same as `GET /_fake/writes`).
    pub fn writes(&self) -> Vec<WriteRecord> {
        lock(&self.state.writes).clone()
    }

    /// Runs `f` on the state once, right after the next write that changes it (before its
    /// response is sent; refused writes do not count), then serializes every body again: a
    /// test's stand-in for another administrator's edit at that moment. The write's own response
    /// shows the state before `f`. A second call before that write replaces the first `f`.
    pub fn on_next_write(&self, f: impl FnOnce(&mut Org) + Send + 'static) {
        *lock(&self.state.hook) = Some(Box::new(f));
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
/// serialization at start, not per request; a write serializes again only what it changed.
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
