//! Progress of slow steps (decompression, hashing, unwinding many threads),
//! reported through a small trait so that the library never draws anything:
//! the command line turns reports into terminal bars, a test or another
//! program can count them, and by default they go nowhere.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// What a step counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Bytes,
    Steps,
}

/// Receives progress reports. Implemented by whoever shows them (the CLI's
/// terminal bars).
pub trait ProgressSink: Send + Sync {
    /// A step named `message` starts; `total` is its length in `unit`s
    /// where known.
    fn start(&self, message: &str, total: Option<u64>, unit: Unit) -> Box<dyn StepSink>;
}

/// One running step, as its sink sees it.
pub trait StepSink: Send + Sync {
    /// The step has advanced to `position`.
    fn advance(&self, position: u64);
    /// The step is over; whatever shows it goes away.
    fn finish(&self);
}

/// Where a library call reports progress: nowhere (the default), or a sink.
#[derive(Clone, Default)]
pub struct Progress {
    sink: Option<Arc<dyn ProgressSink>>,
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress")
            .field("reported", &self.sink.is_some())
            .finish()
    }
}

impl Progress {
    /// Reports go nowhere.
    pub fn hidden() -> Self {
        Progress { sink: None }
    }

    /// Reports go to `sink`.
    pub fn to(sink: Arc<dyn ProgressSink>) -> Self {
        Progress { sink: Some(sink) }
    }

    /// A byte-counting step (decompression, hashing).
    pub fn bytes(&self, total: Option<u64>, message: &str) -> Step {
        self.start(total, message, Unit::Bytes)
    }

    /// A step-counting step (threads unwound, pages confirmed).
    pub fn steps(&self, total: u64, message: &str) -> Step {
        self.start(Some(total), message, Unit::Steps)
    }

    fn start(&self, total: Option<u64>, message: &str, unit: Unit) -> Step {
        Step {
            sink: self.sink.as_ref().map(|s| s.start(message, total, unit)),
            position: AtomicU64::new(0),
            finished: AtomicBool::new(false),
        }
    }
}

/// One running step. Shared by reference between worker threads; dropping
/// it finishes it.
pub struct Step {
    sink: Option<Box<dyn StepSink>>,
    position: AtomicU64,
    finished: AtomicBool,
}

impl Step {
    /// A step nobody watches (tests, internal passes).
    pub fn hidden() -> Self {
        Step {
            sink: None,
            position: AtomicU64::new(0),
            finished: AtomicBool::new(false),
        }
    }

    /// Advances by `n` units.
    pub fn inc(&self, n: u64) {
        let position = self
            .position
            .fetch_add(n, Ordering::Relaxed)
            .saturating_add(n);
        if let Some(sink) = &self.sink {
            sink.advance(position);
        }
    }

    /// Units done so far.
    pub fn position(&self) -> u64 {
        self.position.load(Ordering::Relaxed)
    }

    /// Ends the step (also done on drop).
    pub fn finish_and_clear(&self) {
        if self.finished.swap(true, Ordering::Relaxed) {
            return;
        }
        if let Some(sink) = &self.sink {
            sink.finish();
        }
    }
}

impl Drop for Step {
    fn drop(&mut self) {
        self.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Recorder(Arc<Mutex<Vec<String>>>);

    struct RecordedStep(Arc<Mutex<Vec<String>>>);

    impl ProgressSink for Recorder {
        fn start(&self, message: &str, total: Option<u64>, unit: Unit) -> Box<dyn StepSink> {
            self.0
                .lock()
                .unwrap()
                .push(format!("start {message} {total:?} {unit:?}"));
            Box::new(RecordedStep(self.0.clone()))
        }
    }

    impl StepSink for RecordedStep {
        fn advance(&self, position: u64) {
            self.0.lock().unwrap().push(format!("at {position}"));
        }
        fn finish(&self) {
            self.0.lock().unwrap().push("finish".into());
        }
    }

    #[test]
    fn a_sink_sees_start_positions_and_finish() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let progress = Progress::to(Arc::new(Recorder(log.clone())));
        {
            let step = progress.bytes(Some(10), "hashing");
            step.inc(4);
            step.inc(6);
            assert_eq!(step.position(), 10);
        }
        assert_eq!(
            *log.lock().unwrap(),
            ["start hashing Some(10) Bytes", "at 4", "at 10", "finish"]
        );
    }

    #[test]
    fn hidden_progress_counts_without_a_sink() {
        let step = Progress::hidden().steps(3, "unwinding");
        step.inc(2);
        assert_eq!(step.position(), 2);
    }
}
