//! What `torq status` and `torq logs` need to know about a project's
//! containers beyond their list entry: one inspect per container (made in
//! parallel) for PID, restart count, start time, health and its last probe
//! output, published ports, image and the log file.

use std::collections::HashMap;

use bollard::query_parameters::ListContainersOptions;

use super::logs::LogStreamError;
use super::{labels, Engine};

/// A container of the project, from the engine's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedContainer {
    pub id: String,
    pub name: String,
    pub service: String,
    pub number: u32,
    pub oneoff: bool,
}

/// The project's containers (any state), sorted by service then number.
pub async fn project_containers(
    engine: &Engine,
    project: &str,
) -> Result<Vec<ListedContainer>, LogStreamError> {
    let options = ListContainersOptions {
        all: true,
        filters: Some(HashMap::from([(
            "label".to_string(),
            vec![labels::project_filter(project)],
        )])),
        ..Default::default()
    };
    let summaries = engine
        .docker()
        .list_containers(Some(options))
        .await
        .map_err(|e| {
            LogStreamError::from_bollard(&format!("list the containers of project {project}"), e)
        })?;
    let mut containers: Vec<ListedContainer> = summaries
        .into_iter()
        .filter_map(|s| {
            let labels = s.labels.unwrap_or_default();
            if labels.get(labels::PROJECT).map(String::as_str) != Some(project) {
                return None;
            }
            let id = s.id?;
            Some(ListedContainer {
                name: s
                    .names
                    .and_then(|n| n.into_iter().next())
                    .map(|n| n.trim_start_matches('/').to_string())
                    .unwrap_or_else(|| id.chars().take(12).collect()),
                id,
                service: labels.get(labels::SERVICE).cloned().unwrap_or_default(),
                number: labels
                    .get(labels::CONTAINER_NUMBER)
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0),
                oneoff: labels
                    .get(labels::ONEOFF)
                    .is_some_and(|v| v.eq_ignore_ascii_case("true")),
            })
        })
        .collect();
    containers.sort_by(|a, b| (&a.service, a.number).cmp(&(&b.service, b.number)));
    Ok(containers)
}
