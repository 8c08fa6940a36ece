//! Syncs started at once into the same `--file` (a cron job overlapping a manual run): one
//! writer at a time, every refused one exits 6 with one line saying who is writing, and the file
//! is a valid c1z holding a finished sync after every round.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use c1_sync::store::C1zReader;
use env0_fake::{FakeConfig, GenerateOptions, Org, RunningFake};

/// A fake env0 with its own runtime, so the blocking binaries run while it serves.
struct Fake {
    // Dropped first (signals shutdown), then the runtime.
    server: RunningFake,
    _runtime: tokio::runtime::Runtime,
}

impl Fake {
    fn start(config: FakeConfig) -> Fake {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let server = runtime
            .block_on(env0_fake::spawn(config))
            .expect("env0-fake starts");
        Fake {
            server,
            _runtime: runtime,
        }
    }
}

const ROUNDS: usize = 10;
const WRITERS: usize = 4;

/// A sync of `fake` into `file` in `dir`, writing its report to `summary`, started now.
fn start_sync(dir: &Path, fake: &RunningFake, file: &Path, summary: &Path) -> Child {
    Command::new(assert_cmd::cargo::cargo_bin("baton-env0"))
        .env_clear()
        .env("HOME", dir)
        .current_dir(dir)
        .env("BATON_API_KEY_SECRET", env0_fake::DEMO_KEY_SECRET)
        .args(["--api-key-id", env0_fake::DEMO_KEY_ID])
        .args(["--base-url", &fake.base_url()])
        .args(["--organization-id", fake.org_id()])
        .args(["--log-format", "json", "--no-progress"])
        .args(["--retry-base-delay-ms", "1"])
        .arg("--file")
        .arg(file)
        .arg("--summary-json")
        .arg(summary)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start baton-env0")
}

/// The pid named by the busy line of a refused sync of `file`, checking the line's wording:
/// `Some(pid)` or `None` when the holder had not written its pid yet.
fn busy_line(stderr: &str, file: &Path) -> Option<u32> {
    let plain: Vec<&str> = stderr.lines().filter(|l| !l.starts_with('{')).collect();
    let [error, hint] = plain[..] else {
        panic!("one error line and one hint expected:\n{stderr}");
    };
    assert_eq!(
        hint,
        "hint: wait for that sync to finish and run again, or write to another --file"
    );
    let rest = error
        .strip_prefix("error: another process")
        .unwrap_or_else(|| panic!("not the busy line: {error}"));
    let tail = format!(
        " is writing {}; this sync stopped and left it as it was",
        file.display()
    );
    let who = rest
        .strip_suffix(&tail)
        .unwrap_or_else(|| panic!("not the busy line: {error}"));
    if who.is_empty() {
        return None;
    }
    let pid = who
        .strip_prefix(" (pid ")
        .and_then(|p| p.strip_suffix(')'))
        .unwrap_or_else(|| panic!("not the busy line: {error}"));
    Some(
        pid.parse()
            .unwrap_or_else(|_| panic!("bad pid in: {error}")),
    )
}

/// Four syncs started at once into one file, ten rounds in a row: after every round the file is
/// a valid c1z whose latest finished sync is one that a sync of that round reported, every sync
/// in it is finished, nothing temporary is left, and every sync that did not finish was refused
/// with exit 6 and the busy line naming another sync of its round.
#[test]
fn concurrent_syncs_into_one_file_leave_it_valid_and_the_refused_ones_say_why() {
    let org = Org::generate(GenerateOptions {
        users: 400,
        api_keys: 20,
        teams: 3,
        projects: 2,
        seed: 16,
    });
    let fake = Fake::start(FakeConfig::new(org));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sync.c1z");
    let mut refused = 0;
    let mut previous: Option<String> = None;

    for round in 0..ROUNDS {
        let runs: Vec<(Child, PathBuf)> = (0..WRITERS)
            .map(|i| {
                let summary = dir.path().join(format!("summary-{i}.json"));
                drop(std::fs::remove_file(&summary));
                (
                    start_sync(dir.path(), &fake.server, &file, &summary),
                    summary,
                )
            })
            .collect();
        let pids: Vec<u32> = runs.iter().map(|(child, _)| child.id()).collect();
        let mut finished: Vec<(String, u64)> = Vec::new();
        for (child, summary) in runs {
            let pid = child.id();
            let out = child.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            match out.status.code() {
                Some(0) => {
                    let report: serde_json::Value =
                        serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
                    finished.push((
                        report["sync_id"].as_str().unwrap().to_owned(),
                        report["resources"].as_u64().unwrap(),
                    ));
                }
                Some(6) => {
                    refused += 1;
                    if let Some(holder) = busy_line(&stderr, &file) {
                        assert!(
                            holder != pid && pids.contains(&holder),
                            "round {round}: {pid} was refused naming {holder}, not another sync of the round {pids:?}"
                        );
                    }
                    assert!(
                        !summary.exists(),
                        "round {round}: a refused sync reports nothing"
                    );
                }
                code => panic!("round {round}: sync {pid} exited {code:?}:\n{stderr}"),
            }
        }
        assert!(!finished.is_empty(), "round {round}: no sync finished");

        let reader = C1zReader::open(&file)
            .unwrap_or_else(|e| panic!("round {round}: the file is unreadable: {e}"));
        let latest = reader
            .latest_finished_sync()
            .unwrap()
            .unwrap_or_else(|| panic!("round {round}: no finished sync"));
        let (_, resources) = finished
            .iter()
            .find(|(id, _)| *id == latest.sync_id)
            .unwrap_or_else(|| {
                panic!(
                    "round {round}: the file's latest sync {} is none of this round's {finished:?}",
                    latest.sync_id
                )
            });
        assert_eq!(
            reader.resources(&latest.sync_id, None).unwrap().len() as u64,
            *resources,
            "round {round}: the file holds the whole sync"
        );
        let runs = reader.sync_runs().unwrap();
        assert!(
            runs.iter().all(c1_sync::SyncRun::is_finished),
            "round {round}: {runs:?}"
        );
        // Writers one after the other: each carried over the sync saved just before it, so the
        // sync kept beside the latest is the one before it in this round, or the last round's.
        // (No sync of a round is lost to another that started from an older file.)
        let kept: Vec<&str> = runs
            .iter()
            .map(|r| r.sync_id.as_str())
            .filter(|id| *id != latest.sync_id)
            .collect();
        let expected_kept: Vec<&str> = if finished.len() > 1 {
            finished
                .iter()
                .map(|(id, _)| id.as_str())
                .filter(|id| *id != latest.sync_id)
                .collect()
        } else {
            previous.iter().map(String::as_str).collect()
        };
        if finished.len() > 2 {
            assert!(
                kept.len() == 1 && expected_kept.contains(&kept[0]),
                "round {round}: kept {kept:?}, finished {finished:?}"
            );
        } else {
            assert_eq!(kept, expected_kept, "round {round}: finished {finished:?}");
        }
        previous = Some(latest.sync_id.clone());
        drop(reader);

        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with("summary-"))
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["sync.c1z", "sync.c1z.lock"],
            "round {round}: nothing temporary is left"
        );
    }
    assert!(
        refused > 0,
        "in {ROUNDS} rounds of {WRITERS} syncs started at once, none was refused: the syncs never overlapped, so the test proved nothing"
    );
}

/// A sync refused because another process holds the file stops before its first request to
/// env0, and leaves the file as it was.
#[test]
fn a_refused_sync_sends_no_request() {
    let sb = crate::support::Sandbox::new();
    let mut env0 = crate::support::Env0::empty();
    let any_request = env0
        .server
        .mock("GET", mockito::Matcher::Any)
        .expect(0)
        .create();
    let file = sb.join("sync.c1z");
    std::fs::write(&file, b"").unwrap();
    let holder = c1_sync::store::C1zWriter::open(&file).unwrap();
    let out = crate::support::Outcome::of(&mut sb.cmd_for(&env0.server));
    assert_eq!(out.code, 6, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "another process (pid {}) is writing",
            std::process::id()
        )),
        "{}",
        out.stderr
    );
    any_request.assert();
    drop(holder);
    assert_eq!(std::fs::read(&file).unwrap(), b"");
}
