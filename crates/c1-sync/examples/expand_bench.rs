//! Measures grant expansion on a generated organization (no network).
//!
//! Run: `cargo run --release -p c1-sync --example expand_bench -- [--scale 1.0] [--report FILE]
//! [output.c1z]`
//! (`cargo xtask bench --only expansion` runs it at scales 0.5 and 1 under a peak-RSS meter).
//!
//! At scale 1 the organization has 100 000 users, 1 000 teams of 1–500 members (sizes spread
//! evenly over that range, members picked at random, seeded), and 2 000 projects in a hierarchy
//! four levels deep (100 roots, then 300, 600 and 1 000 projects, spread evenly under the
//! projects of the level above). Each project has four roles (`Admin`, `Deployer`, `Planner`,
//! `Viewer`), one team grant (a team, taken in turn, holds a random role, expandable from the
//! team's members, users only) and three direct user grants to random users; each sub-project
//! inherits every role of its parent (a grant to the parent project, expandable from the parent's
//! role, users and teams); and the 20 organization admins are `Admin` on every root project
//! (through an organization role). Scale 0.5 halves every count but the team sizes; the shapes
//! being even, the larger organization has twice the grants of the smaller, and the ratio of
//! their expansion times shows how the cost grows.
//!
//! The users, teams and projects are written through `C1zWriter` in pages, as a sync would, and
//! the writer's `finish` expands the grants and saves the file. Prints one line of
//! `key=value` pairs: `grants_in` (written by the "connector"), `grants_out` (in the file after
//! expansion), `created`, `updated`, `expansion_ms`, `grants_out_per_s` (created grants per second
//! of expansion), `finish_ms` (expansion plus save) and `bytes`; `--report FILE` writes the same
//! line to FILE too.

use std::time::Instant;

use c1_model::{ResourceBuilder, ResourceTypeBuilder, UserBuilder, annotations, pb};
use c1_sync::C1zWriter;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The allocator of the `baton-env0` binary, so the measurement matches what a sync sees.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ROLES: [&str; 4] = ["Admin", "Deployer", "Planner", "Viewer"];
const PAGE: usize = 1_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut scale = 1.0_f64;
    let mut output = None;
    let mut report = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--scale" {
            scale = args.next().ok_or("--scale needs a value")?.parse()?;
        } else if arg == "--report" {
            report = Some(args.next().ok_or("--report needs a file")?);
        } else {
            output = Some(std::path::PathBuf::from(arg));
        }
    }
    let dir = tempfile::tempdir()?;
    let target = output.unwrap_or_else(|| dir.path().join("expand.c1z"));
    let n = |count: f64| ((count * scale).round() as usize).max(1);
    let (users, teams) = (n(100_000.0), n(1_000.0));
    let levels = [n(100.0), n(300.0), n(600.0), n(1_000.0)];
    let admins = n(20.0);

    let mut rng = StdRng::seed_from_u64(7);
    let mut w = C1zWriter::open(&target)?;
    w.put_resource_types(&[
        ResourceTypeBuilder::new("user", "User")
            .with_trait(pb::resource_type::Trait::User)
            .annotation(&pb::SkipEntitlementsAndGrants {})
            .build(),
        ResourceTypeBuilder::new("role", "Role")
            .with_trait(pb::resource_type::Trait::Role)
            .build(),
        ResourceTypeBuilder::new("team", "Team")
            .with_trait(pb::resource_type::Trait::Group)
            .build(),
        ResourceTypeBuilder::new("project", "Project").build(),
    ])?;
    let user_ids: Vec<String> = (0..users).map(|i| format!("u{i:07}")).collect();
    for page in user_ids.chunks(PAGE) {
        let resources: Vec<pb::Resource> = page
            .iter()
            .map(|id| {
                UserBuilder::new("user", id, format!("User {id}"))
                    .email(format!("{id}@example.com"), true)
                    .build()
            })
            .collect();
        w.put_resources(&resources)?;
    }
    let user_ref = |i: usize| c1_model::resource_id("user", &user_ids[i]);

    let mut grants_in = 0u64;
    let mut put_grants =
        |w: &mut C1zWriter, grants: &[pb::Grant]| -> Result<(), c1_sync::StoreError> {
            grants_in += grants.len() as u64;
            w.put_grants(grants)
        };

    // The organization role: its members are Admin on every root project.
    let admin_role = ResourceBuilder::new("role", "Admin", "Organization Admin").build_role();
    let admin_member = c1_model::entitlement::assignment(&admin_role, "member");
    w.put_resources(std::slice::from_ref(&admin_role))?;
    w.put_entitlements(std::slice::from_ref(&admin_member))?;
    let admin_grants: Vec<pb::Grant> = (0..admins)
        .map(|_| c1_model::grant::new(&admin_member, &user_ref(rng.random_range(0..users))))
        .collect();
    put_grants(&mut w, &dedup(admin_grants))?;

    // Teams and their members.
    let team_resources: Vec<pb::Resource> = (0..teams)
        .map(|t| {
            ResourceBuilder::new("team", &format!("t{t:05}"), format!("Team {t}")).build_group()
        })
        .collect();
    let mut team_index = 0usize;
    for chunk in team_resources.chunks(PAGE) {
        w.put_resources(chunk)?;
        let members: Vec<pb::Entitlement> = chunk
            .iter()
            .map(|t| c1_model::entitlement::assignment(t, "member"))
            .collect();
        w.put_entitlements(&members)?;
        for member in &members {
            let size = 1 + (team_index * 211) % 500;
            team_index += 1;
            let grants: Vec<pb::Grant> = (0..size)
                .map(|_| c1_model::grant::new(member, &user_ref(rng.random_range(0..users))))
                .collect();
            put_grants(&mut w, &dedup(grants))?;
        }
    }

    // Projects, level by level, each under a random project of the level above.
    let mut previous: Vec<pb::Resource> = Vec::new();
    let mut counter = 0usize;
    let mut project_index = 0usize;
    for &size in &levels {
        let level: Vec<pb::Resource> = (0..size)
            .map(|i| {
                counter += 1;
                let mut builder = ResourceBuilder::new(
                    "project",
                    &format!("p{counter:05}"),
                    format!("Project {counter}"),
                )
                .description("a generated project");
                if !previous.is_empty() {
                    let parent = &previous[i % previous.len()];
                    builder = builder.parent(parent.id.clone().unwrap_or_default());
                }
                builder.build()
            })
            .collect();
        for chunk in level.chunks(PAGE) {
            w.put_resources(chunk)?;
            let entitlements: Vec<pb::Entitlement> = chunk
                .iter()
                .flat_map(|p| ROLES.map(|r| c1_model::entitlement::assignment(p, r)))
                .collect();
            w.put_entitlements(&entitlements)?;
            let mut grants = Vec::new();
            for project in chunk {
                project_index += 1;
                let pid = project.id.clone().unwrap_or_default();
                let role = |r: &str| {
                    entitlements
                        .iter()
                        .find(|e| e.id == format!("project:{}:{r}", pid.resource))
                        .cloned()
                        .unwrap_or_default()
                };
                let team = &team_resources[(project_index * 7919) % teams];
                let team_id = team.id.clone().unwrap_or_default();
                grants.push(expandable(
                    c1_model::grant::new(&role(ROLES[rng.random_range(0..4)]), &team_id),
                    &format!("team:{}:member", team_id.resource),
                    &["user"],
                ));
                for _ in 0..3 {
                    grants.push(c1_model::grant::new(
                        &role(ROLES[rng.random_range(0..4)]),
                        &user_ref(rng.random_range(0..users)),
                    ));
                }
                match &project.parent_resource_id {
                    Some(parent) => {
                        for r in ROLES {
                            grants.push(expandable(
                                c1_model::grant::new(&role(r), parent),
                                &format!("project:{}:{r}", parent.resource),
                                &["user", "team"],
                            ));
                        }
                    }
                    None => grants.push(expandable(
                        c1_model::grant::new(
                            &role("Admin"),
                            &admin_role.id.clone().unwrap_or_default(),
                        ),
                        &admin_member.id,
                        &["user", "team"],
                    )),
                }
            }
            put_grants(&mut w, &dedup(grants))?;
        }
        previous = level;
    }

    let started = Instant::now();
    let finished = w.finish()?;
    let finish_ms = started.elapsed().as_secs_f64() * 1000.0;
    let e = &finished.expansion;
    let expansion_s = (e.duration_ms as f64 / 1000.0).max(1e-3);
    let line = format!(
        "grants_in={grants_in} grants_out={} created={} updated={} expansion_ms={} \
         grants_out_per_s={:.0} finish_ms={finish_ms:.0} bytes={}",
        finished.stats.grants,
        e.grants_created,
        e.grants_updated,
        e.duration_ms,
        e.grants_created as f64 / expansion_s,
        finished.bytes
    );
    if let Some(report) = report {
        std::fs::write(report, format!("{line}\n"))?;
    }
    #[expect(
        clippy::print_stdout,
        reason = "an example that reports its measurement on stdout"
    )]
    {
        println!("{line}");
    }
    Ok(())
}

fn expandable(mut grant: pb::Grant, source: &str, types: &[&str]) -> pb::Grant {
    grant
        .annotations
        .push(annotations::pack(&pb::GrantExpandable {
            entitlement_ids: vec![source.to_owned()],
            shallow: false,
            resource_type_ids: types.iter().map(|t| (*t).to_owned()).collect(),
        }));
    grant
}

/// Drops repeated grant ids (a random pick can repeat a member), keeping the first.
fn dedup(mut grants: Vec<pb::Grant>) -> Vec<pb::Grant> {
    let mut seen = std::collections::HashSet::new();
    grants.retain(|g| seen.insert(g.id.clone()));
    grants
}
