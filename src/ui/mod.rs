//! The terminal: the only layer that writes to stdout and stderr.
//!
//! - [`Shell`] owns verbosity, the color decision (`--color`, `NO_COLOR`,
//!   `CLICOLOR_FORCE`, TTY detection) and the output streams; a closed stdout
//!   (`torq logs | head`) ends the process quietly with exit 0.
//! - [`Reporter`] is how the core layers (`engine`, `plan`) report progress
//!   without printing: the CLI hands them an implementation from [`progress`].
//! - [`init_tracing`] routes torq's own tracing events to stderr with `-v` or
//!   `TORQ_LOG`.

pub mod progress;
pub mod status;
pub mod table;

use std::io::{self, IsTerminal, Write};

use anstyle::{AnsiColor, Color, Style};

/// How much the user wants to hear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    /// `-q`: errors and final summaries only.
    Quiet,
    /// The default.
    Normal,
    /// `-v` (1), `-vv` (2), …
    Verbose(u8),
}

/// The user's color preference before looking at the terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Resolves the choice for a stream: `always`/`never` win; `auto` colors a
    /// terminal unless `NO_COLOR` is set, and `CLICOLOR_FORCE` forces color.
    pub fn resolve(self, is_tty: bool) -> bool {
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
pub mod styles {
    use super::*;
    pub const ERROR: Style = Style::new()
        .fg_color(Some(Color::Ansi(AnsiColor::Red)))
        .bold();
    pub const WARN: Style = Style::new()
        .fg_color(Some(Color::Ansi(AnsiColor::Yellow)))
        .bold();
    pub const OK: Style = Style::new().fg_color(Some(Color::Ansi(AnsiColor::Green)));
    pub const RED: Style = Style::new().fg_color(Some(Color::Ansi(AnsiColor::Red)));
    pub const YELLOW: Style = Style::new().fg_color(Some(Color::Ansi(AnsiColor::Yellow)));
    pub const BLUE: Style = Style::new().fg_color(Some(Color::Ansi(AnsiColor::Blue)));
    pub const GRAY: Style = Style::new().fg_color(Some(Color::Ansi(AnsiColor::BrightBlack)));
    pub const BOLD: Style = Style::new().bold();
    pub const DIM: Style = Style::new().dimmed();
}

/// The terminal as torq sees it.
#[derive(Debug, Clone)]
pub struct Shell {
    verbosity: Verbosity,
    color_choice: ColorChoice,
    out_color: bool,
    err_color: bool,
    out_tty: bool,
    err_tty: bool,
}

impl Shell {
    /// A shell for the current process's stdout and stderr.
    pub fn new(verbosity: Verbosity, color_choice: ColorChoice) -> Self {
        let out_tty = io::stdout().is_terminal();
        let err_tty = io::stderr().is_terminal();
        Shell {
            verbosity,
            color_choice,
            out_color: color_choice.resolve(out_tty),
            err_color: color_choice.resolve(err_tty),
            out_tty,
            err_tty,
        }
    }

    pub fn verbosity(&self) -> Verbosity {
        self.verbosity
    }

    pub fn is_quiet(&self) -> bool {
        self.verbosity == Verbosity::Quiet
    }

    /// The `-v` count (0 when not verbose).
    pub fn verbose_level(&self) -> u8 {
        match self.verbosity {
            Verbosity::Verbose(n) => n,
            _ => 0,
        }
    }

    pub fn color_choice(&self) -> ColorChoice {
        self.color_choice
    }

    /// Whether stdout gets ANSI colors.
    pub fn out_color(&self) -> bool {
        self.out_color
    }

    /// Whether stderr gets ANSI colors.
    pub fn err_color(&self) -> bool {
        self.err_color
    }

    /// Overrides the stdout color decision (e.g. `logs --no-color`).
    pub fn set_out_color(&mut self, on: bool) {
        self.out_color = on;
    }

    pub fn stdout_is_tty(&self) -> bool {
        self.out_tty
    }

    pub fn stderr_is_tty(&self) -> bool {
        self.err_tty
    }

    /// `text` in `style` when stdout is colored.
    pub fn paint_out(&self, style: Style, text: &str) -> String {
        paint(self.out_color, style, text)
    }

    /// `text` in `style` when stderr is colored.
    pub fn paint_err(&self, style: Style, text: &str) -> String {
        paint(self.err_color, style, text)
    }

    /// Writes `text` to stdout as is. A closed pipe ends the process with 0.
    pub fn out(&self, text: &str) {
        let mut stdout = io::stdout().lock();
        if let Err(err) = stdout
            .write_all(text.as_bytes())
            .and_then(|_| stdout.flush())
        {
            exit_on_closed_pipe(&err);
        }
    }

    /// Writes one line to stdout.
    pub fn outln(&self, line: &str) {
        let mut stdout = io::stdout().lock();
        if let Err(err) = writeln!(stdout, "{line}").and_then(|_| stdout.flush()) {
            exit_on_closed_pipe(&err);
        }
    }

    /// A progress or informational line on stderr; hidden with `-q`.
    pub fn info(&self, msg: &str) {
        if !self.is_quiet() {
            eprintln!("{msg}");
        }
    }

    /// A line on stderr shown only with `-v`.
    pub fn verbose(&self, msg: &str) {
        if self.verbose_level() > 0 {
            eprintln!("{}", self.paint_err(styles::DIM, msg));
        }
    }

    /// A warning on stderr; hidden with `-q`.
    pub fn warn(&self, msg: &str) {
        if !self.is_quiet() {
            eprintln!("{} {msg}", self.paint_err(styles::WARN, "warning:"));
        }
    }

    /// An error on stderr; always shown.
    pub fn error(&self, msg: &str) {
        eprintln!("{} {msg}", self.paint_err(styles::ERROR, "error:"));
    }

    /// An error with its cause chain, one cause per line.
    pub fn error_chain(&self, err: &anyhow::Error) {
        self.error(&err.to_string());
        for cause in err.chain().skip(1) {
            eprintln!("  {} {cause}", self.paint_err(styles::DIM, "caused by:"));
        }
    }
}

/// Wraps `text` in the ANSI codes of `style` when `color` is on.
pub fn paint(color: bool, style: Style, text: &str) -> String {
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
pub fn init_tracing(shell: &Shell) {
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
