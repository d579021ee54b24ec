//! BuildKit's progress stream, made readable: the engine sends the solver's
//! state as `moby.buildkit.trace` messages (vertices started, cached,
//! completed or failed; their output; exporter statuses). [`Trace`] numbers
//! the steps as BuildKit's own printer does (`#1`, `#2`, …), turns each
//! change into a [`StepEvent`], and keeps every step's last output lines so
//! a failure can name its step, command and output.

use std::collections::{HashMap, VecDeque};

use bollard::moby::buildkit::v1::{StatusResponse, Vertex, VertexLog};

/// Output lines kept per step for the failure report.
const KEPT_LINES: usize = 20;

/// One change worth showing.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum StepEvent {
    /// A step began: `#5 [builder 2/4] RUN cargo build`.
    Started { number: usize, name: String },
    /// A step was answered from the build cache.
    Cached { number: usize, name: String },
    /// A step finished after `seconds`.
    Done {
        number: usize,
        name: String,
        seconds: f64,
    },
    /// A step failed with BuildKit's reason.
    Failed {
        number: usize,
        name: String,
        error: String,
    },
    /// A line the step printed.
    Output { number: usize, line: String },
}

impl StepEvent {
    /// The step's line as BuildKit's plain printer writes it.
    pub fn line(&self) -> String {
        match self {
            StepEvent::Started { number, name } => format!("#{number} {name}"),
            StepEvent::Cached { number, .. } => format!("#{number} CACHED"),
            StepEvent::Done {
                number, seconds, ..
            } => format!("#{number} DONE {seconds:.1}s"),
            StepEvent::Failed { number, error, .. } => format!("#{number} ERROR: {error}"),
            StepEvent::Output { number, line } => format!("#{number} {line}"),
        }
    }

    /// Whether the step is BuildKit's own bookkeeping (`[internal] load
    /// metadata …`) rather than a line of the Dockerfile.
    pub fn is_internal(&self) -> bool {
        match self {
            StepEvent::Started { name, .. }
            | StepEvent::Cached { name, .. }
            | StepEvent::Done { name, .. }
            | StepEvent::Failed { name, .. } => {
                !name.starts_with('[') || name.starts_with("[internal]")
            }
            StepEvent::Output { .. } => false,
        }
    }
}

#[derive(Debug, Default)]
struct Step {
    number: usize,
    name: String,
    started: bool,
    finished: bool,
    output: VecDeque<String>,
    partial: String,
    error: Option<String>,
}

/// The steps of one build, as far as the stream has told.
#[derive(Debug, Default)]
pub(crate) struct Trace {
    steps: HashMap<String, Step>,
    count: usize,
    failed: Option<String>,
}

/// The failing step, for the error report.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FailedStep {
    /// `#7 [stage-0 2/2] RUN make`.
    pub step: String,
    pub output: Vec<String>,
}

impl Trace {
    /// Takes one trace message; returns what changed.
    pub fn record(&mut self, status: &StatusResponse) -> Vec<StepEvent> {
        let mut events = Vec::new();
        for vertex in &status.vertexes {
            self.vertex(vertex, &mut events);
        }
        for log in &status.logs {
            self.log(log, &mut events);
        }
        events
    }

    fn step(&mut self, digest: &str, name: &str) -> &mut Step {
        let count = &mut self.count;
        let step = self.steps.entry(digest.to_string()).or_insert_with(|| {
            *count += 1;
            Step {
                number: *count,
                ..Step::default()
            }
        });
        if !name.is_empty() {
            step.name = name.to_string();
        }
        step
    }

    fn vertex(&mut self, vertex: &Vertex, events: &mut Vec<StepEvent>) {
        let step = self.step(&vertex.digest, &vertex.name);
        let (number, name) = (step.number, step.name.clone());
        if step.finished {
            return;
        }
        if vertex.started.is_some() && !step.started && !vertex.cached {
            step.started = true;
            events.push(StepEvent::Started {
                number,
                name: name.clone(),
            });
        }
        if !vertex.error.is_empty() {
            step.finished = true;
            step.error = Some(vertex.error.clone());
            flush_partial(step);
            self.failed.get_or_insert_with(|| vertex.digest.clone());
            events.push(StepEvent::Failed {
                number,
                name,
                error: vertex.error.clone(),
            });
        } else if vertex.cached {
            step.finished = true;
            events.push(StepEvent::Cached { number, name });
        } else if let (Some(started), Some(completed)) = (&vertex.started, &vertex.completed) {
            step.finished = true;
            flush_partial(step);
            let seconds = (completed.seconds - started.seconds) as f64
                + f64::from(completed.nanos - started.nanos) / 1e9;
            events.push(StepEvent::Done {
                number,
                name,
                seconds: seconds.max(0.0),
            });
        }
    }

    fn log(&mut self, log: &VertexLog, events: &mut Vec<StepEvent>) {
        let step = self.step(&log.vertex, "");
        let number = step.number;
        step.partial.push_str(&String::from_utf8_lossy(&log.msg));
        while let Some(newline) = step.partial.find('\n') {
            let line: String = step.partial.drain(..=newline).collect();
            let line = line.trim_end_matches(['\n', '\r']).to_string();
            keep(step, line.clone());
            events.push(StepEvent::Output { number, line });
        }
    }

    /// The step that failed (the first one BuildKit reported an error for),
    /// else the last one started and not finished.
    pub fn failed_step(&self) -> Option<FailedStep> {
        let step = match &self.failed {
            Some(digest) => self.steps.get(digest)?,
            None => self
                .steps
                .values()
                .filter(|s| s.started && !s.finished)
                .max_by_key(|s| s.number)?,
        };
        let mut output: Vec<String> = step.output.iter().cloned().collect();
        let rest = step.partial.trim_end();
        if !rest.is_empty() {
            output.push(rest.to_string());
        }
        Some(FailedStep {
            step: format!("#{} {}", step.number, step.name),
            output,
        })
    }
}

fn keep(step: &mut Step, line: String) {
    if step.output.len() == KEPT_LINES {
        step.output.pop_front();
    }
    step.output.push_back(line);
}

fn flush_partial(step: &mut Step) {
    let rest = std::mem::take(&mut step.partial);
    let rest = rest.trim_end();
    if !rest.is_empty() {
        keep(step, rest.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vertex(digest: &str, name: &str) -> Vertex {
        Vertex {
            digest: digest.into(),
            name: name.into(),
            ..Default::default()
        }
    }

    fn start(v: &mut Vertex, seconds: i64) {
        let at = v.started.get_or_insert_with(Default::default);
        at.seconds = seconds;
    }

    fn complete(v: &mut Vertex, seconds: i64, nanos: i32) {
        let at = v.completed.get_or_insert_with(Default::default);
        at.seconds = seconds;
        at.nanos = nanos;
    }

    fn status(vertexes: Vec<Vertex>, logs: Vec<VertexLog>) -> StatusResponse {
        StatusResponse {
            vertexes,
            logs,
            ..Default::default()
        }
    }

    #[test]
    fn steps_are_numbered_and_timed() {
        let mut trace = Trace::default();
        let run = "[stage-0 2/2] RUN make";
        let mut v = vertex("a", run);
        assert_eq!(trace.record(&status(vec![v.clone()], vec![])), vec![]);
        start(&mut v, 10);
        assert_eq!(
            trace.record(&status(vec![v.clone()], vec![])),
            vec![StepEvent::Started {
                number: 1,
                name: run.into()
            }]
        );
        complete(&mut v, 11, 500_000_000);
        let events = trace.record(&status(vec![v], vec![]));
        assert_eq!(events[0].line(), "#1 DONE 1.5s");
        let mut cached = vertex("b", "[stage-0 1/2] FROM torq-test/bb");
        cached.cached = true;
        let events = trace.record(&status(vec![cached], vec![]));
        assert_eq!(events[0].line(), "#2 CACHED");
    }

    #[test]
    fn a_failure_names_its_step_and_last_output() {
        let mut trace = Trace::default();
        let mut v = vertex("a", "[stage-0 2/2] RUN echo before && exit 3");
        start(&mut v, 1);
        trace.record(&status(vec![v.clone()], vec![]));
        let log = VertexLog {
            vertex: "a".into(),
            msg: b"bef".to_vec(),
            ..Default::default()
        };
        let rest = VertexLog {
            msg: b"ore\nlast words".to_vec(),
            ..log.clone()
        };
        let events = trace.record(&status(vec![], vec![log, rest]));
        assert_eq!(events[0].line(), "#1 before");
        v.error = "process \"/bin/sh -c echo before && exit 3\" did not complete successfully: exit code: 3".into();
        trace.record(&status(vec![v], vec![]));
        let failed = trace.failed_step().unwrap();
        assert_eq!(failed.step, "#1 [stage-0 2/2] RUN echo before && exit 3");
        assert_eq!(failed.output, vec!["before", "last words"]);
    }

    #[test]
    fn internal_steps_are_told_apart() {
        let internal = StepEvent::Started {
            number: 1,
            name: "[internal] load metadata for docker.io/library/bb:latest".into(),
        };
        assert!(internal.is_internal());
        let exporting = StepEvent::Started {
            number: 2,
            name: "exporting to image".into(),
        };
        assert!(exporting.is_internal());
        let run = StepEvent::Started {
            number: 3,
            name: "[stage-0 2/2] RUN make".into(),
        };
        assert!(!run.is_internal());
    }
}
