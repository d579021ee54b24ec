//! Counter services for tests that follow logs through a lost engine: each
//! writes `TAG-1`, `TAG-2`, … every 50 ms, so a test can tell a line shown
//! twice or lost from the numbers on torq's stdout; and the steps of taking
//! the engine away from a running follow (through an [`EngineProxy`]) and
//! giving it back.

use std::time::Instant;

use super::{lost_message, wait_for, EngineProxy, Watched, COMMAND_DEADLINE};

/// Two counter services, `one` and `two` (a compose spec; `{image}` is the
/// test image).
pub const COUNTERS: &str = r#"
x-counter: &counter
  image: {image}
  command: ["sh", "-c", "trap 'exit 0' TERM; i=0; while true; do i=$$((i+1)); echo $$TAG-$$i; sleep 0.05; done"]
  stop_grace_period: 1s
services:
  one: { <<: *counter, environment: { TAG: one } }
  two: { <<: *counter, environment: { TAG: two } }
"#;

/// The numbers of `tag`'s lines (`TAG-N`) in `stdout`, in order.
pub fn counted(stdout: &str, tag: &str) -> Vec<u64> {
    let prefix = format!("{tag}-");
    stdout
        .lines()
        .filter_map(|line| line.rsplit_once("| ").map(|(_, message)| message))
        .filter_map(|message| message.trim().strip_prefix(&prefix)?.parse().ok())
        .collect()
}

/// Every number from the first shown to the last, each exactly once.
pub fn assert_each_once(numbers: &[u64], tag: &str, first: u64, output: &str) {
    assert!(!numbers.is_empty(), "no {tag} lines:\n{output}");
    let expected: Vec<u64> = (first..=*numbers.last().unwrap()).collect();
    assert_eq!(numbers, expected, "{tag}: a line missing or repeated");
}

/// Takes the engine away from a running follow (`logs -f`, `up --attach`,
/// `deploy logs -f`) until the counters have written lines it could not
/// read (`written_so_far(tag)`: the last number `tag` wrote, read from the
/// engine directly), then gives it back: the loss is said once, and the
/// lines continue with every number exactly once (the ones written
/// meanwhile included).
pub fn lose_and_regain_the_engine(
    proxy: &mut EngineProxy,
    torq: &Watched,
    written_so_far: impl Fn(&str) -> u64,
) {
    for tag in ["one", "two"] {
        let wanted = format!("{tag}-20");
        torq.wait_for_stdout(&format!("{wanted} on stdout"), |out| {
            out.contains(&wanted).then_some(())
        });
    }
    let mut written: Vec<u64> = Vec::new();
    lose_the_engine_while(proxy, torq, || {
        // Lines written while the engine was away: they must show later.
        for tag in ["one", "two"] {
            let shown = counted(&torq.stdout(), tag).last().copied().unwrap_or(0);
            wait_for("lines written meanwhile", COMMAND_DEADLINE, || {
                (written_so_far(tag) > shown + 40).then_some(())
            });
        }
        written = ["one", "two"]
            .iter()
            .map(|tag| written_so_far(tag))
            .collect();
    });
    for (tag, written) in ["one", "two"].iter().zip(written) {
        torq.wait_for_stdout(&format!("{tag} past {written}"), |out| {
            (counted(out, tag).last().copied().unwrap_or(0) > written + 20).then_some(())
        });
    }
}

/// Closes the proxy under `torq`, waits until it says it lost the engine,
/// runs `meanwhile` (what happens while the engine is away), and reopens.
pub fn lose_the_engine_while(proxy: &mut EngineProxy, torq: &Watched, meanwhile: impl FnOnce()) {
    let closed = Instant::now();
    proxy.close();
    let lost = lost_message(proxy);
    wait_for("the loss to be said", COMMAND_DEADLINE, || {
        torq.stderr().contains(&lost).then_some(())
    });
    eprintln!(
        "the loss was said {:.2}s after the proxy closed",
        closed.elapsed().as_secs_f64()
    );
    meanwhile();
    proxy.reopen();
}

/// Ends `torq` with Ctrl-C after it came back from a lost engine: exit 0,
/// the loss said once, the return said. Its stdout.
pub fn finish_after_the_return(proxy: &EngineProxy, mut torq: Watched) -> String {
    torq.signal(libc::SIGINT);
    let (status, stdout, stderr) = torq.finish();
    assert_eq!(status.code(), Some(0), "stderr:\n{stderr}");
    assert_eq!(stderr.matches(&lost_message(proxy)).count(), 1, "{stderr}");
    assert!(stderr.contains("answers again"), "{stderr}");
    stdout
}
