//! The terminal: the only layer that writes to stdout and stderr.
//!
//! - [`Shell`] owns verbosity, the color decision (`--color`, `NO_COLOR`,
//!   `CLICOLOR_FORCE`, TTY detection) and the output streams; a closed stdout
//!   (`torq logs | head`) ends the process quietly with exit 0.
//! - [`progress`] implements the core layers' `progress::Reporter` for the
//!   terminal: bars on a TTY, plain lines otherwise.
//! - [`status`] renders the service layer's status report as a table.
//! - [`stdout`]: a stdout for log lines that never blocks the runtime (a
//!   writer thread behind a bounded queue), for `up --attach`.
//! - [`init_tracing`] routes torq's own tracing events to stderr with `-v` or
//!   `TORQ_LOG`.

pub(crate) mod live;
pub(crate) mod progress;
pub(crate) mod status;
pub(crate) mod stdout;
pub(crate) mod table;

use std::io::{self, IsTerminal, Write};

use anstyle::{AnsiColor, Color, Style};

/// How much the user wants to hear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verbosity {
    /// `-q`: errors and final summaries only.
    Quiet,
    /// The default.
    Normal,
    /// `-v` (1), `-vv` (2), …
    Verbose(u8),
}

/// The user's color preference before looking at the terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Resolves the choice for a stream: `always`/`never` win; `auto` colors a
    /// terminal unless `NO_COLOR` is set, and `CLICOLOR_FORCE` forces color.
    pub(crate) fn resolve(self, is_tty: bool) -> bool {
        let env_set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                if env_set("NO_COLOR") {
                    false
                } else if std::env::var_os("CLICOLOR_FORCE")
                    .is_some_and(|v| v != "0" && !v.is_empty())
                {
                    true
                } else {
                    is_tty
                }
            }
        }
    }
}

/// Common styles, so every command colors the same things the same way.
pub(crate) mod styles {
    use super::*;
    pub(crate) const ERROR: Style = Style::new()
        .fg_color(Some(Color::Ansi(AnsiColor::Red)))
        .bold();
    pub(crate) const WARN: Style = Style::new()
        .fg_color(Some(Color::Ansi(AnsiColor::Yellow)))
        .bold();
    pub(crate) const OK: Style = Style::new().fg_color(Some(Color::Ansi(AnsiColor::Green)));
    pub(crate) const RED: Style = Style::new().fg_color(Some(Color::Ansi(AnsiColor::Red)));
    pub(crate) const YELLOW: Style = Style::new().fg_color(Some(Color::Ansi(AnsiColor::Yellow)));
    pub(crate) const GRAY: Style = Style::new().fg_color(Some(Color::Ansi(AnsiColor::BrightBlack)));
    pub(crate) const BOLD: Style = Style::new().bold();
    pub(crate) const DIM: Style = Style::new().dimmed();
}

/// The terminal as torq sees it.
#[derive(Debug, Clone)]
pub(crate) struct Shell {
    verbosity: Verbosity,
    out_color: bool,
    err_color: bool,
    err_tty: bool,
}

impl Shell {
    /// A shell for the current process's stdout and stderr.
    pub(crate) fn new(verbosity: Verbosity, color_choice: ColorChoice) -> Self {
        let err_tty = io::stderr().is_terminal();
        Shell {
            verbosity,
            out_color: color_choice.resolve(io::stdout().is_terminal()),
            err_color: color_choice.resolve(err_tty),
            err_tty,
        }
    }

    pub(crate) fn is_quiet(&self) -> bool {
        self.verbosity == Verbosity::Quiet
    }

    /// The `-v` count (0 when not verbose).
    pub(crate) fn verbose_level(&self) -> u8 {
        match self.verbosity {
            Verbosity::Verbose(n) => n,
            _ => 0,
        }
    }

    /// Whether stdout gets ANSI colors.
    pub(crate) fn out_color(&self) -> bool {
        self.out_color
    }

    /// Whether stderr gets ANSI colors.
    pub(crate) fn err_color(&self) -> bool {
        self.err_color
    }

    pub(crate) fn stderr_is_tty(&self) -> bool {
        self.err_tty
    }

    /// `text` in `style` when stderr is colored.
    pub(crate) fn paint_err(&self, style: Style, text: &str) -> String {
        paint(self.err_color, style, text)
    }

    /// Writes `text` to stdout as is. A closed pipe ends the process with 0.
    pub(crate) fn out(&self, text: &str) {
        let mut stdout = io::stdout().lock();
        if let Err(err) = stdout
            .write_all(text.as_bytes())
            .and_then(|_| stdout.flush())
        {
            exit_on_closed_pipe(&err);
        }
    }

    /// Writes one line to stdout.
    pub(crate) fn outln(&self, line: &str) {
        let mut stdout = io::stdout().lock();
        if let Err(err) = writeln!(stdout, "{line}").and_then(|_| stdout.flush()) {
            exit_on_closed_pipe(&err);
        }
    }

    /// A progress or informational line on stderr; hidden with `-q`.
    pub(crate) fn info(&self, msg: &str) {
        if !self.is_quiet() {
            eprintln!("{msg}");
        }
    }

    /// A line on stderr shown only with `-v`.
    pub(crate) fn verbose(&self, msg: &str) {
        if self.verbose_level() > 0 {
            eprintln!("{}", self.paint_err(styles::DIM, msg));
        }
    }

    /// A warning on stderr; hidden with `-q`.
    pub(crate) fn warn(&self, msg: &str) {
        if !self.is_quiet() {
            eprintln!("{} {msg}", self.paint_err(styles::WARN, "warning:"));
        }
    }

    /// An error on stderr; always shown.
    pub(crate) fn error(&self, msg: &str) {
        eprintln!("{} {msg}", self.paint_err(styles::ERROR, "error:"));
    }

    /// An error with its cause chain, one cause per line.
    pub(crate) fn error_chain(&self, err: &anyhow::Error) {
        self.error(&err.to_string());
        for cause in err.chain().skip(1) {
            eprintln!("  {} {cause}", self.paint_err(styles::DIM, "caused by:"));
        }
    }
}

/// Wraps `text` in the ANSI codes of `style` when `color` is on.
pub(crate) fn paint(color: bool, style: Style, text: &str) -> String {
    if color {
        format!("{}{text}{}", style.render(), style.render_reset())
    } else {
        text.to_string()
    }
}

/// `torq logs | head`: the reader went away. That is not an error.
fn exit_on_closed_pipe(err: &io::Error) {
    if err.kind() == io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
}

/// Sends torq's own tracing events to stderr: with `TORQ_LOG` (an env-filter
/// such as `torq=debug,bollard=info`) or `-v` (`torq=debug`), `-vv` (`torq=trace`).
pub(crate) fn init_tracing(shell: &Shell) {
    use tracing_subscriber::EnvFilter;
    let filter = match std::env::var("TORQ_LOG") {
        Ok(spec) if !spec.is_empty() => EnvFilter::try_new(spec).ok(),
        _ => match shell.verbose_level() {
            0 => None,
            1 => Some(EnvFilter::new("torq=debug")),
            _ => Some(EnvFilter::new("torq=trace")),
        },
    };
    if let Some(filter) = filter {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(io::stderr)
            .with_ansi(shell.err_color())
            .with_target(true)
            .try_init();
    }
}
