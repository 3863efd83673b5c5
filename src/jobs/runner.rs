//! The child side of a job: `fox job-run` (an internal subcommand) runs the engine library on
//! a prepared working directory and reports to its parent worker on stdout, one JSON object
//! per line:
//!
//! - `{"type":"stage","name":"ranking targets","total":40}` — a stage starts;
//! - `{"type":"tick"}` — one unit of the current stage is done;
//! - `{"type":"done","summary":{…}}` — the run succeeded (exit code 0);
//! - `{"type":"error","message":"…"}` — the run failed, in the engine's words (exit code 1).
//!
//! Log lines go to stderr (the worker keeps them as the job's log). The working directory
//! holds `experiment.json` and the dataset; the run directory is written to `out/`.

use fox_engine::config::ExperimentConfig;
use serde_json::json;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

/// Writes the protocol lines; stdout is shared by the engine's worker threads.
struct JsonLines(Mutex<std::io::Stdout>);

impl JsonLines {
    fn send(&self, v: &serde_json::Value) {
        let mut out = self.0.lock().unwrap_or_else(|e| e.into_inner());
        // A parent that went away cannot be told anything; the run goes on regardless.
        let _ = writeln!(out, "{v}");
        let _ = out.flush();
    }
}

impl fox_engine::Progress for JsonLines {
    fn stage(&self, name: &str, total: u64) {
        self.send(&json!({"type": "stage", "name": name, "total": total}));
    }
    fn tick(&self) {
        self.send(&json!({"type": "tick"}));
    }
}

/// Runs the job prepared in `dir` with `threads` engine threads (and the baseline run
/// directory, if any); returns the process exit code.
pub fn run(dir: &Path, threads: usize, baseline: Option<&Path>) -> i32 {
    // A worker killed outright (SIGKILL, out of memory) takes its job's process with it:
    // nobody would read the result, and the job is re-run elsewhere.
    let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
    if nix::unistd::getppid() == nix::unistd::Pid::from_raw(1) {
        return 1;
    }
    let out = JsonLines(Mutex::new(std::io::stdout()));
    let result = (|| -> Result<serde_json::Value, String> {
        // Paths stay relative to the job's directory: the run's manifest and resolved config
        // name the dataset as the user sees it, not the worker's disk layout.
        std::env::set_current_dir(dir)
            .map_err(|e| format!("cannot enter the job's directory: {e}"))?;
        let text = std::fs::read_to_string("experiment.json")
            .map_err(|e| format!("cannot read the job's experiment: {e}"))?;
        let mut cfg = ExperimentConfig::from_yaml_str(&text).map_err(|e| e.to_string())?;
        cfg.threads = threads;
        let summary = fox_engine::run::run_with(&cfg, baseline, &out).map_err(|e| e.to_string())?;
        serde_json::to_value(&summary).map_err(|e| e.to_string())
    })();
    match result {
        Ok(summary) => {
            out.send(&json!({"type": "done", "summary": summary}));
            0
        }
        Err(message) => {
            out.send(&json!({"type": "error", "message": message}));
            1
        }
    }
}
