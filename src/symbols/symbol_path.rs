//! Symbol paths in the `_NT_SYMBOL_PATH` style, and fetching from symbol
//! servers into a local cache.
//!
//! Entries: a plain directory; `cache*DIR` (a cache for the servers that
//! follow, searched like a directory); `srv*URL`, `srv*CACHE*URL` and
//! `symsrv*DLL*CACHE*URL` (an HTTP server in SymStore or Breakpad layout).
//! Several entries may be joined with `;`.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One place symbols can come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SymbolSource {
    /// A local directory (a symbol store, a `.build-id` tree, or flat).
    Dir(PathBuf),
    /// An HTTP(S) server, downloading into `cache`.
    Server { cache: PathBuf, url: String },
}

/// Limits for downloads.
#[derive(Debug, Clone, Copy)]
pub struct FetchLimits {
    pub connect_timeout: Duration,
    /// Whole request, headers and body.
    pub total_timeout: Duration,
    /// Largest file accepted.
    pub max_bytes: u64,
}

impl Default for FetchLimits {
    fn default() -> Self {
        FetchLimits {
            connect_timeout: Duration::from_secs(10),
            total_timeout: Duration::from_secs(120),
            max_bytes: 2 << 30,
        }
    }
}

/// The parsed symbol path.
#[derive(Debug, Clone, Default)]
pub struct SymbolPath {
    pub sources: Vec<SymbolSource>,
    pub limits: FetchLimits,
}

/// Where downloads go when a `srv*URL` entry names no cache.
pub fn default_cache() -> PathBuf {
    match std::env::var_os("XDG_CACHE_HOME").or_else(|| std::env::var_os("HOME")) {
        Some(base) if std::env::var_os("XDG_CACHE_HOME").is_some() => {
            PathBuf::from(base).join("ckdump/symbols")
        }
        Some(home) => PathBuf::from(home).join(".cache/ckdump/symbols"),
        None => std::env::temp_dir().join("ckdump-symbols"),
    }
}

fn is_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

impl SymbolPath {
    /// Parses entries (each may hold several `;`-separated elements).
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> SymbolPath {
        let mut sources = Vec::new();
        let mut cache: Option<PathBuf> = None;
        for entry in entries {
            for element in entry
                .as_ref()
                .split(';')
                .map(str::trim)
                .filter(|e| !e.is_empty())
            {
                let parts: Vec<&str> = element.split('*').collect();
                let head = parts[0].to_ascii_lowercase();
                match head.as_str() {
                    "srv" | "symsrv" => {
                        // symsrv*symsrv.dll*CACHE*URL: skip the DLL name.
                        let rest = if head == "symsrv" {
                            parts.get(2..)
                        } else {
                            parts.get(1..)
                        };
                        let rest = rest.unwrap_or(&[]);
                        let Some(url) = rest.last().filter(|u| is_url(u)) else {
                            // srv*DIR (no URL): a plain store.
                            sources.extend(
                                rest.iter()
                                    .filter(|d| !d.is_empty())
                                    .map(|d| SymbolSource::Dir(PathBuf::from(d))),
                            );
                            continue;
                        };
                        let explicit = rest[..rest.len() - 1].iter().find(|c| !c.is_empty());
                        let dir = explicit
                            .map(PathBuf::from)
                            .or_else(|| cache.clone())
                            .unwrap_or_else(default_cache);
                        sources.push(SymbolSource::Server {
                            cache: dir,
                            url: url.trim_end_matches('/').to_string(),
                        });
                    }
                    "cache" => {
                        let dir = parts
                            .get(1)
                            .filter(|d| !d.is_empty())
                            .map(PathBuf::from)
                            .unwrap_or_else(default_cache);
                        sources.push(SymbolSource::Dir(dir.clone()));
                        cache = Some(dir);
                    }
                    _ => sources.push(SymbolSource::Dir(PathBuf::from(element))),
                }
            }
        }
        SymbolPath {
            sources,
            limits: FetchLimits::default(),
        }
    }

    /// Local directories (and server caches) to search, in order.
    pub fn dirs(&self) -> Vec<PathBuf> {
        self.sources
            .iter()
            .map(|s| match s {
                SymbolSource::Dir(d) => d.clone(),
                SymbolSource::Server { cache, .. } => cache.clone(),
            })
            .collect()
    }

    /// Finds `relative` (a store path like `NAME.pdb/GUIDAGE/NAME.pdb`,
    /// `/`-separated) in the sources in order: local files first, then a
    /// download into the server's cache. `accept` checks a candidate's
    /// identity; a rejected download is deleted. Problems go to `problems`.
    pub fn find(
        &self,
        relative: &str,
        accept: &dyn Fn(&Path) -> bool,
        problems: &mut Vec<String>,
    ) -> Option<PathBuf> {
        if relative.split('/').any(|c| c == ".." || c.is_empty()) {
            return None;
        }
        for source in &self.sources {
            let (dir, url) = match source {
                SymbolSource::Dir(d) => (d, None),
                SymbolSource::Server { cache, url } => (cache, Some(url)),
            };
            let local = dir.join(relative);
            if local.is_file() && accept(&local) {
                return Some(local);
            }
            let Some(url) = url else { continue };
            match self.download(&format!("{url}/{relative}"), &local) {
                Ok(true) => {
                    if accept(&local) {
                        return Some(local);
                    }
                    problems.push(format!(
                        "{url}/{relative}: downloaded file does not have the expected identity"
                    ));
                    let _ = std::fs::remove_file(&local);
                }
                Ok(false) => {}
                Err(e) => problems.push(format!("{url}/{relative}: {e}")),
            }
        }
        None
    }

    /// GETs `url` into `dest`; Ok(false) for 404, Err for anything else that
    /// went wrong. Writes to a temporary name first so a broken download
    /// never looks like a cached file.
    fn download(&self, url: &str, dest: &Path) -> Result<bool, String> {
        let config = ureq::Agent::config_builder()
            .timeout_connect(Some(self.limits.connect_timeout))
            .timeout_global(Some(self.limits.total_timeout))
            .http_status_as_error(false)
            .max_redirects(5)
            .user_agent(concat!("ckdump/", env!("CARGO_PKG_VERSION")))
            .build();
        let agent = ureq::Agent::new_with_config(config);
        let mut response = agent.get(url).call().map_err(|e| e.to_string())?;
        match response.status().as_u16() {
            200 => {}
            404 => return Ok(false),
            other => return Err(format!("HTTP status {other}")),
        }
        if let Some(len) = response
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            && len > self.limits.max_bytes
        {
            return Err(format!(
                "{len} bytes is over the {} byte limit",
                self.limits.max_bytes
            ));
        }
        let parent = dest.parent().ok_or("bad cache path")?;
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        let part = dest.with_extension("ckdump-part");
        let mut out = std::fs::File::create(&part)
            .map_err(|e| format!("cannot write {}: {e}", part.display()))?;
        let mut reader = response
            .body_mut()
            .with_config()
            .limit(self.limits.max_bytes.saturating_add(1))
            .reader();
        let mut buf = vec![0u8; 1 << 16];
        let mut total = 0u64;
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    let _ = std::fs::remove_file(&part);
                    return Err(e.to_string());
                }
            };
            total += n as u64;
            if total > self.limits.max_bytes {
                let _ = std::fs::remove_file(&part);
                return Err(format!("over the {} byte limit", self.limits.max_bytes));
            }
            if let Err(e) = out.write_all(&buf[..n]) {
                let _ = std::fs::remove_file(&part);
                return Err(e.to_string());
            }
        }
        drop(out);
        std::fs::rename(&part, dest).map_err(|e| e.to_string())?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nt_symbol_path_forms() {
        let p = SymbolPath::parse(&[
            "srv*/tmp/c1*https://msdl.microsoft.com/download/symbols",
            "cache*/tmp/c2;srv*http://127.0.0.1:8000/store/",
            "/opt/syms",
            "symsrv*symsrv.dll*/tmp/c3*https://example.invalid/s",
        ]);
        assert_eq!(
            p.sources,
            vec![
                SymbolSource::Server {
                    cache: "/tmp/c1".into(),
                    url: "https://msdl.microsoft.com/download/symbols".into()
                },
                SymbolSource::Dir("/tmp/c2".into()),
                SymbolSource::Server {
                    cache: "/tmp/c2".into(),
                    url: "http://127.0.0.1:8000/store".into()
                },
                SymbolSource::Dir("/opt/syms".into()),
                SymbolSource::Server {
                    cache: "/tmp/c3".into(),
                    url: "https://example.invalid/s".into()
                },
            ]
        );
    }

    #[test]
    fn refuses_escaping_paths() {
        let p = SymbolPath::parse(&["/tmp"]);
        let mut problems = Vec::new();
        assert!(p.find("../etc/passwd", &|_| true, &mut problems).is_none());
    }
}
