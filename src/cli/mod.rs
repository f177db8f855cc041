//! The command line's own pieces: its arguments, and progress bars drawn
//! on the terminal.

pub mod args;
pub mod progress;
