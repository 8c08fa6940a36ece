//! `cargo xtask demo`.

pub(crate) fn run(_args: &[String]) -> anyhow::Result<()> {
    anyhow::bail!("`cargo xtask demo` is not available yet")
}
