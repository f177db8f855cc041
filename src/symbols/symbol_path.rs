//! Symbol paths in the `_NT_SYMBOL_PATH` style, and fetching from symbol
//! servers into a local cache.
//!
//! Entries: a plain directory or file; `cache*DIR` (a cache for the
//! servers that follow, searched like a directory); `srv*URL`,
//! `srv*CACHE*URL` and `symsrv*DLL*CACHE*URL` (an HTTP server in SymStore
//! or Breakpad layout; `SRV*` as well); a bare `http(s)://` URL (a server
//! with the default cache). Several entries may be joined with `;`.
//!
//! Stores are read as SymStore writes them: `NAME/ID/NAME`, or its
//! CAB-compressed form `NAME/ID/NAM_` (MSZIP, expanded into the cache), or
//! a `NAME/ID/file.ptr` naming the file elsewhere (`PATH:…`) or saying why
//! it is absent (`MSG:…`); a store with `index2.txt` at its root is
//! two-tier (`NA/NAME/ID/NAME`). A file a server does not have is
//! remembered in the cache for a day, so a second run asks nothing again.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::unwind::parser_guard::guarded;

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
    /// What this run learned, shared by every clone.
    state: Arc<RunState>,
}

/// What one run learns about its sources.
#[derive(Debug, Default)]
struct RunState {
    /// Servers that could not be reached: not asked again in this run.
    dead: Mutex<HashSet<String>>,
    /// Whether each server is a two-tier store.
    two_tier: Mutex<HashMap<String, bool>>,
    /// Warnings for the user, each once, in the order met.
    warnings: Mutex<Vec<String>>,
}

/// How long a server's "not found" is believed.
const MISSING_FOR: Duration = Duration::from_secs(24 * 3600);

/// Largest `file.ptr` read.
const MAX_POINTER: u64 = 64 << 10;

/// What a GET came to.
enum Got {
    /// Saved at the destination.
    Saved,
    /// 404.
    Missing,
}

/// Why a GET failed.
struct FetchError {
    /// The server was not reached at all (connection refused, no such
    /// host, time-out): not worth asking again in this run.
    unreachable: bool,
    message: String,
}

impl From<String> for FetchError {
    fn from(message: String) -> Self {
        FetchError {
            unreachable: false,
            message,
        }
    }
}

/// A store path's compressed name: its last character replaced by `_`
/// (`crash.pdb` → `crash.pd_`).
fn compressed_name(relative: &str) -> String {
    let mut s = relative.to_string();
    s.pop();
    s.push('_');
    s
}

/// `NA/` for a two-tier store: the first two characters of the file name
/// (the path's first component).
fn tier_prefix(relative: &str) -> String {
    let name = relative.split('/').next().unwrap_or(relative);
    let head: String = name.chars().take(2).collect();
    format!("{head}/")
}

/// The file a `file.ptr` names: `PATH:…` → Ok(path); `MSG:…` or anything
/// else → Err(what it says).
fn parse_pointer(text: &str) -> Result<String, String> {
    let text = text.trim();
    if let Some(path) = text.strip_prefix("PATH:") {
        return Ok(path.trim().to_string());
    }
    Err(text.strip_prefix("MSG:").unwrap_or(text).trim().to_string())
}

/// Expands the file a CAB archive holds (a store's `NAME.pd_`: one file,
/// MSZIP) into `dest`, refusing more than `max` bytes. The `cab` crate
/// reads the archive; a panic in it on a hostile file is caught.
pub fn expand_cab(archive: &Path, dest: &Path, max: u64) -> Result<(), String> {
    let run = || -> Result<(), String> {
        let file = std::fs::File::open(archive).map_err(|e| e.to_string())?;
        let mut cabinet =
            cab::Cabinet::new(file).map_err(|e| format!("not a readable CAB archive: {e}"))?;
        let (name, size) = cabinet
            .folder_entries()
            .flat_map(|f| f.file_entries())
            .map(|e| (e.name().to_string(), u64::from(e.uncompressed_size())))
            .next()
            .ok_or("the CAB archive holds no file")?;
        if size > max {
            return Err(format!("{size} bytes is over the {max} byte limit"));
        }
        let mut reader = cabinet
            .read_file(&name)
            .map_err(|e| format!("cannot expand {name}: {e}"))?;
        let part = dest.with_extension("ckdump-part");
        let mut out = std::fs::File::create(&part)
            .map_err(|e| format!("cannot write {}: {e}", part.display()))?;
        let copied = std::io::copy(&mut (&mut reader).take(max.saturating_add(1)), &mut out);
        drop(out);
        match copied {
            Ok(n) if n <= max => {}
            Ok(_) => {
                let _ = std::fs::remove_file(&part);
                return Err(format!("over the {max} byte limit"));
            }
            Err(e) => {
                let _ = std::fs::remove_file(&part);
                return Err(format!("cannot expand {name}: {e}"));
            }
        }
        std::fs::rename(&part, dest).map_err(|e| e.to_string())
    };
    guarded(run).unwrap_or_else(|| Err("the CAB archive could not be read".into()))
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
                    _ if is_url(element) => sources.push(SymbolSource::Server {
                        cache: cache.clone().unwrap_or_else(default_cache),
                        url: element.trim_end_matches('/').to_string(),
                    }),
                    _ => sources.push(SymbolSource::Dir(PathBuf::from(element))),
                }
            }
        }
        SymbolPath {
            sources,
            limits: FetchLimits::default(),
            state: Arc::default(),
        }
    }

    /// Says `message` to the user once in this run.
    pub fn warn(&self, message: String) {
        if let Ok(mut w) = self.state.warnings.lock()
            && !w.contains(&message)
        {
            w.push(message);
        }
    }

    /// The warnings so far, each once; they are not returned again.
    pub fn take_warnings(&self) -> Vec<String> {
        self.state
            .warnings
            .lock()
            .map(|mut w| std::mem::take(&mut *w))
            .unwrap_or_default()
    }

    /// Warns of every local entry that does not exist.
    pub fn check_local(&self) {
        for source in &self.sources {
            if let SymbolSource::Dir(d) = source
                && std::fs::metadata(d).is_err()
            {
                self.warn(format!(
                    "symbol path entry {}: no such file or directory; nothing is read from it",
                    d.display()
                ));
            }
        }
    }

    /// Where files expanded from a local store's CAB archives go: the
    /// first server cache or `cache*DIR` of the path, else the default.
    fn expand_cache(&self) -> PathBuf {
        self.sources
            .iter()
            .find_map(|s| match s {
                SymbolSource::Server { cache, .. } => Some(cache.clone()),
                SymbolSource::Dir(_) => None,
            })
            .unwrap_or_else(default_cache)
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
    /// `/`-separated, or a flat name) in the sources in order: a file
    /// entry itself (for store paths), a local store (plain, compressed,
    /// `file.ptr`, one or two tiers), a server's cache, then a download
    /// into it. `accept` checks a candidate's identity; a rejected
    /// download is deleted. Problems go to `problems`.
    pub fn find(
        &self,
        relative: &str,
        accept: &dyn Fn(&Path) -> bool,
        problems: &mut Vec<String>,
    ) -> Option<PathBuf> {
        if relative
            .split('/')
            .any(|c| c == ".." || c == "." || c.is_empty())
            || relative.contains(['\\', ':'])
        {
            return None;
        }
        let stored = relative.contains('/');
        for source in &self.sources {
            let found = match source {
                SymbolSource::Dir(d) if d.is_file() => (stored && accept(d)).then(|| d.clone()),
                SymbolSource::Dir(d) => self.find_in_store(d, relative, accept, problems),
                SymbolSource::Server { cache, url } => {
                    let local = cache.join(relative);
                    if local.is_file() && accept(&local) {
                        return Some(local);
                    }
                    self.fetch(url, cache, relative, accept, problems)
                }
            };
            if found.is_some() {
                return found;
            }
        }
        None
    }

    /// `relative` in a local store: as is, CAB-compressed (expanded into
    /// a cache), or behind a `file.ptr`.
    fn find_in_store(
        &self,
        store: &Path,
        relative: &str,
        accept: &dyn Fn(&Path) -> bool,
        problems: &mut Vec<String>,
    ) -> Option<PathBuf> {
        let stored = relative.contains('/');
        let tiered = if stored && store.join("index2.txt").is_file() {
            format!("{}{relative}", tier_prefix(relative))
        } else {
            relative.to_string()
        };
        let plain = store.join(&tiered);
        if plain.is_file() && accept(&plain) {
            return Some(plain);
        }
        let compressed = store.join(compressed_name(&tiered));
        if compressed.is_file() {
            let dest = self.expand_cache().join(relative);
            if dest.is_file() && accept(&dest) {
                return Some(dest);
            }
            let made = dest
                .parent()
                .ok_or_else(|| "bad cache path".to_string())
                .and_then(|p| std::fs::create_dir_all(p).map_err(|e| e.to_string()))
                .and_then(|()| expand_cab(&compressed, &dest, self.limits.max_bytes));
            match made {
                Ok(()) if accept(&dest) => return Some(dest),
                Ok(()) => {
                    problems.push(format!(
                        "{}: expanded file does not have the expected identity",
                        compressed.display()
                    ));
                    let _ = std::fs::remove_file(&dest);
                }
                Err(e) => problems.push(format!("{}: {e}", compressed.display())),
            }
        }
        if !stored {
            return None;
        }
        let pointer = store.join(pointer_path(&tiered));
        let text = read_bounded(&pointer, MAX_POINTER)?;
        match parse_pointer(&text) {
            Ok(target) => {
                let target = store.join(target);
                if target.is_file() && accept(&target) {
                    return Some(target);
                }
                problems.push(format!(
                    "{}: names {}, which is absent or another build",
                    pointer.display(),
                    target.display()
                ));
            }
            Err(message) => problems.push(format!("{}: {message}", pointer.display())),
        }
        None
    }

    /// `relative` from a server into `cache`: as is, then compressed,
    /// then through a `file.ptr`; a miss is remembered for a day.
    fn fetch(
        &self,
        url: &str,
        cache: &Path,
        relative: &str,
        accept: &dyn Fn(&Path) -> bool,
        problems: &mut Vec<String>,
    ) -> Option<PathBuf> {
        if self.is_dead(url) {
            return None;
        }
        let local = cache.join(relative);
        let marker = missing_marker(&local, url);
        if std::fs::metadata(&marker)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|age| age < MISSING_FOR))
        {
            return None;
        }
        let stored = relative.contains('/');
        let prefix = if stored {
            match self.tier(url) {
                Ok(true) => tier_prefix(relative),
                Ok(false) => String::new(),
                Err(e) => {
                    self.fail(url, &e, problems);
                    return None;
                }
            }
        } else {
            String::new()
        };
        let remote = format!("{url}/{prefix}{relative}");
        let attempt = |this: &Self,
                       problems: &mut Vec<String>|
         -> Result<Option<PathBuf>, FetchError> {
            if let Got::Saved = this.download(&remote, &local, this.limits.max_bytes)? {
                return Ok(this.check(&remote, local.clone(), accept, problems));
            }
            let packed = format!("{url}/{prefix}{}", compressed_name(relative));
            let archive = local.with_extension("ckdump-cab");
            if let Got::Saved = this.download(&packed, &archive, this.limits.max_bytes)? {
                let expanded = expand_cab(&archive, &local, this.limits.max_bytes);
                let _ = std::fs::remove_file(&archive);
                return match expanded {
                    Ok(()) => Ok(this.check(&packed, local.clone(), accept, problems)),
                    Err(e) => Err(format!("{packed}: {e}").into()),
                };
            }
            if !stored {
                return Ok(None);
            }
            let pointer_url = format!("{url}/{prefix}{}", pointer_path(relative));
            let pointer_file = local.with_extension("ckdump-ptr");
            if let Got::Saved = this.download(&pointer_url, &pointer_file, MAX_POINTER)? {
                let text = read_bounded(&pointer_file, MAX_POINTER).unwrap_or_default();
                let _ = std::fs::remove_file(&pointer_file);
                return match parse_pointer(&text) {
                    Ok(target) if is_url(&target) => {
                        match this.download(&target, &local, this.limits.max_bytes)? {
                            Got::Saved => Ok(this.check(&target, local.clone(), accept, problems)),
                            Got::Missing => {
                                Err(format!("{pointer_url}: names {target}, which is not there")
                                    .into())
                            }
                        }
                    }
                    Ok(target) => {
                        let target = PathBuf::from(target);
                        if target.is_file() && accept(&target) {
                            Ok(Some(target))
                        } else {
                            Err(format!(
                                "{pointer_url}: names {}, which is absent here or another build",
                                target.display()
                            )
                            .into())
                        }
                    }
                    Err(message) => Err(format!("{pointer_url}: the store says: {message}").into()),
                };
            }
            Ok(None)
        };
        match attempt(self, problems) {
            Ok(Some(found)) => Some(found),
            Ok(None) => {
                // Remembered so that the next run does not ask again.
                if let Some(parent) = marker.parent()
                    && std::fs::create_dir_all(parent).is_ok()
                {
                    let _ = std::fs::write(&marker, b"");
                }
                None
            }
            Err(e) if e.unreachable => {
                self.fail(url, &e.message, problems);
                None
            }
            Err(e) => {
                problems.push(e.message);
                None
            }
        }
    }

    /// `local`, if it has the expected identity; otherwise deleted.
    fn check(
        &self,
        from: &str,
        local: PathBuf,
        accept: &dyn Fn(&Path) -> bool,
        problems: &mut Vec<String>,
    ) -> Option<PathBuf> {
        if accept(&local) {
            return Some(local);
        }
        problems.push(format!(
            "{from}: downloaded file does not have the expected identity"
        ));
        let _ = std::fs::remove_file(&local);
        None
    }

    fn is_dead(&self, url: &str) -> bool {
        self.state.dead.lock().is_ok_and(|d| d.contains(url))
    }

    /// `url` could not be reached: said once, and not asked again.
    fn fail(&self, url: &str, message: &str, problems: &mut Vec<String>) {
        problems.push(format!("{url}: {message}"));
        if let Ok(mut dead) = self.state.dead.lock() {
            dead.insert(url.to_string());
        }
        self.warn(format!(
            "symbol server {url} cannot be reached ({message}); nothing is fetched from it in this run"
        ));
    }

    /// Whether the server at `url` is a two-tier store (`index2.txt` at
    /// its root), asked once per run.
    fn tier(&self, url: &str) -> Result<bool, String> {
        if let Some(known) = self
            .state
            .two_tier
            .lock()
            .ok()
            .and_then(|t| t.get(url).copied())
        {
            return Ok(known);
        }
        let status = self
            .agent()
            .get(&format!("{url}/index2.txt"))
            .call()
            .map_err(|e| e.to_string())?
            .status()
            .as_u16();
        let two = status == 200;
        if let Ok(mut t) = self.state.two_tier.lock() {
            t.insert(url.to_string(), two);
        }
        Ok(two)
    }

    fn agent(&self) -> ureq::Agent {
        let config = ureq::Agent::config_builder()
            .timeout_connect(Some(self.limits.connect_timeout))
            .timeout_global(Some(self.limits.total_timeout))
            .http_status_as_error(false)
            .max_redirects(5)
            .user_agent(concat!("ckdump/", env!("CARGO_PKG_VERSION")))
            .build();
        ureq::Agent::new_with_config(config)
    }

    /// GETs `url` into `dest`, at most `max` bytes. Writes to a temporary
    /// name first so a broken download never looks like a cached file.
    fn download(&self, url: &str, dest: &Path, max: u64) -> Result<Got, FetchError> {
        let mut response = self.agent().get(url).call().map_err(|e| FetchError {
            unreachable: true,
            message: e.to_string(),
        })?;
        match response.status().as_u16() {
            200 => {}
            404 => return Ok(Got::Missing),
            other => return Err(format!("{url}: HTTP status {other}").into()),
        }
        if let Some(len) = response
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            && len > max
        {
            return Err(format!("{url}: {len} bytes is over the {max} byte limit").into());
        }
        let parent = dest.parent().ok_or("bad cache path".to_string())?;
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        let part = dest.with_extension("ckdump-part");
        let mut out = std::fs::File::create(&part)
            .map_err(|e| format!("cannot write {}: {e}", part.display()))?;
        let mut reader = response
            .body_mut()
            .with_config()
            .limit(max.saturating_add(1))
            .reader();
        if let Err(e) = super::download::copy_limited(&mut reader, &mut out, max) {
            let _ = std::fs::remove_file(&part);
            return Err(match e {
                super::download::CopyError::TooLarge => {
                    format!("{url}: over the {max} byte limit")
                }
                super::download::CopyError::Read(e) | super::download::CopyError::Write(e) => {
                    format!("{url}: {e}")
                }
            }
            .into());
        }
        drop(out);
        std::fs::rename(&part, dest).map_err(|e| e.to_string())?;
        Ok(Got::Saved)
    }
}

/// `NAME/ID/file.ptr` for `NAME/ID/NAME`.
fn pointer_path(relative: &str) -> String {
    match relative.rsplit_once('/') {
        Some((dir, _)) => format!("{dir}/file.ptr"),
        None => "file.ptr".to_string(),
    }
}

/// `NAME.ckdump-missing-HASH` beside where `local` would be: the server
/// at `url` (HASH: its URL's) did not have it.
fn missing_marker(local: &Path, url: &str) -> PathBuf {
    let mut name = local.file_name().unwrap_or_default().to_os_string();
    let hash = twox_hash::XxHash3_64::oneshot(url.as_bytes());
    name.push(format!(".ckdump-missing-{hash:016x}"));
    local.with_file_name(name)
}

/// A small text file's contents, at most `max` bytes.
fn read_bounded(path: &Path, max: u64) -> Option<String> {
    let mut text = String::new();
    std::fs::File::open(path)
        .ok()?
        .take(max)
        .read_to_string(&mut text)
        .ok()?;
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

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
    fn upper_case_srv_and_bare_urls() {
        let p = SymbolPath::parse(&["SRV*/tmp/c1*http://127.0.0.1:1/s;https://h.example/x/"]);
        assert_eq!(
            p.sources,
            vec![
                SymbolSource::Server {
                    cache: "/tmp/c1".into(),
                    url: "http://127.0.0.1:1/s".into()
                },
                SymbolSource::Server {
                    cache: default_cache(),
                    url: "https://h.example/x".into()
                },
            ]
        );
    }

    #[test]
    fn store_names() {
        assert_eq!(
            compressed_name("crash.pdb/946FFD091/crash.pdb"),
            "crash.pdb/946FFD091/crash.pd_"
        );
        assert_eq!(compressed_name("kernel32.dll"), "kernel32.dl_");
        assert_eq!(tier_prefix("crash.pdb/946FFD091/crash.pdb"), "cr/");
        assert_eq!(
            pointer_path("crash.pdb/946FFD091/crash.pdb"),
            "crash.pdb/946FFD091/file.ptr"
        );
        assert_eq!(
            parse_pointer("PATH:\\\\share\\crash.pdb\r\n"),
            Ok("\\\\share\\crash.pdb".to_string())
        );
        assert_eq!(
            parse_pointer("MSG: not published"),
            Err("not published".to_string())
        );
    }

    #[test]
    fn a_damaged_cab_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out");
        // A CFHEADER signature and nothing sane after it; then nothing.
        for bytes in [&b"MSCF\0\0\0\0\xff\xff\xff\xff"[..], b"", b"MSCF"] {
            let cab = dir.path().join("x.pd_");
            std::fs::write(&cab, bytes).unwrap();
            assert!(expand_cab(&cab, &dest, 1 << 20).is_err());
            assert!(!dest.exists());
        }
    }

    #[test]
    fn expands_mszip_within_the_limit_only() {
        let dir = tempfile::tempdir().unwrap();
        let cab_path = dir.path().join("a.pd_");
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let mut builder = cab::CabinetBuilder::new();
        builder
            .add_folder(cab::CompressionType::MsZip)
            .add_file("a.pdb");
        let mut writer = builder
            .build(std::fs::File::create(&cab_path).unwrap())
            .unwrap();
        while let Some(mut w) = writer.next_file().unwrap() {
            w.write_all(&data).unwrap();
        }
        writer.finish().unwrap();
        let dest = dir.path().join("a.pdb");
        let err = expand_cab(&cab_path, &dest, 50_000).unwrap_err();
        assert_eq!(err, "100000 bytes is over the 50000 byte limit");
        assert!(!dest.exists());
        expand_cab(&cab_path, &dest, 100_000).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), data);
    }

    #[test]
    fn refuses_escaping_paths() {
        let p = SymbolPath::parse(&["/tmp"]);
        let mut problems = Vec::new();
        assert!(p.find("../etc/passwd", &|_| true, &mut problems).is_none());
    }
}
