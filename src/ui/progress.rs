//! The terminal side of progress: implementations of [`Reporter`] —
//! indicatif bars on a TTY, one plain line per change otherwise, nothing but
//! errors with `-q` — and the color of each [`Phase`].

use std::sync::Mutex;

use super::{styles, Shell};
use crate::progress::{Event, Phase, Reporter};

/// The color a phase's word is shown in.
fn phase_style(phase: Phase) -> anstyle::Style {
    match phase {
        Phase::Failed | Phase::Killed => styles::RED,
        Phase::Skipped | Phase::Exited => styles::YELLOW,
        Phase::Healthy | Phase::Running | Phase::Built | Phase::Removed | Phase::Stopped => {
            styles::OK
        }
        _ => styles::DIM,
    }
}

/// The widest of `subjects`.
fn widest(subjects: &[String]) -> usize {
    subjects.iter().map(String::len).max().unwrap_or(0)
}

/// One plain line per change on stderr: for non-TTY output (CI logs, pipes).
pub(crate) struct PlainReporter {
    shell: Shell,
    width: Mutex<usize>,
}

impl PlainReporter {
    pub(crate) fn new(shell: Shell) -> Self {
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
                let label = self.shell.paint_err(phase_style(phase), phase.label());
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

    fn expect_subjects(&self, subjects: &[String]) {
        let mut width = self.width.lock().unwrap_or_else(|e| e.into_inner());
        *width = (*width).max(widest(subjects));
    }
}

/// Progress bars on a terminal: one line per subject, updated in place
/// (a spinner while it is in progress, its final phase once done); warnings
/// and notes print above the bars. Build output shows with `-v`.
pub(crate) struct BarReporter {
    shell: Shell,
    multi: indicatif::MultiProgress,
    bars: Mutex<BarState>,
}

#[derive(Default)]
struct BarState {
    bars: Vec<(String, indicatif::ProgressBar)>,
    width: usize,
}

impl BarReporter {
    pub(crate) fn new(shell: Shell) -> Self {
        let multi =
            indicatif::MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::stderr());
        BarReporter {
            shell,
            multi,
            bars: Mutex::new(BarState::default()),
        }
    }

    fn line(&self, subject: &str, width: usize, phase: Phase, detail: Option<&str>) -> String {
        let label = self.shell.paint_err(phase_style(phase), phase.label());
        match detail {
            Some(detail) => format!("{subject:<width$}  {label}  {detail}"),
            None => format!("{subject:<width$}  {label}"),
        }
    }
}

impl Reporter for BarReporter {
    fn expect_subjects(&self, subjects: &[String]) {
        let mut state = self.bars.lock().unwrap_or_else(|e| e.into_inner());
        state.width = state.width.max(widest(subjects));
    }

    fn report(&self, event: Event) {
        match event {
            Event::Progress {
                subject,
                phase,
                detail,
            } => {
                let mut state = self.bars.lock().unwrap_or_else(|e| e.into_inner());
                state.width = state.width.max(subject.len());
                let width = state.width;
                let open = state
                    .bars
                    .iter()
                    .find(|(s, bar)| *s == subject && !bar.is_finished());
                let bar = match open {
                    Some((_, bar)) => bar.clone(),
                    None => {
                        let bar = self.multi.add(indicatif::ProgressBar::new_spinner());
                        let style = indicatif::ProgressStyle::with_template("{spinner} {wide_msg}")
                            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner());
                        bar.set_style(style);
                        bar.enable_steady_tick(std::time::Duration::from_millis(100));
                        state.bars.push((subject.clone(), bar.clone()));
                        bar
                    }
                };
                let line = self.line(&subject, width, phase, detail.as_deref());
                // A created network or volume has nothing more to do.
                let resource_done = phase == Phase::Created
                    && (subject.starts_with("network ") || subject.starts_with("volume "));
                if phase.is_final() || resource_done {
                    let mark = match phase {
                        Phase::Failed | Phase::Killed => self.shell.paint_err(styles::RED, "✗"),
                        Phase::Skipped => self.shell.paint_err(styles::YELLOW, "-"),
                        _ => self.shell.paint_err(styles::OK, "✓"),
                    };
                    bar.set_style(
                        indicatif::ProgressStyle::with_template("{msg}")
                            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
                    );
                    bar.finish_with_message(format!("{mark} {line}"));
                } else {
                    bar.set_message(line);
                }
            }
            Event::BuildOutput { subject, line } => {
                if self.shell.verbose_level() > 0 {
                    let _ = self.multi.println(format!(
                        "{} {line}",
                        self.shell.paint_err(styles::DIM, &subject)
                    ));
                }
            }
            Event::Warning(msg) => {
                if !self.shell.is_quiet() {
                    let _ = self.multi.println(format!(
                        "{} {msg}",
                        self.shell.paint_err(styles::WARN, "warning:")
                    ));
                }
            }
            Event::Info(msg) => {
                if !self.shell.is_quiet() {
                    let _ = self.multi.println(msg);
                }
            }
        }
    }

    fn finish(&self) {
        let state = self.bars.lock().unwrap_or_else(|e| e.into_inner());
        for (_, bar) in &state.bars {
            if !bar.is_finished() {
                bar.finish();
            }
        }
    }
}

/// The reporter for a command's progress: bars on a terminal, plain lines
/// otherwise, errors only with `-q`.
pub(crate) fn reporter_for(shell: &Shell) -> std::sync::Arc<dyn Reporter> {
    if shell.stderr_is_tty() && !shell.is_quiet() {
        std::sync::Arc::new(BarReporter::new(shell.clone()))
    } else {
        std::sync::Arc::new(PlainReporter::new(shell.clone()))
    }
}
