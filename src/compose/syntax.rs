//! Parsers and printers for the small string syntaxes inside a spec, each
//! matching what docker compose accepts and prints: durations (`1m30s`),
//! byte sizes (`64m`), short-syntax ports (`127.0.0.1:8000-8001:80-81/udp`)
//! and volumes (`./data:/data:ro`), shell-style command strings, stop
//! signals, restart policies and project names.
//!
//! Every function returns a plain message on error; the caller adds the
//! position.

use std::time::Duration;

use super::model::{Mount, MountKind, Port, VolumeOptions};

/// Parses a Go-style duration (`1h2m3.5s`, `300ms`, `90s`, `0`).
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration `{text}` (expected e.g. `30s`, `1m30s`, `500ms`)");
    let s = text.trim();
    if s.is_empty() {
        return Err(bad());
    }
    if s.starts_with('-') {
        return Err(format!("invalid duration `{text}`: must not be negative"));
    }
    let s = s.strip_prefix('+').unwrap_or(s);
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total_nanos: u128 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..number_len];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(bad());
        }
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let scale: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(format!("invalid duration `{text}`: missing unit")),
            _ => return Err(format!("invalid duration `{text}`: unknown unit `{unit}`")),
        };
        let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| bad())?
        };
        let mut nanos = whole.checked_mul(scale).ok_or_else(bad)?;
        let mut frac_scale = scale;
        for digit in frac.chars() {
            frac_scale /= 10;
            nanos += u128::from(digit.to_digit(10).unwrap_or(0)) * frac_scale;
        }
        total_nanos = total_nanos.checked_add(nanos).ok_or_else(bad)?;
    }
    if total_nanos > i64::MAX as u128 {
        return Err(format!("invalid duration `{text}`: too long"));
    }
    Ok(Duration::from_nanos(total_nanos as u64))
}

/// Prints a duration as Go's `time.Duration.String()` does (`1m30s`, `500ms`, `1h0m0s`).
pub(crate) fn format_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".into();
    }
    if nanos < 1_000 {
        return format!("{nanos}ns");
    }
    if nanos < 1_000_000 {
        return format!("{}µs", fraction(nanos, 1_000));
    }
    if nanos < 1_000_000_000 {
        return format!("{}ms", fraction(nanos, 1_000_000));
    }
    let hours = nanos / 3_600_000_000_000;
    let minutes = (nanos / 60_000_000_000) % 60;
    let seconds = fraction(nanos % 60_000_000_000, 1_000_000_000);
    if hours > 0 {
        format!("{hours}h{minutes}m{seconds}s")
    } else if minutes > 0 {
        format!("{minutes}m{seconds}s")
    } else {
        format!("{seconds}s")
    }
}

/// `value / unit` with the remainder as a decimal fraction, trailing zeros trimmed.
fn fraction(value: u128, unit: u128) -> String {
    let whole = value / unit;
    let rem = value % unit;
    if rem == 0 {
        return whole.to_string();
    }
    let width = unit.to_string().len() - 1;
    let digits = format!("{rem:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// Parses a byte size as docker's `RAMInBytes` does: `1024`, `64m`, `1.5g`,
/// `512k`, `2GB`, `1gib` (binary multiples).
pub(crate) fn parse_bytes(text: &str) -> Result<u64, String> {
    let bad = || format!("invalid size `{text}` (expected e.g. `64m`, `1g`, `512k`)");
    let s = text.trim();
    let number_len = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(number_len);
    if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
        return Err(bad());
    }
    let unit = unit.strip_prefix(' ').unwrap_or(unit).to_ascii_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let multiplier: f64 = match unit {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024f64.powi(4),
        "p" => 1024f64.powi(5),
        _ => return Err(bad()),
    };
    let value: f64 = number.parse().map_err(|_| bad())?;
    let bytes = value * multiplier;
    if !bytes.is_finite() || bytes > u64::MAX as f64 {
        return Err(bad());
    }
    Ok(bytes as u64)
}

/// Splits a command string into words as compose does (go-shellwords,
/// without variable or backtick expansion): blanks separate words; single
/// quotes are literal; a backslash outside single quotes takes the next
/// character literally (also inside double quotes); backquoted text stays
/// one word, backquotes included; `''` and `""` are empty words. An unquoted
/// `;`, `&`, `|`, `<` or `>` ends the command: the rest is dropped, and so is
/// a word of digits right before `>` (a redirected file descriptor).
pub(crate) fn shell_split(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut got = false;
    let (mut escaped, mut single, mut double, mut back) = (false, false, false, false);
    for c in text.chars() {
        if escaped {
            current.push(c);
            escaped = false;
            got = true;
            continue;
        }
        if c == '\\' {
            if single {
                current.push(c);
            } else {
                escaped = true;
            }
            continue;
        }
        if matches!(c, ' ' | '\t' | '\r' | '\n') {
            if single || double || back {
                current.push(c);
            } else if got {
                words.push(std::mem::take(&mut current));
                got = false;
            }
            continue;
        }
        match c {
            '`' if !single && !double => back = !back,
            '"' if !single => {
                double = !double;
                got = true;
                continue;
            }
            '\'' if !double => {
                single = !single;
                got = true;
                continue;
            }
            ';' | '&' | '|' | '<' | '>' if !(single || double || back) => {
                if c == '>' && current.starts_with(|d: char| d.is_ascii_digit()) {
                    got = false;
                }
                break;
            }
            _ => {}
        }
        got = true;
        current.push(c);
    }
    if escaped || single || double || back {
        return Err(format!(
            "invalid command line string `{text}` (unterminated quote or escape)"
        ));
    }
    if got {
        words.push(current);
    }
    Ok(words)
}

const SIGNALS: &[&str] = &[
    "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "IOT", "BUS", "FPE", "KILL", "USR1", "SEGV",
    "USR2", "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CLD", "CONT", "STOP", "TSTP", "TTIN",
    "TTOU", "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "POLL", "PWR", "SYS", "RTMIN",
    "RTMAX",
];

/// Checks a stop signal: a name (`SIGTERM`, `TERM`, `SIGRTMIN+3`) or a number 1–64.
pub(crate) fn check_signal(text: &str) -> Result<(), String> {
    if let Ok(n) = text.parse::<u32>() {
        return if (1..=64).contains(&n) {
            Ok(())
        } else {
            Err(format!("invalid signal number {n} (1-64)"))
        };
    }
    let upper = text.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    let base = name
        .split_once(['+', '-'])
        .filter(|(b, off)| b.starts_with("RTM") && off.parse::<u32>().is_ok())
        .map(|(b, _)| b)
        .unwrap_or(name);
    if SIGNALS.contains(&base) {
        Ok(())
    } else {
        Err(format!(
            "unknown signal `{text}` (expected e.g. SIGTERM, SIGINT, SIGQUIT)"
        ))
    }
}

/// Checks a `restart` policy: `no`, `always`, `unless-stopped`, `on-failure[:N]`.
pub(crate) fn check_restart(text: &str) -> Result<(), String> {
    match text.split_once(':') {
        None if matches!(text, "no" | "always" | "unless-stopped" | "on-failure") => Ok(()),
        Some(("on-failure", n)) if n.parse::<u32>().is_ok() => Ok(()),
        _ => Err(format!(
            "invalid restart policy `{text}` (expected no, always, unless-stopped or on-failure[:N])"
        )),
    }
}

/// Normalizes a project name as compose does: lowercase, keep `[a-z0-9_-]`,
/// strip leading `_`/`-`.
pub fn normalize_project_name(name: &str) -> String {
    let kept: String = name
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-')
        .collect();
    kept.trim_start_matches(['_', '-']).to_string()
}

/// Whether `name` is already a valid project name.
pub(crate) fn is_valid_project_name(name: &str) -> bool {
    !name.is_empty() && normalize_project_name(name) == name
}

/// Parses one short-syntax port entry into one or more ports (a range gives
/// several), as docker's port-spec parser does.
pub(crate) fn parse_port(spec: &str) -> Result<Vec<Port>, String> {
    let (ip, host, container) = split_port_parts(spec);
    let (container, protocol) = match container.split_once('/') {
        Some((port, proto)) if !proto.is_empty() => (port, proto.to_ascii_lowercase()),
        Some((port, _)) => (port, "tcp".to_string()),
        None => (container, "tcp".to_string()),
    };
    let ip = match ip {
        Some(ip) if ip.starts_with('[') && ip.ends_with(']') => {
            Some(ip[1..ip.len() - 1].to_string())
        }
        Some(ip) => Some(ip.to_string()),
        None => None,
    };
    if let Some(ip) = &ip {
        if !ip.is_empty() && ip.parse::<std::net::IpAddr>().is_err() {
            return Err(format!("invalid IP address `{ip}` in port `{spec}`"));
        }
    }
    if container.is_empty() {
        return Err(format!("no container port in `{spec}`"));
    }
    let (start, end) = parse_port_range(container)
        .map_err(|e| format!("invalid container port in `{spec}`: {e}"))?;
    let host_range = match host {
        Some(h) if !h.is_empty() => {
            Some(parse_port_range(h).map_err(|e| format!("invalid host port in `{spec}`: {e}"))?)
        }
        _ => None,
    };
    if let Some((hs, he)) = host_range {
        if he - hs != end - start && end != start {
            return Err(format!(
                "invalid port ranges in `{spec}`: host and container ranges differ in length"
            ));
        }
    }
    if !matches!(protocol.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!(
            "invalid protocol `{protocol}` in port `{spec}` (tcp, udp or sctp)"
        ));
    }
    let mut ports: Vec<(String, Port)> = Vec::new();
    for i in 0..=(end - start) {
        let target = start + i;
        let published = host_range.map(|(hs, he)| {
            if start == end && hs != he {
                format!("{hs}-{he}")
            } else {
                (hs + i).to_string()
            }
        });
        let port = Port {
            target,
            published,
            host_ip: ip.clone().filter(|ip| !ip.is_empty()),
            protocol: protocol.clone(),
            mode: "ingress".into(),
            name: None,
            app_protocol: None,
        };
        // docker orders the ports of one spec by their "port/proto" key, as strings.
        ports.push((format!("{target}/{protocol}"), port));
    }
    ports.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(ports.into_iter().map(|(_, p)| p).collect())
}

/// `[ip:][host:]container`, where ip may be a bracketed IPv6 address.
fn split_port_parts(spec: &str) -> (Option<&str>, Option<&str>, &str) {
    let parts: Vec<&str> = spec.split(':').collect();
    let n = parts.len();
    match n {
        1 => (None, None, parts[0]),
        2 => (None, Some(parts[0]), parts[1]),
        3 => (Some(parts[0]), Some(parts[1]), parts[2]),
        _ => {
            let ip_len: usize = parts[..n - 2].iter().map(|p| p.len() + 1).sum::<usize>() - 1;
            (Some(&spec[..ip_len]), Some(parts[n - 2]), parts[n - 1])
        }
    }
}

/// `80` or `8000-8010`.
pub(crate) fn parse_port_range(text: &str) -> Result<(u16, u16), String> {
    let parse = |s: &str| -> Result<u16, String> {
        let n: u64 = s
            .parse()
            .map_err(|_| format!("`{s}` is not a port number"))?;
        u16::try_from(n).map_err(|_| format!("port {n} is out of range (0-65535)"))
    };
    match text.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (parse(a)?, parse(b)?);
            if b < a {
                return Err(format!("invalid range `{text}`"));
            }
            Ok((a, b))
        }
        None => {
            let p = parse(text)?;
            Ok((p, p))
        }
    }
}

/// A short-syntax volume, before path resolution.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ShortVolume {
    pub(crate) mount: Mount,
    /// Whether the source is a host path (bind).
    pub(crate) is_bind: bool,
}

/// Parses `[SOURCE:]TARGET[:OPTIONS]` as compose does.
pub(crate) fn parse_volume(spec: &str) -> Result<ShortVolume, String> {
    if spec.is_empty() {
        return Err("empty volume".into());
    }
    let mut mount = Mount {
        kind: MountKind::Volume,
        ..Mount::default()
    };
    if spec.len() <= 2 {
        mount.target = spec.to_string();
        mount.volume = Some(VolumeOptions::default());
        return Ok(ShortVolume {
            mount,
            is_bind: false,
        });
    }
    let parts: Vec<&str> = split_volume(spec);
    let mut source = None;
    let mut target = None;
    let mut options = None;
    for (i, part) in parts.iter().enumerate() {
        if part.is_empty() {
            return Err(format!(
                "invalid volume `{spec}`: empty section between colons"
            ));
        }
        let last = i == parts.len() - 1;
        if source.is_none() && target.is_none() && last {
            target = Some(*part);
        } else if source.is_none() {
            source = Some(*part);
        } else if target.is_none() {
            target = Some(*part);
        } else if last {
            options = Some(*part);
        } else {
            return Err(format!("invalid volume `{spec}`: too many colons"));
        }
    }
    mount.target = target.unwrap_or_default().to_string();
    mount.source = source.map(str::to_string);
    let mut nocopy = false;
    for option in options.unwrap_or("").split(',') {
        match option {
            "ro" => mount.read_only = true,
            "rw" => mount.read_only = false,
            "nocopy" => nocopy = true,
            "rprivate" | "private" | "rshared" | "shared" | "rslave" | "slave" => {
                mount.bind_options().propagation = Some(option.to_string())
            }
            "z" | "Z" => mount.bind_options().selinux = Some(option.to_string()),
            _ => {}
        }
    }
    let is_bind = mount.source.as_deref().is_some_and(is_host_path);
    if is_bind {
        mount.kind = MountKind::Bind;
        mount.bind_options().create_host_path = true;
    } else {
        // Compose prints `volume: {}` for a short-syntax volume.
        mount.volume = Some(VolumeOptions {
            nocopy,
            ..VolumeOptions::default()
        });
    }
    Ok(ShortVolume { mount, is_bind })
}

/// Splits on `:` except the drive colon of a Windows path (`C:\...`).
fn split_volume(spec: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let bytes = spec.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b':' {
            let current = &spec[start..i];
            let is_drive = current.len() == 1 && current.as_bytes()[0].is_ascii_alphabetic();
            if !is_drive {
                parts.push(current);
                start = i + 1;
            }
        }
    }
    parts.push(&spec[start..]);
    parts
}

fn is_host_path(source: &str) -> bool {
    source.starts_with(['.', '/', '~'])
        || source.starts_with("\\\\")
        || (source.len() >= 2
            && source.as_bytes()[0].is_ascii_alphabetic()
            && source.as_bytes()[1] == b':')
}

/// `path.Clean` for slash-separated paths.
pub(crate) fn clean_path(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print_like_go() {
        let d = |s| parse_duration(s).unwrap();
        assert_eq!(d("90s"), Duration::from_secs(90));
        assert_eq!(d("1m30s"), Duration::from_secs(90));
        assert_eq!(d("1.5h"), Duration::from_secs(5400));
        assert_eq!(d("500ms"), Duration::from_millis(500));
        assert_eq!(d("0"), Duration::ZERO);
        assert_eq!(d("1h2m3s4ms"), Duration::from_millis(3_723_004));
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_duration(Duration::from_secs(60)), "1m0s");
        assert_eq!(format_duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(format_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_duration(Duration::from_micros(1)), "1µs");
        assert_eq!(format_duration(Duration::ZERO), "0s");
        assert_eq!(format_duration(Duration::from_secs(10)), "10s");
    }

    #[test]
    fn bad_durations() {
        for bad in ["", "10", "1x", "s", "-1s", "1..5s", "abc"] {
            let err = parse_duration(bad).unwrap_err();
            assert!(
                err.to_string()
                    .starts_with(&format!("invalid duration `{bad}`")),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(parse_bytes("64m").unwrap(), 64 * 1024 * 1024);
        assert_eq!(parse_bytes("50M").unwrap(), 52_428_800);
        assert_eq!(parse_bytes("1gb").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("1.5k").unwrap(), 1536);
        assert_eq!(parse_bytes("1000").unwrap(), 1000);
        assert_eq!(parse_bytes("2 GiB").unwrap(), 2 << 30);
        for bad in ["lots", "1x"] {
            let err = parse_bytes(bad).unwrap_err();
            assert!(
                err.to_string().contains(&format!("invalid size `{bad}`")),
                "{err}"
            );
        }
    }

    #[test]
    fn shell_words() {
        assert_eq!(
            shell_split("echo hello world").unwrap(),
            ["echo", "hello", "world"]
        );
        assert_eq!(
            shell_split(r#"sh -c "echo \"hi\" && exit 1" 'a b'"#).unwrap(),
            ["sh", "-c", r#"echo "hi" && exit 1"#, "a b"]
        );
        assert_eq!(shell_split("a\\ b").unwrap(), ["a b"]);
        let err = shell_split("'open").unwrap_err();
        assert!(err.to_string().contains("unterminated quote"), "{err}");
    }

    #[test]
    fn shell_words_as_compose_splits_them() {
        // An unquoted operator ends the command; the rest is dropped.
        assert_eq!(
            shell_split("echo one && echo two").unwrap(),
            ["echo", "one"]
        );
        assert_eq!(shell_split("echo a|b").unwrap(), ["echo", "a"]);
        assert_eq!(shell_split("run.sh; echo done").unwrap(), ["run.sh"]);
        // A file descriptor before `>` goes too.
        assert_eq!(shell_split("echo x 2>&1").unwrap(), ["echo", "x"]);
        assert_eq!(shell_split("echo x>out").unwrap(), ["echo", "x"]);
        // Empty quotes are empty words; a backslash in double quotes takes any character.
        assert_eq!(
            shell_split(r#"echo '' "" x"#).unwrap(),
            ["echo", "", "", "x"]
        );
        assert_eq!(
            shell_split(r#"sh -c "a \n b""#).unwrap(),
            ["sh", "-c", "a n b"]
        );
        // Backquoted text stays one word.
        assert_eq!(shell_split("echo `a b` c").unwrap(), ["echo", "`a b`", "c"]);
        assert_eq!(shell_split("").unwrap(), Vec::<String>::new());
        let err = shell_split("trailing\\").unwrap_err();
        assert!(
            err.to_string().contains("unterminated quote or escape"),
            "{err}"
        );
    }

    #[test]
    fn signals() {
        for ok in ["SIGTERM", "TERM", "sigint", "SIGRTMIN+3", "9", "SIGKILL"] {
            assert!(check_signal(ok).is_ok(), "{ok}");
        }
        for bad in ["SIGFOO", "0", "65", "", "TERMINATE"] {
            let err = check_signal(bad).unwrap_err().to_string();
            assert!(
                err.contains(&format!("`{bad}`")) || err.contains(&format!("signal number {bad} ")),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn restart_policies() {
        for ok in [
            "no",
            "always",
            "unless-stopped",
            "on-failure",
            "on-failure:3",
        ] {
            assert!(check_restart(ok).is_ok(), "{ok}");
        }
        for bad in ["sometimes", "on-failure:x", ""] {
            let err = check_restart(bad).unwrap_err();
            assert!(
                err.to_string()
                    .starts_with(&format!("invalid restart policy `{bad}`")),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn project_names() {
        assert_eq!(normalize_project_name("My Project!"), "myproject");
        assert_eq!(normalize_project_name("_-abc_1"), "abc_1");
        assert!(is_valid_project_name("ci-123"));
        assert!(!is_valid_project_name("CI"));
        assert!(!is_valid_project_name(""));
    }

    #[test]
    fn short_ports() {
        let p = parse_port("8080:80").unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!((p[0].target, p[0].published.as_deref()), (80, Some("8080")));
        assert_eq!(p[0].protocol, "tcp");

        let p = parse_port("127.0.0.1:9000-9001:9000-9001/udp").unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[1].host_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(p[1].published.as_deref(), Some("9001"));
        assert_eq!(p[1].protocol, "udp");

        let p = parse_port("3000").unwrap();
        assert_eq!((p[0].target, p[0].published.clone()), (3000, None));

        let p = parse_port("8000-8010:80").unwrap();
        assert_eq!(p[0].published.as_deref(), Some("8000-8010"));

        let p = parse_port("[::1]:80:80").unwrap();
        assert_eq!(p[0].host_ip.as_deref(), Some("::1"));
    }

    #[test]
    fn bad_ports() {
        for bad in [
            "70000:80",
            "80:70000",
            "abc",
            "1.2.3:80:80",
            "80/xyz",
            "90-80",
            "8000-8002:80-81",
        ] {
            let err = parse_port(bad).unwrap_err();
            assert!(
                err.to_string().contains(&format!("`{bad}`")),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn short_volumes() {
        let v = parse_volume("./data:/data:ro").unwrap();
        assert!(v.is_bind);
        assert_eq!(v.mount.kind, MountKind::Bind);
        assert!(v.mount.read_only && v.mount.creates_host_path());
        assert_eq!(v.mount.source.as_deref(), Some("./data"));

        let v = parse_volume("cache:/cache").unwrap();
        assert_eq!(v.mount.kind, MountKind::Volume);
        assert_eq!(v.mount.source.as_deref(), Some("cache"));

        let v = parse_volume("/anon").unwrap();
        assert_eq!(v.mount.kind, MountKind::Volume);
        assert_eq!(v.mount.source, None);
        assert_eq!(v.mount.target, "/anon");

        let v = parse_volume("/host:/c:ro,z,rshared").unwrap();
        let bind = v.mount.bind.as_ref().unwrap();
        assert_eq!(bind.selinux.as_deref(), Some("z"));
        assert_eq!(bind.propagation.as_deref(), Some("rshared"));

        let err = parse_volume("ab:cd:ro:x").unwrap_err();
        assert!(
            err.to_string().ends_with("`ab:cd:ro:x`: too many colons"),
            "{err}"
        );
        let err = parse_volume("ab::c").unwrap_err();
        assert!(
            err.to_string()
                .ends_with("`ab::c`: empty section between colons"),
            "{err}"
        );
    }

    #[test]
    fn clean_paths() {
        assert_eq!(clean_path("/a/./b/../c/"), "/a/c");
        assert_eq!(clean_path("a//b"), "a/b");
        assert_eq!(clean_path("/.."), "/");
    }
}
