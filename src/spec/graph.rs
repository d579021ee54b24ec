//! The dependency graph of a project's services: start levels, the reverse
//! for stopping, and the closure of a selected subset.

use super::model::Project;

/// Services grouped into levels: every service's dependencies sit in earlier levels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DependencyGraph {
    levels: Vec<Vec<String>>,
}

impl DependencyGraph {
    /// Builds the graph of `project` (validated: no cycles, no unknown names).
    pub fn new(project: &Project) -> DependencyGraph {
        let _ = project;
        DependencyGraph { levels: Vec::new() }
    }

    /// Start order: level 0 has no dependencies; services within a level are independent.
    pub fn start_levels(&self) -> &[Vec<String>] {
        &self.levels
    }
}
