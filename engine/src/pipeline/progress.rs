//! Progress reporting hooks: the library announces stages and ticks units of work; the CLI
//! draws a bar on a TTY, other callers ignore them (log lines carry the same information).

/// Receives progress from a running pipeline. Called from worker threads.
pub trait Progress: Sync {
    /// A stage starts with `total` units of work.
    fn stage(&self, name: &str, total: u64);
    /// One unit of the current stage is done.
    fn tick(&self);
}

/// Ignores progress.
pub struct NoProgress;

impl Progress for NoProgress {
    fn stage(&self, _: &str, _: u64) {}
    fn tick(&self) {}
}
