//! Planning `torq down`: stop every running container of the project in
//! reverse dependency order (a container stops after the containers that
//! depend on it), in parallel otherwise, remove them all, then the project's
//! networks and, with `-v`, its named volumes.
//!
//! The order comes from the containers' own `com.docker.compose.depends_on`
//! labels, so `down` needs no spec and handles orphans (services no longer
//! in the spec) like any other container. `--force` kills and removes
//! everything at once.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use super::{order, required, ContainerRef, Edge, Op, Plan, StepId};
use crate::compose::graph::reachable;
use crate::engine::labels;
use crate::engine::state::{ObservedContainer, ProjectState};

/// Options of `down` (and of the stop half of `restart`).
#[derive(Debug, Clone, Default)]
pub(crate) struct DownOptions {
    /// Grace period before SIGKILL for every container (`-t`); `None`: each
    /// container's own stop timeout (its `stop_grace_period`, else 10 s).
    pub grace: Option<Duration>,
    /// Remove the project's named volumes too.
    pub volumes: bool,
    /// Kill and remove everything at once.
    pub force: bool,
    /// Only these services' containers (and no networks or volumes); `None`: all.
    pub services: Option<Vec<String>>,
}

/// The names of a container's anonymous volumes.
pub(crate) fn anonymous_volume_names(c: &ObservedContainer) -> Vec<String> {
    c.anonymous_volumes.iter().map(|v| v.name.clone()).collect()
}

/// The services a container's `depends_on` label names.
pub(crate) fn label_dependencies(c: &ObservedContainer) -> Vec<String> {
    c.labels
        .get(labels::DEPENDS_ON)
        .map(|v| {
            v.split(',')
                .filter_map(|entry| entry.split(':').next())
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// Builds the plan of `torq down`.
pub(crate) fn plan_down(state: &ProjectState, options: &DownOptions) -> Plan {
    let mut plan = Plan::default();
    let containers: Vec<&ObservedContainer> = state
        .containers
        .iter()
        .filter(|c| {
            options
                .services
                .as_ref()
                .is_none_or(|s| s.iter().any(|name| name == &c.service))
        })
        .collect();
    let mut per_service: HashMap<&str, usize> = HashMap::new();
    for c in &containers {
        *per_service.entry(c.service.as_str()).or_default() += 1;
    }
    let subject = |c: &ObservedContainer| {
        if per_service.get(c.service.as_str()).copied().unwrap_or(0) > 1 {
            format!("{}-{}", c.service, c.number)
        } else if c.service.is_empty() {
            c.name.clone()
        } else {
            c.service.clone()
        }
    };

    let mut removals: Vec<StepId> = Vec::new();
    if options.force {
        for c in &containers {
            removals.push(plan.push(
                subject(c),
                Op::RemoveContainer {
                    service: c.service.clone(),
                    container: container_ref(c),
                    force: true,
                    keep_anonymous_volumes: false,
                    anonymous_volumes: anonymous_volume_names(c),
                },
                Vec::new(),
                None,
            ));
        }
    } else {
        // Stops first, without edges; then the reverse-dependency edges.
        let mut stops: HashMap<&str, Vec<StepId>> = HashMap::new();
        let mut stop_of: Vec<(StepId, &ObservedContainer)> = Vec::new();
        for c in containers.iter().filter(|c| c.is_running()) {
            let step = plan.push(
                subject(c),
                Op::StopContainer {
                    service: c.service.clone(),
                    container: container_ref(c),
                    grace: options.grace,
                },
                Vec::new(),
                None,
            );
            stops.entry(c.service.as_str()).or_default().push(step);
            stop_of.push((step, c));
        }
        // What each running container depends on, directly or through other
        // services — also through containers that no longer run (an exited
        // `init` between `app` and `db` still stops `app` before `db`, as
        // compose does).
        let direct = direct_dependencies(state);
        let closures: Vec<HashSet<String>> = stop_of
            .iter()
            .map(|(_, c)| reachable(&c.service, &direct))
            .collect();
        for (step, c) in &stop_of {
            let dependents: Vec<Edge> = stop_of
                .iter()
                .zip(&closures)
                .filter(|(_, deps)| deps.contains(&c.service))
                .map(|((other_step, _), _)| order(*other_step))
                .collect();
            plan.steps[*step].after.extend(dependents);
        }
        for c in &containers {
            let stop = stop_of
                .iter()
                .find(|(_, other)| other.id == c.id)
                .map(|(s, _)| required(*s));
            removals.push(plan.push(
                subject(c),
                Op::RemoveContainer {
                    service: c.service.clone(),
                    container: container_ref(c),
                    force: false,
                    keep_anonymous_volumes: false,
                    anonymous_volumes: anonymous_volume_names(c),
                },
                stop.into_iter().collect(),
                None,
            ));
        }
    }

    if options.services.is_none() {
        let after_removals: Vec<Edge> = removals.iter().map(|r| order(*r)).collect();
        for n in &state.networks {
            plan.push(
                format!("network {}", n.name),
                Op::RemoveNetwork {
                    id: n.id.clone(),
                    name: n.name.clone(),
                },
                after_removals.clone(),
                None,
            );
        }
        if options.volumes {
            for v in &state.volumes {
                plan.push(
                    format!("volume {}", v.name),
                    Op::RemoveVolume {
                        name: v.name.clone(),
                    },
                    after_removals.clone(),
                    None,
                );
            }
        }
    }
    plan.sort_topologically();
    plan
}

/// Each service's direct dependencies, from all of the project's containers' labels.
fn direct_dependencies(state: &ProjectState) -> HashMap<String, HashSet<String>> {
    let mut direct: HashMap<String, HashSet<String>> = HashMap::new();
    for c in &state.containers {
        direct
            .entry(c.service.clone())
            .or_default()
            .extend(label_dependencies(c));
    }
    direct
}

fn container_ref(c: &ObservedContainer) -> ContainerRef {
    ContainerRef {
        id: c.id.clone(),
        name: c.name.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::state::{ObservedNetwork, ObservedVolume, RunState};
    use crate::plan::EdgeKind;

    fn container(
        service: &str,
        number: u32,
        depends_on: &str,
        state: RunState,
    ) -> ObservedContainer {
        ObservedContainer {
            id: format!("id-{service}-{number}"),
            name: format!("demo-{service}-{number}"),
            service: service.into(),
            number,
            state,
            labels: HashMap::from([
                (labels::PROJECT.to_string(), "demo".to_string()),
                (labels::DEPENDS_ON.to_string(), depends_on.to_string()),
            ]),
            ..Default::default()
        }
    }

    fn state() -> ProjectState {
        ProjectState {
            project: "demo".into(),
            containers: vec![
                container("db", 1, "", RunState::Running),
                container("api", 1, "db:service_healthy:false", RunState::Running),
                container("api", 2, "db:service_healthy:false", RunState::Running),
                container(
                    "web",
                    1,
                    "api:service_started:false,db:service_started:true",
                    RunState::Running,
                ),
                container("old", 1, "", RunState::Exited),
            ],
            networks: vec![ObservedNetwork {
                id: "n1".into(),
                name: "demo_default".into(),
                ..Default::default()
            }],
            volumes: vec![ObservedVolume {
                name: "demo_data".into(),
                ..Default::default()
            }],
        }
    }

    fn step<'a>(plan: &'a Plan, describe: &str) -> &'a super::super::Step {
        plan.steps
            .iter()
            .find(|s| s.op.describe() == describe)
            .unwrap_or_else(|| panic!("no `{describe}` in\n{plan}"))
    }

    fn after(plan: &Plan, from: &str, on: &str) -> Option<EdgeKind> {
        let on = step(plan, on).id;
        step(plan, from)
            .after
            .iter()
            .find(|e| e.on == on)
            .map(|e| e.kind)
    }

    #[test]
    fn stops_follow_reverse_dependency_order() {
        let plan = plan_down(&state(), &DownOptions::default());
        assert_eq!(
            after(&plan, "stop demo-db-1", "stop demo-api-1"),
            Some(EdgeKind::Order)
        );
        assert_eq!(
            after(&plan, "stop demo-db-1", "stop demo-api-2"),
            Some(EdgeKind::Order)
        );
        assert_eq!(
            after(&plan, "stop demo-db-1", "stop demo-web-1"),
            Some(EdgeKind::Order)
        );
        assert_eq!(
            after(&plan, "stop demo-api-1", "stop demo-web-1"),
            Some(EdgeKind::Order)
        );
        assert!(step(&plan, "stop demo-web-1").after.is_empty());
        // Replicas of one service stop in parallel.
        assert_eq!(after(&plan, "stop demo-api-2", "stop demo-api-1"), None);
        assert_eq!(
            after(&plan, "remove demo-db-1", "stop demo-db-1"),
            Some(EdgeKind::Required)
        );
        // The exited orphan is only removed.
        assert!(plan
            .find(|op| op.describe() == "stop demo-old-1")
            .is_empty());
        assert!(step(&plan, "remove demo-old-1").after.is_empty());
        assert_eq!(
            after(&plan, "remove network demo_default", "remove demo-db-1"),
            Some(EdgeKind::Order)
        );
        assert!(plan
            .find(|op| matches!(op, Op::RemoveVolume { .. }))
            .is_empty());
        assert_eq!(step(&plan, "stop demo-api-2").subject, "api-2");
    }

    #[test]
    fn stops_wait_for_dependents_behind_an_exited_container() {
        // app -> init (exited, service_completed_successfully) -> db: app stops before db.
        let state = ProjectState {
            project: "demo".into(),
            containers: vec![
                container("db", 1, "", RunState::Running),
                container("init", 1, "db:service_started:false", RunState::Exited),
                container(
                    "app",
                    1,
                    "init:service_completed_successfully:false",
                    RunState::Running,
                ),
            ],
            ..Default::default()
        };
        let plan = plan_down(&state, &DownOptions::default());
        assert_eq!(
            after(&plan, "stop demo-db-1", "stop demo-app-1"),
            Some(EdgeKind::Order),
            "{plan}"
        );
        assert!(step(&plan, "stop demo-app-1").after.is_empty());
    }

    #[test]
    fn volumes_and_grace_override() {
        let plan = plan_down(
            &state(),
            &DownOptions {
                volumes: true,
                grace: Some(Duration::from_secs(3)),
                ..Default::default()
            },
        );
        step(&plan, "remove volume demo_data");
        step(&plan, "stop demo-db-1 (grace 3s)");
    }

    #[test]
    fn force_removes_everything_at_once() {
        let plan = plan_down(
            &state(),
            &DownOptions {
                force: true,
                ..Default::default()
            },
        );
        assert!(plan
            .find(|op| matches!(op, Op::StopContainer { .. }))
            .is_empty());
        assert!(step(&plan, "kill and remove demo-db-1").after.is_empty());
        assert!(step(&plan, "kill and remove demo-web-1").after.is_empty());
    }

    #[test]
    fn subset_touches_only_its_services() {
        let plan = plan_down(
            &state(),
            &DownOptions {
                services: Some(vec!["api".into()]),
                ..Default::default()
            },
        );
        let text = plan.to_string();
        assert!(
            text.contains("stop demo-api-1") && text.contains("stop demo-api-2"),
            "{text}"
        );
        assert!(
            !text.contains("demo-db-1") && !text.contains("network"),
            "{text}"
        );
    }

    #[test]
    fn empty_project_gives_an_empty_plan() {
        assert!(plan_down(&ProjectState::default(), &DownOptions::default()).is_empty());
    }
}
