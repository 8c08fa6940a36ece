//! `baton-env0`: the operator CLI. It parses configuration, wires the env0 connector into the
//! sync engine, and maps failures to documented exit codes.
//!
//! Architecture invariant: nothing depends on this crate except `xtask` (for documentation
//! generation); it must never be a dependency of a library crate of this workspace.
//!
//! - [`cli`]: clap definitions (flags, environment variables, defaults, help).
//! - [`settings`]: layered configuration (flags, `BATON_*`, `ENV0_*`, YAML file, defaults) and
//!   validation before any request.
//! - [`exit`]: exit codes and the one-line-plus-hint failure.
//! - [`docs`]: `docs/cli.md`, `baton_capabilities.json` and `config_schema.json` for
//!   `cargo xtask codegen`.

pub mod cli;
mod commands;
pub mod docs;
pub mod exit;
pub mod fields;
pub mod logging;
pub mod progress;
pub mod settings;

use std::ffi::OsString;
use std::io::Write as _;
use std::process::ExitCode;

use clap::{ArgMatches, CommandFactory, FromArgMatches};

use crate::cli::{Cli, Command, InspectCommon, InspectView, LogFormat};
use crate::exit::{ExitKind, Failure};
use crate::logging::ProgressSlot;
use crate::settings::{Environment, ProcessEnvironment, Settings};

/// The binary's entry point: runs [`run`] with the process arguments and environment, and turns
/// a panic into exit code 1 without printing the panic's message.
pub fn main() -> ExitCode {
    install_panic_hook();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run(std::env::args_os(), &ProcessEnvironment)
    }));
    outcome.unwrap_or_else(|_| ExitKind::Other.into())
}

/// Prints a generic message on panic: never the payload, which could quote data (and, through a
/// bug, a secret); only where it happened.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let _ = write!(
            std::io::stderr(),
            "error: internal error{location} in baton-env0 {} (the panic message is not shown because it could contain sensitive data)\nhint: this is a bug; rerun with --log-level debug and report the log\n",
            env!("CARGO_PKG_VERSION")
        );
    }));
}

/// Parses `args` and runs the selected command; returns the documented exit code.
pub fn run<I, T>(args: I, env: &dyn Environment) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let parsed = Cli::command()
        .try_get_matches_from(args)
        .and_then(|m| Cli::from_arg_matches(&m).map(|cli| (m, cli)));
    let (matches, cli) = match parsed {
        Ok(parsed) => parsed,
        Err(err) => {
            // clap prints help/version on stdout and usage errors on stderr (exit 2).
            let _ = err.print();
            return ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(ExitKind::Usage.code()));
        }
    };
    let slot = ProgressSlot::default();
    match execute(cli, &matches, env, &slot) {
        Ok(()) => ExitKind::Success.into(),
        Err(failure) => {
            commands::sync::stderr(&slot, &failure.render());
            failure.kind.into()
        }
    }
}

fn execute(
    cli: Cli,
    matches: &ArgMatches,
    env: &dyn Environment,
    slot: &ProgressSlot,
) -> Result<(), Failure> {
    let cwd = std::env::current_dir()
        .map_err(|e| Failure::other(format!("cannot read the current directory: {e}")))?;
    let mut settings = Settings::resolve(matches, &cli.global, env, &cwd)?;
    let console = settings.log_format.value == LogFormat::Console;
    logging::init(
        settings.log_level.value,
        settings.log_format.value,
        console && env.stderr_is_terminal(),
        slot,
    );
    for warning in settings.take_warnings() {
        tracing::warn!("{warning}");
    }
    if let Some(action) = cli.provision.action() {
        if cli.command.is_some() {
            return Err(Failure::usage(
                "--grant-entitlement and --revoke-grant run on their own, without a subcommand",
            ));
        }
        return commands::provision::run(&mut settings, action, cli.provision.dry_run);
    }
    match cli.command {
        None => commands::sync::run(&mut settings, env.stderr_is_terminal(), slot),
        Some(Command::Validate) => commands::validate::run(&mut settings),
        Some(Command::Capabilities) => commands::capabilities::run(),
        Some(Command::Config) => commands::config::run(&settings),
        Some(Command::Inspect(args)) => {
            let default = settings.file.value.clone();
            let path = |common: &InspectCommon| -> std::path::PathBuf {
                common.path.clone().unwrap_or_else(|| default.clone())
            };
            match &args.view {
                None => commands::inspect::run(
                    &path(&args.common),
                    args.common.format,
                    args.common.sync_id.as_deref(),
                ),
                Some(InspectView::Grants {
                    entitlement,
                    principal,
                    common,
                }) => commands::inspect::grants::run(
                    &path(common),
                    common.format,
                    common.sync_id.as_deref(),
                    entitlement.as_deref(),
                    principal.as_deref(),
                ),
                Some(InspectView::Access { user, common }) => commands::inspect::access::run(
                    &path(common),
                    common.format,
                    common.sync_id.as_deref(),
                    user,
                ),
            }
        }
    }
}
