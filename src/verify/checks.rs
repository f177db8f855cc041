//! Checks on the common model (format-agnostic). Placeholder.

use crate::model::Image;
use crate::verify::Finding;

/// Options for the model checks.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    pub sysroot: Option<std::path::PathBuf>,
}

/// Runs every model check on `image`.
pub fn run(_image: &Image, _options: &CheckOptions) -> Vec<Finding> {
    Vec::new()
}
