//! How a log line is written: the service prefix padded to a common width in
//! the service's color, the separator (`|` for stdout, `!` for stderr), the
//! engine timestamp with `-t`, and the message with its level word colored.
//!
//! Prefixes are rendered once per source and reused, so writing a line is a
//! few `write_all` calls into a buffered writer and allocates nothing.

use anstyle::Style;
use std::io::{self, Write};

use super::color::{level_style, service_style_in};
use super::level::{Detected, Level};
use super::line::{LogLine, StreamKind};

/// What a written line looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FormatOptions {
    /// ANSI colors for prefixes, timestamps and levels.
    pub color: bool,
    /// The `service |` prefix (`--no-log-prefix` turns it off).
    pub prefix: bool,
    /// The engine timestamp before the message (`-t`).
    pub timestamps: bool,
}

impl Default for FormatOptions {
    fn default() -> Self {
        FormatOptions {
            color: false,
            prefix: true,
            timestamps: false,
        }
    }
}

/// Writes lines of many sources with aligned, colored prefixes.
#[derive(Debug, Clone)]
pub(crate) struct LineFormatter {
    options: FormatOptions,
    labels: Vec<String>,
    width: usize,
    /// Per source: the rendered stdout and stderr prefixes.
    prefixes: Vec<[Vec<u8>; 2]>,
    codes: AnsiCodes,
    /// The spec's labels in spec order, which fix each service's color.
    color_order: Vec<String>,
}

/// ANSI sequences rendered once, written as bytes per line.
#[derive(Debug, Clone)]
struct AnsiCodes {
    levels: [String; 6],
    timestamp: String,
    reset: String,
}

impl AnsiCodes {
    fn new() -> Self {
        AnsiCodes {
            levels: Level::ALL.map(|l| level_style(l).render().to_string()),
            timestamp: super::color::TIMESTAMP.render().to_string(),
            reset: anstyle::Reset.render().to_string(),
        }
    }
}

impl LineFormatter {
    /// A formatter whose prefixes are at least `min_width` wide (pass the
    /// longest service name when sources will join later, so columns don't shift).
    pub(crate) fn new(options: FormatOptions, min_width: usize) -> Self {
        LineFormatter {
            options,
            labels: Vec::new(),
            width: min_width,
            prefixes: Vec::new(),
            codes: AnsiCodes::new(),
            color_order: Vec::new(),
        }
    }

    /// Colors services by their place in `order` (the spec's labels in spec
    /// order, see [`super::color::service_style_in`]).
    pub(crate) fn with_color_order(mut self, order: Vec<String>) -> Self {
        self.color_order = order;
        self.render_prefixes();
        self
    }

    pub(crate) fn options(&self) -> FormatOptions {
        self.options
    }

    /// Names source `index` (a container) `label` (its service, or
    /// `service-N` for a replica). Lines of unnamed sources get a `?` prefix.
    pub(crate) fn set_source(&mut self, index: usize, label: &str) {
        if index >= self.labels.len() {
            self.labels.resize(index + 1, "?".to_string());
        }
        self.labels[index] = label.to_string();
        let width = self
            .labels
            .iter()
            .map(|l| l.chars().count())
            .max()
            .unwrap_or(0);
        if width > self.width {
            self.width = width;
        }
        self.render_prefixes();
    }

    fn render_prefixes(&mut self) {
        self.prefixes = self
            .labels
            .iter()
            .map(|label| {
                let style = self
                    .options
                    .color
                    .then(|| service_style_in(label, &self.color_order));
                [
                    render_prefix(label, self.width, '|', style),
                    render_prefix(label, self.width, '!', style),
                ]
            })
            .collect();
    }

    /// Writes `line` and a newline. `detected` is the line's own level word,
    /// colored when color is on.
    pub(crate) fn write_line<W: Write>(
        &self,
        out: &mut W,
        line: &LogLine,
        detected: Option<&Detected>,
    ) -> io::Result<()> {
        if self.options.prefix {
            let stream = usize::from(line.stream == StreamKind::Stderr);
            match self.prefixes.get(line.source) {
                Some(prefixes) => out.write_all(&prefixes[stream])?,
                None => out.write_all(b"? | ")?,
            }
        }
        if self.options.timestamps && !line.timestamp_text().is_empty() {
            if self.options.color {
                out.write_all(self.codes.timestamp.as_bytes())?;
                out.write_all(line.timestamp_text())?;
                out.write_all(self.codes.reset.as_bytes())?;
                out.write_all(b" ")?;
            } else {
                out.write_all(line.timestamp_text())?;
                out.write_all(b" ")?;
            }
        }
        let message = line.message();
        match detected {
            Some(d) if self.options.color && d.span.end <= message.len() => {
                out.write_all(&message[..d.span.start])?;
                out.write_all(self.codes.levels[d.level.index()].as_bytes())?;
                out.write_all(&message[d.span.clone()])?;
                out.write_all(self.codes.reset.as_bytes())?;
                out.write_all(&message[d.span.end..])?;
            }
            _ => out.write_all(message)?,
        }
        out.write_all(b"\n")
    }
}

/// `label` padded to `width`, then ` | ` (or ` ! `), in the service's color.
fn render_prefix(label: &str, width: usize, separator: char, style: Option<Style>) -> Vec<u8> {
    let pad = width.saturating_sub(label.chars().count());
    let text = format!("{label}{:pad$} {separator}", "");
    match style {
        Some(style) => format!("{}{text}{} ", style.render(), style.render_reset()).into_bytes(),
        None => format!("{text} ").into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::level::detect;
    use bytes::Bytes;

    fn line(source: usize, stream: StreamKind, text: &'static str) -> LogLine {
        LogLine::from_entry(source, stream, Bytes::from_static(text.as_bytes()))
    }

    fn render(f: &LineFormatter, l: &LogLine) -> String {
        let mut out = Vec::new();
        let d = detect(l.message());
        f.write_line(&mut out, l, d.as_ref()).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn plain(prefix: bool, timestamps: bool) -> LineFormatter {
        let mut f = LineFormatter::new(
            FormatOptions {
                color: false,
                prefix,
                timestamps,
            },
            0,
        );
        f.set_source(0, "web");
        f.set_source(1, "database");
        f
    }

    #[test]
    fn prefixes_are_padded_to_a_common_width() {
        let f = plain(true, false);
        let a = line(0, StreamKind::Stdout, "2024-05-01T12:00:00Z hello");
        let b = line(1, StreamKind::Stdout, "2024-05-01T12:00:00Z hi");
        assert_eq!(render(&f, &a), "web      | hello\n");
        assert_eq!(render(&f, &b), "database | hi\n");
    }

    #[test]
    fn stderr_is_marked() {
        let f = plain(true, false);
        let l = line(0, StreamKind::Stderr, "2024-05-01T12:00:00Z bad");
        assert_eq!(render(&f, &l), "web      ! bad\n");
    }

    #[test]
    fn timestamps_and_no_prefix() {
        let f = plain(false, true);
        let l = line(0, StreamKind::Stdout, "2024-05-01T12:00:00.5Z x");
        assert_eq!(render(&f, &l), "2024-05-01T12:00:00.5Z x\n");
        let f = plain(false, false);
        assert_eq!(render(&f, &l), "x\n");
    }

    #[test]
    fn min_width_keeps_columns_for_late_sources() {
        let mut f = LineFormatter::new(FormatOptions::default(), 10);
        f.set_source(0, "a");
        let l = line(0, StreamKind::Stdout, "2024-05-01T12:00:00Z x");
        assert_eq!(render(&f, &l), "a          | x\n");
    }

    #[test]
    fn colors_prefix_and_level_word() {
        let mut f = LineFormatter::new(
            FormatOptions {
                color: true,
                prefix: true,
                timestamps: false,
            },
            0,
        );
        f.set_source(0, "web");
        let l = line(0, StreamKind::Stdout, "2024-05-01T12:00:00Z x ERROR y");
        let out = render(&f, &l);
        let svc = crate::logs::color::service_style("web");
        let red = level_style(crate::logs::level::Level::Error);
        assert_eq!(
            out,
            format!(
                "{}web |{} x {}ERROR{} y\n",
                svc.render(),
                svc.render_reset(),
                red.render(),
                red.render_reset()
            )
        );
    }

    #[test]
    fn services_take_their_color_from_their_place_in_the_spec() {
        let order: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let color = FormatOptions {
            color: true,
            prefix: true,
            timestamps: false,
        };
        // Only `c` shown: it keeps the color of its place, not of the selection.
        let mut f = LineFormatter::new(color, 0).with_color_order(order.clone());
        f.set_source(0, "c");
        let out = render(&f, &line(0, StreamKind::Stdout, "2024-05-01T12:00:00Z x"));
        let third = crate::logs::color::service_style_in("c", &order);
        assert!(out.starts_with(&third.render().to_string()), "{out:?}");
        let styles: std::collections::HashSet<String> = order
            .iter()
            .map(|l| {
                crate::logs::color::service_style_in(l, &order)
                    .render()
                    .to_string()
            })
            .collect();
        assert_eq!(styles.len(), 3, "distinct colors");
    }

    #[test]
    fn invalid_utf8_is_written_through() {
        let f = plain(true, false);
        let l = line(0, StreamKind::Stdout, "2024-05-01T12:00:00Z ok");
        let mut bytes_line = l.clone();
        bytes_line = LogLine::from_entry(
            bytes_line.source,
            StreamKind::Stdout,
            Bytes::from_static(b"2024-05-01T12:00:00Z \xff\xfe"),
        );
        let mut out = Vec::new();
        f.write_line(&mut out, &bytes_line, None).unwrap();
        assert_eq!(out, b"web      | \xff\xfe\n");
    }
}
