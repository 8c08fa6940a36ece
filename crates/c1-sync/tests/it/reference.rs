//! Grant expansion against a reference model: random small organizations (users, teams nested
//! in teams, projects nested in projects, team and user grants on projects, cycles, shallow
//! edges, type filters, duplicate edges, dangling sources) are written through `C1zWriter`, which
//! expands them, and the file read back must hold exactly the grants a naive fixed-point
//! computation written here derives, grant by grant and source by source.
//!
//! The reference knows nothing of the engine's graph or order: it turns every expandable grant
//! into edges, merges duplicates, works out cycles by reachability, and then applies every edge
//! to every grant again and again until nothing changes.

use std::collections::{BTreeMap, BTreeSet};

use c1_model::{ResourceBuilder, ResourceTypeBuilder, annotations, pb, resource_id};
use c1_sync::{C1zReader, C1zWriter};
use proptest::prelude::*;

const ROLES: [&str; 2] = ["Admin", "Viewer"];
/// Principal type filters an edge may carry (empty: every type).
const FILTERS: [&[&str]; 4] = [&[], &["user"], &["team"], &["user", "team"]];

/// One random organization, by index.
#[derive(Debug, Clone)]
struct Org {
    users: usize,
    teams: usize,
    /// Project `j`'s parent, if any (always an earlier project: a forest).
    parents: Vec<Option<usize>>,
    /// (team, user): user is a direct member.
    members: Vec<(usize, usize)>,
    /// (outer, inner, shallow, filter): team `inner` is a member of `outer`, expandable from
    /// `inner`'s members (may form cycles, including a team in itself).
    nested: Vec<(usize, usize, bool, usize)>,
    /// (project, role, team, shallow, filter): the team holds the role, expandable from its
    /// members.
    team_roles: Vec<(usize, usize, usize, bool, usize)>,
    /// (project, role, user): direct.
    user_roles: Vec<(usize, usize, usize)>,
    /// Per project with a parent and per role: (shallow, filter) of the inheritance edge.
    inherit: Vec<(bool, usize)>,
    /// (team, project, role): expandable from an entitlement nobody has.
    dangling: Vec<(usize, usize, usize)>,
    /// Indexes into `team_roles` repeated under a second grant id with another spec.
    repeated: Vec<(usize, bool, usize)>,
    /// (project, team): a grant of an entitlement that does not exist, expandable from the
    /// team's members.
    ghost_destination: Vec<(usize, usize)>,
    /// (index into `user_roles`, team): that direct grant arrives with `sources` set by the
    /// connector, `{team:<t>:member: false}`.
    preset: Vec<(usize, usize)>,
}

fn org() -> impl Strategy<Value = Org> {
    (1usize..6, 1usize..4, 1usize..6).prop_flat_map(|(users, teams, projects)| {
        let parents = (0..projects)
            .map(|j| {
                if j == 0 {
                    Just(None).boxed()
                } else {
                    prop::option::of(0..j).boxed()
                }
            })
            .collect::<Vec<_>>();
        (
            Just(users),
            Just(teams),
            parents,
            prop::collection::vec((0..teams, 0..users), 0..10),
            prop::collection::vec((0..teams, 0..teams, any::<bool>(), 0..4usize), 0..4),
            prop::collection::vec(
                (0..projects, 0..2usize, 0..teams, any::<bool>(), 0..4usize),
                0..8,
            ),
            prop::collection::vec((0..projects, 0..2usize, 0..users), 0..6),
            prop::collection::vec((any::<bool>(), 0..4usize), projects * 2),
            prop::collection::vec((0..teams, 0..projects, 0..2usize), 0..2),
            prop::collection::vec((0..8usize, any::<bool>(), 0..4usize), 0..3),
            prop::collection::vec((0..projects, 0..teams), 0..2),
            prop::collection::vec((0..6usize, 0..teams), 0..3),
        )
            .prop_map(
                |(
                    users,
                    teams,
                    parents,
                    members,
                    nested,
                    team_roles,
                    user_roles,
                    inherit,
                    dangling,
                    repeated,
                    ghost_destination,
                    preset,
                )| Org {
                    users,
                    teams,
                    parents,
                    members,
                    nested,
                    team_roles,
                    user_roles,
                    inherit,
                    dangling,
                    repeated,
                    ghost_destination,
                    preset,
                },
            )
    })
}

/// A grant as the reference sees it.
#[derive(Debug, Clone)]
struct Input {
    id: String,
    entitlement: String,
    principal: (String, String),
    expandable: Option<(Vec<String>, bool, Vec<String>)>,
    /// `sources` as the connector set them.
    sources: BTreeMap<String, bool>,
}

/// What the file must hold for one grant.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Expected {
    entitlement: String,
    principal: (String, String),
    sources: BTreeMap<String, bool>,
    immutable: bool,
    expandable: bool,
}

fn user_id(i: usize) -> (String, String) {
    ("user".into(), format!("u{i}"))
}
fn team_id(i: usize) -> (String, String) {
    ("team".into(), format!("t{i}"))
}
fn project_id(i: usize) -> (String, String) {
    ("project".into(), format!("p{i}"))
}

fn filter(i: usize) -> Vec<String> {
    FILTERS[i].iter().map(|s| (*s).to_owned()).collect()
}

impl Org {
    /// Entitlement ids the sync lists, with the resource each belongs to.
    fn entitlements(&self) -> BTreeMap<String, (String, String)> {
        let mut out = BTreeMap::new();
        for t in 0..self.teams {
            out.insert(format!("team:t{t}:member"), team_id(t));
        }
        for p in 0..self.parents.len() {
            for role in ROLES {
                out.insert(format!("project:p{p}:{role}"), project_id(p));
            }
        }
        out
    }

    fn grants(&self) -> Vec<Input> {
        let mut out = Vec::new();
        let mut push = |entitlement: String,
                        principal: (String, String),
                        expandable: Option<(Vec<String>, bool, Vec<String>)>,
                        suffix: &str| {
            let id = format!("{entitlement}:{}:{}{suffix}", principal.0, principal.1);
            out.push(Input {
                id,
                entitlement,
                principal,
                expandable,
                sources: BTreeMap::new(),
            });
        };
        for &(t, u) in &self.members {
            push(format!("team:t{t}:member"), user_id(u), None, "");
        }
        for &(outer, inner, shallow, f) in &self.nested {
            push(
                format!("team:t{outer}:member"),
                team_id(inner),
                Some((vec![format!("team:t{inner}:member")], shallow, filter(f))),
                "",
            );
        }
        for &(p, r, t, shallow, f) in &self.team_roles {
            push(
                format!("project:p{p}:{}", ROLES[r]),
                team_id(t),
                Some((vec![format!("team:t{t}:member")], shallow, filter(f))),
                "",
            );
        }
        for &(p, r, u) in &self.user_roles {
            push(format!("project:p{p}:{}", ROLES[r]), user_id(u), None, "");
        }
        for (c, parent) in self.parents.iter().enumerate() {
            let Some(parent) = parent else { continue };
            for (r, role) in ROLES.iter().enumerate() {
                let (shallow, f) = self.inherit[c * 2 + r];
                push(
                    format!("project:p{c}:{role}"),
                    project_id(*parent),
                    Some((
                        vec![format!("project:p{parent}:{role}")],
                        shallow,
                        filter(f),
                    )),
                    "",
                );
            }
        }
        for &(t, p, r) in &self.dangling {
            push(
                format!("project:p{p}:{}", ROLES[r]),
                team_id(t),
                Some((vec![format!("team:t{t}:ghost")], false, Vec::new())),
                "#dangling",
            );
        }
        for &(i, shallow, f) in &self.repeated {
            if let Some(&(p, r, t, _, _)) = self.team_roles.get(i) {
                push(
                    format!("project:p{p}:{}", ROLES[r]),
                    team_id(t),
                    Some((vec![format!("team:t{t}:member")], shallow, filter(f))),
                    "#again",
                );
            }
        }
        for &(p, t) in &self.ghost_destination {
            push(
                format!("project:p{p}:Ghost"),
                team_id(t),
                Some((vec![format!("team:t{t}:member")], false, Vec::new())),
                "",
            );
        }
        for &(i, t) in &self.preset {
            if let Some(&(p, r, u)) = self.user_roles.get(i) {
                let id = format!("project:p{p}:{}:user:u{u}", ROLES[r]);
                for g in out.iter_mut().filter(|g| g.id == id) {
                    g.sources.insert(format!("team:t{t}:member"), false);
                }
            }
        }
        // The writer keeps the last of a repeated id; so does the reference.
        let mut seen = BTreeSet::new();
        let mut unique: Vec<Input> = out
            .into_iter()
            .rev()
            .filter(|g| seen.insert(g.id.clone()))
            .collect();
        unique.reverse();
        unique
    }

    /// Writes the org's sync; `hold` makes expansion hold its new grants, as a large expansion
    /// does, then write the grants table again in key order (`Some(true)`) or insert them.
    fn write(&self, path: &std::path::Path, hold: Option<bool>) -> c1_sync::FinishedSync {
        let mut w = C1zWriter::open(path).unwrap();
        if let Some(rewrite) = hold {
            w.hold_grants_on_expansion(rewrite);
        }
        w.put_resource_types(&[
            ResourceTypeBuilder::new("user", "User")
                .with_trait(pb::resource_type::Trait::User)
                .build(),
            ResourceTypeBuilder::new("team", "Team")
                .with_trait(pb::resource_type::Trait::Group)
                .build(),
            ResourceTypeBuilder::new("project", "Project").build(),
        ])
        .unwrap();
        let resource = |(rt, id): (String, String)| ResourceBuilder::new(&rt, &id, &id).build();
        let mut resources: Vec<pb::Resource> =
            (0..self.users).map(|u| resource(user_id(u))).collect();
        resources.extend((0..self.teams).map(|t| resource(team_id(t))));
        resources.extend((0..self.parents.len()).map(|p| resource(project_id(p))));
        w.put_resources(&resources).unwrap();
        let entitlements: Vec<pb::Entitlement> = self
            .entitlements()
            .into_iter()
            .map(|(id, (rt, rid))| {
                let slug = id.rsplit(':').next().unwrap().to_owned();
                c1_model::entitlement::assignment(&resource((rt, rid)), &slug)
            })
            .collect();
        w.put_entitlements(&entitlements).unwrap();
        let grants: Vec<pb::Grant> = self
            .grants()
            .into_iter()
            .map(|g| {
                let (rt, rid) = g.entitlement.split_once(':').map_or_else(
                    || (String::new(), String::new()),
                    |(rt, rest)| {
                        let rid = rest.rsplit_once(':').map_or(rest, |(rid, _)| rid);
                        (rt.to_owned(), rid.to_owned())
                    },
                );
                let mut grant = pb::Grant {
                    id: g.id,
                    entitlement: Some(pb::Entitlement {
                        id: g.entitlement,
                        resource: Some(pb::Resource {
                            id: Some(resource_id(&rt, &rid)),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                    principal: Some(pb::Resource {
                        id: Some(resource_id(&g.principal.0, &g.principal.1)),
                        ..Default::default()
                    }),
                    ..Default::default()
                };
                if !g.sources.is_empty() {
                    grant.sources = Some(pb::GrantSources {
                        sources: g
                            .sources
                            .iter()
                            .map(|(k, d)| {
                                (k.clone(), pb::grant_sources::GrantSource { is_direct: *d })
                            })
                            .collect(),
                    });
                }
                if let Some((sources, shallow, types)) = g.expandable {
                    grant
                        .annotations
                        .push(annotations::pack(&pb::GrantExpandable {
                            entitlement_ids: sources,
                            shallow,
                            resource_type_ids: types,
                        }));
                }
                grant
            })
            .collect();
        w.put_grants(&grants).unwrap();
        w.finish().unwrap()
    }
}

/// An edge's spec as the reference merges it: `(shallow, None = every type)`.
type Spec = (bool, Option<BTreeSet<String>>);

fn merge(a: &Spec, b: &Spec) -> Spec {
    let types = match (&a.1, &b.1) {
        (Some(x), Some(y)) => Some(x.union(y).cloned().collect()),
        _ => None,
    };
    (a.0 && b.0, types)
}

/// The naive reference: every grant the expanded file must hold, by id.
fn reference(org: &Org) -> BTreeMap<String, Expected> {
    let entitlements = org.entitlements();
    let inputs = org.grants();

    // 1. Edges, duplicates merged; a source or destination that is not an entitlement drops it.
    let mut edges: BTreeMap<(String, String), Spec> = BTreeMap::new();
    for g in &inputs {
        let Some((sources, shallow, types)) = &g.expandable else {
            continue;
        };
        for s in sources {
            if !entitlements.contains_key(s) || !entitlements.contains_key(&g.entitlement) {
                continue;
            }
            let spec: Spec = (
                *shallow,
                (!types.is_empty()).then(|| types.iter().cloned().collect()),
            );
            edges
                .entry((s.clone(), g.entitlement.clone()))
                .and_modify(|e| *e = merge(e, &spec))
                .or_insert(spec);
        }
    }

    // 2. Cycles by reachability: a and b share a component when each reaches the other.
    let nodes: BTreeSet<String> = edges
        .keys()
        .flat_map(|(s, d)| [s.clone(), d.clone()])
        .collect();
    let mut reach: BTreeSet<(String, String)> = edges.keys().cloned().collect();
    loop {
        let mut grown = reach.clone();
        for (a, b) in &reach {
            for (c, d) in &reach {
                if b == c {
                    grown.insert((a.clone(), d.clone()));
                }
            }
        }
        if grown.len() == reach.len() {
            break;
        }
        reach = grown;
    }
    let component = |n: &String| -> BTreeSet<String> {
        let mut c: BTreeSet<String> = nodes
            .iter()
            .filter(|m| {
                reach.contains(&(n.clone(), (*m).clone()))
                    && reach.contains(&((*m).clone(), n.clone()))
            })
            .cloned()
            .collect();
        c.insert(n.clone());
        c
    };
    // Effective edges: between members of different components, with the spec merged over all
    // edges between the two components; none inside a component.
    let mut between: BTreeMap<(BTreeSet<String>, BTreeSet<String>), Spec> = BTreeMap::new();
    for ((s, d), spec) in &edges {
        let (cs, cd) = (component(s), component(d));
        if cs == cd {
            continue;
        }
        between
            .entry((cs, cd))
            .and_modify(|e| *e = merge(e, spec))
            .or_insert_with(|| spec.clone());
    }
    let mut effective: Vec<(String, String, Spec)> = Vec::new();
    for ((cs, cd), spec) in &between {
        for s in cs {
            for d in cd {
                effective.push((s.clone(), d.clone(), spec.clone()));
            }
        }
    }

    // 3. Fixed point over grants keyed by id.
    let mut grants: BTreeMap<String, Expected> = inputs
        .iter()
        .map(|g| {
            (
                g.id.clone(),
                Expected {
                    entitlement: g.entitlement.clone(),
                    principal: g.principal.clone(),
                    sources: g.sources.clone(),
                    immutable: false,
                    expandable: g.expandable.as_ref().is_some_and(|(s, _, _)| !s.is_empty()),
                },
            )
        })
        .collect();
    loop {
        let before = grants.clone();
        for (s, d, (shallow, types)) in &effective {
            let holders: Vec<((String, String), bool)> = grants
                .values()
                .filter(|g| &g.entitlement == s)
                .filter(|g| types.as_ref().is_none_or(|t| t.contains(&g.principal.0)))
                .map(|g| {
                    (
                        g.principal.clone(),
                        g.sources.is_empty() || g.sources.contains_key(s),
                    )
                })
                .filter(|(_, direct)| !shallow || *direct)
                .collect();
            for (principal, direct) in holders {
                let targets: Vec<String> = grants
                    .iter()
                    .filter(|(_, g)| &g.entitlement == d && g.principal == principal)
                    .map(|(id, _)| id.clone())
                    .collect();
                if targets.is_empty() {
                    grants.insert(
                        format!("{d}:{}:{}", principal.0, principal.1),
                        Expected {
                            entitlement: d.clone(),
                            principal,
                            sources: BTreeMap::from([(s.clone(), direct)]),
                            immutable: true,
                            expandable: false,
                        },
                    );
                    continue;
                }
                for id in targets {
                    let g = grants.get_mut(&id).unwrap();
                    if g.sources.is_empty() {
                        g.sources.insert(d.clone(), true);
                    }
                    let entry = g.sources.entry(s.clone()).or_insert(direct);
                    *entry |= direct;
                }
            }
        }
        if grants == before {
            return grants;
        }
    }
}

/// What the file holds, in the reference's terms.
fn actual(path: &std::path::Path, sync_id: &str) -> BTreeMap<String, Expected> {
    let reader = C1zReader::open(path).unwrap();
    reader
        .grants(sync_id)
        .unwrap()
        .into_iter()
        .map(|g| {
            let principal = g.principal.as_ref().and_then(|p| p.id.clone()).unwrap();
            let expected = Expected {
                entitlement: g.entitlement.as_ref().unwrap().id.clone(),
                principal: (principal.resource_type, principal.resource),
                sources: g
                    .sources
                    .as_ref()
                    .map(|s| {
                        s.sources
                            .iter()
                            .map(|(k, v)| (k.clone(), v.is_direct))
                            .collect()
                    })
                    .unwrap_or_default(),
                immutable: annotations::has::<pb::GrantImmutable>(&g.annotations),
                expandable: annotations::has::<pb::GrantExpandable>(&g.annotations),
            };
            (g.id, expected)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 96,
        failure_persistence: None,
        .. ProptestConfig::default()
    })]

    #[test]
    fn expansion_matches_the_fixed_point_reference(org in org()) {
        let dir = tempfile::tempdir().unwrap();
        let expected = reference(&org);
        // Grant ids all of the form `<entitlement>:<type>:<id>`: expansion may hold its new
        // grants and write the table again (other ids make it write as it goes).
        let regular = org.grants().iter().all(|g| !g.id.contains('#'));
        for hold in [None, Some(false), Some(true)] {
            let rewrite = hold == Some(true);
            let path = dir.path().join(format!("sync-{hold:?}.c1z"));
            let finished = org.write(&path, hold);
            let got = actual(&path, &finished.sync_id);
            let missing: Vec<&String> =
                expected.keys().filter(|k| !got.contains_key(*k)).collect();
            let extra: Vec<&String> = got.keys().filter(|k| !expected.contains_key(*k)).collect();
            prop_assert!(
                missing.is_empty() && extra.is_empty(),
                "hold {hold:?}: missing {missing:?}, extra {extra:?}"
            );
            for (id, want) in &expected {
                prop_assert_eq!(&got[id], want, "hold {:?}: grant {}", hold, id);
            }
            let created = expected.values().filter(|g| g.immutable).count() as u64;
            prop_assert_eq!(finished.expansion.grants_created, created);
            prop_assert_eq!(finished.stats.grants, expected.len() as u64);
            // Rewritten only when asked and the ids allow it; always then, if anything is new.
            let rewritten = finished.expansion.grants_table_rewritten;
            prop_assert!(!rewritten || (rewrite && regular));
            prop_assert!(rewritten || !(rewrite && regular && created > 0));
        }
    }
}
