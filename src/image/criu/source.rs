//! Where the files of one CRIU image set come from: a directory on disk
//! (`criu dump -D DIR`), or the `checkpoint/` members of a container
//! checkpoint archive read in place. The reader only sees names and bytes.

use std::path::{Path, PathBuf};

use crate::memory::Bytes;

/// The files of one image set, by name, and its parent snapshot.
pub trait ImageSet {
    /// The path errors and the model name: the directory, or the archive.
    fn path(&self) -> &Path;
    /// Names of the set's entries (at most `limit`), unfiltered: the reader
    /// picks the image files among them.
    fn names(&self, limit: usize) -> std::io::Result<Vec<String>>;
    /// The bytes of `name`; None when it is not a regular file (a
    /// directory, a device, a link that leads nowhere usable).
    fn read(&self, name: &str) -> std::io::Result<Option<Bytes>>;
    /// Whether `name` is a regular file of the set.
    fn has_file(&self, name: &str) -> bool;
    /// The parent snapshot (`parent`, as pre-dump and incremental dumps
    /// leave it), whether or not it exists; readers check `has_file`.
    fn parent(&self) -> Option<Box<dyn ImageSet + '_>>;
    /// Where `parent` points, as recorded (a symlink's target).
    fn parent_link(&self) -> Option<String>;
}

/// An image directory on disk.
#[derive(Debug, Clone)]
pub struct ImageDirectory {
    dir: PathBuf,
}

impl ImageDirectory {
    pub fn new(dir: &Path) -> Self {
        ImageDirectory {
            dir: dir.to_path_buf(),
        }
    }
}

impl ImageSet for ImageDirectory {
    fn path(&self) -> &Path {
        &self.dir
    }

    fn names(&self, limit: usize) -> std::io::Result<Vec<String>> {
        Ok(std::fs::read_dir(&self.dir)?
            .flatten()
            .take(limit)
            .filter_map(|e| e.file_name().into_string().ok())
            .collect())
    }

    fn read(&self, name: &str) -> std::io::Result<Option<Bytes>> {
        let path = self.dir.join(name);
        // Follows symlinks, as criu does; directories are skipped.
        if !std::fs::metadata(&path).is_ok_and(|m| m.is_file()) {
            return Ok(None);
        }
        let file = std::fs::File::open(&path)?;
        Bytes::map_file(&file).map(Some)
    }

    fn has_file(&self, name: &str) -> bool {
        self.dir.join(name).is_file()
    }

    fn parent(&self) -> Option<Box<dyn ImageSet + '_>> {
        Some(Box::new(ImageDirectory::new(&self.dir.join("parent"))))
    }

    fn parent_link(&self) -> Option<String> {
        std::fs::read_link(self.dir.join("parent"))
            .ok()
            .map(|t| t.display().to_string())
    }
}
