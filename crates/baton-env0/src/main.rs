//! The `baton-env0` binary; everything lives in the library (see `baton_env0::main`).

fn main() -> std::process::ExitCode {
    baton_env0::main()
}
