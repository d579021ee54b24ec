//! The dependency graph of a project's services: start levels, the reverse
//! for stopping, the closure of a selected subset, and the services a restart
//! propagates to.
//!
//! Only enabled services are nodes; a `depends_on` entry naming a service
//! that is not enabled (an optional dependency left out by profiles) is
//! ignored. The loader has already rejected cycles; should one reach here
//! anyway, its services land in a final level rather than looping.

use std::collections::{HashMap, HashSet};

use indexmap::{IndexMap, IndexSet};

use super::model::Project;
use super::select::NoSuchService;

/// Services grouped into levels: every service's dependencies sit in earlier levels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DependencyGraph {
    levels: Vec<Vec<String>>,
    /// service → the services it depends on (enabled ones only), spec order.
    dependencies: IndexMap<String, Vec<String>>,
    /// service → the services that depend on it with `restart: true`.
    restart_dependents: IndexMap<String, Vec<String>>,
}

impl DependencyGraph {
    /// Builds the graph of `project` (validated: no cycles, no unknown names).
    pub fn new(project: &Project) -> DependencyGraph {
        let dependencies: IndexMap<String, Vec<String>> = project
            .services
            .iter()
            .map(|(name, service)| {
                let deps = service
                    .depends_on
                    .keys()
                    .filter(|d| project.services.contains_key(*d) && *d != name)
                    .cloned()
                    .collect();
                (name.clone(), deps)
            })
            .collect();
        let mut restart_dependents: IndexMap<String, Vec<String>> = project
            .services
            .keys()
            .map(|n| (n.clone(), Vec::new()))
            .collect();
        for (name, service) in &project.services {
            for (dep, dependency) in &service.depends_on {
                if dependency.restart {
                    if let Some(list) = restart_dependents.get_mut(dep) {
                        list.push(name.clone());
                    }
                }
            }
        }
        let levels = levels_of(&dependencies);
        DependencyGraph {
            levels,
            dependencies,
            restart_dependents,
        }
    }

    /// Start order: level 0 has no dependencies; services within a level are
    /// independent, in spec order.
    pub fn start_levels(&self) -> &[Vec<String>] {
        &self.levels
    }

    /// The services a service depends on (enabled ones), in spec order.
    pub(crate) fn dependencies_of(&self, service: &str) -> &[String] {
        self.dependencies
            .get(service)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// `selected` plus everything they depend on, transitively, in start
    /// order (level by level, spec order within a level). An unknown name is
    /// an error.
    pub fn closure(&self, selected: &[String]) -> Result<IndexSet<String>, NoSuchService> {
        let mut wanted: IndexSet<String> = IndexSet::new();
        let mut stack: Vec<String> = Vec::new();
        for name in selected {
            if !self.dependencies.contains_key(name) {
                let known: Vec<&str> = self.dependencies.keys().map(String::as_str).collect();
                return Err(NoSuchService {
                    name: name.clone(),
                    hint: format!(" (services: {})", known.join(", ")),
                });
            }
            stack.push(name.clone());
        }
        while let Some(name) = stack.pop() {
            if wanted.insert(name.clone()) {
                stack.extend(self.dependencies_of(&name).iter().cloned());
            }
        }
        Ok(self
            .levels
            .iter()
            .flatten()
            .filter(|s| wanted.contains(*s))
            .cloned()
            .collect())
    }

    /// The services that must restart when `service` restarts: those that
    /// depend on it with `restart: true`, transitively, in start order.
    pub fn dependents_with_restart(&self, service: &str) -> Vec<String> {
        let mut found: IndexSet<String> = IndexSet::new();
        let mut stack = vec![service.to_string()];
        while let Some(name) = stack.pop() {
            for dependent in self.restart_dependents.get(&name).into_iter().flatten() {
                if dependent != service && found.insert(dependent.clone()) {
                    stack.push(dependent.clone());
                }
            }
        }
        self.levels
            .iter()
            .flatten()
            .filter(|s| found.contains(*s))
            .cloned()
            .collect()
    }

    /// `services` plus, transitively, the services that depend on one of
    /// them with `restart: true`, in start order (what `restart SERVICE…`
    /// restarts); empty stays empty (the whole project).
    pub fn with_restart_dependents(&self, services: &[String]) -> Vec<String> {
        let mut wanted: IndexSet<String> = services.iter().cloned().collect();
        for service in services {
            wanted.extend(self.dependents_with_restart(service));
        }
        self.levels
            .iter()
            .flatten()
            .filter(|s| wanted.contains(*s))
            .cloned()
            .collect()
    }

    /// `services` in dependency order, as compose prints them (a service
    /// after the services it depends on), otherwise in the given order: each
    /// service's dependencies, depth first, then the service.
    pub fn dependency_order<'a>(&self, services: impl Iterator<Item = &'a String>) -> Vec<String> {
        let mut out = IndexSet::new();
        for name in services {
            self.visit_in_dependency_order(name, &mut out);
        }
        out.into_iter().collect()
    }

    fn visit_in_dependency_order(&self, name: &str, out: &mut IndexSet<String>) {
        if out.contains(name) {
            return;
        }
        // Marked before its dependencies: a cycle (already refused) cannot loop.
        out.insert(name.to_string());
        let at = out.len() - 1;
        for dep in self.dependencies_of(name) {
            self.visit_in_dependency_order(dep, out);
        }
        // Move the service after the dependencies just added.
        out.move_index(at, out.len() - 1);
    }
}

/// Everything reachable from `start` along `edges` (`start` itself left
/// out; cycles end): e.g. the services a service depends on, directly or
/// transitively, in a graph read from containers' labels.
pub fn reachable(start: &str, edges: &HashMap<String, HashSet<String>>) -> HashSet<String> {
    let mut seen: HashSet<String> = HashSet::new();
    let mut todo: Vec<&str> = vec![start];
    while let Some(s) = todo.pop() {
        for next in edges.get(s).into_iter().flatten() {
            if seen.insert(next.clone()) {
                todo.push(next);
            }
        }
    }
    seen.remove(start);
    seen
}

/// Level of a service = 1 + the highest level among its dependencies
/// (0 without any), computed by an iterative depth-first walk in O(V + E);
/// services of a level keep spec order. Services on a cycle (which validation
/// rejects before this) go to a final level rather than looping.
fn levels_of(dependencies: &IndexMap<String, Vec<String>>) -> Vec<Vec<String>> {
    const UNVISITED: usize = usize::MAX;
    const IN_PROGRESS: usize = usize::MAX - 1;
    const ON_CYCLE: usize = usize::MAX - 2;
    let edges: Vec<Vec<usize>> = dependencies
        .values()
        .map(|deps| {
            deps.iter()
                .filter_map(|d| dependencies.get_index_of(d))
                .collect()
        })
        .collect();
    let mut level = vec![UNVISITED; edges.len()];
    for start in 0..edges.len() {
        if level[start] != UNVISITED {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        level[start] = IN_PROGRESS;
        while let Some((node, next)) = stack.last().copied() {
            if let Some(&dep) = edges[node].get(next) {
                if let Some(top) = stack.last_mut() {
                    top.1 += 1;
                }
                match level[dep] {
                    UNVISITED => {
                        level[dep] = IN_PROGRESS;
                        stack.push((dep, 0));
                    }
                    IN_PROGRESS => level[dep] = ON_CYCLE,
                    _ => {}
                }
                continue;
            }
            stack.pop();
            let mut mine = 0;
            for &dep in &edges[node] {
                match level[dep] {
                    IN_PROGRESS | ON_CYCLE | UNVISITED => mine = ON_CYCLE,
                    l if mine != ON_CYCLE => mine = mine.max(l + 1),
                    _ => {}
                }
            }
            level[node] = if level[node] == ON_CYCLE {
                ON_CYCLE
            } else {
                mine
            };
        }
    }
    let finite = level
        .iter()
        .filter(|l| **l < ON_CYCLE)
        .max()
        .map(|m| m + 1)
        .unwrap_or(0);
    let has_cycle = level.iter().any(|l| *l >= ON_CYCLE);
    let mut levels: Vec<Vec<String>> = vec![Vec::new(); finite + usize::from(has_cycle)];
    for (i, name) in dependencies.keys().enumerate() {
        let slot = if level[i] >= ON_CYCLE {
            finite
        } else {
            level[i]
        };
        levels[slot].push(name.clone());
    }
    levels.retain(|l| !l.is_empty());
    levels
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::model::{Dependency, Service};

    fn project(edges: &[(&str, &[(&str, bool)])]) -> Project {
        let mut project = Project::default();
        for (name, deps) in edges {
            let mut service = Service {
                name: name.to_string(),
                ..Service::default()
            };
            for (dep, restart) in deps.iter() {
                service.depends_on.insert(
                    dep.to_string(),
                    Dependency {
                        restart: *restart,
                        ..Dependency::default()
                    },
                );
            }
            project.services.insert(name.to_string(), service);
        }
        project
    }

    fn torq_like() -> Project {
        project(&[
            ("market_data_relay", &[]),
            ("signal_relay", &[]),
            ("execution_relay", &[]),
            ("polygon_adapter", &[("market_data_relay", true)]),
            ("kraken_adapter", &[("market_data_relay", false)]),
            (
                "flash_arbitrage",
                &[
                    ("market_data_relay", false),
                    ("signal_relay", false),
                    ("execution_relay", false),
                ],
            ),
            (
                "dashboard_websocket",
                &[("flash_arbitrage", false), ("polygon_adapter", true)],
            ),
        ])
    }

    #[test]
    fn start_levels_keep_spec_order() {
        let graph = DependencyGraph::new(&torq_like());
        assert_eq!(
            graph.start_levels(),
            &[
                vec!["market_data_relay", "signal_relay", "execution_relay"],
                vec!["polygon_adapter", "kraken_adapter", "flash_arbitrage"],
                vec!["dashboard_websocket"],
            ]
        );
    }

    #[test]
    fn stop_levels_are_reversed() {
        let graph = DependencyGraph::new(&torq_like());
        let stop: Vec<&Vec<String>> = graph.start_levels().iter().rev().collect();
        assert_eq!(stop[0], &vec!["dashboard_websocket".to_string()]);
        assert_eq!(stop.len(), 3);
    }

    #[test]
    fn closure_adds_dependencies_in_start_order() {
        let graph = DependencyGraph::new(&torq_like());
        let closure = graph.closure(&["flash_arbitrage".to_string()]).unwrap();
        assert_eq!(
            closure.into_iter().collect::<Vec<_>>(),
            vec![
                "market_data_relay",
                "signal_relay",
                "execution_relay",
                "flash_arbitrage"
            ]
        );
        let err = graph.closure(&["nope".to_string()]).unwrap_err();
        assert!(
            err.to_string().starts_with("no such service: nope"),
            "{err}"
        );
    }

    #[test]
    fn restart_propagates_transitively() {
        let graph = DependencyGraph::new(&torq_like());
        assert_eq!(
            graph.dependents_with_restart("market_data_relay"),
            vec!["polygon_adapter", "dashboard_websocket"]
        );
        assert!(graph.dependents_with_restart("signal_relay").is_empty());
    }

    #[test]
    fn dependencies_on_disabled_services_are_ignored() {
        let graph = DependencyGraph::new(&project(&[("web", &[("optional", false)])]));
        assert_eq!(graph.start_levels(), &[vec!["web"]]);
    }

    #[test]
    fn a_cycle_does_not_hang() {
        let graph =
            DependencyGraph::new(&project(&[("a", &[("b", false)]), ("b", &[("a", false)])]));
        assert_eq!(graph.start_levels().len(), 1);
    }
}
