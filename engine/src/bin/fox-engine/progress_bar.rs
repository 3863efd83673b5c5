//! The CLI's progress bar (indicatif), drawn on stderr only when it is a terminal.

use std::io::IsTerminal;
use std::sync::Mutex;

use fox_engine::pipeline::progress::Progress;
use indicatif::{ProgressBar, ProgressStyle};

/// One bar per pipeline stage.
pub struct Bar(Mutex<Option<ProgressBar>>);

impl Bar {
    /// A bar if stderr is a terminal, else `None` (log lines are enough).
    pub fn on_tty() -> Option<Self> {
        std::io::stderr()
            .is_terminal()
            .then(|| Bar(Mutex::new(None)))
    }

    /// Clears the last bar.
    pub fn finish(&self) {
        if let Some(b) = self.0.lock().expect("progress lock").take() {
            b.finish_and_clear();
        }
    }
}

impl Progress for Bar {
    fn stage(&self, name: &str, total: u64) {
        let mut cur = self.0.lock().expect("progress lock");
        if let Some(b) = cur.take() {
            b.finish_and_clear();
        }
        let b = ProgressBar::new(total);
        b.set_style(
            ProgressStyle::with_template("{msg:>20} [{bar:30}] {pos}/{len} {elapsed}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        b.set_message(name.to_owned());
        *cur = Some(b);
    }

    fn tick(&self) {
        if let Some(b) = self.0.lock().expect("progress lock").as_ref() {
            b.inc(1);
        }
    }
}
