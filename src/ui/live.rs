//! A view redrawn in place on a terminal (`status --watch`): each frame
//! overwrites the previous one line by line (cursor home, each line cleared
//! to its end, the rest of the screen cleared below), so nothing flickers;
//! the cursor is hidden while the view runs and shown again when it ends —
//! also when it ends by Ctrl-C — leaving the last frame on the screen.
//!
//! What the command has to say while the view runs (the engine lost, back
//! again) would be overwritten by the next frame if it were printed beside
//! the view, so it becomes the view's note: a line under the frame, drawn at
//! once ([`ScreenReporter`]). A warning stays until another note replaces
//! it; a neutral note is shown with the next frame, then goes.

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use crate::progress::{Event, Reporter};
use crate::ui::{paint, styles, Shell};

const HOME: &str = "\x1b[H";
const CLEAR_LINE_END: &str = "\x1b[K";
const CLEAR_BELOW: &str = "\x1b[J";
const CLEAR_SCREEN: &str = "\x1b[2J";
const HIDE_CURSOR: &str = "\x1b[?25l";
const SHOW_CURSOR: &str = "\x1b[?25h";

/// The line under the frame.
struct Note {
    text: String,
    /// Kept until replaced (a warning); otherwise shown with one more frame.
    sticky: bool,
}

/// The terminal while a live view runs on stdout.
pub(crate) struct LiveScreen {
    started: bool,
    /// The frame on the screen, redrawn when the note changes.
    frame: String,
    note: Option<Note>,
}

impl LiveScreen {
    pub(crate) fn new() -> LiveScreen {
        LiveScreen {
            started: false,
            frame: String::new(),
            note: None,
        }
    }

    /// Replaces the screen's content with `frame` (and the note, if any).
    pub(crate) fn draw(&mut self, frame: &str) -> std::io::Result<()> {
        frame.clone_into(&mut self.frame);
        let shown = self.show();
        if self.note.as_ref().is_some_and(|note| !note.sticky) {
            self.note = None;
        }
        shown
    }

    /// Puts `text` under the frame, now.
    fn set_note(&mut self, text: String, sticky: bool) -> std::io::Result<()> {
        self.note = Some(Note { text, sticky });
        self.show()
    }

    /// What the terminal is sent for the frame and the note.
    fn render(&mut self) -> String {
        let mut text = String::new();
        if !self.started {
            text.push_str(HIDE_CURSOR);
            text.push_str(CLEAR_SCREEN);
            self.started = true;
        }
        text.push_str(HOME);
        let note = self.note.as_ref().map(|note| note.text.as_str());
        let blank_and_note = note.into_iter().flat_map(|note| ["", note]);
        for line in self.frame.lines().chain(blank_and_note) {
            text.push_str(line);
            text.push_str(CLEAR_LINE_END);
            text.push_str("\r\n");
        }
        text.push_str(CLEAR_BELOW);
        text
    }

    fn show(&mut self) -> std::io::Result<()> {
        let text = self.render();
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

/// A live screen shared by the view and its [`ScreenReporter`].
pub(crate) type SharedScreen = Arc<Mutex<LiveScreen>>;

/// Shows warnings and notes as the live view's note (see the module doc),
/// and on stderr too when stderr is not the terminal (a log keeps them);
/// progress of other kinds has no place in a live view and is left out.
pub(crate) struct ScreenReporter {
    screen: SharedScreen,
    shell: Shell,
}

impl ScreenReporter {
    pub(crate) fn new(screen: SharedScreen, shell: Shell) -> ScreenReporter {
        ScreenReporter { screen, shell }
    }
}

impl Reporter for ScreenReporter {
    fn report(&self, event: Event) {
        let (text, sticky) = match event {
            Event::Warning(text) => {
                if !self.shell.stderr_is_tty() {
                    self.shell.warn(&text);
                }
                let mark = paint(self.shell.out_color(), styles::WARN, "warning:");
                (format!("{mark} {text}"), true)
            }
            Event::Info(text) => {
                if !self.shell.stderr_is_tty() {
                    self.shell.info(&text);
                }
                (text, false)
            }
            Event::Progress { .. } | Event::BuildOutput { .. } => return,
        };
        let mut screen = self.screen.lock().unwrap_or_else(PoisonError::into_inner);
        // A terminal that cannot be written to ends the view at its next
        // frame, which reports the error.
        let _ = screen.set_note(text, sticky);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_sits_under_the_frame_and_only_a_warning_stays() {
        let mut screen = LiveScreen::new();
        screen.frame = "a\nb".into();
        screen.note = Some(Note {
            text: "lost".into(),
            sticky: false,
        });
        let text = screen.render();
        assert!(text.starts_with(HIDE_CURSOR), "{text:?}");
        assert!(text.ends_with("a\x1b[K\r\nb\x1b[K\r\n\x1b[K\r\nlost\x1b[K\r\n\x1b[J"));
        // The first frame cleared the screen; later ones only go home.
        assert!(screen.render().starts_with(HOME));
    }
}
