//! Progress reporting: the [`Reporter`] trait the core layers call, the
//! [`Event`]s they send, and the terminal implementations — indicatif bars on a
//! TTY, one plain line per change otherwise, nothing but errors with `-q`.

use std::sync::Mutex;

use super::{styles, Shell};

/// The phase a service (or one of its containers) is in during `up`/`down`/`build`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    Building,
    Built,
    Pulling,
    Creating,
    Created,
    Recreating,
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

    fn style(self) -> anstyle::Style {
        match self {
            Phase::Failed | Phase::Killed => styles::RED,
            Phase::Skipped | Phase::Exited => styles::YELLOW,
            Phase::Healthy | Phase::Running | Phase::Built | Phase::Removed | Phase::Stopped => {
                styles::OK
            }
            _ => styles::DIM,
        }
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

    /// Called once the operation is over, so bars can be finished.
    fn finish(&self) {}
}

/// Discards everything (tests, `--dry-run`).
pub struct NullReporter;

impl Reporter for NullReporter {
    fn report(&self, _event: Event) {}
}

/// One plain line per change on stderr: for non-TTY output (CI logs, pipes).
pub struct PlainReporter {
    shell: Shell,
    width: Mutex<usize>,
}

impl PlainReporter {
    pub fn new(shell: Shell) -> Self {
        PlainReporter {
            shell,
            width: Mutex::new(0),
        }
    }
}

impl Reporter for PlainReporter {
    fn report(&self, event: Event) {
        match event {
            Event::Progress {
                subject,
                phase,
                detail,
            } => {
                if self.shell.is_quiet() && phase != Phase::Failed {
                    return;
                }
                let width = {
                    let mut w = self.width.lock().unwrap_or_else(|e| e.into_inner());
                    *w = (*w).max(subject.len());
                    *w
                };
                let label = self.shell.paint_err(phase.style(), phase.label());
                match detail {
                    Some(detail) => eprintln!("{subject:<width$}  {label}  {detail}"),
                    None => eprintln!("{subject:<width$}  {label}"),
                }
            }
            Event::BuildOutput { subject, line } => {
                if self.shell.verbose_level() > 0 {
                    eprintln!("{} {line}", self.shell.paint_err(styles::DIM, &subject));
                }
            }
            Event::Warning(msg) => self.shell.warn(&msg),
            Event::Info(msg) => self.shell.info(&msg),
        }
    }
}
