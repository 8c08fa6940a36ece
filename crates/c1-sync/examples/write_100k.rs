//! Measures writing 100 000 user resources into a fresh c1z.
//!
//! Run: `cargo run --release -p c1-sync --example write_100k [-- <output.c1z>]`
//!
//! Prints wall and CPU time to build the users, to insert them (pages of 1 000, one `put_resources`
//! call each, as the sync engine does) and to finish the file (indexes, stats, zstd, fsync, rename).
//!
//! The users are shaped like the env0 connector's (ten profile keys mirrored into the trait, two
//! timestamps, an email and a structured name), so the database is the size a real sync writes.
//! Insert wall time is the database thread's (SQLite runs there); the CPU figures are the calling
//! thread's. Measured 2026-11-30 on the 2-vCPU VM, with the users in id order: insert 0.34–0.37 s
//! wall (0.20–0.24 s caller CPU), finish 0.22–0.25 s wall, an 8.9 MB file.

use std::time::{Duration, Instant};

use c1_model::{AccountType, ResourceTypeBuilder, UserBuilder, UserStatus, pb};
use c1_sync::C1zWriter;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    const USERS: usize = 100_000;
    const PAGE: usize = 1_000;

    let dir = tempfile::tempdir()?;
    let target = std::env::args_os()
        .nth(1)
        .map_or_else(|| dir.path().join("100k.c1z"), Into::into);

    let (t0, c0) = (Instant::now(), cpu_time());
    // Shaped like the env0 connector's users: ten profile keys (mirrored into the trait), both
    // timestamps, an email and a structured name; blobs of 600–900 bytes.
    // In id order, as a connector that sorts (the env0 one does) hands them over.
    let mut ids: Vec<String> = (0..USERS)
        .map(|i| format!("auth0|{:024x}", i as u64 * 0x9e37_79b9_7f4a_7c15))
        .collect();
    ids.sort_unstable();
    let users: Vec<pb::Resource> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let email = format!("given{i}.family{}@example{}.com", i % 97, i % 13);
            let seen =
                chrono::DateTime::from_timestamp(1_700_000_000 + i as i64, 0).unwrap_or_default();
            UserBuilder::new("user", id, format!("Given{i} Family{}", i % 97))
                .email(email.as_str(), true)
                .status(UserStatus::Enabled, None)
                .account_type(AccountType::Human)
                .login(email.as_str())
                .last_login(seen)
                .created_at(seen)
                .structured_name(format!("Given{i}"), format!("Family{}", i % 97))
                .profile("user_id", id.as_str())
                .profile("email", email.as_str())
                .profile("first_name", format!("Given{i}"))
                .profile("last_name", format!("Family{}", i % 97))
                .profile("display_name", format!("Given{i} Family{}", i % 97))
                .profile("role", "d133fe20-2d51-4e28-8c37-70e17bae2577")
                .profile("role_name", "Platform Engineer")
                .profile("status", "Active")
                .profile("invite_pending", false)
                .profile("account_type", "human")
                .build()
        })
        .collect();
    let built = (t0.elapsed(), cpu_time().saturating_sub(c0));

    let (t1, c1) = (Instant::now(), cpu_time());
    let mut writer = C1zWriter::open(&target)?;
    writer.put_resource_types(&[ResourceTypeBuilder::new("user", "User")
        .with_trait(pb::resource_type::Trait::User)
        .build()])?;
    for page in users.chunks(PAGE) {
        writer.put_resources(page)?;
    }
    let inserted = (t1.elapsed(), cpu_time().saturating_sub(c1));

    let (t2, c2) = (Instant::now(), cpu_time());
    let done = writer.finish()?;
    let finished = (t2.elapsed(), cpu_time().saturating_sub(c2));

    #[expect(
        clippy::print_stdout,
        reason = "the example's output is the measurement"
    )]
    {
        println!("users:    {USERS}");
        let show = |name: &str, (wall, cpu): (Duration, Duration)| {
            println!(
                "{name:<8} {:.3} s wall, {:.3} s cpu",
                wall.as_secs_f64(),
                cpu.as_secs_f64()
            );
        };
        show("build:", built);
        show("insert:", inserted);
        show("finish:", finished);
        show("write:", (inserted.0 + finished.0, inserted.1 + finished.1));
        println!("file:     {} ({} bytes)", done.path.display(), done.bytes);
    }
    Ok(())
}

/// CPU time of this (single-threaded) program's main thread, from Linux's schedstat; zero
/// elsewhere. Wall time is misleading on a busy machine, CPU time is what the figure is about.
fn cpu_time() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(Duration::ZERO, Duration::from_nanos)
}
