//! The live board of `slm eval live`, redrawn in place on a terminal.
//!
//! On a terminal the board is the message of an indicatif bar, which measures the lines it
//! drew (wrapped ones included) and replaces them on every update, so the header is drawn once
//! however many times the board changes. Elsewhere (a pipe, a log) every update is one line.

use std::io::{IsTerminal, Write};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use slm_eval::LiveBoard;

/// Where the board goes.
pub enum LiveView {
    /// A terminal: redrawn in place.
    Terminal(ProgressBar),
    /// A pipe or file: one line per update.
    Lines(std::io::Stdout),
}

impl LiveView {
    /// Draws on standard output: in place on a terminal, line by line elsewhere.
    pub fn stdout() -> Self {
        let out = std::io::stdout();
        if !out.is_terminal() {
            return LiveView::Lines(out);
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stdout());
        if let Ok(style) = ProgressStyle::with_template("{msg}") {
            bar.set_style(style);
        }
        LiveView::Terminal(bar)
    }

    /// Shows the board's current state (errors writing to stdout are ignored).
    pub fn draw(&mut self, board: &LiveBoard) {
        match self {
            LiveView::Terminal(bar) => bar.set_message(board.render().trim_end().to_string()),
            LiveView::Lines(out) => {
                let _ = writeln!(out, "{}", board.render_line());
                let _ = out.flush();
            }
        }
    }

    /// Leaves the last board on screen.
    pub fn finish(self) {
        if let LiveView::Terminal(bar) = self {
            bar.finish();
        }
    }
}
