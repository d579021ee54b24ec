//! Every compose project on the engine — torq's and docker compose's alike —
//! found through the labels compose puts on containers (`ls`).

use std::collections::BTreeMap;

use bollard::query_parameters::ListContainersOptions;

use super::error::ApiError;
use super::{labels, Engine};

/// One project as `ls` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ProjectSummary {
    pub(crate) name: String,
    /// Containers per engine state (`running`, `exited`, …), sorted by state.
    pub(crate) states: BTreeMap<String, usize>,
    /// The config files of its containers, each once, in first-seen order.
    pub(crate) config_files: Vec<String>,
}

impl ProjectSummary {
    /// Compose's status text: `exited(1), running(3)`.
    pub(crate) fn status(&self) -> String {
        self.states
            .iter()
            .map(|(state, n)| format!("{state}({n})"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Projects with containers on the engine (with `all`, also those whose
/// containers are all stopped), sorted by name.
pub(crate) async fn list_projects(
    engine: &Engine,
    all: bool,
) -> Result<Vec<ProjectSummary>, ApiError> {
    let options = ListContainersOptions {
        all,
        filters: Some(std::collections::HashMap::from([(
            "label".to_string(),
            vec![labels::PROJECT.to_string(), labels::CONFIG_HASH.to_string()],
        )])),
        ..Default::default()
    };
    let containers = engine
        .request(
            "list the engine's compose containers",
            engine.docker().list_containers(Some(options)),
        )
        .await?;
    let mut projects: BTreeMap<String, ProjectSummary> = BTreeMap::new();
    for c in containers {
        let labels = c.labels.unwrap_or_default();
        let Some(name) = labels.get(labels::PROJECT) else {
            continue;
        };
        let project = projects
            .entry(name.clone())
            .or_insert_with(|| ProjectSummary {
                name: name.clone(),
                ..Default::default()
            });
        let state = c.state.map(|s| s.to_string()).unwrap_or_default();
        *project.states.entry(state).or_default() += 1;
        let files = labels.get(labels::CONFIG_FILES).map(String::as_str);
        for file in files
            .unwrap_or_default()
            .split(',')
            .filter(|f| !f.is_empty())
        {
            if !project.config_files.iter().any(|f| f == file) {
                project.config_files.push(file.to_string());
            }
        }
    }
    Ok(projects.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_reads_as_compose_writes_it() {
        let summary = ProjectSummary {
            states: BTreeMap::from([("running".into(), 3), ("exited".into(), 1)]),
            ..Default::default()
        };
        assert_eq!(summary.status(), "exited(1), running(3)");
    }
}
