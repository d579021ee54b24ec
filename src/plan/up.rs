//! Planning `torq up`: from the spec, the observed state and the images to
//! use, the steps that make the engine match the spec.
//!
//! Per replica of each selected service: no container → create and start;
//! a container whose config hash or image id differs, or that is not running
//! (exited, dead, created: stale) → stop if running, remove, create, start;
//! an up-to-date running container is left alone. Replicas beyond the wanted
//! count are stopped and removed. A start waits for its dependencies'
//! conditions (`service_started`: their starts; `service_healthy` and
//! `service_completed_successfully`: a wait step); `required: false` makes
//! that edge optional. Unless `--no-wait`, a final wait per service checks it
//! is running (healthy, where it has a healthcheck).

use std::collections::{BTreeSet, HashMap};

use indexmap::IndexMap;

use super::{
    order, required, ContainerHandle, ContainerRef, Edge, EdgeKind, Kept, Op, Plan, StepId, WaitFor,
};
use crate::compose::model::{Condition, MountKind, Project, Service};
use crate::engine::build::ImageSet;
use crate::engine::container::{
    bound_services, network_mode_service, referenced_services, service_network_keys,
    service_volume_keys, Blueprint,
};
use crate::engine::state::{AnonymousVolume, ObservedContainer, ProjectState, RunState};
use crate::naming::{container_name, network_name, replica_subject, volume_name};

/// Options of `up` that shape the plan.
#[derive(Debug, Clone, Default)]
pub(crate) struct UpOptions {
    /// Recreate even up-to-date containers.
    pub force_recreate: bool,
    /// Wait (final step) until services are running/healthy.
    pub wait: bool,
    /// Replica count overrides (`--scale`).
    pub scale: HashMap<String, u32>,
    /// A recreated container gets fresh anonymous volumes instead of the
    /// old container's (`--renew-anon-volumes`).
    pub renew_anon_volumes: bool,
    /// Stop and remove the containers of services the spec no longer has
    /// (`--remove-orphans`); their anonymous volumes stay, as compose's do.
    pub remove_orphans: bool,
    /// Keep existing containers even when they no longer match the spec,
    /// and start a stopped one instead of replacing it (`--no-recreate`).
    pub no_recreate: bool,
    /// Create (and replace) containers but start none, and wait for none
    /// (`--no-start`); running dependents are not restarted.
    pub no_start: bool,
}

/// Everything the planner reads.
pub(crate) struct UpInput<'a> {
    pub project: &'a Project,
    pub state: &'a ProjectState,
    /// The services to converge (the caller has added dependencies unless `--no-deps`).
    pub services: &'a [String],
    pub blueprints: &'a HashMap<String, Blueprint>,
    /// The image of each service (an empty id: unknown, e.g. a dry run of an image to build).
    pub images: &'a ImageSet,
    pub options: &'a UpOptions,
}

/// What happens to one wanted replica.
enum Decision<'a> {
    Keep(&'a ObservedContainer),
    Create {
        cause: String,
    },
    Recreate {
        old: &'a ObservedContainer,
        cause: String,
    },
    /// `--no-recreate`: start the stopped container as it is.
    Start(&'a ObservedContainer),
}

/// Builds the plan of `torq up`.
pub(crate) fn plan_up(input: &UpInput) -> Plan {
    let mut plan = Plan::default();
    let project = input.project;
    let selected: Vec<&Service> = input
        .services
        .iter()
        .filter_map(|name| project.services.get(name))
        .collect();

    let network_steps = plan_networks(&mut plan, input, &selected);
    let volume_steps = plan_volumes(&mut plan, input, &selected);

    // Per service: its start steps and container handles (for waits); its
    // create steps, and the steps after which each new container has its
    // final name (the create, or a replacement's rename), for a container
    // that names another (network_mode: service:X, volumes_from, links).
    let mut starts: HashMap<&str, Vec<StepId>> = HashMap::new();
    let mut handles: HashMap<&str, Vec<ContainerHandle>> = HashMap::new();
    let mut creates: HashMap<&str, Vec<StepId>> = HashMap::new();
    let mut named_steps: HashMap<&str, Vec<StepId>> = HashMap::new();
    let mut start_deps_pending: Vec<(StepId, &Service)> = Vec::new();
    // Services being recreated: per replaced container, the first step of
    // the old one's removal (its stop, or the removal itself) and the
    // replacement's create.
    let mut recreated: HashMap<&str, Vec<(StepId, StepId)>> = HashMap::new();

    let sources_replaced = sources_replaced(input, &selected);

    for service in &selected {
        let name = service.name.as_str();
        let replicas = replica_count(input, service);
        let multi = replicas > 1;
        let existing: Vec<&ObservedContainer> = input.state.service_containers(name).collect();
        let mut covered: BTreeSet<String> = BTreeSet::new();
        for number in 1..=replicas {
            let subject = replica_subject(name, number, multi);
            let mine: Vec<&ObservedContainer> = existing
                .iter()
                .copied()
                .filter(|c| c.number == number)
                .collect();
            // Keep the best candidate (running first); extras are duplicates.
            let keep = best_candidate(&mine);
            let mut duplicates_removed: Vec<Edge> = Vec::new();
            for dup in mine
                .iter()
                .filter(|c| Some(c.id.as_str()) != keep.map(|k| k.id.as_str()))
            {
                covered.insert(dup.id.clone());
                let removal = remove_container(&mut plan, &subject, dup, "duplicate container");
                duplicates_removed.push(required(removal));
            }
            if let Some(k) = keep {
                covered.insert(k.id.clone());
            }
            let forced = sources_replaced.get(name).map(String::as_str);
            match decide(input, service, keep, forced) {
                Decision::Start(c) => {
                    let handle = ContainerHandle::Existing(container_ref(c));
                    let start = plan.push(
                        subject.clone(),
                        Op::StartContainer {
                            service: name.to_string(),
                            container: handle.clone(),
                        },
                        Vec::new(),
                        Some(format!("{} (--no-recreate)", stale_reason(c))),
                    );
                    starts.entry(name).or_default().push(start);
                    handles.entry(name).or_default().push(handle);
                    start_deps_pending.push((start, service));
                }
                Decision::Keep(c) => {
                    plan.unchanged.push(Kept {
                        subject: subject.clone(),
                        service: name.to_string(),
                        container: container_ref(c),
                    });
                    handles
                        .entry(name)
                        .or_default()
                        .push(ContainerHandle::Existing(container_ref(c)));
                }
                decision => {
                    let (old, cause) = match decision {
                        Decision::Recreate { old, cause } => (Some(old), cause),
                        Decision::Create { cause } => (None, cause),
                        Decision::Keep(_) | Decision::Start(_) => continue,
                    };
                    // As compose: the old container's anonymous volumes stay
                    // (the new one may take them over), unless fresh ones
                    // are asked for.
                    let renew = input.options.renew_anon_volumes;
                    let inherit = match old {
                        Some(old) if !renew => inherited_volumes(service, old),
                        _ => Vec::new(),
                    };
                    // A duplicate may hold the name the create wants (a
                    // replacement an interrupted `up` made): it goes first.
                    let mut after: Vec<Edge> = duplicates_removed;
                    for key in service_network_keys(service) {
                        if let Some(step) = network_steps.get(&key) {
                            after.push(required(*step));
                        }
                    }
                    for key in service_volume_keys(service) {
                        if let Some(step) = volume_steps.get(&key) {
                            after.push(required(*step));
                        }
                    }
                    let container_name = container_name(project, service, number);
                    // A replacement is made under a temporary name while the
                    // old container still runs: a failing create leaves it
                    // (and its volumes) as they were.
                    let create_name = match old {
                        Some(old) => temporary_name(old, &container_name),
                        None => container_name.clone(),
                    };
                    let create = plan.push(
                        subject.clone(),
                        Op::CreateContainer {
                            service: name.to_string(),
                            number,
                            name: create_name.clone(),
                            inherit,
                        },
                        after,
                        Some(cause.clone()),
                    );
                    let handle = ContainerHandle::Created {
                        step: create,
                        name: container_name.clone(),
                    };
                    let mut named = create;
                    if let Some(old) = old {
                        let removal =
                            remove_container_keeping(&mut plan, &subject, old, &cause, !renew);
                        let first = plan.steps[removal]
                            .after
                            .first()
                            .map(|e| e.on)
                            .unwrap_or(removal);
                        plan.steps[first].after.push(required(create));
                        plan.steps[first].within_replacement = true;
                        plan.steps[removal].within_replacement = true;
                        recreated.entry(name).or_default().push((first, create));
                        named = plan.push(
                            subject.clone(),
                            Op::RenameContainer {
                                service: name.to_string(),
                                container: ContainerHandle::Created {
                                    step: create,
                                    name: create_name,
                                },
                                name: container_name,
                            },
                            vec![required(removal)],
                            None,
                        );
                    }
                    creates.entry(name).or_default().push(create);
                    named_steps.entry(name).or_default().push(named);
                    let start = plan.push(
                        subject.clone(),
                        Op::StartContainer {
                            service: name.to_string(),
                            container: handle.clone(),
                        },
                        vec![required(named)],
                        None,
                    );
                    starts.entry(name).or_default().push(start);
                    handles.entry(name).or_default().push(handle);
                    start_deps_pending.push((start, service));
                }
            }
        }
        // Replicas beyond the wanted count, and containers without a valid number.
        for extra in existing.iter().filter(|c| !covered.contains(&c.id)) {
            let subject = replica_subject(name, extra.number, true);
            let removal = remove_container(&mut plan, &subject, extra, "scaled down");
            // One without a valid number may hold the name a create wants.
            for create in creates.get(name).into_iter().flatten() {
                let wants_its_name = matches!(
                    &plan.steps[*create].op,
                    Op::CreateContainer { name: wanted, .. } if *wanted == extra.name
                );
                if wants_its_name {
                    plan.steps[*create].after.push(order(removal));
                }
            }
        }
    }

    if input.options.remove_orphans {
        for orphan in orphans(input.project, input.state) {
            remove_container_keeping(&mut plan, &orphan.name, orphan, "orphan container", true);
        }
    }

    if !input.options.no_start {
        restart_dependents(
            &mut plan,
            &selected,
            &recreated,
            &mut starts,
            &mut start_deps_pending,
        );
    }

    // Gating: each start waits for its dependencies' conditions.
    let mut waits: HashMap<(String, WaitFor), StepId> = HashMap::new();
    for (start, service) in start_deps_pending {
        let mut edges: Vec<Edge> = Vec::new();
        for (dep_name, dep) in &service.depends_on {
            if !input.services.iter().any(|s| s == dep_name) {
                continue; // --no-deps, or not in the spec: nothing to gate on.
            }
            let kind = if dep.required {
                EdgeKind::Required
            } else {
                EdgeKind::Optional
            };
            match dep.condition {
                Condition::Started => {
                    for s in starts.get(dep_name.as_str()).into_iter().flatten() {
                        edges.push(Edge { on: *s, kind });
                    }
                }
                condition => {
                    let wait = wait_step(
                        &mut plan,
                        &mut waits,
                        dep_name,
                        WaitFor::from_condition(condition),
                        &starts,
                        &handles,
                    );
                    edges.push(Edge { on: wait, kind });
                }
            }
        }
        if let Some(target) = network_mode_service(service) {
            for s in starts.get(target).into_iter().flatten() {
                edges.push(required(*s));
            }
        }
        plan.steps[start].after.extend(edges);
    }
    // A container that names another's (network_mode/pid/ipc: service:X,
    // volumes_from, links) is created once the other has its final name —
    // the engine resolves the name at create, also for a replacement made
    // under a temporary name. One bound to the other's container by id (not
    // merely linked by name) is not created at all without it.
    for service in &selected {
        let bound = bound_services(project, service);
        for target in referenced_services(project, service) {
            let edge = if bound.contains(&target) {
                required
            } else {
                order
            };
            let target_named = named_steps
                .get(target.as_str())
                .cloned()
                .unwrap_or_default();
            for create in creates.get(service.name.as_str()).into_iter().flatten() {
                plan.steps[*create]
                    .after
                    .extend(target_named.iter().map(|c| edge(*c)));
            }
        }
    }

    if input.options.wait {
        for service in &selected {
            let condition = final_condition(input, service);
            wait_step(
                &mut plan,
                &mut waits,
                &service.name,
                condition,
                &starts,
                &handles,
            );
        }
    }
    plan.sort_topologically();
    if input.options.no_start {
        plan.without(|op| matches!(op, Op::StartContainer { .. } | Op::Wait { .. }));
    }
    plan
}

/// Services left alone that depend with `restart: true` on a service being
/// recreated restart with it (as docker compose does): they stop before the
/// old dependency stops and start again once the new one meets their
/// condition (the gating pass adds that).
fn restart_dependents<'a>(
    plan: &mut Plan,
    selected: &[&'a Service],
    recreated: &HashMap<&str, Vec<(StepId, StepId)>>,
    starts: &mut HashMap<&'a str, Vec<StepId>>,
    start_deps_pending: &mut Vec<(StepId, &'a Service)>,
) {
    for service in selected {
        let triggers: Vec<(StepId, StepId)> = service
            .depends_on
            .iter()
            .filter(|(_, d)| d.restart)
            .filter_map(|(dep, _)| recreated.get(dep.as_str()))
            .flatten()
            .copied()
            .collect();
        if triggers.is_empty() {
            continue;
        }
        let kept: Vec<Kept> = plan
            .unchanged
            .iter()
            .filter(|kept| kept.service == service.name)
            .cloned()
            .collect();
        for Kept {
            subject, container, ..
        } in kept
        {
            plan.unchanged.retain(|k| k.container.id != container.id);
            let cause = "a dependency with restart: true is recreated".to_string();
            // Stopped only once every replacement exists: a create that
            // fails leaves the dependency's old container, and this one,
            // running.
            let stop = plan.push(
                subject.clone(),
                Op::StopContainer {
                    service: service.name.clone(),
                    container: container.clone(),
                    grace: None,
                },
                triggers
                    .iter()
                    .map(|(_, create)| required(*create))
                    .collect(),
                Some(cause.clone()),
            );
            for (first, _) in &triggers {
                plan.steps[*first].after.push(order(stop));
            }
            let start = plan.push(
                subject,
                Op::StartContainer {
                    service: service.name.clone(),
                    container: ContainerHandle::Existing(container),
                },
                vec![required(stop)],
                Some(cause),
            );
            starts.entry(service.name.as_str()).or_default().push(start);
            start_deps_pending.push((start, service));
        }
    }
}

/// What `up --wait` waits for: completion when a selected service depends on
/// it that way, health when it has a healthcheck, else running.
fn final_condition(input: &UpInput, service: &Service) -> WaitFor {
    let completed_by_dependent = input.services.iter().any(|other| {
        input
            .project
            .services
            .get(other)
            .and_then(|s| s.depends_on.get(&service.name))
            .is_some_and(|d| d.condition == Condition::CompletedSuccessfully)
    });
    if completed_by_dependent {
        WaitFor::Completed
    } else if service.healthcheck.as_ref().is_some_and(|h| h.is_enabled()) {
        WaitFor::Healthy
    } else {
        WaitFor::Running
    }
}

/// The wait step for (`service`, `condition`), created on first use.
fn wait_step(
    plan: &mut Plan,
    waits: &mut HashMap<(String, WaitFor), StepId>,
    service: &str,
    condition: WaitFor,
    starts: &HashMap<&str, Vec<StepId>>,
    handles: &HashMap<&str, Vec<ContainerHandle>>,
) -> StepId {
    let key = (service.to_string(), condition);
    if let Some(step) = waits.get(&key) {
        return *step;
    }
    let after = starts
        .get(service)
        .into_iter()
        .flatten()
        .map(|s| required(*s))
        .collect();
    let step = plan.push(
        service,
        Op::Wait {
            service: service.to_string(),
            condition,
            targets: handles.get(service).cloned().unwrap_or_default(),
        },
        after,
        None,
    );
    waits.insert(key, step);
    step
}

/// How many replicas of `service` `up` wants (`--scale` first).
fn replica_count(input: &UpInput, service: &Service) -> u32 {
    input
        .options
        .scale
        .get(service.name.as_str())
        .copied()
        .unwrap_or_else(|| service.replicas())
}

/// Of a replica's containers, the one `up` keeps: a running one first.
fn best_candidate<'a>(mine: &[&'a ObservedContainer]) -> Option<&'a ObservedContainer> {
    mine.iter()
        .copied()
        .find(|c| c.is_running())
        .or_else(|| mine.first().copied())
}

/// Whether `up` gives any replica of `service` a container of a new
/// configuration: one is missing, or its spec or image changed. A stopped
/// container recreated only because it stopped (compose would start it
/// again) does not count: its anonymous volumes are taken over, so what is
/// bound to it needs no new container.
fn replaces_any(input: &UpInput, service: &Service) -> bool {
    let existing: Vec<&ObservedContainer> = input.state.service_containers(&service.name).collect();
    (1..=replica_count(input, service)).any(|number| {
        let mine: Vec<&ObservedContainer> = existing
            .iter()
            .copied()
            .filter(|c| c.number == number)
            .collect();
        match best_candidate(&mine) {
            None => true,
            Some(c) => change_cause(input, service, c).is_some(),
        }
    })
}

/// Services whose containers must be recreated because a container they
/// are bound to by id is replaced — `network_mode`, `pid` or `ipc:
/// service:X`, `volumes_from` (the engine resolves those names to the
/// container's id at create) — with the cause to show. Transitive: a chain
/// of such services is recreated whole. As docker compose, which puts the
/// resolved ids into the configuration hash.
fn sources_replaced(input: &UpInput, selected: &[&Service]) -> HashMap<String, String> {
    let replaced: Vec<&str> = selected
        .iter()
        .filter(|s| replaces_any(input, s))
        .map(|s| s.name.as_str())
        .collect();
    let mut forced: HashMap<String, String> = HashMap::new();
    loop {
        let before = forced.len();
        for service in selected {
            if forced.contains_key(&service.name) {
                continue;
            }
            let source = bound_services(input.project, service)
                .into_iter()
                .find(|source| replaced.contains(&source.as_str()) || forced.contains_key(source));
            if let Some(source) = source {
                let cause = format!("{source} is recreated (bound to its container)");
                forced.insert(service.name.clone(), cause);
            }
        }
        if forced.len() == before {
            return forced;
        }
    }
}

/// Keep, create or recreate the container of one replica.
fn decide<'a>(
    input: &UpInput,
    service: &Service,
    existing: Option<&'a ObservedContainer>,
    source_replaced: Option<&str>,
) -> Decision<'a> {
    let Some(c) = existing else {
        return Decision::Create {
            cause: "no container".into(),
        };
    };
    if input.options.no_recreate {
        return match c.state {
            RunState::Exited | RunState::Created => Decision::Start(c),
            _ if c.is_running() => Decision::Keep(c),
            // Dead (or being removed): it cannot be started again.
            _ => Decision::Recreate {
                old: c,
                cause: format!("stale container ({})", stale_reason(c)),
            },
        };
    }
    let cause = if let Some(cause) = change_cause(input, service, c) {
        Some(cause.to_string())
    } else if let Some(cause) = source_replaced {
        Some(cause.to_string())
    } else if !c.is_running() {
        Some(format!("stale container ({})", stale_reason(c)))
    } else {
        None
    };
    match cause {
        Some(cause) => Decision::Recreate { old: c, cause },
        None => Decision::Keep(c),
    }
}

/// Why `c` no longer is what the spec makes: `--force-recreate`, its
/// configuration, or its image (not its run state).
fn change_cause(input: &UpInput, service: &Service, c: &ObservedContainer) -> Option<&'static str> {
    let wanted_hash = input
        .blueprints
        .get(&service.name)
        .map(|b| b.config_hash.as_str());
    let wanted_image = input.images.id(&service.name).filter(|id| !id.is_empty());
    if input.options.force_recreate {
        Some("--force-recreate")
    } else if wanted_hash.is_some() && c.config_hash.as_deref() != wanted_hash {
        Some("configuration changed")
    } else if wanted_image.is_some() && Some(c.image_id.as_str()) != wanted_image {
        Some("image changed")
    } else {
        None
    }
}

/// The name a replacement of `old` is created under until `old` is gone:
/// compose's form, the old container's short id before the final name.
fn temporary_name(old: &ObservedContainer, final_name: &str) -> String {
    let short: String = old.id.chars().take(12).collect();
    format!("{short}_{final_name}")
}

fn stale_reason(c: &ObservedContainer) -> String {
    match c.exit_code {
        Some(code) => format!("{} with code {code}", c.state.as_str()),
        None => c.state.as_str().to_string(),
    }
}

/// The anonymous volumes a replacement of `old` may take over, as docker
/// compose does: those at a path the spec mounts anonymously, and those at a
/// path the spec does not mount at all — which the create step keeps only
/// where the new image declares a `VOLUME`.
fn inherited_volumes(service: &Service, old: &ObservedContainer) -> Vec<AnonymousVolume> {
    old.anonymous_volumes
        .iter()
        .filter(|v| {
            let destination = v.destination.trim_end_matches('/');
            match service
                .volumes
                .iter()
                .find(|m| m.target.trim_end_matches('/') == destination)
            {
                Some(m) => m.kind == MountKind::Volume && m.source.is_none(),
                None => true,
            }
        })
        .cloned()
        .collect()
}

/// Stop (if running) and remove an existing container; returns the remove step.
/// The project's containers of services the spec no longer has (one-off
/// containers and services disabled by a profile are not orphans).
pub(crate) fn orphans<'a>(
    project: &'a Project,
    state: &'a ProjectState,
) -> impl Iterator<Item = &'a ObservedContainer> + 'a {
    state.containers.iter().filter(|c| {
        !c.oneoff
            && !project.services.contains_key(&c.service)
            && !project.disabled_services.contains_key(&c.service)
    })
}

fn remove_container(plan: &mut Plan, subject: &str, c: &ObservedContainer, cause: &str) -> StepId {
    remove_container_keeping(plan, subject, c, cause, false)
}

/// [`remove_container`], keeping its anonymous volumes when asked (a
/// replacement inherits them).
fn remove_container_keeping(
    plan: &mut Plan,
    subject: &str,
    c: &ObservedContainer,
    cause: &str,
    keep_anonymous_volumes: bool,
) -> StepId {
    let mut after = Vec::new();
    if c.is_running() {
        let stop = plan.push(
            subject,
            Op::StopContainer {
                service: c.service.clone(),
                container: container_ref(c),
                grace: None,
            },
            Vec::new(),
            Some(cause.to_string()),
        );
        after.push(required(stop));
    }
    plan.push(
        subject,
        Op::RemoveContainer {
            service: c.service.clone(),
            container: container_ref(c),
            force: false,
            keep_anonymous_volumes,
            anonymous_volumes: if keep_anonymous_volumes {
                Vec::new()
            } else {
                super::down::anonymous_volume_names(c)
            },
        },
        after,
        Some(cause.to_string()),
    )
}

fn container_ref(c: &ObservedContainer) -> ContainerRef {
    ContainerRef {
        id: c.id.clone(),
        name: c.name.clone(),
    }
}

/// Networks the selected services join that the engine lacks (external ones excluded).
fn plan_networks(
    plan: &mut Plan,
    input: &UpInput,
    selected: &[&Service],
) -> IndexMap<String, StepId> {
    let mut steps = IndexMap::new();
    for service in selected {
        for key in service_network_keys(service) {
            if steps.contains_key(&key) {
                continue;
            }
            let spec = input.project.networks.get(&key);
            if spec.is_some_and(|n| n.external) {
                continue;
            }
            let name = network_name(input.project, &key);
            if input.state.networks.iter().any(|n| n.name == name) {
                continue;
            }
            let step = plan.push(
                format!("network {name}"),
                Op::CreateNetwork {
                    key: key.clone(),
                    name,
                },
                Vec::new(),
                Some("missing".into()),
            );
            steps.insert(key, step);
        }
    }
    steps
}

/// Named volumes the selected services mount that the engine lacks.
fn plan_volumes(
    plan: &mut Plan,
    input: &UpInput,
    selected: &[&Service],
) -> IndexMap<String, StepId> {
    let mut steps = IndexMap::new();
    for service in selected {
        for key in service_volume_keys(service) {
            if steps.contains_key(&key) {
                continue;
            }
            let Some(spec) = input.project.volumes.get(&key) else {
                continue; // Not a top-level volume: the engine creates it on use.
            };
            if spec.external {
                continue;
            }
            let name = volume_name(input.project, &key);
            if input.state.volumes.iter().any(|v| v.name == name) {
                continue;
            }
            let step = plan.push(
                format!("volume {name}"),
                Op::CreateVolume {
                    key: key.clone(),
                    name,
                },
                Vec::new(),
                Some("missing".into()),
            );
            steps.insert(key, step);
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::model::{Dependency, Healthcheck, Volume};
    use crate::engine::container::blueprint;
    use crate::engine::state::{HealthState, RunState};

    /// db (healthcheck) ← api (service_healthy) ← web (service_started); job
    /// independent; migrate completes before api.
    fn project() -> Project {
        let mut services = IndexMap::new();
        let hc = Healthcheck {
            test: vec!["CMD".into(), "true".into()],
            ..Default::default()
        };
        let svc = |name: &str| Service {
            name: name.into(),
            image: Some("bb".into()),
            ..Default::default()
        };
        let mut db = svc("db");
        db.healthcheck = Some(hc);
        db.volumes = vec![crate::compose::model::Mount {
            source: Some("data".into()),
            target: "/data".into(),
            ..Default::default()
        }];
        let migrate = svc("migrate");
        let mut api = svc("api");
        api.depends_on.insert(
            "db".into(),
            Dependency {
                condition: Condition::Healthy,
                ..Default::default()
            },
        );
        api.depends_on.insert(
            "migrate".into(),
            Dependency {
                condition: Condition::CompletedSuccessfully,
                ..Default::default()
            },
        );
        let mut web = svc("web");
        web.depends_on.insert(
            "api".into(),
            Dependency {
                condition: Condition::Started,
                required: false,
                restart: false,
            },
        );
        let job = svc("job");
        for s in [db, migrate, api, web, job] {
            services.insert(s.name.clone(), s);
        }
        Project {
            name: "demo".into(),
            services,
            volumes: IndexMap::from([(
                "data".to_string(),
                Volume {
                    name: "demo_data".into(),
                    ..Default::default()
                },
            )]),
            ..Default::default()
        }
    }

    fn blueprints(project: &Project) -> HashMap<String, Blueprint> {
        project
            .services
            .values()
            .map(|s| (s.name.clone(), blueprint(project, s, "bb")))
            .collect()
    }

    fn images(project: &Project) -> ImageSet {
        let mut set = ImageSet::default();
        for s in project.services.keys() {
            set.insert(
                s.clone(),
                crate::engine::build::ServiceImage {
                    reference: "bb".into(),
                    id: "sha256:bb".into(),
                },
            );
        }
        set
    }

    fn plan_for(
        project: &Project,
        state: &ProjectState,
        services: &[&str],
        options: UpOptions,
    ) -> Plan {
        let requested: Vec<String> = services.iter().map(|s| s.to_string()).collect();
        let services: Vec<String> = if requested.is_empty() {
            project.services.keys().cloned().collect()
        } else {
            crate::compose::graph::DependencyGraph::new(project)
                .closure(&requested)
                .unwrap()
                .into_iter()
                .collect()
        };
        let bps = blueprints(project);
        let imgs = images(project);
        plan_up(&UpInput {
            project,
            state,
            services: &services,
            blueprints: &bps,
            images: &imgs,
            options: &options,
        })
    }

    fn running(project: &Project, service: &str, hash: Option<&str>) -> ObservedContainer {
        let bp = blueprint(project, &project.services[service], "bb");
        ObservedContainer {
            id: format!("id-{service}"),
            name: format!("demo-{service}-1"),
            service: service.into(),
            number: 1,
            config_hash: Some(hash.map(String::from).unwrap_or(bp.config_hash)),
            image_id: "sha256:bb".into(),
            state: RunState::Running,
            ..Default::default()
        }
    }

    fn step_named<'a>(plan: &'a Plan, describe: &str) -> &'a super::super::Step {
        plan.steps
            .iter()
            .find(|s| s.op.describe() == describe)
            .unwrap_or_else(|| panic!("no step `{describe}` in\n{plan}"))
    }

    fn depends(plan: &Plan, from: &str, on: &str) -> Option<EdgeKind> {
        let on_id = step_named(plan, on).id;
        step_named(plan, from)
            .after
            .iter()
            .find(|e| e.on == on_id)
            .map(|e| e.kind)
    }

    #[test]
    fn fresh_project_creates_everything_with_gated_starts() {
        let project = project();
        let state = ProjectState::default();
        let plan = plan_for(
            &project,
            &state,
            &[],
            UpOptions {
                wait: true,
                ..Default::default()
            },
        );
        let text = plan.to_string();
        assert!(text.contains("create network demo_default"), "{text}");
        assert!(text.contains("create volume demo_data"), "{text}");
        // Containers are created in parallel, without waiting for dependencies.
        assert_eq!(
            depends(
                &plan,
                "create container demo-db-1",
                "create network demo_default"
            ),
            Some(EdgeKind::Required)
        );
        assert_eq!(
            depends(
                &plan,
                "create container demo-db-1",
                "create volume demo_data"
            ),
            Some(EdgeKind::Required)
        );
        assert!(step_named(&plan, "create container demo-api-1")
            .after
            .iter()
            .all(|e| plan.steps[e.on].op.describe().starts_with("create network")));
        // api starts once db is healthy and migrate completed.
        assert_eq!(
            depends(&plan, "start demo-api-1", "wait until db is healthy"),
            Some(EdgeKind::Required)
        );
        assert_eq!(
            depends(
                &plan,
                "start demo-api-1",
                "wait until migrate is completed successfully"
            ),
            Some(EdgeKind::Required)
        );
        // web: service_started, required: false → optional edge on api's start.
        assert_eq!(
            depends(&plan, "start demo-web-1", "start demo-api-1"),
            Some(EdgeKind::Optional)
        );
        // Final waits: db healthy (shared with the gate), others running.
        assert_eq!(
            plan.find(|op| matches!(op, Op::Wait { service, .. } if service == "db"))
                .len(),
            1
        );
        step_named(&plan, "wait until web is running");
        step_named(&plan, "wait until job is running");
        // migrate's final wait is its completion, not running.
        assert!(plan
            .find(|op| matches!(op, Op::Wait { service, condition: WaitFor::Running, .. } if service == "migrate"))
            .is_empty());
    }

    #[test]
    fn selected_service_brings_its_dependencies_only() {
        let project = project();
        let plan = plan_for(
            &project,
            &ProjectState::default(),
            &["api"],
            UpOptions::default(),
        );
        let text = plan.to_string();
        assert!(
            text.contains("demo-db-1") && text.contains("demo-migrate-1"),
            "{text}"
        );
        assert!(
            !text.contains("demo-web-1") && !text.contains("demo-job-1"),
            "{text}"
        );
        // No --wait: only the gating waits.
        assert_eq!(plan.find(|op| matches!(op, Op::Wait { .. })).len(), 2);
    }

    #[test]
    fn up_to_date_running_containers_are_left_alone() {
        let project = project();
        let mut state = ProjectState::default();
        for s in ["db", "migrate", "api", "web", "job"] {
            state.containers.push(running(&project, s, None));
        }
        state.networks.push(crate::engine::state::ObservedNetwork {
            name: "demo_default".into(),
            ..Default::default()
        });
        state.volumes.push(crate::engine::state::ObservedVolume {
            name: "demo_data".into(),
            ..Default::default()
        });
        state.containers[0].health = Some(HealthState::Healthy);
        let plan = plan_for(&project, &state, &[], UpOptions::default());
        assert_eq!(plan.unchanged.len(), 5);
        assert!(
            plan.steps.iter().all(|s| matches!(s.op, Op::Wait { .. })),
            "only waits expected:\n{plan}"
        );
    }

    #[test]
    fn a_recreated_container_takes_over_its_anonymous_volumes() {
        let mut project = project();
        let job = project.services.get_mut("job").unwrap();
        job.volumes = vec![
            crate::compose::model::Mount {
                target: "/cache".into(),
                ..Default::default()
            },
            crate::compose::model::Mount {
                kind: MountKind::Bind,
                source: Some("/srv".into()),
                target: "/srv".into(),
                ..Default::default()
            },
        ];
        let mut state = ProjectState::default();
        let mut old = running(&project, "job", Some("old-hash"));
        let anonymous = |c: char, destination: &str| AnonymousVolume {
            name: c.to_string().repeat(64),
            destination: destination.into(),
        };
        old.anonymous_volumes = vec![
            anonymous('a', "/cache"),   // the spec's anonymous volume
            anonymous('b', "/img-vol"), // maybe the image's VOLUME: the create step checks
            anonymous('c', "/srv"),     // now a bind mount: not taken over
        ];
        state.containers.push(old);

        let plan = plan_for(&project, &state, &["job"], UpOptions::default());
        let created = plan.find(|op| matches!(op, Op::CreateContainer { .. }));
        let Op::CreateContainer { inherit, .. } = &created[0].op else {
            unreachable!()
        };
        assert_eq!(
            *inherit,
            vec![anonymous('a', "/cache"), anonymous('b', "/img-vol")]
        );
        let text = plan.to_string();
        assert!(
            text.contains("reusing the old one's anonymous volumes"),
            "{text}"
        );
        // The old container's volumes stay, as with compose, whatever is taken over.
        let removal = plan.find(|op| matches!(op, Op::RemoveContainer { .. }));
        assert!(matches!(
            &removal[0].op,
            Op::RemoveContainer { keep_anonymous_volumes: true, anonymous_volumes, .. }
                if anonymous_volumes.is_empty()
        ));

        // --renew-anon-volumes: fresh ones, the old ones go with the old container.
        let renew = UpOptions {
            renew_anon_volumes: true,
            ..Default::default()
        };
        let plan = plan_for(&project, &state, &["job"], renew);
        assert!(!plan.to_string().contains("reusing"), "{plan}");
        let removal = plan.find(|op| matches!(op, Op::RemoveContainer { .. }));
        assert!(matches!(
            &removal[0].op,
            Op::RemoveContainer { keep_anonymous_volumes: false, anonymous_volumes, .. }
                if anonymous_volumes.len() == 3
        ));
    }

    /// The plan is sorted after it is built: every handle on a container a
    /// create step makes must still name that step (a rename that named
    /// another step renamed the old container, already removed).
    #[test]
    fn every_container_handle_names_its_create_step_after_sorting() {
        let project = project();
        let mut state = ProjectState::default();
        for s in ["db", "migrate", "api", "web", "job"] {
            state
                .containers
                .push(running(&project, s, Some("old-hash")));
        }
        let mut plan = plan_for(&project, &state, &[], UpOptions::default());
        let creates: HashMap<StepId, String> = plan
            .steps
            .iter()
            .filter_map(|step| match &step.op {
                Op::CreateContainer { name, .. } => Some((step.id, name.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(creates.len(), 5, "{plan}");
        let mut checked = 0;
        for step in &mut plan.steps {
            for handle in step.op.handles_mut() {
                if let ContainerHandle::Created { step: made_by, .. } = handle {
                    assert!(creates.contains_key(made_by), "{:?}", step.op);
                    checked += 1;
                }
            }
            if let Op::RenameContainer {
                container:
                    ContainerHandle::Created {
                        step: made_by,
                        name,
                    },
                ..
            } = &step.op
            {
                assert_eq!(&creates[made_by], name, "the rename names its create");
            }
        }
        assert!(checked >= 10, "renames and starts: {checked}");
    }

    /// `volumes_from: [db]` is resolved by the engine at create: when both
    /// are replaced, `job`'s create waits until `db`'s new container has
    /// its final name (its rename), not merely until it exists under a
    /// temporary one.
    #[test]
    fn a_replacement_that_names_another_is_created_after_the_others_rename() {
        let mut project = project();
        project.services["job"].volumes_from = vec!["db".into()];
        let mut state = ProjectState::default();
        for s in ["db", "job"] {
            state
                .containers
                .push(running(&project, s, Some("old-hash")));
        }
        let plan = plan_for(&project, &state, &["db", "job"], UpOptions::default());
        assert_eq!(
            depends(
                &plan,
                "create container id-job_demo-job-1",
                "rename id-db_demo-db-1 to demo-db-1"
            ),
            Some(EdgeKind::Required),
            "{plan}"
        );
    }

    #[test]
    fn changed_config_recreates_that_service_only() {
        let project = project();
        let mut state = ProjectState::default();
        for s in ["db", "migrate", "api", "web", "job"] {
            let hash = (s == "job").then_some("old-hash");
            state.containers.push(running(&project, s, hash));
        }
        state.networks.push(crate::engine::state::ObservedNetwork {
            name: "demo_default".into(),
            ..Default::default()
        });
        let plan = plan_for(&project, &state, &[], UpOptions::default());
        let text = plan.to_string();
        assert_eq!(plan.unchanged.len(), 4, "{text}");
        assert_eq!(
            depends(&plan, "remove demo-job-1", "stop demo-job-1"),
            Some(EdgeKind::Required)
        );
        // The replacement is made first, under a temporary name; the old
        // container goes only once it exists, then the new one takes its name.
        assert_eq!(
            depends(
                &plan,
                "stop demo-job-1",
                "create container id-job_demo-job-1"
            ),
            Some(EdgeKind::Required)
        );
        assert_eq!(
            depends(
                &plan,
                "rename id-job_demo-job-1 to demo-job-1",
                "remove demo-job-1"
            ),
            Some(EdgeKind::Required)
        );
        assert_eq!(
            depends(
                &plan,
                "start demo-job-1",
                "rename id-job_demo-job-1 to demo-job-1"
            ),
            Some(EdgeKind::Required)
        );
        assert!(step_named(&plan, "create container id-job_demo-job-1")
            .cause
            .as_deref()
            .is_some_and(|c| c.contains("configuration changed")));
        assert_eq!(
            plan.find(|op| matches!(op, Op::CreateContainer { .. }))
                .len(),
            1,
            "{text}"
        );
    }

    /// `job`'s container exited with code 1; `web`'s runs an older image.
    fn exited_job_and_web_on_an_old_image(project: &Project) -> ProjectState {
        let mut exited = running(project, "job", None);
        exited.state = RunState::Exited;
        exited.exit_code = Some(1);
        let mut other_image = running(project, "web", None);
        other_image.image_id = "sha256:old".into();
        ProjectState {
            containers: vec![exited, other_image],
            ..ProjectState::default()
        }
    }

    #[test]
    fn stale_and_image_changed_containers_are_recreated_with_a_cause() {
        let project = project();
        let state = exited_job_and_web_on_an_old_image(&project);
        let plan = plan_for(&project, &state, &["job", "web"], UpOptions::default());
        let job = step_named(&plan, "create container id-job_demo-job-1");
        assert_eq!(
            job.cause.as_deref(),
            Some("stale container (exited with code 1)")
        );
        // An exited container is removed without a stop.
        assert!(plan
            .find(|op| op.describe() == "stop demo-job-1")
            .is_empty());
        let web = step_named(&plan, "create container id-web_demo-web-1");
        assert_eq!(web.cause.as_deref(), Some("image changed"));
    }

    #[test]
    fn no_recreate_keeps_changed_containers_and_starts_stopped_ones() {
        let project = project();
        let state = exited_job_and_web_on_an_old_image(&project);
        let options = UpOptions {
            no_recreate: true,
            ..Default::default()
        };
        let plan = plan_for(&project, &state, &["job", "web"], options);
        let text = plan.to_string();
        for replaced in [
            "create container demo-job",
            "create container demo-web",
            "remove",
        ] {
            assert!(!text.contains(replaced), "{text}");
        }
        let start = step_named(&plan, "start demo-job-1");
        assert_eq!(
            start.cause.as_deref(),
            Some("exited with code 1 (--no-recreate)")
        );
        assert!(text.contains("keep demo-web-1"), "{text}");
    }

    #[test]
    fn no_start_creates_without_starting_or_waiting_and_keeps_the_order() {
        let project = project();
        let state = ProjectState::default();
        let full = plan_for(&project, &state, &["job", "web"], UpOptions::default());
        let options = UpOptions {
            no_start: true,
            wait: true,
            ..Default::default()
        };
        let plan = plan_for(&project, &state, &["job", "web"], options);
        let text = plan.to_string();
        assert!(plan
            .find(|op| matches!(op, Op::StartContainer { .. } | Op::Wait { .. }))
            .is_empty());
        let creates = |plan: &Plan| {
            plan.find(|op| matches!(op, Op::CreateContainer { .. }))
                .len()
        };
        assert_eq!(creates(&plan), creates(&full), "{text}");
        // Ids are dense and every edge points at an earlier step.
        for (index, step) in plan.steps.iter().enumerate() {
            assert_eq!(step.id, index);
            assert!(step.after.iter().all(|e| e.on < index), "{text}");
        }
    }

    #[test]
    fn remove_orphans_removes_containers_of_services_no_longer_in_the_spec() {
        let project = project();
        let mut state = ProjectState::default();
        let mut orphan = running(&project, "web", None);
        orphan.service = "gone".into();
        orphan.name = "demo-gone-1".into();
        orphan.id = "id-gone".into();
        state.containers = vec![orphan];
        let kept = plan_for(&project, &state, &["web"], UpOptions::default());
        assert!(!kept.to_string().contains("demo-gone-1"), "{kept}");
        let options = UpOptions {
            remove_orphans: true,
            ..Default::default()
        };
        let plan = plan_for(&project, &state, &["web"], options);
        let text = plan.to_string();
        assert!(text.contains("stop demo-gone-1"), "{text}");
        assert!(text.contains("remove demo-gone-1"), "{text}");
    }

    #[test]
    fn scale_adds_and_removes_replicas() {
        let project = project();
        let mut state = ProjectState::default();
        let mut c1 = running(&project, "job", None);
        c1.number = 1;
        let mut c3 = running(&project, "job", None);
        c3.id = "id-job-3".into();
        c3.name = "demo-job-3".into();
        c3.number = 3;
        state.containers = vec![c1, c3];
        let options = UpOptions {
            scale: HashMap::from([("job".to_string(), 2)]),
            ..Default::default()
        };
        let plan = plan_for(&project, &state, &["job"], options);
        let text = plan.to_string();
        assert!(text.contains("keep demo-job-1"), "{text}");
        assert!(text.contains("create container demo-job-2"), "{text}");
        assert!(text.contains("stop demo-job-3"), "{text}");
        assert!(text.contains("remove demo-job-3  after #"), "{text}");
    }

    #[test]
    fn recreating_a_dependency_restarts_its_restart_true_dependents() {
        let mut project = project();
        project
            .services
            .get_mut("web")
            .unwrap()
            .depends_on
            .get_mut("api")
            .unwrap()
            .restart = true;
        let mut state = ProjectState::default();
        for s in ["db", "migrate", "api", "web", "job"] {
            let hash = (s == "api").then_some("old-hash");
            state.containers.push(running(&project, s, hash));
        }
        let plan = plan_for(&project, &state, &[], UpOptions::default());
        let text = plan.to_string();
        assert!(!text.contains("keep demo-web-1"), "{text}");
        assert_eq!(
            depends(&plan, "stop demo-api-1", "stop demo-web-1"),
            Some(EdgeKind::Order),
            "{text}"
        );
        assert_eq!(
            depends(&plan, "start demo-web-1", "stop demo-web-1"),
            Some(EdgeKind::Required)
        );
        // web's condition on api (service_started, optional) gates the restart.
        assert_eq!(
            depends(&plan, "start demo-web-1", "start demo-api-1"),
            Some(EdgeKind::Optional)
        );
        // web stops only once api's replacement exists: a create that fails
        // leaves both running.
        assert_eq!(
            depends(
                &plan,
                "stop demo-web-1",
                "create container id-api_demo-api-1"
            ),
            Some(EdgeKind::Required),
            "{text}"
        );
        assert!(text.contains("keep demo-job-1"), "{text}");
    }

    /// `web` shares `api`'s network namespace: the engine binds that to the
    /// container's id, so when `api` is recreated `web` is too (as compose
    /// does), and `job`, bound to `web`'s volumes, with it.
    #[test]
    fn a_container_bound_to_a_replaced_one_is_recreated_with_it() {
        let mut project = project();
        project.services["web"].network_mode = Some("service:api".into());
        project.services["job"].volumes_from = vec!["web:ro".into()];
        let mut state = ProjectState::default();
        for s in ["db", "migrate", "api", "web", "job"] {
            let hash = (s == "api").then_some("old-hash");
            state.containers.push(running(&project, s, hash));
        }
        let plan = plan_for(&project, &state, &[], UpOptions::default());
        let cause = |name: &str| {
            step_named(&plan, &format!("create container id-{name}_demo-{name}-1"))
                .cause
                .clone()
                .unwrap_or_default()
        };
        assert_eq!(cause("web"), "api is recreated (bound to its container)");
        assert_eq!(cause("job"), "web is recreated (bound to its container)");
        assert!(plan.to_string().contains("keep demo-db-1"), "{plan}");
    }

    /// A container of the service without a valid replica number (a label
    /// edited by hand, an old tool) that holds `demo-job-1`: it is removed
    /// before the create that wants its name, not raced by it.
    #[test]
    fn a_numberless_container_holding_a_replicas_name_goes_before_its_create() {
        let project = project();
        let mut state = ProjectState::default();
        let mut numberless = running(&project, "job", None);
        numberless.number = 0;
        state.containers.push(numberless);
        let plan = plan_for(&project, &state, &["job"], UpOptions::default());
        assert_eq!(
            depends(&plan, "create container demo-job-1", "remove demo-job-1"),
            Some(EdgeKind::Order),
            "{plan}"
        );
    }

    /// A stopped source recreated only because it stopped (compose would
    /// start it) keeps its volumes for the new container: what is bound to
    /// it by `volumes_from` is left alone.
    #[test]
    fn a_container_bound_to_a_merely_stopped_one_is_kept() {
        let mut project = project();
        project.services["job"].volumes_from = vec!["db".into()];
        let mut state = ProjectState::default();
        for s in ["db", "migrate", "api", "web", "job"] {
            let mut c = running(&project, s, None);
            if s == "db" {
                c.state = RunState::Exited;
                c.exit_code = Some(0);
            }
            state.containers.push(c);
        }
        let plan = plan_for(&project, &state, &[], UpOptions::default());
        let text = plan.to_string();
        assert!(text.contains("create container id-db_demo-db-1"), "{text}");
        assert!(text.contains("keep demo-job-1"), "{text}");
    }

    /// A service named like another's replica (`web-2` beside `web`) is its
    /// own service: it is not restarted with `web`, and its container is
    /// counted under its own name.
    #[test]
    fn a_service_named_like_a_replica_is_not_taken_for_one() {
        let mut project = project();
        project.services["web"].depends_on["api"].restart = true;
        let mut web2 = project.services["job"].clone();
        web2.name = "web-2".into();
        project.services.insert("web-2".into(), web2);
        let mut state = ProjectState::default();
        for s in ["db", "migrate", "api", "web", "job", "web-2"] {
            let hash = (s == "api").then_some("old-hash");
            state.containers.push(running(&project, s, hash));
        }
        let plan = plan_for(&project, &state, &[], UpOptions::default());
        let text = plan.to_string();
        assert!(text.contains("keep demo-web-2-1"), "{text}");
        let kept = plan
            .unchanged
            .iter()
            .find(|k| k.container.name == "demo-web-2-1")
            .expect("web-2 kept");
        assert_eq!(kept.service, "web-2");
    }

    #[test]
    fn plan_is_topologically_ordered() {
        let project = project();
        let plan = plan_for(
            &project,
            &ProjectState::default(),
            &[],
            UpOptions {
                wait: true,
                ..Default::default()
            },
        );
        for step in &plan.steps {
            for edge in &step.after {
                assert!(
                    edge.on < step.id,
                    "step {} depends on later {}",
                    step.id,
                    edge.on
                );
            }
        }
    }
}
