//! The `env0-fake` binary.

fn main() {}
