//! How much of a log's history to show: everything, or the last N lines
//! (`-n/--tail`).

/// How many lines from the end of a log to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Tail {
    #[default]
    All,
    Lines(u64),
}

impl Tail {
    /// Parses `all` or a number (as `-n/--tail` takes it).
    pub(crate) fn parse(text: &str) -> Option<Tail> {
        if text.eq_ignore_ascii_case("all") {
            return Some(Tail::All);
        }
        text.trim().parse().ok().map(Tail::Lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_parses() {
        assert_eq!(Tail::parse("all"), Some(Tail::All));
        assert_eq!(Tail::parse("ALL"), Some(Tail::All));
        assert_eq!(Tail::parse("50"), Some(Tail::Lines(50)));
        assert_eq!(Tail::parse("-1"), None);
        assert_eq!(Tail::parse("x"), None);
    }
}
