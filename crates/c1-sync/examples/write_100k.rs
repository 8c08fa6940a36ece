//! Measures writing 100 000 user resources into a fresh c1z.
//!
//! Run: `cargo run --release -p c1-sync --example write_100k [-- <output.c1z>]`
//!
//! Prints the time to build the users, to insert them (in pages of 1 000, one transaction per page,
//! as the sync engine does) and to finish the file (stats, zstd, fsync, rename).
//! Measured on the project's 2-core build box (release): build ≈ 0.16 s, insert ≈ 0.30 s, finish ≈ 0.16 s.

use std::time::Instant;

use c1_model::{AccountType, ResourceTypeBuilder, UserBuilder, UserStatus, pb};
use c1_sync::C1zWriter;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    const USERS: usize = 100_000;
    const PAGE: usize = 1_000;

    let dir = tempfile::tempdir()?;
    let target = std::env::args_os()
        .nth(1)
        .map_or_else(|| dir.path().join("100k.c1z"), Into::into);

    let t0 = Instant::now();
    let users: Vec<pb::Resource> = (0..USERS)
        .map(|i| {
            UserBuilder::new("user", &format!("user-{i:06}"), format!("User {i}"))
                .email(format!("user{i}@example.com"), true)
                .status(UserStatus::Enabled, None)
                .account_type(AccountType::Human)
                .login(format!("user{i}@example.com"))
                .structured_name(format!("Given{i}"), "Family")
                .profile("user_id", format!("user-{i:06}"))
                .build()
        })
        .collect();
    let built = t0.elapsed();

    let t1 = Instant::now();
    let mut writer = C1zWriter::open(&target)?;
    writer.put_resource_types(&[ResourceTypeBuilder::new("user", "User")
        .with_trait(pb::resource_type::Trait::User)
        .build()])?;
    for page in users.chunks(PAGE) {
        writer.put_resources(page)?;
    }
    let inserted = t1.elapsed();

    let t2 = Instant::now();
    let done = writer.finish()?;
    let finished = t2.elapsed();

    #[expect(
        clippy::print_stdout,
        reason = "the example's output is the measurement"
    )]
    {
        println!("users:    {USERS}");
        println!("build:    {:.3} s", built.as_secs_f64());
        println!("insert:   {:.3} s", inserted.as_secs_f64());
        println!("finish:   {:.3} s", finished.as_secs_f64());
        println!(
            "write:    {:.3} s (insert + finish)",
            (inserted + finished).as_secs_f64()
        );
        println!("file:     {} ({} bytes)", done.path.display(), done.bytes);
    }
    Ok(())
}
