//! ELF core files (kernel, gdb, gcore). Placeholder until the reader lands.

use std::path::Path;

use crate::error::{Error, ErrorKind, Result};
use crate::image::OpenOptions;
use crate::model::Image;

pub fn open_path(path: &Path, _options: &OpenOptions) -> Result<Image> {
    let _ = super::check_path(path)?;
    Err(Error::new(path, ErrorKind::Unsupported("ELF core reader not built yet".into())))
}
