//! Where symbol files are looked for: the configuration a symbolizer is
//! built from.

use std::path::PathBuf;
use std::sync::Arc;

use super::debuginfod::Debuginfod;
use super::symbol_path;

/// Where to look for binaries and debug files.
#[derive(Debug, Clone, Default)]
pub struct SymbolConfig {
    /// Local directories to search, in order: `--symbols` dirs, then
    /// `CKDUMP_SYMBOL_PATH` / `_NT_SYMBOL_PATH` entries, and the caches of
    /// any symbol servers among them.
    pub dirs: Vec<PathBuf>,
    /// The full symbol path, servers included (for PDB, binary and .sym
    /// lookups by store layout).
    pub path: symbol_path::SymbolPath,
    /// Root of a copy of the crashed machine's files.
    pub sysroot: Option<PathBuf>,
    /// Also search /usr/lib/debug and the host's own files.
    pub use_host: bool,
    /// The image's main executable, named by the user (`-e FILE`): used
    /// for the main module when its identity is the image's.
    pub executable: Option<PathBuf>,
    /// The debuginfod servers `DEBUGINFOD_URLS` names: asked by build-id
    /// for what is found nowhere else.
    pub debuginfod: Option<Arc<Debuginfod>>,
}

/// Splits `CKDUMP_SYMBOL_PATH` on `:`, keeping `http://` / `https://` whole.
fn split_colon_path(value: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for piece in value.split(':') {
        match out.last_mut() {
            // A piece starting with `//` continues a URL scheme (`http:` + `//host`),
            // and a port (`host:8000/x`) continues the URL too.
            Some(last)
                if piece.starts_with("//")
                    || (last.contains("://")
                        && piece.chars().next().is_some_and(|c| c.is_ascii_digit())) =>
            {
                last.push(':');
                last.push_str(piece);
            }
            _ => out.push(piece.to_string()),
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

impl SymbolConfig {
    /// Explicit entries first, then `CKDUMP_SYMBOL_PATH` (colon-separated)
    /// and `_NT_SYMBOL_PATH` (semicolon-separated). Entries are directories
    /// or `srv*CACHE*URL` / `cache*DIR` forms. `DEBUGINFOD_URLS` (and the
    /// other `DEBUGINFOD_*` variables) add a debuginfod client.
    pub fn from_args(mut entries: Vec<String>, sysroot: Option<PathBuf>) -> Self {
        if let Ok(value) = std::env::var("CKDUMP_SYMBOL_PATH") {
            entries.extend(split_colon_path(&value));
        }
        if let Ok(value) = std::env::var("_NT_SYMBOL_PATH") {
            entries.push(value);
        }
        let path = symbol_path::SymbolPath::parse(&entries);
        path.check_local();
        if let Some(root) = &sysroot
            && !root.is_dir()
        {
            path.warn(format!(
                "--sysroot {}: no such directory; no files are read from it",
                root.display()
            ));
        }
        SymbolConfig {
            dirs: path.dirs(),
            path,
            sysroot,
            use_host: true,
            executable: None,
            debuginfod: Debuginfod::from_env().map(Arc::new),
        }
    }

    /// The same search with `executable` as the main module's file
    /// (`-e FILE`); a path that is no file is warned of.
    pub fn with_executable(mut self, executable: Option<PathBuf>) -> Self {
        if let Some(exe) = &executable
            && !exe.is_file()
        {
            self.path.warn(format!(
                "-e {}: no such file; the executable is looked up as usual",
                exe.display()
            ));
        }
        self.executable = executable;
        self
    }

    /// Says `message` to the user once in this run (shared by every clone
    /// of this configuration).
    pub fn warn(&self, message: String) {
        self.path.warn(message);
    }

    /// What the search found worth a warning so far — a path that does not
    /// exist, a server that cannot be reached, a named file that is
    /// another build — each once per run; not returned again.
    pub fn take_warnings(&self) -> Vec<String> {
        self.path.take_warnings()
    }

    /// A configuration searching only these local directories.
    pub fn from_dirs(dirs: Vec<PathBuf>, sysroot: Option<PathBuf>) -> Self {
        let entries: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
        SymbolConfig {
            path: symbol_path::SymbolPath::parse(&entries),
            dirs,
            sysroot,
            use_host: true,
            executable: None,
            debuginfod: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colon_paths_keep_urls_whole() {
        assert_eq!(
            split_colon_path("/a:srv*/c*https://h.example:8443/s:/b"),
            ["/a", "srv*/c*https://h.example:8443/s", "/b"]
        );
    }
}
