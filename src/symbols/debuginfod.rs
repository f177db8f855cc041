//! A debuginfod client: executables and debug files fetched by GNU
//! build-id from the servers in `DEBUGINFOD_URLS`, into the cache elfutils'
//! own client uses (`DEBUGINFOD_CACHE_PATH`, else
//! `$XDG_CACHE_HOME/debuginfod_client` or `~/.cache/debuginfod_client`,
//! with `<build-id>/executable` and `<build-id>/debuginfo` in it), so gdb,
//! eu-stack and ckdump share one cache.
//!
//! Every file is identity-checked: a download (or a cached file) whose
//! build-id is not the one asked for is refused with a notice and never
//! used. A server that cannot be reached is named once and not asked again
//! in the run; `DEBUGINFOD_TIMEOUT` bounds what it costs.
//!
//! The HTTP side is ureq (already used for symbol servers); the protocol
//! is two GETs, written here.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use super::locate;
use crate::progress::Progress;

/// What a build-id is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Artifact {
    /// The binary as it ran (unwind tables, symbol tables, code).
    Executable,
    /// Its debug file (DWARF).
    Debuginfo,
}

impl Artifact {
    /// The name in URLs and in the cache, as elfutils spells it.
    pub fn name(self) -> &'static str {
        match self {
            Artifact::Executable => "executable",
            Artifact::Debuginfo => "debuginfo",
        }
    }
}

/// Where the notices of a run go (the CLI prints them on stderr).
pub type NoticeSink = Arc<dyn Fn(&str) + Send + Sync>;

/// Downloads going on at once.
const MAX_THREADS: usize = 4;
/// elfutils' default `DEBUGINFOD_TIMEOUT`.
const DEFAULT_TIMEOUT: u64 = 90;
/// elfutils' default `cache_miss_s`: how long a failed query is believed.
const DEFAULT_CACHE_MISS_S: u64 = 600;

/// The client of one run: its servers, cache and limits, and what it has
/// learnt (dead servers, requests done, notices given).
pub struct Debuginfod {
    urls: Vec<String>,
    cache: PathBuf,
    /// Connecting and waiting for the answer (and each read after).
    timeout: Option<Duration>,
    /// `DEBUGINFOD_MAXTIME`: a whole download.
    max_time: Option<Duration>,
    /// `DEBUGINFOD_MAXSIZE`: the largest file accepted.
    max_size: Option<u64>,
    progress: Mutex<Progress>,
    sink: Mutex<Option<NoticeSink>>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    dead: HashSet<String>,
    said: HashSet<String>,
    /// Notices kept when no sink is set.
    notices: Vec<String>,
    /// Requests already answered in this run: the file, or None.
    done: HashMap<(String, Artifact), Option<PathBuf>>,
}

impl std::fmt::Debug for Debuginfod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Debuginfod")
            .field("urls", &self.urls)
            .field("cache", &self.cache)
            .field("timeout", &self.timeout)
            .field("max_size", &self.max_size)
            .finish()
    }
}

/// elfutils' default cache directory, given the environment.
pub fn default_cache_path(
    xdg_cache_home: Option<&str>,
    home: Option<&str>,
    legacy_exists: &dyn Fn(&Path) -> bool,
) -> PathBuf {
    if let Some(home) = home.filter(|h| !h.is_empty()) {
        let legacy = Path::new(home).join(".debuginfod_client_cache");
        if legacy_exists(&legacy) {
            return legacy;
        }
    }
    match (xdg_cache_home.filter(|x| !x.is_empty()), home) {
        (Some(xdg), _) => Path::new(xdg).join("debuginfod_client"),
        (None, Some(home)) if !home.is_empty() => Path::new(home).join(".cache/debuginfod_client"),
        _ => std::env::temp_dir().join("debuginfod_client"),
    }
}

/// A whole number of seconds or bytes from the environment.
fn env_number(name: &str) -> Option<i64> {
    std::env::var(name).ok()?.trim().parse().ok()
}

impl Debuginfod {
    /// The client `DEBUGINFOD_URLS` asks for, or None when it is unset or
    /// empty (then no server is asked and the cache is not read, as with
    /// elfutils).
    pub fn from_env() -> Option<Debuginfod> {
        let urls = std::env::var("DEBUGINFOD_URLS").ok()?;
        let cache = match std::env::var("DEBUGINFOD_CACHE_PATH") {
            Ok(p) if !p.is_empty() => PathBuf::from(p),
            _ => default_cache_path(
                std::env::var("XDG_CACHE_HOME").ok().as_deref(),
                std::env::var("HOME").ok().as_deref(),
                &|p| p.is_dir(),
            ),
        };
        let timeout = match env_number("DEBUGINFOD_TIMEOUT") {
            Some(s) if s <= 0 => None,
            Some(s) => Some(Duration::from_secs(s as u64)),
            None => Some(Duration::from_secs(DEFAULT_TIMEOUT)),
        };
        let max_time = env_number("DEBUGINFOD_MAXTIME")
            .filter(|s| *s > 0)
            .map(|s| Duration::from_secs(s as u64));
        let max_size = env_number("DEBUGINFOD_MAXSIZE")
            .filter(|s| *s > 0)
            .map(|s| s as u64);
        Debuginfod::new(&urls, cache, timeout, max_time, max_size)
    }

    /// A client of the space-separated `urls` (IMA policy tags such as
    /// `ima:ignore` are skipped), or None when there are none.
    pub fn new(
        urls: &str,
        cache: PathBuf,
        timeout: Option<Duration>,
        max_time: Option<Duration>,
        max_size: Option<u64>,
    ) -> Option<Debuginfod> {
        let urls: Vec<String> = urls
            .split_whitespace()
            .filter(|u| !u.starts_with("ima:"))
            .map(|u| u.trim_end_matches('/').to_string())
            .collect();
        if urls.is_empty() {
            return None;
        }
        Some(Debuginfod {
            urls,
            cache,
            timeout,
            max_time,
            max_size,
            progress: Mutex::new(Progress::hidden()),
            sink: Mutex::new(None),
            state: Mutex::new(State::default()),
        })
    }

    /// The cache directory.
    pub fn cache(&self) -> &Path {
        &self.cache
    }

    /// The servers, in the order they are asked.
    pub fn urls(&self) -> &[String] {
        &self.urls
    }

    /// Downloads report here (a progress bar on a terminal).
    pub fn set_progress(&self, progress: Progress) {
        *lock(&self.progress) = progress;
    }

    /// Notices (dead servers, refused files) go to `sink` from now on;
    /// those kept so far are given to it first.
    pub fn set_notice_sink(&self, sink: NoticeSink) {
        let kept = std::mem::take(&mut lock(&self.state).notices);
        for n in &kept {
            sink(n);
        }
        *lock(&self.sink) = Some(sink);
    }

    /// Notices given while no sink was set.
    pub fn take_notices(&self) -> Vec<String> {
        std::mem::take(&mut lock(&self.state).notices)
    }

    /// Says `message` once per run.
    fn notice(&self, message: String) {
        let mut state = lock(&self.state);
        if !state.said.insert(message.clone()) {
            return;
        }
        match lock(&self.sink).as_ref() {
            Some(sink) => {
                drop(state);
                sink(&message);
            }
            None => state.notices.push(message),
        }
    }

    /// `<cache>/<build-id>/<artifact>`, None for a build-id that is not
    /// plain hex.
    pub fn cache_file(&self, build_id: &str, artifact: Artifact) -> Option<PathBuf> {
        locate::build_id_path(build_id, "")?;
        Some(self.cache.join(build_id).join(artifact.name()))
    }

    /// The cached file for `build_id`, when the cache holds one with that
    /// build-id (fetched by this run or an earlier one, or by elfutils).
    pub fn cached(&self, build_id: &str, artifact: Artifact) -> Option<PathBuf> {
        let path = self.cache_file(build_id, artifact)?;
        let meta = std::fs::metadata(&path).ok()?;
        (meta.is_file() && meta.len() > 0).then_some(path)
    }

    /// Fetches every `(build-id, artifact)` in `wanted` that the cache does
    /// not already hold, on up to four threads, with one progress step per
    /// file.
    pub fn fetch_all(&self, wanted: &[(String, Artifact)]) {
        let mut todo: Vec<(String, Artifact)> = Vec::new();
        {
            let state = lock(&self.state);
            for w in wanted {
                if !state.done.contains_key(w) && !todo.contains(w) {
                    todo.push(w.clone());
                }
            }
        }
        if todo.is_empty() {
            return;
        }
        let step = lock(&self.progress)
            .clone()
            .steps(todo.len() as u64, "debuginfod: fetching");
        let next = AtomicUsize::new(0);
        let threads = todo.len().min(MAX_THREADS);
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    while let Some((id, artifact)) = todo.get(next.fetch_add(1, Ordering::Relaxed))
                    {
                        let found = self.fetch(id, *artifact);
                        lock(&self.state)
                            .done
                            .insert((id.clone(), *artifact), found);
                        step.inc(1);
                    }
                });
            }
        });
        step.finish_and_clear();
    }

    /// The cached file when valid, else a download from the first server
    /// that has it.
    fn fetch(&self, build_id: &str, artifact: Artifact) -> Option<PathBuf> {
        let dest = self.cache_file(build_id, artifact)?;
        if let Ok(meta) = std::fs::metadata(&dest) {
            if meta.len() == 0 {
                // elfutils' record of a failed query: believed for
                // cache_miss_s seconds.
                let age = meta
                    .modified()
                    .ok()
                    .and_then(|m| SystemTime::now().duration_since(m).ok())
                    .unwrap_or_default();
                if age.as_secs() < self.cache_miss_s() {
                    return None;
                }
            } else {
                match file_build_id(&dest) {
                    Some(have) if have == build_id => return Some(dest),
                    have => self.notice(format!(
                        "debuginfod cache: {} has {}, not {build_id}: refused and removed",
                        dest.display(),
                        describe_id(have.as_deref())
                    )),
                }
            }
            let _ = std::fs::remove_file(&dest);
        }
        let mut missing_everywhere = true;
        for url in &self.urls {
            if lock(&self.state).dead.contains(url) {
                missing_everywhere = false;
                continue;
            }
            let full = format!("{url}/buildid/{build_id}/{}", artifact.name());
            match self.download(&full, &dest) {
                Ok(Some(part)) => match file_build_id(&part) {
                    Some(have) if have == build_id => {
                        if std::fs::rename(&part, &dest).is_ok() {
                            return Some(dest);
                        }
                        let _ = std::fs::remove_file(&part);
                        missing_everywhere = false;
                    }
                    have => {
                        let _ = std::fs::remove_file(&part);
                        missing_everywhere = false;
                        self.notice(format!(
                            "debuginfod: {full} served a file with {}: refused",
                            describe_id(have.as_deref())
                        ));
                    }
                },
                Ok(None) => {}
                Err(Failure::Unreachable(why)) => {
                    missing_everywhere = false;
                    if lock(&self.state).dead.insert(url.clone()) {
                        self.notice(format!(
                            "debuginfod server {url} cannot be reached ({why}); it is not asked \
                             again in this run (check DEBUGINFOD_URLS, DEBUGINFOD_TIMEOUT)"
                        ));
                    }
                }
                Err(Failure::Other(why)) => {
                    missing_everywhere = false;
                    self.notice(format!("debuginfod: {full}: {why}"));
                }
            }
        }
        if missing_everywhere {
            self.record_miss(&dest);
        }
        None
    }

    fn cache_miss_s(&self) -> u64 {
        std::fs::read_to_string(self.cache.join("cache_miss_s"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(DEFAULT_CACHE_MISS_S)
    }

    /// Every server said 404: an empty, unreadable file, as elfutils
    /// leaves, so neither client asks again for a while.
    fn record_miss(&self, dest: &Path) {
        use std::os::unix::fs::PermissionsExt;
        let Some(parent) = dest.parent() else { return };
        if std::fs::create_dir_all(parent).is_err() {
            return;
        }
        if std::fs::File::create(dest).is_ok() {
            let _ = std::fs::set_permissions(dest, std::fs::Permissions::from_mode(0o000));
        }
    }

    /// GETs `url` into a temporary file beside `dest`: its path, None for
    /// a 404, or why not.
    fn download(&self, url: &str, dest: &Path) -> Result<Option<PathBuf>, Failure> {
        let config = ureq::Agent::config_builder()
            .timeout_connect(self.timeout)
            .timeout_send_request(self.timeout)
            .timeout_recv_response(self.timeout)
            .timeout_per_read(self.timeout)
            .timeout_global(self.max_time)
            .http_status_as_error(false)
            .max_redirects(5)
            .user_agent(concat!("ckdump/", env!("CARGO_PKG_VERSION")))
            .build();
        let agent = ureq::Agent::new_with_config(config);
        let mut request = agent.get(url);
        if let Some(max) = self.max_size {
            request = request.header("X-DEBUGINFOD-MAXSIZE", max.to_string());
        }
        let mut response = request.call().map_err(classify)?;
        match response.status().as_u16() {
            200 => {}
            404 => return Ok(None),
            other => return Err(Failure::Other(format!("HTTP status {other}"))),
        }
        let limit = self.max_size.unwrap_or(u64::MAX);
        if let Some(len) = response
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            && len > limit
        {
            return Err(Failure::Other(format!(
                "{len} bytes is over DEBUGINFOD_MAXSIZE ({limit})"
            )));
        }
        let parent = dest
            .parent()
            .ok_or(Failure::Other("bad cache path".into()))?;
        std::fs::create_dir_all(parent)
            .map_err(|e| Failure::Other(format!("cannot create {}: {e}", parent.display())))?;
        let part = parent.join(format!(
            ".{}.ckdump-part.{}.{:?}",
            dest.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
            std::process::id(),
            std::thread::current().id()
        ));
        let result = (|| {
            let mut out = std::fs::File::create(&part)
                .map_err(|e| Failure::Other(format!("cannot write {}: {e}", part.display())))?;
            let mut reader = response
                .body_mut()
                .with_config()
                .limit(limit.saturating_add(1))
                .reader();
            match super::download::copy_limited(&mut reader, &mut out, limit) {
                Ok(_) => Ok(()),
                Err(super::download::CopyError::TooLarge) => Err(Failure::Other(format!(
                    "over DEBUGINFOD_MAXSIZE ({limit} bytes)"
                ))),
                Err(super::download::CopyError::Read(e) | super::download::CopyError::Write(e)) => {
                    Err(Failure::Other(e.to_string()))
                }
            }
        })();
        match result {
            Ok(()) => Ok(Some(part)),
            Err(e) => {
                let _ = std::fs::remove_file(&part);
                Err(e)
            }
        }
    }
}

enum Failure {
    /// The server is not there (refused, timed out, no such host).
    Unreachable(String),
    Other(String),
}

fn classify(e: ureq::Error) -> Failure {
    match e {
        ureq::Error::Io(_)
        | ureq::Error::Timeout(_)
        | ureq::Error::HostNotFound
        | ureq::Error::ConnectionFailed => Failure::Unreachable(e.to_string()),
        other => Failure::Other(other.to_string()),
    }
}

fn describe_id(id: Option<&str>) -> String {
    match id {
        Some(id) => format!("build-id {id}"),
        None => "no build-id".into(),
    }
}

/// The build-id of the ELF file at `path`, if it is one and has one.
fn file_build_id(path: &Path) -> Option<String> {
    locate::open_elf(path)?.build_id
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_cache_is_elfutils() {
        let never = |_: &Path| false;
        assert_eq!(
            default_cache_path(Some("/x/cache"), Some("/home/u"), &never),
            PathBuf::from("/x/cache/debuginfod_client")
        );
        assert_eq!(
            default_cache_path(None, Some("/home/u"), &never),
            PathBuf::from("/home/u/.cache/debuginfod_client")
        );
        assert_eq!(
            default_cache_path(Some("/x/cache"), Some("/home/u"), &|_| true),
            PathBuf::from("/home/u/.debuginfod_client_cache")
        );
    }

    #[test]
    fn urls_are_space_separated_without_policy_tags() {
        let d = Debuginfod::new(
            " http://a:8002/  ima:enforcing https://b.example ",
            PathBuf::from("/c"),
            None,
            None,
            None,
        )
        .unwrap();
        assert_eq!(d.urls(), ["http://a:8002", "https://b.example"]);
        assert!(Debuginfod::new("  ", PathBuf::from("/c"), None, None, None).is_none());
        assert_eq!(
            d.cache_file(
                "ef4ea17280cefee9d9850ed7430c51485a809748",
                Artifact::Debuginfo
            ),
            Some(PathBuf::from(
                "/c/ef4ea17280cefee9d9850ed7430c51485a809748/debuginfo"
            ))
        );
        assert_eq!(d.cache_file("../etc", Artifact::Executable), None);
    }
}
