//! The `baton-env0` binary; everything lives in the library (see `baton_env0::main`).

/// mimalloc: a sync makes millions of small, short-lived allocations (a user resource is a few
/// dozen), and with glibc's allocator freeing them cost a fifth of the sync's time.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    baton_env0::main()
}
