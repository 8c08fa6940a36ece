//! The CLI's published documents, generated from `baton-env0`'s clap definitions and the env0
//! connector: `docs/cli.md` (every flag with its environment variables, default and description,
//! every subcommand, the exit codes), and at the repository root `baton_capabilities.json` and
//! `config_schema.json`, in the shapes baton connectors publish.
//!
//! Why xtask links the whole CLI (and so `codegen --check` compiles it): these documents are read
//! from the same clap definitions, settings table and connector capabilities the binary runs
//! with, so they cannot describe a flag, default or capability the binary does not have. Parsing
//! `--help` text of a built binary instead would need the binary built anyway, and would lose the
//! structure (environment variables, config keys, kinds) that `config_schema.json` needs.

use super::GeneratedFile;

pub(crate) fn generate() -> anyhow::Result<Vec<GeneratedFile>> {
    Ok(vec![
        GeneratedFile {
            path: "docs/cli.md".to_owned(),
            contents: baton_env0::docs::cli_markdown(),
        },
        GeneratedFile {
            path: "baton_capabilities.json".to_owned(),
            contents: baton_env0::docs::capabilities_json()?,
        },
        GeneratedFile {
            path: "config_schema.json".to_owned(),
            contents: baton_env0::docs::config_schema_json(),
        },
    ])
}
