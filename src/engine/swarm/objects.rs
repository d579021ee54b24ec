//! A stack's Swarm objects: list them by the stack's namespace label, create
//! networks, secrets and configs, create/update/remove services, and remove
//! what belongs to the stack. Every removal first checks the namespace label.

use std::collections::HashMap;

use base64::Engine as _;
use bollard::models::{ConfigSpec, Driver, NetworkCreateRequest, SecretSpec, Service, ServiceSpec};
use bollard::query_parameters::{
    ListConfigsOptions, ListNetworksOptions, ListSecretsOptions, ListServicesOptions,
    UpdateServiceOptions,
};

use super::convert::{FilePlan, NetworkPlan};
use super::{enum_text, stack_filter, NAMESPACE_LABEL, SPEC_HASH_LABEL};
use crate::engine::error::ApiError;
use crate::engine::Engine;

/// A service of a stack as the engine has it.
#[derive(Debug, Clone)]
pub struct StackService {
    pub id: String,
    /// `STACK_SERVICE`.
    pub name: String,
    /// The object version updates must name.
    pub version: u64,
    /// torq's spec hash label (`None`: not deployed by torq).
    pub hash: Option<String>,
    pub spec: ServiceSpec,
    /// Tasks desired / running, as the engine counts them.
    pub desired_tasks: u64,
    pub running_tasks: u64,
    /// `UpdateStatus.State` (`updating`, `paused`, `rollback_completed`, …).
    pub update_state: Option<String>,
}

impl StackService {
    fn from_api(service: Service) -> StackService {
        let spec = service.spec.unwrap_or_default();
        let status = service.service_status.unwrap_or_default();
        let update = service.update_status.unwrap_or_default();
        StackService {
            id: service.id.unwrap_or_default(),
            name: spec.name.clone().unwrap_or_default(),
            version: service.version.and_then(|v| v.index).unwrap_or_default(),
            hash: spec
                .labels
                .as_ref()
                .and_then(|l| l.get(SPEC_HASH_LABEL))
                .cloned(),
            desired_tasks: status.desired_tasks.unwrap_or_default(),
            running_tasks: status.running_tasks.unwrap_or_default(),
            update_state: update.state.map(|s| super::enum_text(&s)),
            spec,
        }
    }

    /// Whether the service carries `stack`'s namespace label.
    fn belongs_to(&self, stack: &str) -> bool {
        self.spec
            .labels
            .as_ref()
            .and_then(|l| l.get(NAMESPACE_LABEL))
            .is_some_and(|s| s == stack)
    }
}

/// The stack's services, by name, with task counts.
pub async fn list_services(engine: &Engine, stack: &str) -> Result<Vec<StackService>, ApiError> {
    let options = ListServicesOptions {
        filters: Some(stack_filter(stack)),
        status: Some(true),
    };
    let services = engine
        .request(
            format!("list services of stack {stack}"),
            engine.docker().list_services(Some(options)),
        )
        .await?;
    Ok(services
        .into_iter()
        .map(StackService::from_api)
        .filter(|s| s.belongs_to(stack))
        .collect())
}

/// One service of the stack by id, with task counts (`None` when gone).
pub async fn inspect_service(
    engine: &Engine,
    stack: &str,
    id: &str,
) -> Result<Option<StackService>, ApiError> {
    Ok(list_services(engine, stack)
        .await?
        .into_iter()
        .find(|s| s.id == id))
}

/// Creates a service; returns its id.
pub async fn create_service(engine: &Engine, spec: ServiceSpec) -> Result<String, ApiError> {
    let name = spec.name.clone().unwrap_or_default();
    let created = engine
        .request(
            format!("create service {name}"),
            engine.docker().create_service(spec, None),
        )
        .await?;
    Ok(created.id.unwrap_or_default())
}

/// Replaces a service's spec (a rolling update per its update config).
pub async fn update_service(
    engine: &Engine,
    current: &StackService,
    spec: ServiceSpec,
) -> Result<(), ApiError> {
    send_update(engine, current, spec, None, "update").await
}

/// Asks Swarm to roll a service back to its previous spec.
pub async fn rollback_service(engine: &Engine, current: &StackService) -> Result<(), ApiError> {
    send_update(
        engine,
        current,
        current.spec.clone(),
        Some("previous"),
        "roll back",
    )
    .await
}

async fn send_update(
    engine: &Engine,
    current: &StackService,
    spec: ServiceSpec,
    rollback: Option<&str>,
    verb: &str,
) -> Result<(), ApiError> {
    let options = UpdateServiceOptions {
        version: i32::try_from(current.version).unwrap_or(i32::MAX),
        rollback: rollback.map(str::to_string),
        ..UpdateServiceOptions::default()
    };
    engine
        .request(
            format!("{verb} service {}", current.name),
            engine
                .docker()
                .update_service(&current.id, spec, options, None),
        )
        .await
        .map(|_| ())
}

/// Removes a service of the stack (a gone service is not an error).
pub async fn remove_service(engine: &Engine, service: &StackService) -> Result<(), ApiError> {
    match engine
        .request(
            format!("remove service {}", service.name),
            engine.docker().delete_service(&service.id),
        )
        .await
    {
        Err(e) if e.is_not_found() => Ok(()),
        other => other,
    }
}

/// A network as listed: name, id, driver, labels.
#[derive(Debug, Clone)]
pub struct ListedObject {
    pub id: String,
    pub name: String,
    pub driver: String,
    pub labels: HashMap<String, String>,
}

/// Every network named `name` (any owner): to tell ours from a clash.
async fn networks_named(engine: &Engine, name: &str) -> Result<Vec<ListedObject>, ApiError> {
    let filters = HashMap::from([("name".to_string(), vec![name.to_string()])]);
    let networks = engine
        .request(
            format!("list networks named {name}"),
            engine.docker().list_networks(Some(ListNetworksOptions {
                filters: Some(filters),
            })),
        )
        .await?;
    Ok(networks
        .into_iter()
        .map(|n| ListedObject {
            id: n.id.unwrap_or_default(),
            name: n.name.unwrap_or_default(),
            driver: n.driver.unwrap_or_default(),
            labels: n.labels.unwrap_or_default(),
        })
        .filter(|n| n.name == name)
        .collect())
}

/// What happened to a network, secret or config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ensured {
    Created,
    Existing,
}

/// Creates the stack's network unless it exists; an external one must
/// exist; a same-named network of another kind (a `torq up` bridge) is an error.
pub async fn ensure_network(
    engine: &Engine,
    stack: &str,
    plan: &NetworkPlan,
) -> Result<Ensured, ApiError> {
    let existing = networks_named(engine, &plan.name).await?;
    let op = || format!("create network {}", plan.name);
    if let Some(found) = existing.first() {
        let ours = found
            .labels
            .get(NAMESPACE_LABEL)
            .is_some_and(|s| s == stack);
        if plan.external || ours {
            return Ok(Ensured::Existing);
        }
        return Err(ApiError::Engine {
            op: op(),
            message: format!(
                "a {} network of that name exists and is not this stack's \
                 (left by `torq up`? run `torq -p {stack} down` first)",
                found.driver
            ),
            status: Some(409),
        });
    }
    if plan.external {
        return Err(ApiError::Engine {
            op: format!("use external network {}", plan.name),
            message: "no such network; create it first (`docker network create -d overlay …`)"
                .into(),
            status: Some(404),
        });
    }
    let request = NetworkCreateRequest {
        name: plan.name.clone(),
        driver: Some(plan.driver.clone()),
        internal: plan.internal.then_some(true),
        attachable: plan.attachable.then_some(true),
        options: Some(plan.options.clone()),
        labels: Some(plan.labels.clone()),
        ipam: plan.ipam.clone(),
        ..NetworkCreateRequest::default()
    };
    engine
        .request(op(), engine.docker().create_network(request))
        .await?;
    Ok(Ensured::Created)
}

/// The stack's networks.
pub async fn list_networks(engine: &Engine, stack: &str) -> Result<Vec<ListedObject>, ApiError> {
    let networks = engine
        .request(
            format!("list networks of stack {stack}"),
            engine.docker().list_networks(Some(ListNetworksOptions {
                filters: Some(stack_filter(stack)),
            })),
        )
        .await?;
    Ok(networks
        .into_iter()
        .map(|n| ListedObject {
            id: n.id.unwrap_or_default(),
            name: n.name.unwrap_or_default(),
            driver: n.driver.unwrap_or_default(),
            labels: n.labels.unwrap_or_default(),
        })
        .filter(|n| n.labels.get(NAMESPACE_LABEL).is_some_and(|s| s == stack))
        .collect())
}

/// Removes a network of the stack (gone is fine).
pub async fn remove_network(engine: &Engine, network: &ListedObject) -> Result<(), ApiError> {
    match engine
        .request(
            format!("remove network {}", network.name),
            engine.docker().remove_network(&network.id),
        )
        .await
    {
        Err(e) if e.is_not_found() => Ok(()),
        other => other,
    }
}

/// Secrets or configs: the two kinds of file objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Secret,
    Config,
}

impl FileKind {
    pub fn word(self) -> &'static str {
        match self {
            FileKind::Secret => "secret",
            FileKind::Config => "config",
        }
    }
}

/// The stack's secrets or configs (name → id, labels).
pub async fn list_files(
    engine: &Engine,
    stack: &str,
    kind: FileKind,
) -> Result<Vec<ListedObject>, ApiError> {
    let op = format!("list {}s of stack {stack}", kind.word());
    let filters = Some(stack_filter(stack));
    let listed: Vec<Listed> = match kind {
        FileKind::Secret => engine
            .request(
                op,
                engine
                    .docker()
                    .list_secrets(Some(ListSecretsOptions { filters })),
            )
            .await?
            .into_iter()
            .map(|s| {
                let spec = s.spec.unwrap_or_default();
                (s.id, spec.name, spec.labels)
            })
            .collect(),
        FileKind::Config => engine
            .request(
                op,
                engine
                    .docker()
                    .list_configs(Some(ListConfigsOptions { filters })),
            )
            .await?
            .into_iter()
            .map(|c| {
                let spec = c.spec.unwrap_or_default();
                (c.id, spec.name, spec.labels)
            })
            .collect(),
    };
    Ok(listed
        .into_iter()
        .map(|(id, name, labels)| ListedObject {
            id: id.unwrap_or_default(),
            name: name.unwrap_or_default(),
            driver: String::new(),
            labels: labels.unwrap_or_default(),
        })
        .filter(|o| o.labels.get(NAMESPACE_LABEL).is_some_and(|s| s == stack))
        .collect())
}

/// A listed secret or config: id, name, labels.
type Listed = (
    Option<String>,
    Option<String>,
    Option<HashMap<String, String>>,
);

/// Creates a secret or config unless one of its (content-addressed) name
/// exists; returns its id.
pub async fn ensure_file(
    engine: &Engine,
    existing: &[ListedObject],
    plan: &FilePlan,
    kind: FileKind,
) -> Result<(String, Ensured), ApiError> {
    if let Some(found) = existing.iter().find(|o| o.name == plan.name) {
        return Ok((found.id.clone(), Ensured::Existing));
    }
    let op = format!("create {} {}", kind.word(), plan.name);
    let data = base64::engine::general_purpose::STANDARD.encode(&plan.data);
    let templating = plan.template_driver.as_ref().map(|name| Driver {
        name: name.clone(),
        options: None,
    });
    let created = match kind {
        FileKind::Secret => {
            let spec = SecretSpec {
                name: Some(plan.name.clone()),
                labels: Some(plan.labels.clone()),
                data: Some(data),
                templating,
                ..SecretSpec::default()
            };
            engine
                .request(op, engine.docker().create_secret(spec))
                .await?
        }
        FileKind::Config => {
            let spec = ConfigSpec {
                name: Some(plan.name.clone()),
                labels: Some(plan.labels.clone()),
                data: Some(data),
                templating,
            };
            engine
                .request(op, engine.docker().create_config(spec))
                .await?
        }
    };
    Ok((created.id, Ensured::Created))
}

/// Removes a secret or config of the stack. One still in use (by a task
/// being shut down) answers "in use": the caller decides whether to retry.
pub async fn remove_file(
    engine: &Engine,
    object: &ListedObject,
    kind: FileKind,
) -> Result<(), ApiError> {
    let op = format!("remove {} {}", kind.word(), object.name);
    let result = match kind {
        FileKind::Secret => {
            engine
                .request(op, engine.docker().delete_secret(&object.id))
                .await
        }
        FileKind::Config => {
            engine
                .request(op, engine.docker().delete_config(&object.id))
                .await
        }
    };
    match result {
        Err(e) if e.is_not_found() => Ok(()),
        other => other,
    }
}

/// A task's container on this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskContainer {
    pub id: String,
    pub name: String,
    /// The service whose task it runs (the engine's service-id label).
    pub service_id: String,
    pub running: bool,
}

/// The containers on this node of a stack's tasks, running or not (by the
/// stack's namespace label, which Swarm puts on task containers, and the
/// service-id label the engine adds).
pub async fn stack_containers(
    engine: &Engine,
    stack: &str,
) -> Result<Vec<TaskContainer>, ApiError> {
    let options = bollard::query_parameters::ListContainersOptions {
        filters: Some(stack_filter(stack)),
        all: true,
        ..Default::default()
    };
    let containers = engine
        .request(
            format!("list containers of stack {stack}"),
            engine.docker().list_containers(Some(options)),
        )
        .await?;
    Ok(containers
        .into_iter()
        .filter_map(|c| {
            let service_id = c.labels.as_ref()?.get(super::SERVICE_ID_LABEL)?.clone();
            let name = c
                .names
                .and_then(|n| n.into_iter().next())
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_string();
            Some(TaskContainer {
                running: c.state.as_ref().is_some_and(|s| enum_text(s) == "running"),
                id: c.id.unwrap_or_default(),
                name,
                service_id,
            })
        })
        .collect())
}

/// A service's stop grace period (Swarm's default: 10 s).
pub fn stop_grace(service: &StackService) -> std::time::Duration {
    let nanos = service
        .spec
        .task_template
        .as_ref()
        .and_then(|t| t.container_spec.as_ref())
        .and_then(|c| c.stop_grace_period)
        .and_then(|n| u64::try_from(n).ok())
        .unwrap_or(10_000_000_000);
    std::time::Duration::from_nanos(nanos)
}
