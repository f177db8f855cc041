//! ckdump: open any saved state of a process or kernel, tell the truth about
//! it, and verify it before anyone restores from it.
//!
//! Data flows one way:
//! `path → image::open → Image (model) → analysis → Report → report::render`.
//! Readers never print, renderers never parse, and analysis never knows which
//! file format an [`Image`] came from.
//!
//! Every command of the CLI is a library call that takes options and returns
//! a report (plain data, `Serialize`), which [`render`] turns into text, JSON,
//! SARIF or JUnit:
//!
//! ```
//! use ckdump::{Input, InspectOptions, VerifyOptions};
//!
//! let core = std::path::PathBuf::from("testdata/cores/core.threads.kernel.zst");
//! let report = ckdump::inspect(&Input::Path(core.clone()), &InspectOptions::default())?;
//! assert_eq!(report.threads.len(), 4);
//! println!("{}", ckdump::render::json::render(&report));
//!
//! let verdict = ckdump::verify(&core, &VerifyOptions::default()).map_err(|f| f.error)?;
//! assert_eq!(verdict.counts.errors, 0);
//! # Ok::<(), ckdump::Error>(())
//! ```

pub mod analysis;
pub mod byte_reader;
mod commands;
pub mod diff;
pub mod error;
pub mod finding;
pub mod image;
pub mod kernel;
#[cfg(target_os = "linux")]
pub mod live;
pub mod memory;
pub mod model;
pub mod progress;
pub mod render;
pub mod report;
pub mod seal;
pub mod symbols;
#[cfg(test)]
mod test_support;
pub mod unwind;
pub mod verify;

#[cfg(target_os = "linux")]
pub use commands::snapshot;
pub use commands::{
    Input, InspectOptions, VerifyFailure, VerifyOptions, diff, inspect, seal, verify, verify_set,
};
pub use error::{Error, ErrorKind};
pub use image::{OpenOptions, open, open_set};
pub use model::Image;
