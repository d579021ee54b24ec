//! Time in the log layer: the engine's per-line timestamp (`timestamps=true`
//! prefixes every line with RFC 3339 with nanoseconds, then a space), parsed
//! without allocation into nanoseconds since the Unix epoch; and the
//! `--since`/`--until` forms a user types (RFC 3339, a date and time, Unix
//! seconds, or a duration back from now such as `10m` or `1h30m`).

use chrono::{DateTime, Local, NaiveDate, NaiveDateTime, TimeZone, Utc};
use thiserror::Error;

/// Nanoseconds since the Unix epoch (UTC).
pub(crate) type Nanos = i64;

const NANOS_PER_SEC: i64 = 1_000_000_000;

/// Splits an engine log entry into its timestamp and the rest: `"<RFC3339Nano> msg"`.
/// Returns `None` when the entry does not start with a timestamp.
pub(crate) fn split_timestamp(entry: &[u8]) -> Option<(Nanos, usize)> {
    let space = memchr::memchr(b' ', &entry[..entry.len().min(40)])?;
    let ts = parse_rfc3339(&entry[..space])?;
    Some((ts, space + 1))
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` into epoch nanoseconds.
pub(crate) fn parse_rfc3339(s: &[u8]) -> Option<Nanos> {
    if s.len() < 20 || s[4] != b'-' || s[7] != b'-' || !matches!(s[10], b'T' | b't' | b' ') {
        return None;
    }
    if s[13] != b':' || s[16] != b':' {
        return None;
    }
    let year = digits(&s[0..4])?;
    let month = digits(&s[5..7])?;
    let day = digits(&s[8..10])?;
    let hour = digits(&s[11..13])?;
    let minute = digits(&s[14..16])?;
    let second = digits(&s[17..19])?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 60 {
        return None;
    }
    let mut pos = 19;
    let mut frac: i64 = 0;
    if s.get(pos) == Some(&b'.') {
        pos += 1;
        let start = pos;
        while pos < s.len() && s[pos].is_ascii_digit() {
            if pos - start < 9 {
                frac = frac * 10 + i64::from(s[pos] - b'0');
            }
            pos += 1;
        }
        let n = (pos - start).min(9);
        if n == 0 {
            return None;
        }
        frac *= 10i64.pow(9 - n as u32);
    }
    let offset = match s.get(pos..)? {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let h = digits(&[*h1, *h2])?;
            let m = digits(&[*m1, *m2])?;
            let secs = (h * 3600 + m * 60) as i64;
            if *sign == b'+' {
                secs
            } else {
                -secs
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year as i64, month, day);
    let secs = days * 86_400 + (hour * 3600 + minute * 60 + second) as i64 - offset;
    Some(secs * NANOS_PER_SEC + frac)
}

fn digits(s: &[u8]) -> Option<u32> {
    s.iter().try_fold(0u32, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
    })
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Formats epoch nanoseconds as RFC 3339 UTC with milliseconds (for tables).
pub(crate) fn format_utc(ns: Nanos) -> String {
    let secs = ns.div_euclid(NANOS_PER_SEC);
    let sub = ns.rem_euclid(NANOS_PER_SEC) as u32;
    match DateTime::<Utc>::from_timestamp(secs, sub) {
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        None => ns.to_string(),
    }
}

/// A `--since`/`--until` value that cannot be understood.
#[derive(Debug, Error, PartialEq, Eq)]
#[error(
    "cannot read {input:?} as a time: use RFC 3339 (2024-05-01T12:00:00Z), \
     a local date and time (2024-05-01 12:00), Unix seconds (1714564800), \
     or a duration back from now (90s, 10m, 1h30m, 2d)"
)]
pub(crate) struct TimeArgError {
    pub input: String,
}

/// Parses a `--since`/`--until` value relative to `now` (epoch nanoseconds).
pub(crate) fn parse_time_arg(input: &str, now: Nanos) -> Result<Nanos, TimeArgError> {
    let s = input.trim();
    let err = || TimeArgError {
        input: input.to_string(),
    };
    if s.is_empty() {
        return Err(err());
    }
    if let Some(ago) = parse_duration(s) {
        return Ok(now - ago);
    }
    if let Some(ns) = parse_unix_seconds(s) {
        return Ok(ns);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return t.timestamp_nanos_opt().ok_or_else(err);
    }
    parse_local(s).ok_or_else(err)
}

/// `1714564800` or `1714564800.123456789`.
fn parse_unix_seconds(s: &str) -> Option<Nanos> {
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 9 {
        return None;
    }
    let secs: i64 = whole.parse().ok()?;
    let mut nanos: i64 = 0;
    if !frac.is_empty() {
        nanos = frac.parse::<i64>().ok()? * 10i64.pow(9 - frac.len() as u32);
    }
    secs.checked_mul(NANOS_PER_SEC)?.checked_add(nanos)
}

/// A Go-style duration: `90s`, `10m`, `1h30m`, `1.5h`, `2d`, `500ms`.
pub(crate) fn parse_duration(s: &str) -> Option<Nanos> {
    let mut total: f64 = 0.0;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let value: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "d" => 86_400e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += value * unit;
    }
    Some(total as Nanos)
}

/// `2024-05-01T12:00:00`, `2024-05-01 12:00[:00]` or `2024-05-01`, in local time.
fn parse_local(s: &str) -> Option<Nanos> {
    let naive = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
    .or_else(|| {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
    })?;
    Local
        .from_local_datetime(&naive)
        .earliest()?
        .timestamp_nanos_opt()
}

/// The current time in epoch nanoseconds.
pub(crate) fn now() -> Nanos {
    Utc::now().timestamp_nanos_opt().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_timestamps_parse_to_epoch_nanos() {
        assert_eq!(parse_rfc3339(b"1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339(b"2024-05-01T12:00:00.123456789Z"),
            Some(1_714_564_800_123_456_789)
        );
        // RFC3339Nano trims trailing zeros.
        assert_eq!(
            parse_rfc3339(b"2024-05-01T12:00:00.5Z"),
            Some(1_714_564_800_500_000_000)
        );
        assert_eq!(
            parse_rfc3339(b"2024-05-01T14:00:00+02:00"),
            Some(1_714_564_800_000_000_000)
        );
        assert_eq!(
            parse_rfc3339(b"2000-02-29T00:00:00Z"),
            Some(951_782_400 * NANOS_PER_SEC)
        );
    }

    #[test]
    fn agrees_with_chrono() {
        for s in [
            "2024-12-31T23:59:59.999999999Z",
            "1999-03-01T00:00:00.000000001Z",
            "2038-01-19T03:14:08Z",
        ] {
            let ours = parse_rfc3339(s.as_bytes()).unwrap();
            let theirs = DateTime::parse_from_rfc3339(s)
                .unwrap()
                .timestamp_nanos_opt()
                .unwrap();
            assert_eq!(ours, theirs, "{s}");
        }
    }

    #[test]
    fn malformed_timestamps_are_refused() {
        for s in [
            "",
            "hello world",
            "2024-05-01",
            "2024-13-01T00:00:00Z",
            "2024-05-01T00:00:00",
            "2024-05-01T00:00:00.Z",
            "2024-05-01T00:00:00Zjunk",
            "2024-0x-01T00:00:00Z",
        ] {
            assert_eq!(parse_rfc3339(s.as_bytes()), None, "{s}");
        }
    }

    #[test]
    fn split_finds_the_message() {
        let entry = b"2024-05-01T12:00:00.1Z hello world\n";
        let (ts, at) = split_timestamp(entry).unwrap();
        assert_eq!(ts, 1_714_564_800_100_000_000);
        assert_eq!(&entry[at..], b"hello world\n");
        assert_eq!(split_timestamp(b"no timestamp here"), None);
        assert_eq!(split_timestamp(b""), None);
    }

    #[test]
    fn time_args() {
        let now = 1_714_564_800 * NANOS_PER_SEC;
        assert_eq!(parse_time_arg("10m", now), Ok(now - 600 * NANOS_PER_SEC));
        assert_eq!(parse_time_arg("1h30m", now), Ok(now - 5400 * NANOS_PER_SEC));
        assert_eq!(parse_time_arg("1.5s", now), Ok(now - 1_500_000_000));
        assert_eq!(parse_time_arg("1714564800", now), Ok(now));
        assert_eq!(parse_time_arg("1714564800.25", now), Ok(now + 250_000_000));
        assert_eq!(parse_time_arg("2024-05-01T12:00:00Z", now), Ok(now));
        assert!(parse_time_arg("2024-05-01 12:00", now).is_ok());
        assert!(parse_time_arg("2024-05-01", now).is_ok());
        let err = parse_time_arg("yesterday", now).unwrap_err();
        assert!(err.to_string().contains("10m"), "{err}");
        for bad in ["", "10x"] {
            let err = parse_time_arg(bad, now).unwrap_err();
            assert!(
                err.to_string()
                    .starts_with(&format!("cannot read {bad:?} as a time")),
                "{err}"
            );
        }
    }

    #[test]
    fn formats_utc() {
        assert_eq!(
            format_utc(1_714_564_800_123_456_789),
            "2024-05-01T12:00:00.123Z"
        );
    }
}
