//! The CLI's published documents, generated from `baton-env0`'s clap definitions and the env0
//! connector: `docs/cli.md` (every flag with its environment variables, default and description,
//! every subcommand, the exit codes), and at the repository root `baton_capabilities.json` and
//! `config_schema.json`, in the shapes baton connectors publish.

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
