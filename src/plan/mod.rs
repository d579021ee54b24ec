//! Convergence as data: the spec and the observed state of a project become a
//! plan of single engine operations with dependencies between them, which an
//! executor runs with maximal parallelism. The plan prints as text
//! (`torq up --dry-run`), and unit tests assert on it without Docker.
//!
//! - [`up`] plans `torq up`: networks, volumes, containers to create,
//!   recreate or leave alone, starts gated on dependency conditions, waits.
//! - [`down`] plans `torq down`: stops in reverse dependency order (read from
//!   the containers' `depends_on` labels, so no spec is needed), removals,
//!   networks and volumes.
//! - [`exec`] runs a plan: every step starts as soon as the steps it depends
//!   on are done; a failed step skips the steps that require it, independent
//!   steps carry on.

mod conflict;
pub(crate) mod down;
pub mod exec;
pub(crate) mod up;

use std::fmt;
use std::time::Duration;

use crate::compose::model::Condition;
use crate::engine::state::AnonymousVolume;

/// Index of a step in its plan.
pub type StepId = usize;

/// A DAG of single engine operations, in an order where every step comes
/// after the steps it depends on.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// Containers left alone because they match the spec and run.
    pub unchanged: Vec<Kept>,
}

/// A container `up` leaves alone: it matches the spec and runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    /// Its progress subject (`web`, or `web-2` among replicas).
    pub subject: String,
    /// Its service (a subject cannot tell: a service may be named `web-2`).
    pub service: String,
    pub container: ContainerRef,
}

/// One operation and what it waits for.
#[derive(Debug, Clone)]
pub struct Step {
    pub id: StepId,
    /// Whom the step is about, as the user sees it: `web`, `web-2`,
    /// `network demo_default`.
    pub subject: String,
    pub op: Op,
    pub after: Vec<Edge>,
    /// Why the step is needed (`missing`, `configuration changed`, …).
    pub cause: Option<String>,
    /// The old container's stop or removal inside a replacement: its
    /// progress is shown only when it fails (or had to kill), since the user
    /// sees a replacement as one `recreating … recreated`.
    pub within_replacement: bool,
}

/// A dependency between steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edge {
    pub on: StepId,
    pub kind: EdgeKind,
}

/// What the failure of the step depended on means for this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeKind {
    /// This step is skipped.
    Required,
    /// This step runs anyway, with a warning (`required: false`).
    Optional,
    /// Pure ordering: this step runs anyway, silently (e.g. stop order).
    Order,
}

/// A container the plan refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerRef {
    pub id: String,
    pub name: String,
}

/// A container that exists already, or the one a create step will make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerHandle {
    Existing(ContainerRef),
    Created { step: StepId, name: String },
}

impl ContainerHandle {
    pub fn name(&self) -> &str {
        match self {
            ContainerHandle::Existing(c) => &c.name,
            ContainerHandle::Created { name, .. } => name,
        }
    }
}

/// What a wait step waits for, for every container of a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WaitFor {
    /// Started and still running.
    Running,
    /// Healthy (by the engine, or by torq's fast probe).
    Healthy,
    /// Exited with code 0.
    Completed,
}

impl WaitFor {
    pub fn from_condition(condition: Condition) -> WaitFor {
        match condition {
            Condition::Started => WaitFor::Running,
            Condition::Healthy => WaitFor::Healthy,
            Condition::CompletedSuccessfully => WaitFor::Completed,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            WaitFor::Running => "running",
            WaitFor::Healthy => "healthy",
            WaitFor::Completed => "completed successfully",
        }
    }
}

/// A single engine operation.
#[derive(Debug, Clone)]
pub enum Op {
    CreateNetwork {
        key: String,
        name: String,
    },
    CreateVolume {
        key: String,
        name: String,
    },
    /// Create (and connect to its extra networks) replica `number` of `service`.
    CreateContainer {
        service: String,
        number: u32,
        name: String,
        /// The anonymous volumes of the container it replaces, mounted again
        /// where they were (as docker compose does), so a recreate keeps data:
        /// at the spec's anonymous mounts, and at the new image's `VOLUME`s.
        inherit: Vec<AnonymousVolume>,
    },
    /// Give a container made under a temporary name (a replacement, created
    /// before the container it replaces is removed) its final name.
    RenameContainer {
        service: String,
        container: ContainerHandle,
        name: String,
    },
    StartContainer {
        service: String,
        container: ContainerHandle,
    },
    /// Wait until every target meets `condition`.
    Wait {
        service: String,
        condition: WaitFor,
        targets: Vec<ContainerHandle>,
    },
    /// Stop signal, then SIGKILL after `grace` (`None`: the container's own stop timeout).
    StopContainer {
        service: String,
        container: ContainerRef,
        grace: Option<Duration>,
    },
    /// Remove; `force` kills a running container first. Its anonymous
    /// volumes go with it unless a replacement inherits them.
    RemoveContainer {
        service: String,
        container: ContainerRef,
        force: bool,
        keep_anonymous_volumes: bool,
        /// Anonymous volumes to remove once the container is gone: one a
        /// container inherited is mounted by name, and the engine's own
        /// removal (`v`) no longer counts it as the container's.
        anonymous_volumes: Vec<String>,
    },
    RemoveNetwork {
        id: String,
        name: String,
    },
    RemoveVolume {
        name: String,
    },
}

impl Op {
    /// Every container handle the operation refers to (a container a
    /// create step makes is named by the step's id, which a reordering of
    /// the plan must follow).
    pub fn handles_mut(&mut self) -> Vec<&mut ContainerHandle> {
        match self {
            Op::RenameContainer { container, .. } | Op::StartContainer { container, .. } => {
                vec![container]
            }
            Op::Wait { targets, .. } => targets.iter_mut().collect(),
            Op::CreateNetwork { .. }
            | Op::CreateVolume { .. }
            | Op::CreateContainer { .. }
            | Op::StopContainer { .. }
            | Op::RemoveContainer { .. }
            | Op::RemoveNetwork { .. }
            | Op::RemoveVolume { .. } => Vec::new(),
        }
    }

    /// The service a container operation is about.
    pub fn service(&self) -> Option<&str> {
        match self {
            Op::CreateContainer { service, .. }
            | Op::RenameContainer { service, .. }
            | Op::StartContainer { service, .. }
            | Op::Wait { service, .. }
            | Op::StopContainer { service, .. }
            | Op::RemoveContainer { service, .. } => Some(service),
            _ => None,
        }
    }

    /// A short description: `create container demo-web-1`.
    pub fn describe(&self) -> String {
        match self {
            Op::CreateNetwork { name, .. } => format!("create network {name}"),
            Op::CreateVolume { name, .. } => format!("create volume {name}"),
            Op::CreateContainer { name, inherit, .. } if inherit.is_empty() => {
                format!("create container {name}")
            }
            Op::CreateContainer { name, .. } => {
                format!("create container {name}, reusing the old one's anonymous volumes")
            }
            Op::RenameContainer {
                container, name, ..
            } => format!("rename {} to {name}", container.name()),
            Op::StartContainer { container, .. } => format!("start {}", container.name()),
            Op::Wait {
                service, condition, ..
            } => format!("wait until {service} is {}", condition.as_str()),
            Op::StopContainer {
                container, grace, ..
            } => match grace {
                Some(g) => format!("stop {} (grace {}s)", container.name, g.as_secs()),
                None => format!("stop {}", container.name),
            },
            Op::RemoveContainer {
                container, force, ..
            } => {
                if *force {
                    format!("kill and remove {}", container.name)
                } else {
                    format!("remove {}", container.name)
                }
            }
            Op::RemoveNetwork { name, .. } => format!("remove network {name}"),
            Op::RemoveVolume { name } => format!("remove volume {name}"),
        }
    }
}

impl Plan {
    /// Appends a step and returns its id.
    pub fn push(
        &mut self,
        subject: impl Into<String>,
        op: Op,
        after: Vec<Edge>,
        cause: Option<String>,
    ) -> StepId {
        let id = self.steps.len();
        self.steps.push(Step {
            id,
            subject: subject.into(),
            op,
            after,
            cause,
            within_replacement: false,
        });
        id
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Reorders the steps so each comes after the steps it depends on
    /// (stable: among ready steps, the earliest added goes first) and
    /// renumbers them. A cycle (a bug) leaves the remaining steps in their
    /// original order at the end.
    pub fn sort_topologically(&mut self) {
        let n = self.steps.len();
        let mut indegree: Vec<usize> = self.steps.iter().map(|s| s.after.len()).collect();
        let mut dependents: Vec<Vec<StepId>> = vec![Vec::new(); n];
        for step in &self.steps {
            for edge in &step.after {
                if edge.on < n {
                    dependents[edge.on].push(step.id);
                } else {
                    indegree[step.id] -= 1;
                }
            }
        }
        let mut ready: std::collections::BTreeSet<StepId> =
            (0..n).filter(|i| indegree[*i] == 0).collect();
        let mut order: Vec<StepId> = Vec::with_capacity(n);
        while let Some(next) = ready.pop_first() {
            order.push(next);
            for d in &dependents[next] {
                indegree[*d] -= 1;
                if indegree[*d] == 0 {
                    ready.insert(*d);
                }
            }
        }
        if order.len() < n {
            // A bug: the executor drops the edges that point forward.
            tracing::warn!(
                steps = n - order.len(),
                "the plan has a dependency cycle: these steps run without their order"
            );
            let placed: std::collections::HashSet<StepId> = order.iter().copied().collect();
            order.extend((0..n).filter(|i| !placed.contains(i)));
        }
        let mut new_id = vec![0; n];
        for (new, old) in order.iter().enumerate() {
            new_id[*old] = new;
        }
        let mut old_steps: Vec<Option<Step>> = std::mem::take(&mut self.steps)
            .into_iter()
            .map(Some)
            .collect();
        for old in order {
            let Some(mut step) = old_steps[old].take() else {
                continue;
            };
            step.id = new_id[old];
            for edge in &mut step.after {
                if edge.on < n {
                    edge.on = new_id[edge.on];
                }
            }
            for handle in step.op.handles_mut() {
                if let ContainerHandle::Created { step, .. } = handle {
                    *step = new_id[*step];
                }
            }
            self.steps.push(step);
        }
    }

    /// Drops the steps whose operation matches `drop`, keeping the order
    /// they gave: a kept step that waited for a dropped one waits for what
    /// the dropped one waited for (an edge is required if any edge on the
    /// way was). A container handle must name a kept step (a create).
    pub fn without(&mut self, drop: impl Fn(&Op) -> bool) {
        let n = self.steps.len();
        let dropped: Vec<bool> = self.steps.iter().map(|s| drop(&s.op)).collect();
        let mut new_id: Vec<Option<StepId>> = vec![None; n];
        let mut next = 0;
        for (old, gone) in dropped.iter().enumerate() {
            if !gone {
                new_id[old] = Some(next);
                next += 1;
            }
        }
        // Each step's edges onto kept steps, resolved through dropped ones
        // (steps only wait for earlier ones once sorted; resolve in order).
        let mut resolved: Vec<Vec<Edge>> = Vec::with_capacity(n);
        for step in &self.steps {
            let mut edges: Vec<Edge> = Vec::new();
            for edge in &step.after {
                let through: Vec<Edge> = match new_id.get(edge.on).copied().flatten() {
                    Some(_) => vec![*edge],
                    None if edge.on < resolved.len() => resolved[edge.on]
                        .iter()
                        .map(|e| Edge {
                            on: e.on,
                            kind: weaker(e.kind, edge.kind),
                        })
                        .collect(),
                    None => Vec::new(),
                };
                for e in through {
                    match edges.iter_mut().find(|have| have.on == e.on) {
                        Some(have) => have.kind = stronger(have.kind, e.kind),
                        None => edges.push(e),
                    }
                }
            }
            resolved.push(edges);
        }
        let steps = std::mem::take(&mut self.steps);
        for (old, (mut step, edges)) in steps.into_iter().zip(resolved).enumerate() {
            let Some(id) = new_id[old] else {
                continue;
            };
            step.id = id;
            step.after = edges
                .into_iter()
                .filter_map(|e| new_id[e.on].map(|on| Edge { on, kind: e.kind }))
                .collect();
            for handle in step.op.handles_mut() {
                if let ContainerHandle::Created { step, .. } = handle {
                    // Only starts and waits are dropped: a handle names a
                    // create, which stays.
                    if let Some(kept) = new_id[*step] {
                        *step = kept;
                    }
                }
            }
            self.steps.push(step);
        }
    }

    /// Steps whose operation matches `pred`.
    #[cfg(test)]
    pub fn find(&self, pred: impl Fn(&Op) -> bool) -> Vec<&Step> {
        self.steps.iter().filter(|s| pred(&s.op)).collect()
    }
}

/// How strongly an edge binds: order < optional < required.
fn strength(kind: EdgeKind) -> u8 {
    match kind {
        EdgeKind::Order => 0,
        EdgeKind::Optional => 1,
        EdgeKind::Required => 2,
    }
}

/// An edge through another binds as the weaker of the two.
fn weaker(a: EdgeKind, b: EdgeKind) -> EdgeKind {
    if strength(a) <= strength(b) {
        a
    } else {
        b
    }
}

/// Two edges onto one step bind as the stronger.
fn stronger(a: EdgeKind, b: EdgeKind) -> EdgeKind {
    if strength(a) >= strength(b) {
        a
    } else {
        b
    }
}

/// An edge that skips the dependent on failure.
pub fn required(on: StepId) -> Edge {
    Edge {
        on,
        kind: EdgeKind::Required,
    }
}

/// An ordering-only edge.
pub fn order(on: StepId) -> Edge {
    Edge {
        on,
        kind: EdgeKind::Order,
    }
}

impl fmt::Display for Plan {
    /// One line per step: `#3 start demo-web-1  after #2, #1?  (cause)`;
    /// `?` marks an optional dependency, `~` an ordering-only one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for kept in &self.unchanged {
            writeln!(
                f,
                "   keep {} ({}: running, up to date)",
                kept.container.name, kept.subject
            )?;
        }
        for step in &self.steps {
            write!(f, "#{:<3} {}", step.id + 1, step.op.describe())?;
            if !step.after.is_empty() {
                let deps: Vec<String> = step
                    .after
                    .iter()
                    .map(|e| {
                        let mark = match e.kind {
                            EdgeKind::Required => "",
                            EdgeKind::Optional => "?",
                            EdgeKind::Order => "~",
                        };
                        format!("#{}{mark}", e.on + 1)
                    })
                    .collect();
                write!(f, "  after {}", deps.join(", "))?;
            }
            if let Some(cause) = &step.cause {
                write!(f, "  ({cause})")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}
