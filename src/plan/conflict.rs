//! A create that finds its container name taken. A torq killed during `up`
//! leaves its requests in flight; the next `up` (the lock went with the dead
//! process) may plan the same create before they land, and the engine then
//! answers "name already in use". That is not a failure: torq looks at the
//! container holding the name and converges — it adopts the container when
//! it is what the step would have made and already runs, and replaces it
//! when it is the same replica otherwise. A container of that name without
//! the project's label, or of another service or replica of the project
//! (a `container_name` moved from one service to another), is never
//! touched: the create fails, as in docker compose.

use std::time::Duration;

use tokio::time::Instant;

use crate::engine::events::EventHub;
use crate::engine::ops;
use crate::engine::state::{self, NameHolder, ObservedContainer};
use crate::engine::Engine;

/// How many times a create is tried when its name keeps being taken.
pub(crate) const CREATE_ATTEMPTS: usize = 3;

/// How long a name reserved by a create in flight (the container cannot be
/// inspected yet) is waited for, and how often it is looked at.
const IN_FLIGHT_WAIT: Duration = Duration::from_secs(10);
const IN_FLIGHT_POLL: Duration = Duration::from_millis(100);

/// What the step wants to create.
pub(crate) struct Wanted<'a> {
    pub project: &'a str,
    pub service: &'a str,
    pub number: u32,
    pub name: &'a str,
    pub config_hash: Option<&'a str>,
}

/// What to do about the container holding the name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Resolution {
    /// It is the container the step would make, and it runs: use it.
    Adopt(String),
    /// It was removed: create again.
    Retry,
    /// No container of the project holds the name (or it could not be
    /// removed): the create's own failure stands, with this addition.
    Fail(Option<String>),
    /// Another container of the project holds the name (said here): the
    /// create fails and that container is left alone.
    Held(String),
}

/// Whether `existing` is the container `wanted` describes, complete: a
/// running container got through its create, network connections and
/// injected files before it was started.
pub(crate) fn adoptable(existing: &ObservedContainer, wanted: &Wanted<'_>) -> bool {
    same_replica(existing, wanted)
        && wanted.config_hash.is_some()
        && existing.config_hash.as_deref() == wanted.config_hash
        && existing.is_running()
}

/// Whether `existing` is the replica `wanted` makes (another torq's create
/// of it, or a leftover of it): only such a container may be replaced.
fn same_replica(existing: &ObservedContainer, wanted: &Wanted<'_>) -> bool {
    existing.service == wanted.service && existing.number == wanted.number && !existing.oneoff
}

/// `service web, replica 2`, `a one-off container of service web`.
fn holder_role(existing: &ObservedContainer) -> String {
    if existing.oneoff {
        format!("a one-off container of service {}", existing.service)
    } else {
        format!("service {}, replica {}", existing.service, existing.number)
    }
}

/// Looks at the container holding `wanted.name` and adopts or removes it.
/// A name held by a create still in flight is waited for (bounded).
pub(crate) async fn resolve(engine: &Engine, hub: &EventHub, wanted: &Wanted<'_>) -> Resolution {
    let deadline = Instant::now() + IN_FLIGHT_WAIT;
    let existing = loop {
        match state::name_holder(engine, wanted.project, wanted.name).await {
            Ok(NameHolder::Ours(existing)) => break existing,
            Ok(NameHolder::Foreign) => return Resolution::Fail(None),
            Ok(NameHolder::Nobody) if Instant::now() < deadline => {
                tokio::time::sleep(IN_FLIGHT_POLL).await
            }
            // The name came free: try the create again.
            Ok(NameHolder::Nobody) => return Resolution::Retry,
            Err(err) => return Resolution::Fail(Some(err.to_string())),
        }
    };
    if !same_replica(&existing, wanted) {
        return Resolution::Held(format!(
            "the name belongs to {} of this project ({}), which torq leaves alone \
             (remove it, or `torq down`)",
            existing.name,
            holder_role(&existing)
        ));
    }
    if adoptable(&existing, wanted) {
        tracing::debug!(container = %existing.name, "adopting a container made by an earlier up");
        hub.seed(&existing);
        return Resolution::Adopt(existing.id);
    }
    tracing::debug!(container = %existing.name, "replacing a container made by an earlier up");
    let removal = ops::Removal {
        force: true,
        anonymous_volumes: true,
    };
    if let Err(err) = ops::remove_container(engine, &existing.id, &existing.name, removal).await {
        return Resolution::Fail(Some(err.to_string()));
    }
    // A removal already in progress (a duplicate's, planned beside this
    // create) answers before the name is free: wait until it is.
    let deadline = Instant::now() + IN_FLIGHT_WAIT;
    while Instant::now() < deadline {
        match state::name_holder(engine, wanted.project, wanted.name).await {
            Ok(NameHolder::Ours(still)) if still.id == existing.id => {
                tokio::time::sleep(IN_FLIGHT_POLL).await
            }
            _ => break,
        }
    }
    Resolution::Retry
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::state::RunState;

    fn container(state: RunState, hash: &str) -> ObservedContainer {
        ObservedContainer {
            service: "web".into(),
            number: 1,
            config_hash: Some(hash.into()),
            state,
            ..Default::default()
        }
    }

    fn wanted(hash: &str) -> Wanted<'_> {
        Wanted {
            project: "demo",
            service: "web",
            number: 1,
            name: "demo-web-1",
            config_hash: Some(hash),
        }
    }

    #[test]
    fn a_running_container_with_the_wanted_config_is_adopted() {
        assert!(adoptable(&container(RunState::Running, "h"), &wanted("h")));
    }

    #[test]
    fn a_created_or_different_container_is_replaced() {
        assert!(!adoptable(&container(RunState::Created, "h"), &wanted("h")));
        assert!(!adoptable(
            &container(RunState::Running, "old"),
            &wanted("h")
        ));
        let mut other_replica = container(RunState::Running, "h");
        other_replica.number = 2;
        assert!(!adoptable(&other_replica, &wanted("h")));
    }

    #[test]
    fn only_the_same_replica_may_be_replaced() {
        assert!(same_replica(
            &container(RunState::Created, "old"),
            &wanted("h")
        ));
        let mut other_service = container(RunState::Running, "h");
        other_service.service = "db".into();
        assert!(!same_replica(&other_service, &wanted("h")));
        assert_eq!(holder_role(&other_service), "service db, replica 1");
        let mut one_off = container(RunState::Running, "h");
        one_off.oneoff = true;
        assert!(!same_replica(&one_off, &wanted("h")));
    }
}
