//! Progress of `slm eval run` on stderr: an indicatif bar, drawn only on a terminal.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use slm_eval::CaseResult;
use slm_eval::runner::{RunObserver, RunProgress};

/// A progress bar following a run: cases done, elapsed, ETA and the headline metrics so far.
pub struct ProgressObserver {
    bar: ProgressBar,
}

impl ProgressObserver {
    /// A bar on stderr when `show` and stderr is a terminal; hidden otherwise.
    pub fn new(show: bool) -> Self {
        let target = if show {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(None, target);
        if let Ok(style) = ProgressStyle::with_template(
            "{prefix} [{bar:30}] {pos}/{len} {elapsed} eta {eta} {msg}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        Self { bar }
    }
}

impl RunObserver for ProgressObserver {
    fn started(&mut self, model: &str, total: usize, resumed: usize) {
        self.bar.set_length(total as u64);
        self.bar.set_prefix(model.to_string());
        self.bar.set_position(resumed as u64);
    }

    fn case_done(&mut self, _: &CaseResult, progress: &RunProgress) {
        self.bar.set_position(progress.done as u64);
        self.bar.set_message(progress.summary.clone());
    }
}

impl Drop for ProgressObserver {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}
