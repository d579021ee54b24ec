//! Progress as data: the [`Reporter`] trait through which the core layers
//! (`engine`, `plan`, `service`) tell what they are doing, and the [`Event`]s
//! and [`Phase`]s they send — as docker compose's `api.EventProcessor`. The
//! core layers never print; the terminal implementations live in
//! `ui::progress`, and [`NullReporter`] discards everything.

/// The phase a service (or one of its containers) is in during `up`/`down`/`build`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    Building,
    Built,
    Pulling,
    Creating,
    Created,
    Recreating,
    Recreated,
    Starting,
    Started,
    Waiting,
    Healthy,
    Running,
    Exited,
    Stopping,
    Stopped,
    Killed,
    Removing,
    Removed,
    Unchanged,
    Skipped,
    Failed,
}

impl Phase {
    /// The word shown to the user.
    pub fn label(self) -> &'static str {
        match self {
            Phase::Building => "building",
            Phase::Built => "built",
            Phase::Pulling => "pulling",
            Phase::Creating => "creating",
            Phase::Created => "created",
            Phase::Recreating => "recreating",
            Phase::Recreated => "recreated",
            Phase::Starting => "starting",
            Phase::Started => "started",
            Phase::Waiting => "waiting",
            Phase::Healthy => "healthy",
            Phase::Running => "running",
            Phase::Exited => "exited",
            Phase::Stopping => "stopping",
            Phase::Stopped => "stopped",
            Phase::Killed => "killed",
            Phase::Removing => "removing",
            Phase::Removed => "removed",
            Phase::Unchanged => "unchanged",
            Phase::Skipped => "skipped",
            Phase::Failed => "failed",
        }
    }

    /// Whether this phase ends the subject's progress.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Phase::Built
                | Phase::Healthy
                | Phase::Running
                | Phase::Exited
                | Phase::Stopped
                | Phase::Killed
                | Phase::Removed
                | Phase::Unchanged
                | Phase::Skipped
                | Phase::Failed
        )
    }
}

/// Something a core layer wants the user to know.
#[derive(Debug, Clone)]
pub enum Event {
    /// A subject (a service, container, network, volume or image) changed phase.
    Progress {
        subject: String,
        phase: Phase,
        detail: Option<String>,
    },
    /// A line of build output (shown with `-v`).
    BuildOutput { subject: String, line: String },
    /// Something the user should look at; the operation goes on.
    Warning(String),
    /// A neutral note ("nothing to stop", "waiting for the project lock").
    Info(String),
}

/// Receives progress from the core layers. Implementations decide how (and
/// whether) to show it; core layers never print.
pub trait Reporter: Send + Sync {
    fn report(&self, event: Event);

    /// Convenience: a phase change.
    fn progress(&self, subject: &str, phase: Phase, detail: Option<String>) {
        self.report(Event::Progress {
            subject: subject.to_string(),
            phase,
            detail,
        });
    }

    /// The subjects the operation may report (services, `network NAME`,
    /// …), before it starts: the subject column is made wide enough for all
    /// of them at once, so it does not shift halfway through.
    fn expect_subjects(&self, _subjects: &[String]) {}

    /// Called once the operation is over, so bars can be finished.
    fn finish(&self) {}
}

/// Discards everything (tests, `--dry-run`).
pub struct NullReporter;

impl Reporter for NullReporter {
    fn report(&self, _event: Event) {}
}
