//! The `env0-fake` binary: serves a generated or file-based organization on loopback.
//!
//! The first line on stdout is `listening on http://127.0.0.1:PORT` (flushed at once), the
//! second `organization <id> ...`; then it serves until interrupted (Ctrl-C or SIGTERM).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use env0_fake::{
    Credentials, DEMO_KEY_ID, DEMO_KEY_SECRET, FakeConfig, FakeError, Faults, GenerateOptions, Org,
    parse_forced_statuses,
};

/// Fake env0 API server for demos, tests and benchmarks.
#[derive(Parser)]
#[command(name = "env0-fake", version)]
struct Args {
    /// Serve the organization in this JSON file (e.g. fixtures/demo-org.json) instead of a
    /// generated one.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["users", "api_keys", "teams", "projects"])]
    org_file: Option<PathBuf>,
    /// Generated organization: human members.
    #[arg(long, default_value_t = 50)]
    users: usize,
    /// Generated organization: API keys.
    #[arg(long, default_value_t = 5)]
    api_keys: usize,
    /// Generated organization: teams.
    #[arg(long, default_value_t = 5)]
    teams: usize,
    /// Generated organization: projects.
    #[arg(long, default_value_t = 3)]
    projects: usize,
    /// Generated organization: seed of the ChaCha8 generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print the organization as JSON (the --org-file format) and exit.
    #[arg(long)]
    dump: bool,
    /// Loopback port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Delay added to every API request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Seeded fault injection, e.g. `429=0.1,500=0.05,reset=0.02,truncate=0.01,cut=0.02,drop=0.05`
    /// (`truncate`: the connection closes before the declared length; `cut`: a whole response
    /// whose body is the first half of the JSON; `drop`: a write is applied, then the connection
    /// closes without an answer, a read is reset; `late`: the request is held 2.5 s, then
    /// processed and answered, a write even when the client gave up). Status faults and `reset`
    /// never apply a write.
    #[arg(long, default_value = "")]
    faults: String,
    /// Seed of the fault stream (default: --seed).
    #[arg(long)]
    fault_seed: Option<u64>,
    /// Answer 429 (with Retry-After) beyond this many requests with one method to one URL path
    /// (without the query string) in any sliding 60 s window, the way env0 counts.
    #[arg(long, value_name = "N")]
    rate_limit: Option<u32>,
    /// Leave `users` out of the team list, so members come only from `GET /teams/{id}`.
    #[arg(long)]
    teams_without_users: bool,
    /// Make read endpoints always answer a status, e.g. `roles=402,api-keys=403`.
    #[arg(long, default_value = "")]
    force_status: String,
    /// Accepted API key id (Basic-auth username).
    #[arg(long, default_value = DEMO_KEY_ID)]
    api_key_id: String,
    /// Accepted API key secret (Basic-auth password).
    #[arg(long, default_value = DEMO_KEY_SECRET, hide_default_value = true)]
    api_key_secret: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|rt| rt.block_on(run(args)).map_err(|e| chain(&e)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            #[expect(clippy::print_stderr, reason = "the binary's one error line")]
            {
                eprintln!("env0-fake: {message}");
            }
            ExitCode::from(2)
        }
    }
}

/// The error and its sources on one line.
fn chain(err: &FakeError) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

async fn run(args: Args) -> Result<(), FakeError> {
    let org = match &args.org_file {
        Some(path) => Org::from_json_file(path)?,
        None => Org::generate(GenerateOptions {
            users: args.users,
            api_keys: args.api_keys,
            teams: args.teams,
            projects: args.projects,
            seed: args.seed,
        }),
    };
    let mut out = std::io::stdout().lock();
    if args.dump {
        let text = serde_json::to_string_pretty(&org).map_err(|source| FakeError::Serialize {
            what: "organization",
            source,
        })?;
        let _ = writeln!(out, "{text}");
        return Ok(());
    }
    let faults = Faults::parse(&args.faults, args.fault_seed.unwrap_or(args.seed))?;
    let mut config = FakeConfig::new(org)
        .with_port(args.port)
        .with_latency(Duration::from_millis(args.latency_ms))
        .with_faults(faults)
        .with_credentials(Credentials::new(args.api_key_id, args.api_key_secret));
    if let Some(n) = args.rate_limit {
        config = config.with_rate_limit(n);
    }
    if args.teams_without_users {
        config = config.with_teams_without_users();
    }
    for (endpoint, status) in parse_forced_statuses(&args.force_status)? {
        config = config.with_forced_status(endpoint, status);
    }
    let org = &config.org;
    let summary = format!(
        "organization {} ({}): {} members, {} api keys, {} teams, {} projects",
        org.organization.id,
        org.organization.name.non_empty().unwrap_or("unnamed"),
        org.members.len(),
        org.api_keys.len(),
        org.teams.len(),
        org.projects.len()
    );
    let fake = env0_fake::spawn(config).await?;
    // Write errors (a closed pipe) must not stop the server; the parent may stop reading.
    let _ = writeln!(out, "listening on {}", fake.base_url());
    let _ = writeln!(out, "{summary}");
    let _ = out.flush();
    drop(out);
    wait_for_signal().await;
    fake.shutdown().await;
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
