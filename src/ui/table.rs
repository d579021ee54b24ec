//! Plain text tables for the terminal (`torq status`, `torq logs --stats`):
//! columns padded to their widest cell, numbers right-aligned, colors applied
//! after padding so escape codes never break the alignment, no trailing spaces.

use anstyle::Style;

/// How a column's cells line up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Align {
    Left,
    Right,
}

/// One cell: its text and, optionally, its color.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Cell {
    pub text: String,
    pub style: Option<Style>,
}

impl Cell {
    pub(crate) fn plain(text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            style: None,
        }
    }

    pub(crate) fn styled(text: impl Into<String>, style: Style) -> Cell {
        Cell {
            text: text.into(),
            style: Some(style),
        }
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Cell {
        Cell::plain(text)
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Cell {
        Cell::plain(text)
    }
}

/// A table: a header row and rows of cells.
#[derive(Debug, Clone, Default)]
pub(crate) struct Table {
    headers: Vec<String>,
    aligns: Vec<Align>,
    rows: Vec<Vec<Cell>>,
}

impl Table {
    /// A table with these column headers, all left-aligned.
    pub(crate) fn new<S: Into<String>>(headers: impl IntoIterator<Item = S>) -> Table {
        let headers: Vec<String> = headers.into_iter().map(Into::into).collect();
        Table {
            aligns: vec![Align::Left; headers.len()],
            headers,
            rows: Vec::new(),
        }
    }

    /// Sets the alignment of column `index`.
    pub(crate) fn align(mut self, index: usize, align: Align) -> Table {
        if let Some(a) = self.aligns.get_mut(index) {
            *a = align;
        }
        self
    }

    pub(crate) fn push(&mut self, row: Vec<Cell>) {
        self.rows.push(row);
    }

    /// The table as lines of text; `color` applies the cells' styles and
    /// dims the header.
    pub(crate) fn render(&self, color: bool) -> String {
        let columns = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| width(h)).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(columns) {
                widths[i] = widths[i].max(width(&cell.text));
            }
        }
        let mut out = String::new();
        let header: Vec<Cell> = self
            .headers
            .iter()
            .map(|h| Cell::styled(h.clone(), super::styles::BOLD))
            .collect();
        self.render_row(&mut out, &header, &widths, color);
        for row in &self.rows {
            self.render_row(&mut out, row, &widths, color);
        }
        out
    }

    fn render_row(&self, out: &mut String, row: &[Cell], widths: &[usize], color: bool) {
        let mut line = String::new();
        for (i, w) in widths.iter().enumerate() {
            let empty = Cell::default();
            let cell = row.get(i).unwrap_or(&empty);
            let pad = w.saturating_sub(width(&cell.text));
            let text = match cell.style {
                Some(style) if color => super::paint(true, style, &cell.text),
                _ => cell.text.clone(),
            };
            if i > 0 {
                line.push_str("  ");
            }
            match self.aligns[i] {
                Align::Left => {
                    line.push_str(&text);
                    line.push_str(&" ".repeat(pad));
                }
                Align::Right => {
                    line.push_str(&" ".repeat(pad));
                    line.push_str(&text);
                }
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

/// Display width: characters (the symbols torq prints are one column each).
fn width(text: &str) -> usize {
    text.chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::styles;

    #[test]
    fn columns_are_padded_and_numbers_right_aligned() {
        let mut t = Table::new(["SERVICE", "LINES"]).align(1, Align::Right);
        t.push(vec!["web".into(), "7".into()]);
        t.push(vec!["database".into(), "1234".into()]);
        assert_eq!(
            t.render(false),
            "SERVICE   LINES\nweb           7\ndatabase   1234\n"
        );
    }

    #[test]
    fn colors_do_not_shift_columns() {
        let mut t = Table::new(["STATE", "ID"]);
        t.push(vec![Cell::styled("● RUNNING", styles::OK), "abc".into()]);
        t.push(vec![Cell::styled("✗ DEAD", styles::RED), "".into()]);
        let plain = t.render(false);
        assert_eq!(plain, "STATE      ID\n● RUNNING  abc\n✗ DEAD\n");
        let colored = t.render(true);
        assert!(colored.contains("\u{1b}["));
        let stripped: String = strip_ansi(&colored);
        assert_eq!(stripped, plain);
    }

    fn strip_ansi(s: &str) -> String {
        let mut out = String::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                for c in chars.by_ref() {
                    if c == 'm' {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }
}
