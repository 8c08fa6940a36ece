//! The entitlement graph of one sync: edges "holders of S also hold D", merged, with cycles
//! collapsed, turned into the order in which destinations are expanded.

use std::collections::{BTreeMap, HashMap};

/// What an edge S → D carries over: which of S's holders, and only direct ones or all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EdgeSpec {
    /// Only holders whose grant on S is direct (`GrantExpandable.shallow`).
    pub(crate) shallow: bool,
    /// Only holders of these principal resource types; `None` for every type (an empty
    /// `resource_type_ids`). Sorted and unique.
    pub(crate) types: Option<Vec<String>>,
}

impl EdgeSpec {
    pub(crate) fn new(shallow: bool, resource_type_ids: &[String]) -> Self {
        let types = if resource_type_ids.is_empty() {
            None
        } else {
            let mut types = resource_type_ids.to_vec();
            types.sort_unstable();
            types.dedup();
            Some(types)
        };
        Self { shallow, types }
    }

    /// Merges a second edge between the same two nodes the way the SDK does (its current
    /// `AddEdge` and cycle merge): deep wins over shallow, unfiltered over filtered, and two
    /// filters give their union.
    pub(crate) fn merge(&mut self, other: &EdgeSpec) {
        self.shallow &= other.shallow;
        self.types = match (self.types.take(), &other.types) {
            (Some(mut mine), Some(theirs)) => {
                mine.extend(theirs.iter().cloned());
                mine.sort_unstable();
                mine.dedup();
                Some(mine)
            }
            _ => None,
        };
    }

    /// Whether a holder of principal type `principal_type` passes the type filter.
    pub(crate) fn admits(&self, principal_type: &str) -> bool {
        self.types
            .as_ref()
            .is_none_or(|types| types.iter().any(|t| t == principal_type))
    }
}

/// Edges between entitlement ids, as collected from the expandable grants.
#[derive(Debug, Default)]
pub(crate) struct Graph {
    ids: Vec<String>,
    index: HashMap<String, u32>,
    /// Keyed by (source, destination) node.
    edges: BTreeMap<(u32, u32), EdgeSpec>,
}

/// One destination to expand and everything it receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Step {
    /// The destination entitlement id.
    pub(crate) destination: String,
    /// Its incoming edges: source entitlement id and spec, sorted by source id.
    pub(crate) inputs: Vec<(String, EdgeSpec)>,
}

/// The order of work: destinations in topological order (every source of a destination is
/// complete before the destination is expanded), in rounds of destinations that do not feed
/// each other, each round in entitlement id order; and the cycles that were collapsed.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    pub(crate) steps: Vec<Step>,
    /// The entitlement ids of each collapsed cycle, sorted.
    pub(crate) cycles: Vec<Vec<String>>,
}

impl Graph {
    fn node(&mut self, id: &str) -> u32 {
        if let Some(&n) = self.index.get(id) {
            return n;
        }
        let n = self.ids.len() as u32;
        self.ids.push(id.to_owned());
        self.index.insert(id.to_owned(), n);
        n
    }

    /// Adds the edge `source → destination`; a second edge between the same two entitlements is
    /// merged into the first ([`EdgeSpec::merge`]). Returns whether the edge is new.
    pub(crate) fn add_edge(&mut self, source: &str, destination: &str, spec: EdgeSpec) -> bool {
        let s = self.node(source);
        let d = self.node(destination);
        if let Some(existing) = self.edges.get_mut(&(s, d)) {
            existing.merge(&spec);
            return false;
        }
        self.edges.insert((s, d), spec);
        true
    }

    /// Number of distinct edges.
    pub(crate) fn edge_count(&self) -> usize {
        self.edges.len()
    }

    /// Collapses the cycles and orders the destinations.
    ///
    /// Cycles are collapsed as the SDK does: the entitlements of each strongly connected
    /// component with more than one node, or with an edge to itself, become one node; the edges
    /// between members are dropped (members do not receive each other's holders), and the edges
    /// between a member and an outside node are merged into one edge per outside node. Each
    /// member of a collapsed node is then a source of every outgoing edge and a destination of
    /// every incoming one.
    ///
    /// Time and memory are linear in nodes plus edges (plus, for a collapsed node, members times
    /// its neighbours).
    pub(crate) fn plan(self) -> Plan {
        let Graph { ids, edges, .. } = self;
        let n = ids.len();
        // Number the nodes in entitlement id order, so that every tie below is broken by id.
        let mut order: Vec<u32> = (0..n as u32).collect();
        order.sort_unstable_by(|&a, &b| ids[a as usize].cmp(&ids[b as usize]));
        let mut rank = vec![0u32; n];
        for (r, &node) in order.iter().enumerate() {
            rank[node as usize] = r as u32;
        }
        let ids: Vec<String> = order
            .iter()
            .map(|&node| ids[node as usize].clone())
            .collect();
        let edges: BTreeMap<(u32, u32), EdgeSpec> = edges
            .into_iter()
            .map(|((s, d), spec)| ((rank[s as usize], rank[d as usize]), spec))
            .collect();

        let mut out_edges: Vec<Vec<u32>> = vec![Vec::new(); n];
        for &(s, d) in edges.keys() {
            out_edges[s as usize].push(d);
        }
        let component = strongly_connected(&out_edges);
        let components = component.iter().map(|&c| c as usize + 1).max().unwrap_or(0);
        let mut members: Vec<Vec<u32>> = vec![Vec::new(); components];
        for (node, &c) in component.iter().enumerate() {
            members[c as usize].push(node as u32);
        }
        let mut cyclic = vec![false; components];
        for (c, m) in members.iter().enumerate() {
            cyclic[c] = m.len() > 1;
        }
        for &(s, d) in edges.keys() {
            if s == d {
                cyclic[component[s as usize] as usize] = true;
            }
        }

        // Edges between components; those inside a component are dropped.
        let mut condensed: BTreeMap<(u32, u32), EdgeSpec> = BTreeMap::new();
        for ((s, d), spec) in edges {
            let (cs, cd) = (component[s as usize], component[d as usize]);
            if cs == cd {
                continue;
            }
            condensed
                .entry((cs, cd))
                .and_modify(|e| e.merge(&spec))
                .or_insert(spec);
        }

        // Kahn's algorithm over the components, in rounds: each round takes every component
        // whose sources were all expanded in earlier rounds, in order of its smallest member
        // id. Destinations of one round do not feed each other, and expanding them in id order
        // makes the new grants' keys in the entitlement and grant id indexes follow each other
        // through the round (one sweep per round) instead of jumping to wherever the next
        // ready destination sorts (see `docs/performance.md`).
        let first = |c: u32| members[c as usize][0];
        let mut incoming: Vec<Vec<(u32, &EdgeSpec)>> = vec![Vec::new(); components];
        let mut outgoing: Vec<Vec<u32>> = vec![Vec::new(); components];
        let mut pending = vec![0usize; components];
        for (&(cs, cd), spec) in &condensed {
            incoming[cd as usize].push((cs, spec));
            outgoing[cs as usize].push(cd);
            pending[cd as usize] += 1;
        }
        let mut round: Vec<u32> = (0..components as u32)
            .filter(|&c| pending[c as usize] == 0)
            .collect();
        let mut steps = Vec::new();
        while !round.is_empty() {
            round.sort_unstable_by_key(|&c| first(c));
            let mut next_round = Vec::new();
            for c in round {
                if !incoming[c as usize].is_empty() {
                    let mut inputs: Vec<(u32, &EdgeSpec)> = incoming[c as usize]
                        .iter()
                        .flat_map(|&(cs, spec)| {
                            members[cs as usize].iter().map(move |&s| (s, spec))
                        })
                        .collect();
                    inputs.sort_unstable_by_key(|&(s, _)| s);
                    for &d in &members[c as usize] {
                        steps.push(Step {
                            destination: ids[d as usize].clone(),
                            inputs: inputs
                                .iter()
                                .map(|&(s, spec)| (ids[s as usize].clone(), spec.clone()))
                                .collect(),
                        });
                    }
                }
                for &next in &outgoing[c as usize] {
                    pending[next as usize] -= 1;
                    if pending[next as usize] == 0 {
                        next_round.push(next);
                    }
                }
            }
            round = next_round;
        }
        let cycles = members
            .iter()
            .zip(&cyclic)
            .filter(|(_, cyclic)| **cyclic)
            .map(|(m, _)| m.iter().map(|&node| ids[node as usize].clone()).collect())
            .collect();
        Plan { steps, cycles }
    }
}

/// Tarjan's strongly connected components, without recursion. Returns each node's component;
/// nodes of one component share a number.
fn strongly_connected(out_edges: &[Vec<u32>]) -> Vec<u32> {
    const UNSEEN: u32 = u32::MAX;
    let n = out_edges.len();
    let mut index = vec![UNSEEN; n];
    let mut low = vec![0u32; n];
    let mut on_stack = vec![false; n];
    let mut component = vec![UNSEEN; n];
    let mut stack: Vec<u32> = Vec::new();
    // (node, position of the next edge to follow)
    let mut calls: Vec<(u32, usize)> = Vec::new();
    let mut next_index = 0u32;
    let mut next_component = 0u32;
    for root in 0..n as u32 {
        if index[root as usize] != UNSEEN {
            continue;
        }
        calls.push((root, 0));
        while let Some(top) = calls.last_mut() {
            let (v, edge) = *top;
            let vi = v as usize;
            if edge == 0 && index[vi] == UNSEEN {
                index[vi] = next_index;
                low[vi] = next_index;
                next_index += 1;
                stack.push(v);
                on_stack[vi] = true;
            }
            if let Some(&w) = out_edges[vi].get(edge) {
                top.1 += 1;
                let wi = w as usize;
                if index[wi] == UNSEEN {
                    calls.push((w, 0));
                } else if on_stack[wi] {
                    low[vi] = low[vi].min(index[wi]);
                }
                continue;
            }
            calls.pop();
            if let Some(&(parent, _)) = calls.last() {
                let pi = parent as usize;
                low[pi] = low[pi].min(low[vi]);
            }
            if low[vi] == index[vi] {
                while let Some(w) = stack.pop() {
                    on_stack[w as usize] = false;
                    component[w as usize] = next_component;
                    if w == v {
                        break;
                    }
                }
                next_component += 1;
            }
        }
    }
    component
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deep() -> EdgeSpec {
        EdgeSpec::new(false, &[])
    }

    fn plan(edges: &[(&str, &str)]) -> Plan {
        let mut graph = Graph::default();
        for (s, d) in edges {
            graph.add_edge(s, d, deep());
        }
        graph.plan()
    }

    fn shape(plan: &Plan) -> Vec<(String, Vec<String>)> {
        plan.steps
            .iter()
            .map(|s| {
                (
                    s.destination.clone(),
                    s.inputs.iter().map(|(i, _)| i.clone()).collect(),
                )
            })
            .collect()
    }

    fn owned(steps: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
        steps
            .iter()
            .map(|(d, i)| ((*d).to_owned(), i.iter().map(|s| (*s).to_owned()).collect()))
            .collect()
    }

    #[test]
    fn a_chain_is_expanded_from_its_start() {
        let p = plan(&[("c", "d"), ("a", "b"), ("b", "c")]);
        assert_eq!(
            shape(&p),
            owned(&[("b", &["a"]), ("c", &["b"]), ("d", &["c"])])
        );
        assert!(p.cycles.is_empty());
    }

    #[test]
    fn a_destination_waits_for_all_its_sources() {
        // z depends on a (early) and on y, which depends on x.
        let p = plan(&[("a", "z"), ("x", "y"), ("y", "z")]);
        assert_eq!(shape(&p), owned(&[("y", &["x"]), ("z", &["a", "y"])]));
    }

    #[test]
    fn destinations_go_in_rounds_each_in_id_order() {
        // Two chains: a → m → b and c → z. Round one: m and z (their sources are sources
        // only); round two: b. Taking the smallest ready id at every turn would do m, b, z.
        let p = plan(&[("a", "m"), ("m", "b"), ("c", "z")]);
        assert_eq!(
            shape(&p),
            owned(&[("m", &["a"]), ("z", &["c"]), ("b", &["m"])])
        );
    }

    #[test]
    fn a_cycle_collapses_and_its_members_do_not_feed_each_other() {
        // s → a ⇄ b → d, and a self-loop on e (dropped).
        let p = plan(&[("s", "a"), ("a", "b"), ("b", "a"), ("b", "d"), ("e", "e")]);
        assert_eq!(
            shape(&p),
            owned(&[("a", &["s"]), ("b", &["s"]), ("d", &["a", "b"])])
        );
        assert_eq!(
            p.cycles,
            vec![vec!["a".to_owned(), "b".to_owned()], vec!["e".to_owned()]]
        );
    }

    #[test]
    fn duplicate_edges_merge_deep_and_unfiltered_wins() {
        let mut spec = EdgeSpec::new(true, &["user".into()]);
        spec.merge(&EdgeSpec::new(true, &["team".into(), "user".into()]));
        assert_eq!(spec, EdgeSpec::new(true, &["team".into(), "user".into()]));
        spec.merge(&EdgeSpec::new(false, &["group".into()]));
        assert!(!spec.shallow);
        assert_eq!(spec.types.as_deref().map(<[String]>::len), Some(3));
        spec.merge(&EdgeSpec::new(true, &[]));
        assert_eq!(spec, EdgeSpec::new(false, &[]));
        assert!(spec.admits("anything"));

        let mut graph = Graph::default();
        assert!(graph.add_edge("a", "b", EdgeSpec::new(true, &["user".into()])));
        assert!(!graph.add_edge("a", "b", EdgeSpec::new(true, &["team".into()])));
        assert_eq!(graph.edge_count(), 1);
        let p = graph.plan();
        assert_eq!(
            p.steps[0].inputs[0].1,
            EdgeSpec::new(true, &["team".into(), "user".into()])
        );
    }

    #[test]
    fn edges_into_a_cycle_merge_per_outside_node() {
        // x reaches the cycle {a, b} twice, once shallow, once deep: one deep edge.
        let mut graph = Graph::default();
        graph.add_edge("x", "a", EdgeSpec::new(true, &["user".into()]));
        graph.add_edge("x", "b", EdgeSpec::new(false, &["team".into()]));
        graph.add_edge("a", "b", deep());
        graph.add_edge("b", "a", deep());
        let p = graph.plan();
        let merged = EdgeSpec::new(false, &["team".into(), "user".into()]);
        assert_eq!(p.steps.len(), 2);
        for step in &p.steps {
            assert_eq!(step.inputs, vec![("x".to_owned(), merged.clone())]);
        }
    }

    #[test]
    fn long_chains_need_no_recursion() {
        let ids: Vec<String> = (0..200_000).map(|i| format!("e{i:06}")).collect();
        let mut graph = Graph::default();
        for w in ids.windows(2) {
            graph.add_edge(&w[0], &w[1], deep());
        }
        // Close it into one big cycle.
        graph.add_edge(&ids[ids.len() - 1], &ids[0], deep());
        let p = graph.plan();
        assert!(p.steps.is_empty());
        assert_eq!(p.cycles.len(), 1);
        assert_eq!(p.cycles[0].len(), ids.len());
    }
}
