//! The `torq` executable: parse the command line, run it, exit with its status.
//!
//! Everything lives in the library (`torq::cli::run`); this file stays thin.

fn main() -> std::process::ExitCode {
    torq::cli::main()
}
