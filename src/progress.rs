//! Progress bars on stderr for slow steps; silent when stderr is not a
//! terminal or the user asked for quiet.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Whether progress may be drawn at all.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    enabled: bool,
}

impl Progress {
    /// Enabled only when stderr is a terminal and `quiet` is false.
    pub fn new(quiet: bool) -> Self {
        Progress {
            enabled: !quiet && std::io::stderr().is_terminal(),
        }
    }

    pub fn hidden() -> Self {
        Progress { enabled: false }
    }

    /// A byte-counting bar (decompression, hashing); hidden when disabled.
    pub fn bytes(&self, total: Option<u64>, message: &str) -> ProgressBar {
        let bar = match total {
            Some(t) => ProgressBar::with_draw_target(Some(t), self.target()),
            None => ProgressBar::with_draw_target(None, self.target()),
        };
        let style = if total.is_some() {
            ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
            )
        } else {
            ProgressStyle::with_template("{msg} {spinner} {bytes} ({bytes_per_sec})")
        };
        if let Ok(style) = style {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(message.to_string());
        bar
    }

    /// A step-counting bar (threads unwound, checks run).
    pub fn steps(&self, total: u64, message: &str) -> ProgressBar {
        let bar = ProgressBar::with_draw_target(Some(total), self.target());
        if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len}") {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(message.to_string());
        bar
    }

    fn target(&self) -> ProgressDrawTarget {
        if self.enabled {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        }
    }
}
