//! Convergence as data: the spec and the observed state of a project become a
//! plan of single engine operations with dependencies between them, which an
//! executor runs with maximal parallelism. The plan prints as text
//! (`torq up --dry-run`), and unit tests assert on it without Docker.
//!
//! Placeholder until the lifecycle issue lands.
