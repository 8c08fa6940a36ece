//! Maintainer commands, run as `cargo xtask <command>`.
//!
//! Commands: `codegen [--check]`, `check-layers`, `demo`, `bench`, `release <version> [--dry-run]`.
//! Each command lives in its own module; this file only dispatches.
//!
//! Architecture invariant: xtask is a leaf: no crate may depend on it, and it is never published
//! (`publish = false`). It may use any workspace crate (it reads the CLI's clap definitions for
//! `docs/cli.md`).

#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "xtask is a command-line tool for maintainers: printing to stdout and stderr is its job"
)]

mod bench;
mod bench_baseline;
mod bench_expand;
mod bench_floor;
mod bench_governance;
mod codegen;
mod demo;
mod layers;
#[cfg(test)]
mod module_map;
mod release;
mod util;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  codegen [--check]              regenerate checked-in generated files (--check: fail on drift)
  check-layers                   fail when a crate depends on something its layer forbids
  demo [--release]               sync the bundled demo organization from env0-fake into demo.c1z
  bench [--only sync|expansion|governance] [--runs N] [--sizes A,B,C]
                                 benchmark syncs of generated organizations (bench/results.json),
                                 grant expansion (bench/expansion.json) and a large organization's
                                 access under env0's per-path rate limit (bench/governance.json)
  release <version> [--dry-run]  bump the version, build and package baton-env0 into dist/
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = match command.as_str() {
        "codegen" => codegen::run(rest),
        "check-layers" => layers::run(rest),
        "demo" => demo::run(rest),
        "bench" => bench::run(rest),
        bench::MEASURE_COMMAND => bench::measure(rest),
        "release" => release::run(rest),
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        other => {
            eprint!("unknown command `{other}`\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
