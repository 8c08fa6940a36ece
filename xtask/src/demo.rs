//! `cargo xtask demo`: build, start env0-fake with `fixtures/demo-org.json` on a free loopback
//! port, sync it with baton-env0 into `demo.c1z`, print `baton-env0 inspect demo.c1z` (the
//! users) and `baton-env0 inspect access` for one person (what she can do, and how), stop the
//! fake (also when a step fails).
//!
//! The building blocks (building the binaries, running env0-fake as a child process, reading its
//! stats) are shared with `cargo xtask bench`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::util::{cargo, workspace_root};

/// The demo credentials env0-fake accepts by default.
pub(crate) const DEMO_KEY_ID: &str = "demo-key-id";
pub(crate) const DEMO_KEY_SECRET: &str = "demo-key-secret";
/// The person whose access the demo shows.
const DEMO_PERSON: &str = "sofia.alvarez@brightwave.io";

pub(crate) fn run(args: &[String]) -> Result<()> {
    let release = match args {
        [] => false,
        [flag] if flag == "--release" => true,
        other => bail!("usage: cargo xtask demo [--release] (got {other:?})"),
    };
    let root = workspace_root();
    let fixture = root.join("fixtures").join("demo-org.json");
    let org_id = demo_org_id(&fixture)?;

    let bins = build(release)?;
    let fake = FakeProcess::start(
        &bins.env0_fake,
        &[
            "--org-file".as_ref(),
            fixture.as_os_str(),
            "--port".as_ref(),
            "0".as_ref(),
        ],
    )?;
    println!("==> env0-fake: {} at {}", fake.org_line, fake.base_url);

    let output = root.join("demo.c1z");
    if output.exists() {
        std::fs::remove_file(&output)
            .with_context(|| format!("cannot remove the previous {}", output.display()))?;
    }
    let secret = SecretFile::new()?;
    println!("==> baton-env0 sync into {}", output.display());
    let status = Command::new(&bins.baton_env0)
        .current_dir(&root)
        .arg("--api-key-id")
        .arg(DEMO_KEY_ID)
        .arg("--api-key-secret-file")
        .arg(secret.path())
        .arg("--base-url")
        .arg(&fake.base_url)
        .arg("--organization-id")
        .arg(&org_id)
        .arg("--file")
        .arg(&output)
        .status()
        .context("cannot run baton-env0")?;
    if !status.success() {
        bail!("baton-env0 sync failed ({status})");
    }

    println!("==> baton-env0 inspect demo.c1z");
    let status = Command::new(&bins.baton_env0)
        .current_dir(&root)
        .arg("inspect")
        .arg(&output)
        .status()
        .context("cannot run baton-env0 inspect")?;
    if !status.success() {
        bail!("baton-env0 inspect failed ({status})");
    }

    // Sofía is a Platform Engineer (a custom organization role), in the Platform team, which
    // holds Admin on Production; she deploys to Production herself; Production's sub-projects
    // inherit both.
    println!("==> baton-env0 inspect access {DEMO_PERSON} demo.c1z");
    let status = Command::new(&bins.baton_env0)
        .current_dir(&root)
        .args(["inspect", "access", DEMO_PERSON])
        .arg(&output)
        .status()
        .context("cannot run baton-env0 inspect access")?;
    if !status.success() {
        bail!("baton-env0 inspect access failed ({status})");
    }
    drop(fake);
    println!("==> stopped env0-fake; the sync is in {}", output.display());
    Ok(())
}

/// The organization id of a fake organization file.
fn demo_org_id(fixture: &Path) -> Result<String> {
    let text = std::fs::read_to_string(fixture)
        .with_context(|| format!("cannot read {}", fixture.display()))?;
    let org: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not valid JSON", fixture.display()))?;
    org.pointer("/organization/id")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
        .with_context(|| format!("{} has no organization.id", fixture.display()))
}

/// Paths of the built executables.
pub(crate) struct Binaries {
    pub(crate) baton_env0: PathBuf,
    pub(crate) env0_fake: PathBuf,
}

/// Builds baton-env0 and env0-fake and returns where cargo put them (read from cargo's JSON
/// messages, so any target directory setting is honoured).
pub(crate) fn build(release: bool) -> Result<Binaries> {
    println!(
        "==> building baton-env0 and env0-fake ({})",
        if release { "release" } else { "debug" }
    );
    let mut cmd = cargo();
    cmd.args([
        "build",
        "--locked",
        "--message-format=json-render-diagnostics",
    ]);
    if release {
        cmd.arg("--release");
    }
    cmd.args(["-p", "baton-env0", "-p", "env0-fake"]);
    let output = cmd
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run cargo build")?;
    if !output.status.success() {
        bail!("cargo build failed ({})", output.status);
    }
    let mut executables: BTreeMap<String, PathBuf> = BTreeMap::new();
    for line in output.stdout.split(|b| *b == b'\n') {
        let Ok(msg) = serde_json::from_slice::<serde_json::Value>(line) else {
            continue;
        };
        if msg["reason"] != "compiler-artifact" {
            continue;
        }
        if let (Some(name), Some(exe)) = (
            msg.pointer("/target/name")
                .and_then(serde_json::Value::as_str),
            msg["executable"].as_str(),
        ) {
            executables.insert(name.to_owned(), PathBuf::from(exe));
        }
    }
    let mut take = |name: &str| {
        executables
            .remove(name)
            .with_context(|| format!("cargo build reported no `{name}` executable"))
    };
    Ok(Binaries {
        baton_env0: take("baton-env0")?,
        env0_fake: take("env0-fake")?,
    })
}

/// The demo secret in a private temporary file, for `--api-key-secret-file`.
pub(crate) struct SecretFile(tempfile::NamedTempFile);

impl SecretFile {
    pub(crate) fn new() -> Result<SecretFile> {
        // NamedTempFile creates the file readable by its owner only.
        let mut file = tempfile::NamedTempFile::new().context("cannot create a temporary file")?;
        writeln!(file, "{DEMO_KEY_SECRET}").context("cannot write the demo secret")?;
        file.flush().context("cannot write the demo secret")?;
        Ok(SecretFile(file))
    }

    pub(crate) fn path(&self) -> &Path {
        self.0.path()
    }
}

/// An env0-fake child process; killed when dropped, so error paths never leave it running.
pub(crate) struct FakeProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub(crate) base_url: String,
    /// `organization <id> (<name>): ...`, the fake's second line.
    pub(crate) org_line: String,
}

impl FakeProcess {
    /// Starts env0-fake and waits for its `listening on ...` and `organization ...` lines.
    pub(crate) fn start(exe: &Path, args: &[&std::ffi::OsStr]) -> Result<FakeProcess> {
        let mut child = Command::new(exe)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("cannot start {}", exe.display()))?;
        let Some(stdout) = child.stdout.take() else {
            let _ = child.kill();
            let _ = child.wait();
            bail!("env0-fake has no stdout");
        };
        // From here on, Drop stops the child on every path.
        let mut fake = FakeProcess {
            child,
            base_url: String::new(),
            org_line: String::new(),
        };
        let mut lines = BufReader::new(stdout).lines();
        let first = lines
            .next()
            .transpose()
            .context("cannot read env0-fake's output")?;
        let second = lines
            .next()
            .transpose()
            .context("cannot read env0-fake's output")?;
        let (Some(first), Some(second)) = (first, second) else {
            let status = fake.child.wait().context("cannot wait for env0-fake")?;
            bail!("env0-fake stopped before printing its address ({status})");
        };
        first
            .strip_prefix("listening on ")
            .with_context(|| format!("unexpected first line from env0-fake: {first:?}"))?
            .trim()
            .clone_into(&mut fake.base_url);
        second
            .strip_prefix("organization ")
            .unwrap_or(&second)
            .clone_into(&mut fake.org_line);
        Ok(fake)
    }

    /// The organization id from the fake's second line.
    pub(crate) fn org_id(&self) -> Result<String> {
        self.org_line
            .split_whitespace()
            .next()
            .map(str::to_owned)
            .with_context(|| format!("no organization id in {:?}", self.org_line))
    }

    /// `GET /_fake/stats`.
    pub(crate) fn stats(&self) -> Result<serde_json::Value> {
        let body = self.get("/_fake/stats", None)?;
        serde_json::from_slice(&body).context("stats are not JSON")
    }

    /// `GET path_and_query` over a plain loopback socket (xtask has no HTTP client), with
    /// `authorization` as the header's value when given; returns the body of a `200`.
    pub(crate) fn get(&self, path_and_query: &str, authorization: Option<&str>) -> Result<Vec<u8>> {
        let addr = self
            .base_url
            .strip_prefix("http://")
            .with_context(|| format!("unexpected base URL {}", self.base_url))?;
        let mut stream =
            TcpStream::connect(addr).with_context(|| format!("cannot connect to {addr}"))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let auth = authorization
            .map(|value| format!("Authorization: {value}\r\n"))
            .unwrap_or_default();
        write!(
            stream,
            "GET {path_and_query} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n"
        )?;
        let mut response = Vec::new();
        stream
            .read_to_end(&mut response)
            .with_context(|| format!("cannot read the response to GET {path_and_query}"))?;
        let Some(split) = response.windows(4).position(|w| w == b"\r\n\r\n") else {
            bail!("malformed response to GET {path_and_query}");
        };
        let head = String::from_utf8_lossy(&response[..split]);
        if !head.starts_with("HTTP/1.1 200") {
            bail!(
                "GET {path_and_query} failed: {}",
                head.lines().next().unwrap_or_default()
            );
        }
        response.drain(..split + 4);
        Ok(response)
    }
}

impl Drop for FakeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
