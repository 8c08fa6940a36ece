//! Configuration of a fake server: data, credentials, latency, faults, rate limit.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::error::FakeError;
use crate::model::Org;

/// The demo API key id the fake accepts by default.
pub const DEMO_KEY_ID: &str = "demo-key-id";
/// The demo API key secret the fake accepts by default (a throwaway demo value, not a real secret).
pub const DEMO_KEY_SECRET: &str = "demo-key-secret";

/// The Basic-auth credentials the fake accepts.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    key_id: String,
    secret: String,
}

impl Credentials {
    /// Credentials with this key id and secret.
    pub fn new(key_id: impl Into<String>, secret: impl Into<String>) -> Self {
        Credentials {
            key_id: key_id.into(),
            secret: secret.into(),
        }
    }

    /// The key id (the Basic-auth username).
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// True when `user` and `password` are these credentials.
    pub(crate) fn matches(&self, user: &[u8], password: &[u8]) -> bool {
        self.key_id.as_bytes() == user && self.secret.as_bytes() == password
    }
}

impl Default for Credentials {
    fn default() -> Self {
        Credentials::new(DEMO_KEY_ID, DEMO_KEY_SECRET)
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("key_id", &self.key_id)
            .field("secret", &"[redacted]")
            .finish()
    }
}

/// What an injected fault does to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum FaultKind {
    /// Answer with this HTTP status and a `{"message": ...}` body (e.g. 429, 500, 502).
    Status(u16),
    /// Close the connection without sending a response.
    Reset,
    /// Send the headers with the full `Content-Length`, then cut the body short and close.
    Truncate,
    /// Send a whole, valid HTTP response (the endpoint's own status, `200` for a listing) whose
    /// body is the first half of the JSON, with a `Content-Length` that matches it: the HTTP
    /// exchange is complete, the JSON is not.
    Cut,
    /// For a write: process it (apply it, unless it is refused), then close the connection
    /// without sending the answer, so the client cannot tell whether it applied. For a read:
    /// the same as [`FaultKind::Reset`].
    Drop,
    /// Hold the request for [`LATE`] before processing it, then answer as usual: a client whose
    /// timeout is shorter gives up first, and a write lands after it has read the state back.
    /// The write is processed whether or not the client is still there.
    Late,
}

/// How long a [`FaultKind::Late`] request is held (longer than the shortest client timeout
/// `baton-env0` accepts, one second).
pub(crate) const LATE: std::time::Duration = std::time::Duration::from_millis(2_500);

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultKind::Status(code) => write!(f, "{code}"),
            FaultKind::Reset => f.write_str("reset"),
            FaultKind::Truncate => f.write_str("truncate"),
            FaultKind::Cut => f.write_str("cut"),
            FaultKind::Drop => f.write_str("drop"),
            FaultKind::Late => f.write_str("late"),
        }
    }
}

/// Seeded fault injection: each API request draws one number from a ChaCha8 stream seeded with
/// `seed` and gets at most one fault, with the given probabilities. Every URL path has a stream
/// of its own for its reads (its number taken from the path), and another for each write method
/// (taken from `"PUT /path"`, ...), so the n-th request to a path meets the same fault however
/// requests to other paths, or writes to the same path, interleave with it.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct Faults {
    /// Fault kinds with their probabilities (each in 0..=1, summing to at most 1).
    pub rates: Vec<(FaultKind, f64)>,
    /// Seed of the fault stream.
    pub seed: u64,
}

impl Faults {
    /// No faults.
    pub fn none() -> Self {
        Faults::default()
    }

    /// Parses `429=0.1,500=0.05,reset=0.02,truncate=0.01,cut=0.02,drop=0.05` (any 4xx/5xx
    /// status, `reset`, `truncate`, `cut`, `drop`). An empty string means no faults.
    pub fn parse(spec: &str, seed: u64) -> Result<Faults, FakeError> {
        let invalid = |reason: String| FakeError::InvalidFaults {
            spec: spec.to_owned(),
            reason,
        };
        let mut rates: Vec<(FaultKind, f64)> = Vec::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((kind, rate)) = part.split_once('=') else {
                return Err(invalid(format!("`{part}` is not KIND=RATE")));
            };
            let kind = match kind.trim() {
                "reset" => FaultKind::Reset,
                "truncate" => FaultKind::Truncate,
                "cut" => FaultKind::Cut,
                "drop" => FaultKind::Drop,
                "late" => FaultKind::Late,
                other => match other.parse::<u16>() {
                    Ok(code) if (400..=599).contains(&code) => FaultKind::Status(code),
                    _ => {
                        return Err(invalid(format!(
                            "`{other}` is not a 4xx/5xx status, `reset`, `truncate`, `cut` or `drop`"
                        )));
                    }
                },
            };
            let rate: f64 = rate
                .trim()
                .parse()
                .map_err(|_| invalid(format!("`{}` is not a number", rate.trim())))?;
            if !(0.0..=1.0).contains(&rate) {
                return Err(invalid(format!("rate {rate} is not between 0 and 1")));
            }
            if rates.iter().any(|(k, _)| *k == kind) {
                return Err(invalid(format!("`{kind}` is given twice")));
            }
            rates.push((kind, rate));
        }
        let total: f64 = rates.iter().map(|(_, r)| r).sum();
        if total > 1.0 + 1e-9 {
            return Err(invalid(format!("the rates add up to {total}, more than 1")));
        }
        Ok(Faults { rates, seed })
    }

    /// Adds one fault kind with its probability.
    pub fn with(mut self, kind: FaultKind, rate: f64) -> Self {
        self.rates.push((kind, rate));
        self
    }

    /// Sets the seed of the fault stream.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// True when no fault can ever be injected.
    pub fn is_empty(&self) -> bool {
        self.rates.iter().all(|(_, r)| *r <= 0.0)
    }

    /// The fault for a uniform draw `x` in `[0, 1)`, if any.
    pub(crate) fn pick(&self, x: f64) -> Option<FaultKind> {
        let mut acc = 0.0;
        for (kind, rate) in &self.rates {
            acc += rate;
            if x < acc {
                return Some(*kind);
            }
        }
        None
    }
}

/// The endpoints of the fake, for forcing a status on one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Endpoint {
    /// `GET /organizations`
    Organizations,
    /// `GET /organizations/{org}/users`
    Users,
    /// `GET /api-keys`
    ApiKeys,
    /// `GET /roles`
    Roles,
    /// `GET /teams/organizations/{org}`
    Teams,
    /// `GET /teams/{team}`
    Team,
    /// `GET /projects`
    Projects,
    /// `GET /permissions/projects/{project}`
    ProjectPermissions,
    /// `GET /roles/assignments/teams`
    TeamRoleAssignments,
}

impl Endpoint {
    /// Every endpoint, with its name as used by `--force-status`.
    pub const ALL: [(Endpoint, &'static str); 9] = [
        (Endpoint::Organizations, "organizations"),
        (Endpoint::Users, "users"),
        (Endpoint::ApiKeys, "api-keys"),
        (Endpoint::Roles, "roles"),
        (Endpoint::Teams, "teams"),
        (Endpoint::Team, "team"),
        (Endpoint::Projects, "projects"),
        (Endpoint::ProjectPermissions, "project-permissions"),
        (Endpoint::TeamRoleAssignments, "team-role-assignments"),
    ];

    /// The endpoint's name as used by `--force-status`.
    pub fn name(self) -> &'static str {
        Endpoint::ALL
            .iter()
            .find(|(e, _)| *e == self)
            .map_or("unknown", |(_, n)| n)
    }
}

impl FromStr for Endpoint {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Endpoint::ALL
            .iter()
            .find(|(_, n)| *n == s)
            .map(|(e, _)| *e)
            .ok_or_else(|| {
                let names: Vec<&str> = Endpoint::ALL.iter().map(|(_, n)| *n).collect();
                format!("unknown endpoint `{s}` (known: {})", names.join(", "))
            })
    }
}

/// Parses `roles=402,api-keys=403` into forced statuses.
pub fn parse_forced_statuses(spec: &str) -> Result<BTreeMap<Endpoint, u16>, FakeError> {
    let invalid = |reason: String| FakeError::InvalidForcedStatus {
        spec: spec.to_owned(),
        reason,
    };
    let mut out = BTreeMap::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((name, code)) = part.split_once('=') else {
            return Err(invalid(format!("`{part}` is not ENDPOINT=STATUS")));
        };
        let endpoint: Endpoint = name.trim().parse().map_err(invalid)?;
        let code = match code.trim().parse::<u16>() {
            Ok(c) if (100..=599).contains(&c) => c,
            _ => return Err(invalid(format!("`{}` is not an HTTP status", code.trim()))),
        };
        out.insert(endpoint, code);
    }
    Ok(out)
}

/// Everything a fake server needs. Build with [`FakeConfig::new`] and the `with_*` setters.
#[derive(Clone)]
#[non_exhaustive]
pub struct FakeConfig {
    /// The organization served.
    pub org: Org,
    /// Loopback port to bind; 0 picks a free one.
    pub port: u16,
    /// Delay added to every API request.
    pub latency: Duration,
    /// Seeded fault injection.
    pub faults: Faults,
    /// Seeded fault injection for writes only; `None`: writes meet `faults` like reads.
    pub write_faults: Option<Faults>,
    /// Requests with one method to one URL path (without the query string) per sliding 60 s
    /// window before that method and path answer 429, the way env0 counts (None: unlimited).
    pub rate_limit_per_minute: Option<u32>,
    /// The team list leaves out every team's `users` (members come only from `GET /teams/{id}`).
    pub teams_without_users: bool,
    /// Accepted Basic-auth credentials.
    pub credentials: Credentials,
    /// Read endpoints that always answer with a given status (after auth), e.g. `/roles` → 402.
    pub forced_status: BTreeMap<Endpoint, u16>,
}

impl FakeConfig {
    /// Serves `org` on a free loopback port with the demo credentials, no latency, no faults and
    /// no rate limit.
    pub fn new(org: Org) -> Self {
        FakeConfig {
            org,
            port: 0,
            latency: Duration::ZERO,
            faults: Faults::none(),
            write_faults: None,
            rate_limit_per_minute: None,
            teams_without_users: false,
            credentials: Credentials::default(),
            forced_status: BTreeMap::new(),
        }
    }

    /// Sets the port (0: a free one).
    pub fn with_port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Sets the latency added to every API request.
    pub fn with_latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// Sets the fault injection.
    pub fn with_faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    /// Sets the fault injection of writes (`PUT`, `POST`, `DELETE`), which then no longer meet
    /// the faults set with [`with_faults`](Self::with_faults): e.g. every write dropped after it
    /// is applied while reads go through.
    pub fn with_write_faults(mut self, faults: Faults) -> Self {
        self.write_faults = Some(faults);
        self
    }

    /// Makes the team list leave out `users` (members come only from `GET /teams/{id}`).
    pub fn with_teams_without_users(mut self) -> Self {
        self.teams_without_users = true;
        self
    }

    /// Sets the rate limit in requests with one method to one path per sliding minute.
    pub fn with_rate_limit(mut self, per_minute: u32) -> Self {
        self.rate_limit_per_minute = Some(per_minute);
        self
    }

    /// Sets the accepted credentials.
    pub fn with_credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = credentials;
        self
    }

    /// Makes `endpoint` always answer `status` (after authentication).
    pub fn with_forced_status(mut self, endpoint: Endpoint, status: u16) -> Self {
        self.forced_status.insert(endpoint, status);
        self
    }
}

impl fmt::Debug for FakeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeConfig")
            .field("org_id", &self.org.organization.id)
            .field("members", &self.org.members.len())
            .field("api_keys", &self.org.api_keys.len())
            .field("port", &self.port)
            .field("latency", &self.latency)
            .field("faults", &self.faults)
            .field("write_faults", &self.write_faults)
            .field("rate_limit_per_minute", &self.rate_limit_per_minute)
            .field("teams_without_users", &self.teams_without_users)
            .field("credentials", &self.credentials)
            .field("forced_status", &self.forced_status)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_fault_spec() {
        let f = Faults::parse(
            "429=0.1,500=0.05,reset=0.02,truncate=0.01,cut=0.02,drop=0.05",
            3,
        )
        .unwrap();
        assert_eq!(
            f.rates,
            vec![
                (FaultKind::Status(429), 0.1),
                (FaultKind::Status(500), 0.05),
                (FaultKind::Reset, 0.02),
                (FaultKind::Truncate, 0.01),
                (FaultKind::Cut, 0.02),
                (FaultKind::Drop, 0.05)
            ]
        );
        assert_eq!(f.pick(0.05), Some(FaultKind::Status(429)));
        assert_eq!(f.pick(0.12), Some(FaultKind::Status(500)));
        assert_eq!(f.pick(0.16), Some(FaultKind::Reset));
        assert_eq!(f.pick(0.175), Some(FaultKind::Truncate));
        assert_eq!(f.pick(0.19), Some(FaultKind::Cut));
        assert_eq!(f.pick(0.23), Some(FaultKind::Drop));
        assert_eq!(f.pick(0.5), None);
        assert_eq!(FaultKind::Cut.to_string(), "cut");
        assert_eq!(FaultKind::Drop.to_string(), "drop");
        assert!(Faults::parse("", 0).unwrap().is_empty());
    }

    #[test]
    fn rejects_bad_fault_specs_with_a_reason() {
        for (spec, reason) in [
            ("429", "is not KIND=RATE"),
            ("200=0.1", "is not a 4xx/5xx status"),
            ("500=x", "is not a number"),
            ("500=1.5", "not between 0 and 1"),
            ("500=0.6,429=0.6", "more than 1"),
            ("reset=0.1,reset=0.1", "given twice"),
            ("cut=0.1,cut=0.2", "given twice"),
            ("halfjson=0.1", "`reset`, `truncate`, `cut` or `drop`"),
        ] {
            let err = Faults::parse(spec, 0).unwrap_err().to_string();
            assert!(err.contains(reason), "{spec}: {err}");
        }
    }

    #[test]
    fn parses_forced_statuses() {
        let m = parse_forced_statuses("roles=402, api-keys=403").unwrap();
        assert_eq!(m.get(&Endpoint::Roles), Some(&402));
        assert_eq!(m.get(&Endpoint::ApiKeys), Some(&403));
        let err = parse_forced_statuses("nope=500").unwrap_err().to_string();
        assert!(err.contains("unknown endpoint `nope`"), "{err}");
    }

    #[test]
    fn debug_hides_the_secret() {
        let c = Credentials::new("id", "s3cr3t-value");
        assert!(!format!("{c:?}").contains("s3cr3t-value"));
    }
}
