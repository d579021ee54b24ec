//! A view redrawn in place on a terminal (`status --watch`): each frame
//! overwrites the previous one line by line (cursor home, each line cleared
//! to its end, the rest of the screen cleared below), so nothing flickers;
//! the cursor is hidden while the view runs and shown again when it ends —
//! also when it ends by Ctrl-C — leaving the last frame on the screen.

use std::io::Write;

const HOME: &str = "\x1b[H";
const CLEAR_LINE_END: &str = "\x1b[K";
const CLEAR_BELOW: &str = "\x1b[J";
const CLEAR_SCREEN: &str = "\x1b[2J";
const HIDE_CURSOR: &str = "\x1b[?25l";
const SHOW_CURSOR: &str = "\x1b[?25h";

/// The terminal while a live view runs on stdout.
pub(crate) struct LiveScreen {
    started: bool,
}

impl LiveScreen {
    pub(crate) fn new() -> LiveScreen {
        LiveScreen { started: false }
    }

    /// Replaces the screen's content with `frame`.
    pub(crate) fn draw(&mut self, frame: &str) -> std::io::Result<()> {
        let mut text = String::new();
        if !self.started {
            text.push_str(HIDE_CURSOR);
            text.push_str(CLEAR_SCREEN);
            self.started = true;
        }
        text.push_str(HOME);
        for line in frame.lines() {
            text.push_str(line);
            text.push_str(CLEAR_LINE_END);
            text.push_str("\r\n");
        }
        text.push_str(CLEAR_BELOW);
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.flush()
    }
}

impl Drop for LiveScreen {
    fn drop(&mut self) {
        if self.started {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(SHOW_CURSOR.as_bytes());
            let _ = out.flush();
        }
    }
}
