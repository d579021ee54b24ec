//! Colors of the log stream: a stable color per service and one color per
//! level (ERROR red, WARN yellow, INFO blue, DEBUG/TRACE gray).
//!
//! A service's color comes from its place in the spec when the spec is at
//! hand (so up to 12 services all differ, and each keeps its color whichever
//! of them are shown), else from a hash of its name (the same across runs and
//! machines, but two names may share a color).
//!
//! The service palette leaves out red and yellow, which mean ERROR and WARN.

use anstyle::{Ansi256Color, AnsiColor, Color, Style};

use super::level::Level;

/// Colors a service prefix can take: no reds or yellows (those are levels).
const SERVICE_PALETTE: [Color; 12] = [
    Color::Ansi(AnsiColor::Cyan),
    Color::Ansi(AnsiColor::Green),
    Color::Ansi(AnsiColor::Magenta),
    Color::Ansi(AnsiColor::BrightCyan),
    Color::Ansi(AnsiColor::BrightGreen),
    Color::Ansi(AnsiColor::BrightMagenta),
    Color::Ansi(AnsiColor::BrightBlue),
    Color::Ansi256(Ansi256Color(37)),  // teal
    Color::Ansi256(Ansi256Color(141)), // lavender
    Color::Ansi256(Ansi256Color(208)), // orange
    Color::Ansi256(Ansi256Color(72)),  // sea green
    Color::Ansi256(Ansi256Color(175)), // pink
];

/// FNV-1a, 64 bit: tiny, fast and the same everywhere (unlike `DefaultHasher`,
/// whose output Rust does not promise to keep across releases).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The color of a service's prefix: the same for the same name, always.
pub(crate) fn service_style(service: &str) -> Style {
    let index = (fnv1a(service.as_bytes()) % SERVICE_PALETTE.len() as u64) as usize;
    Style::new().fg_color(Some(SERVICE_PALETTE[index]))
}

/// The color of `label` given `order`, the labels of the spec's services
/// (replicas `service-N` included) in spec order: the palette color at its
/// place there; a label not in `order` falls back to [`service_style`].
pub(crate) fn service_style_in(label: &str, order: &[String]) -> Style {
    match order.iter().position(|l| l == label) {
        Some(place) => Style::new().fg_color(Some(SERVICE_PALETTE[place % SERVICE_PALETTE.len()])),
        None => service_style(label),
    }
}

/// The color of a line's timestamp (`-t`).
pub(crate) const TIMESTAMP: Style =
    Style::new().fg_color(Some(Color::Ansi(AnsiColor::BrightBlack)));

/// The color of a level's word.
pub(crate) fn level_style(level: Level) -> Style {
    let color = |c| Style::new().fg_color(Some(Color::Ansi(c)));
    match level {
        Level::Fatal => color(AnsiColor::Red).bold(),
        Level::Error => color(AnsiColor::Red),
        Level::Warn => color(AnsiColor::Yellow),
        Level::Info => color(AnsiColor::Blue),
        Level::Debug | Level::Trace => color(AnsiColor::BrightBlack),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_colors_are_stable() {
        // Pinned: a change here changes every user's colors.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(
            service_style("kraken_adapter"),
            service_style("kraken_adapter")
        );
    }

    #[test]
    fn services_spread_over_the_palette() {
        let names = [
            "market_data_relay",
            "signal_relay",
            "execution_relay",
            "polygon_adapter",
            "kraken_adapter",
            "coinbase_adapter",
            "flash_arbitrage",
            "dashboard_websocket",
        ];
        let distinct: std::collections::HashSet<String> = names
            .iter()
            .map(|n| format!("{:?}", service_style(n)))
            .collect();
        assert!(distinct.len() >= 5, "{distinct:?}");
    }

    #[test]
    fn no_service_is_colored_like_a_level() {
        for c in SERVICE_PALETTE {
            assert_ne!(c, Color::Ansi(AnsiColor::Red));
            assert_ne!(c, Color::Ansi(AnsiColor::Yellow));
            assert_ne!(c, Color::Ansi(AnsiColor::Blue));
        }
    }

    #[test]
    fn level_colors() {
        assert_eq!(
            level_style(Level::Error).get_fg_color(),
            Some(Color::Ansi(AnsiColor::Red))
        );
        assert_eq!(
            level_style(Level::Warn).get_fg_color(),
            Some(Color::Ansi(AnsiColor::Yellow))
        );
        assert_eq!(
            level_style(Level::Info).get_fg_color(),
            Some(Color::Ansi(AnsiColor::Blue))
        );
        assert_eq!(
            level_style(Level::Debug).get_fg_color(),
            level_style(Level::Trace).get_fg_color()
        );
    }
}
