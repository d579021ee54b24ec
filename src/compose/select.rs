//! Naming services on the command line: [`NoSuchService`], the one error
//! (and wording) every command gives for a service the project lacks, and
//! [`check_services`], the check behind it.

use thiserror::Error;

use super::model::Project;

/// A service named on the command line that the project does not have.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("no such service: {name}{hint}")]
pub struct NoSuchService {
    pub name: String,
    /// Why, or what there is instead: ` (services: a, b)`, or that its
    /// profile is not enabled.
    pub hint: String,
}

impl NoSuchService {
    /// The error for `name` in `project`, with the hint that fits.
    pub fn new(project: &Project, name: &str) -> NoSuchService {
        let hint = if project.disabled_services.contains_key(name) {
            " (it belongs to a profile that is not enabled: use --profile)".to_string()
        } else {
            let known: Vec<&str> = project.services.keys().map(String::as_str).collect();
            format!(" (services: {})", known.join(", "))
        };
        NoSuchService {
            name: name.to_string(),
            hint,
        }
    }
}

/// Checks that `project` has every one of `names`.
pub fn check_services(project: &Project, names: &[String]) -> Result<(), NoSuchService> {
    match names.iter().find(|n| !project.services.contains_key(*n)) {
        Some(name) => Err(NoSuchService::new(project, name)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::model::Service;

    #[test]
    fn the_hint_lists_the_services_or_names_the_profile() {
        let mut project = Project::default();
        project.services.insert("web".into(), Service::default());
        project
            .disabled_services
            .insert("debug".into(), Service::default());
        assert_eq!(check_services(&project, &["web".into()]), Ok(()));
        let err = check_services(&project, &["db".into()]).unwrap_err();
        assert_eq!(err.to_string(), "no such service: db (services: web)");
        let err = check_services(&project, &["debug".into()]).unwrap_err();
        assert!(err.to_string().contains("use --profile"), "{err}");
    }
}
