//! `cargo xtask bench --only governance`: a sync of a large organization's access against
//! env0-fake with env0's per-path rate limit (600 calls a minute per path, 20 ms latency, 1 000
//! projects, 300 teams listed without members, 10k users), then the same organization with
//! `--skip-projects`. Writes `bench/governance.json` and fails when a target is missed.
//!
//! Reported: requests by path (each project's permissions path folded into one line), 429s
//! received, wall time, and the **rate floor**: the busiest path's calls over its limit (as a
//! time), or, when no path reaches its limit, the latency floor (the requests one after another
//! in the sync's critical path, `--workers` at a time). Targets: exactly the access model's
//! request count, zero 429s (both cases), wall time within 1.15 times the floor (the full case).
//!
//! The client's limiter lets a path have its whole minute's allowance at once and then waits for
//! the oldest call to leave a 61-second window, so a path with more calls than the limit takes
//! about one window per limit's worth after the first: 1 001 calls at 600 a minute finish a
//! little after 61 s, below the floor of calls over the limit (100 s).

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::bench::{Target, calibrate, write_results};
use crate::demo::{self, FakeProcess, SecretFile};

const USERS: usize = 10_000;
const API_KEYS: usize = 1_000;
const TEAMS: usize = 300;
const PROJECTS: usize = 1_000;
const LATENCY_MS: u64 = 20;
const LIMIT_PER_MINUTE: u64 = 600;
const WORKERS: usize = 8;
const TARGET_FLOOR_RATIO: f64 = 1.15;

#[derive(Serialize)]
struct Case {
    name: &'static str,
    calibration_ms: f64,
    wall_s: f64,
    peak_rss_mib: f64,
    requests: u64,
    expected_requests: u64,
    requests_by_path: BTreeMap<String, u64>,
    status_429: u64,
    busiest_path: String,
    busiest_path_calls: u64,
    floor_s: f64,
    floor_kind: &'static str,
}

#[derive(Serialize)]
struct Results {
    organization: BTreeMap<&'static str, u64>,
    cases: Vec<Case>,
    targets: Vec<Target>,
}

/// env0-fake's options: the organization, the latency, the per-path limit, and teams listed
/// without members (so every team is asked for by id).
fn fake_args() -> Vec<String> {
    [
        ("--users", USERS.to_string()),
        ("--api-keys", API_KEYS.to_string()),
        ("--teams", TEAMS.to_string()),
        ("--projects", PROJECTS.to_string()),
        ("--seed", "1".to_owned()),
        ("--latency-ms", LATENCY_MS.to_string()),
        ("--rate-limit", LIMIT_PER_MINUTE.to_string()),
        ("--port", "0".to_owned()),
    ]
    .into_iter()
    .flat_map(|(k, v)| [k.to_owned(), v])
    .chain(["--teams-without-users".to_owned()])
    .collect()
}

/// Requests by path, each project's permissions path folded into one line.
fn by_path(stats: &serde_json::Value) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for (path, count) in stats["by_path"].as_object().into_iter().flatten() {
        let path = if path.starts_with("/permissions/projects/") {
            "/permissions/projects/{project}".to_owned()
        } else if path.starts_with("/teams/organizations/") {
            "/teams/organizations/{org}".to_owned()
        } else if path.starts_with("/teams/") {
            "/teams/{team}".to_owned()
        } else if path.starts_with("/organizations/") {
            "/organizations/{org}/users".to_owned()
        } else {
            path.clone()
        };
        *out.entry(path).or_default() += count.as_u64().unwrap_or(0);
    }
    out
}

fn run_case(
    name: &'static str,
    bins: &demo::Binaries,
    skip_projects: bool,
    work: &std::path::Path,
    secret: &SecretFile,
) -> Result<Case> {
    let args = fake_args();
    let os: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    let fake = FakeProcess::start(&bins.env0_fake, &os)?;
    let org_id = fake.org_id()?;
    println!("==> {name}: {}", fake.org_line);
    let calibration_ms = calibrate();
    let output = work.join(format!("{name}.c1z"));
    let mut extra = vec![
        "--max-requests-per-minute".to_owned(),
        LIMIT_PER_MINUTE.to_string(),
        "--workers".to_owned(),
        WORKERS.to_string(),
    ];
    if skip_projects {
        extra.push("--skip-projects".to_owned());
    }
    let (wall, peak_kib) =
        crate::bench::sync_once_with(&bins.baton_env0, &fake, &org_id, secret, &output, &extra)?;
    let _ = std::fs::remove_file(&output);
    let stats = fake.stats()?;
    let requests_by_path = by_path(&stats);
    let requests: u64 = requests_by_path.values().sum();
    let projects = if skip_projects { 0 } else { PROJECTS as u64 };
    // Validation, users, API keys, roles, team pages, one call per team (listed without
    // members), projects, the organization's team roles, two calls per project.
    let expected_requests = 4
        + (TEAMS as u64).div_ceil(100)
        + TEAMS as u64
        + u64::from(!skip_projects)
        + 1
        + 2 * projects;
    // What env0 counts: each path apart (every team's and every project's path is its own).
    let (busiest_path, busiest_path_calls) = stats["by_path"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(p, n)| (p.clone(), n.as_u64().unwrap_or(0)))
        .max_by_key(|(_, n)| *n)
        .unwrap_or_default();
    // The rate floor: the busiest path's calls spread at the limit; else the latency floor.
    let (floor_s, floor_kind) = if busiest_path_calls > LIMIT_PER_MINUTE {
        (
            busiest_path_calls as f64 / LIMIT_PER_MINUTE as f64 * 60.0,
            "rate",
        )
    } else {
        // Validation, then the directory and the team list, then per-team and per-project
        // calls `WORKERS` at a time.
        let rounds =
            3 + (TEAMS as u64).div_ceil(WORKERS as u64) + (2 * projects).div_ceil(WORKERS as u64);
        (rounds as f64 * LATENCY_MS as f64 / 1000.0, "latency")
    };
    let case = Case {
        name,
        calibration_ms,
        wall_s: wall.as_secs_f64(),
        peak_rss_mib: peak_kib as f64 / 1024.0,
        requests,
        expected_requests,
        status_429: stats["by_status"]["429"].as_u64().unwrap_or(0),
        requests_by_path,
        busiest_path,
        busiest_path_calls,
        floor_s,
        floor_kind,
    };
    println!(
        "    {:.1} s wall, {:.1} MiB, {} requests (expected {}), {} x 429; busiest path {} with {} calls; {} floor {:.1} s",
        case.wall_s,
        case.peak_rss_mib,
        case.requests,
        case.expected_requests,
        case.status_429,
        case.busiest_path,
        case.busiest_path_calls,
        case.floor_kind,
        case.floor_s
    );
    for (path, n) in &case.requests_by_path {
        println!("      {n:>6}  {path}");
    }
    Ok(case)
}

pub(crate) fn run() -> Result<()> {
    let bins = demo::build(true)?;
    let secret = SecretFile::new()?;
    let work = tempfile::tempdir().context("cannot create a temporary directory")?;
    let cases = vec![
        run_case("governance", &bins, false, work.path(), &secret)?,
        run_case(
            "governance-skip-projects",
            &bins,
            true,
            work.path(),
            &secret,
        )?,
    ];
    let mut targets = Vec::new();
    for case in &cases {
        targets.push(Target {
            name: format!("{}: requests, the access model's count", case.name),
            value: case.requests as f64,
            limit: case.expected_requests as f64,
            pass: case.requests == case.expected_requests,
        });
        targets.push(Target {
            name: format!("{}: 429s received", case.name),
            value: case.status_429 as f64,
            limit: 0.0,
            pass: case.status_429 == 0,
        });
    }
    // The wall time against the floor is a target of the full case; the users-only case is held
    // to the sync case's targets (`bench/results.json`).
    let full = &cases[0];
    let ratio = full.wall_s / full.floor_s;
    targets.push(Target {
        name: format!("{}: wall time / {} floor", full.name, full.floor_kind),
        value: ratio,
        limit: TARGET_FLOOR_RATIO,
        pass: ratio <= TARGET_FLOOR_RATIO,
    });
    println!();
    for t in &targets {
        println!(
            "{}  {}: {:.3} (limit {})",
            if t.pass { "PASS" } else { "FAIL" },
            t.name,
            t.value,
            t.limit
        );
    }
    let results = Results {
        organization: BTreeMap::from([
            ("users", USERS as u64),
            ("api_keys", API_KEYS as u64),
            ("teams", TEAMS as u64),
            ("projects", PROJECTS as u64),
            ("latency_ms", LATENCY_MS),
            ("limit_per_path_per_minute", LIMIT_PER_MINUTE),
            ("workers", WORKERS as u64),
        ]),
        cases,
        targets,
    };
    write_results(
        "governance.json",
        &results,
        &results.targets,
        "targets missed",
    )
}
