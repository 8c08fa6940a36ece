//! The `env0-fake` executable: address on the first stdout line, org files, bad options.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::fixtures;

/// Kills the child when dropped, so a failing assertion does not leak a server.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_env0-fake"))
}

fn start(args: &[&str]) -> (Server, String, String) {
    let mut child = bin()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let second = lines.next().unwrap().unwrap();
    (Server(child), first, second)
}

#[tokio::test]
async fn prints_its_address_first_and_serves_the_org_file() {
    let file = fixtures().join("demo-org.json");
    let (_server, first, second) = start(&["--port", "0", "--org-file", file.to_str().unwrap()]);
    let base = first
        .strip_prefix("listening on http://127.0.0.1:")
        .expect(&first);
    let port: u16 = base.parse().unwrap();
    assert_ne!(port, 0);
    assert!(
        second.starts_with("organization 5f3c2a1e-8b7d-4c6e-9a0f-1d2e3f4a5b6c (Brightwave Logistics): 13 members, 3 api keys"),
        "{second}"
    );
    let resp = reqwest::Client::new()
        .get(format!(
            "http://127.0.0.1:{port}/api-keys?organizationId=5f3c2a1e-8b7d-4c6e-9a0f-1d2e3f4a5b6c"
        ))
        .basic_auth("demo-key-id", Some("demo-key-secret"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let keys: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(keys[0]["name"], "terraform-cloud-ci");
}

#[test]
fn generator_options_and_dump_round_trip() {
    let out = bin()
        .args([
            "--users",
            "4",
            "--api-keys",
            "2",
            "--teams",
            "1",
            "--projects",
            "1",
            "--seed",
            "9",
            "--dump",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let dumped: env0_fake::Org = serde_json::from_slice(&out.stdout).unwrap();
    let generated = env0_fake::Org::generate(env0_fake::GenerateOptions {
        users: 4,
        api_keys: 2,
        teams: 1,
        projects: 1,
        seed: 9,
    });
    assert_eq!(dumped, generated);
}

#[test]
fn bad_options_fail_with_one_line() {
    for (args, expected) in [
        (
            vec!["--faults", "500=2"],
            "invalid fault specification `500=2`: rate 2 is not between 0 and 1",
        ),
        (
            vec!["--force-status", "nope=500"],
            "unknown endpoint `nope`",
        ),
        (
            vec!["--org-file", "/no/such/org.json"],
            "cannot read organization file /no/such/org.json",
        ),
    ] {
        let out = bin().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with("env0-fake: ") && stderr.contains(expected),
            "{stderr}"
        );
    }
}
