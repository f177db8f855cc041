//! Pieces of the command line that are not argument parsing: drawing
//! progress on the terminal.

pub mod progress;
