//! Standard output as the commands write it: whether text is coloured, and
//! what a failed write means. A reader that went away (`| head -1`) ends
//! the output quietly; any other failure (`> /dev/full`) is kept and said
//! once at the end, with exit status 2.

use std::io::{self, IsTerminal, Write};

use super::args::ColorChoice;

pub struct Output {
    color: bool,
    /// The reader closed the pipe: nothing more is written, and it is no
    /// error.
    closed: bool,
    /// The first write that failed otherwise.
    error: Option<io::Error>,
}

impl Output {
    /// Standard output, coloured as `choice`, NO_COLOR, TERM and whether
    /// it is a terminal say.
    pub fn stdout(choice: ColorChoice) -> Output {
        Output {
            color: choice.enabled(
                std::env::var_os("NO_COLOR").as_deref(),
                std::env::var_os("TERM").as_deref(),
                io::stdout().is_terminal(),
            ),
            closed: false,
            error: None,
        }
    }

    /// Whether text output is coloured.
    pub fn color(&self) -> bool {
        self.color
    }

    /// Writes `text` (with a final newline) and flushes it.
    pub fn print(&mut self, text: &str) {
        if self.closed || self.error.is_some() {
            return;
        }
        let mut out = io::stdout().lock();
        let written = out
            .write_all(text.as_bytes())
            .and_then(|()| {
                if text.ends_with('\n') {
                    Ok(())
                } else {
                    out.write_all(b"\n")
                }
            })
            .and_then(|()| out.flush());
        self.note(written);
    }

    fn note(&mut self, result: io::Result<()>) {
        match result {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => self.closed = true,
            Err(e) => self.error = Some(e),
        }
    }

    /// The first write error, if any (a closed pipe is none).
    pub fn finish(mut self) -> io::Result<()> {
        if !self.closed && self.error.is_none() {
            let flushed = io::stdout().lock().flush();
            self.note(flushed);
        }
        match self.error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}
