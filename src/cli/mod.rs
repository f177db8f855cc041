//! The command line's own pieces: its arguments, standard output (colour,
//! write failures), and progress bars drawn on the terminal.

pub mod args;
pub mod output;
pub mod progress;
