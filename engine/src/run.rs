//! The entry point of a run: the pipeline inside a pool of `threads` workers, then the run
//! directory and the summary. (Kept out of `pipeline/` so that `pipeline` and `report` do not
//! import each other: the pipeline produces a [`RunResult`], the report writes it.)

use std::path::Path;

use crate::config::ExperimentConfig;
use crate::error::{EngineError, Result};
use crate::pipeline::progress::{NoProgress, Progress};
use crate::pipeline::{self, RunResult, stage};
use crate::report::{self, RunOutputs, RunSummary};

/// Runs the experiment and writes its run directory; returns the summary.
pub fn run(cfg: &ExperimentConfig, baseline: Option<&Path>) -> Result<RunSummary> {
    run_with(cfg, baseline, &NoProgress)
}

/// [`run`], reporting progress to `progress`.
pub fn run_with(
    cfg: &ExperimentConfig,
    baseline: Option<&Path>,
    progress: &dyn Progress,
) -> Result<RunSummary> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(cfg.threads)
        .build()
        .map_err(|e| EngineError::Threads {
            threads: cfg.threads,
            message: e.to_string(),
        })?;
    pool.install(|| {
        let result: RunResult = pipeline::execute(cfg, baseline, progress)?;
        stage(progress, "write reports", 1, || {
            report::write_run(&RunOutputs {
                cfg,
                result: &result,
            })
        })
    })
}
