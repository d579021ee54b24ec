//! Replay of a JSON-lines file: one market-data event per line, in the JSON
//! form of the dashboard's `/ws` (`{"msg_type":"quote","venue":"kraken",…}`),
//! so a capture of `/ws` replays as it was. Blank lines and `#` comments are
//! skipped.

use std::path::Path;

use anyhow::{bail, Context};

use crate::protocol::{Event, Message};

/// Loads a replay file's messages.
pub fn load(path: &Path) -> anyhow::Result<Vec<Message>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the replay file {}", path.display()))?;
    parse(&text).with_context(|| format!("in the replay file {}", path.display()))
}

/// Parses replay lines into messages.
pub fn parse(text: &str) -> anyhow::Result<Vec<Message>> {
    let mut messages = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let event: Event = serde_json::from_str(line)
            .with_context(|| format!("line {}: not a JSON event", number + 1))?;
        if !matches!(
            event,
            Event::Trade { .. }
                | Event::Quote { .. }
                | Event::PoolSwap { .. }
                | Event::PoolSync { .. }
        ) {
            bail!(
                "line {}: {} is not market data",
                number + 1,
                event.msg_type()
            );
        }
        let message = event
            .to_message()
            .with_context(|| format!("line {}", number + 1))?;
        messages.push(message);
    }
    if messages.is_empty() {
        bail!("no events");
    }
    Ok(messages)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_become_messages() {
        let text = r#"
# a capture
{"msg_type":"quote","venue":"kraken","instrument":"BTC/USD","bid":1,"bid_size":1,"ask":2,"ask_size":1}

{"msg_type":"trade","venue":"coinbase","instrument":"BTC/USD","price":2,"size":1,"side":"buy","source":"x"}
"#;
        let messages = parse(text).unwrap();
        assert_eq!(messages.len(), 2);
        assert!(matches!(messages[0], Message::Quote(_)));
    }

    #[test]
    fn errors_name_the_line() {
        let error = parse("{}\n").unwrap_err();
        assert!(format!("{error:#}").contains("line 1"));
        let order = r#"{"msg_type":"order_request","order_id":1,"signal_id":1,"venue":"kraken","instrument":"X","side":"buy","price":1,"size":1}"#;
        assert!(format!("{:#}", parse(order).unwrap_err()).contains("not market data"));
        let err = parse("# nothing\n").unwrap_err();
        assert!(format!("{err:#}").contains("no events"), "{err:#}");
    }
}
