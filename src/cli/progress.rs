//! Progress bars on stderr (indicatif) for the library's progress reports;
//! nothing is drawn when stderr is not a terminal or the user asked for
//! quiet.

use std::io::IsTerminal;
use std::sync::Arc;

use ckdump::progress::{Progress, ProgressSink, StepSink, Unit};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Draws every step as an indicatif bar on stderr.
struct TerminalBars;

struct TerminalBar(ProgressBar);

impl ProgressSink for TerminalBars {
    fn start(&self, message: &str, total: Option<u64>, unit: Unit) -> Box<dyn StepSink> {
        let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
        let template = match (unit, total) {
            (Unit::Bytes, Some(_)) => {
                "{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})"
            }
            (Unit::Bytes, None) => "{msg} {spinner} {bytes} ({bytes_per_sec})",
            (Unit::Steps, Some(_)) => "{msg} [{bar:30}] {pos}/{len}",
            (Unit::Steps, None) => "{msg} {spinner} {pos}",
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(message.to_string());
        Box::new(TerminalBar(bar))
    }
}

impl StepSink for TerminalBar {
    fn advance(&self, position: u64) {
        self.0.set_position(position);
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

/// Terminal bars when stderr is a terminal and `quiet` is false; otherwise
/// nothing.
pub fn for_terminal(quiet: bool) -> Progress {
    if !quiet && std::io::stderr().is_terminal() {
        Progress::to(Arc::new(TerminalBars))
    } else {
        Progress::hidden()
    }
}

/// Wires the debuginfod client of `config` (when `DEBUGINFOD_URLS` made
/// one) to the terminal: a bar while files download, and its notices (a
/// server that cannot be reached, a file refused) on stderr, each once.
pub fn show_debuginfod(
    config: ckdump::symbols::SymbolConfig,
    quiet: bool,
) -> ckdump::symbols::SymbolConfig {
    if let Some(client) = &config.debuginfod {
        client.set_progress(for_terminal(quiet));
        client.set_notice_sink(Arc::new(|message: &str| {
            eprintln!("ckdump: warning: {message}");
        }));
    }
    config
}
