//! The controlling terminal for interactive sessions (`run`, `exec`, `status
//! --watch`): whether torq's stdin and stdout are terminals, raw mode for the
//! time a container owns the keyboard (restored on drop, also on error
//! paths), and the window size a container's TTY follows. A core module
//! beside `progress`: `service` (stdio streaming) and `ui` both use it, so
//! `service` needs no `ui`.

use rustix::termios::{self, OptionalActions, Termios};

/// Whether torq's stdin is a terminal.
pub(crate) fn stdin_is_tty() -> bool {
    termios::isatty(rustix::stdio::stdin())
}

/// Whether torq's stdout is a terminal.
pub(crate) fn stdout_is_tty() -> bool {
    termios::isatty(rustix::stdio::stdout())
}

/// The terminal's size as (columns, rows), read from stdout (then stdin).
pub(crate) fn window_size() -> Option<(u16, u16)> {
    let size = termios::tcgetwinsize(rustix::stdio::stdout())
        .or_else(|_| termios::tcgetwinsize(rustix::stdio::stdin()))
        .ok()?;
    (size.ws_col > 0 && size.ws_row > 0).then_some((size.ws_col, size.ws_row))
}

/// Raw mode on stdin while alive: keys reach the container as typed (Ctrl-C
/// included), and the container's TTY echoes them. Dropping it restores the
/// terminal's previous settings.
pub(crate) struct RawMode {
    saved: Termios,
}

impl RawMode {
    /// Puts the terminal on stdin in raw mode.
    pub(crate) fn enable() -> std::io::Result<RawMode> {
        let stdin = rustix::stdio::stdin();
        let saved = termios::tcgetattr(stdin)?;
        let mut raw = saved.clone();
        raw.make_raw();
        termios::tcsetattr(stdin, OptionalActions::Now, &raw)?;
        Ok(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let stdin = rustix::stdio::stdin();
        if let Err(err) = termios::tcsetattr(stdin, OptionalActions::Now, &self.saved) {
            tracing::debug!(%err, "cannot restore the terminal settings");
        }
    }
}
