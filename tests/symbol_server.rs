//! Symbol-server fetching against a real HTTP server on loopback, started
//! by the test and serving a directory in symbol-store layout.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ckdump::symbols::symbol_path::SymbolPath;

/// A minimal HTTP/1.1 file server: GET only, one request per connection,
/// `/slow/…` never answers (for the time-out). Counts requests.
fn serve(root: PathBuf) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(64) {
            let Ok(mut stream) = stream else { continue };
            counter.fetch_add(1, Ordering::SeqCst);
            let root = root.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request = String::new();
                if reader.read_line(&mut request).is_err() {
                    return;
                }
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
                if path.starts_with("/slow/") {
                    std::thread::sleep(Duration::from_secs(30));
                    return;
                }
                if path.starts_with("/huge/") {
                    let _ = stream
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 999999999999\r\n\r\n");
                    return;
                }
                let file = root.join(path.trim_start_matches('/'));
                match std::fs::read(&file) {
                    Ok(body) => {
                        let _ = write!(
                            stream,
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        );
                        let _ = stream.write_all(&body);
                    }
                    Err(_) => {
                        let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                    }
                }
            });
        }
    });
    (format!("http://{addr}"), hits)
}

fn store() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let rel = "test_app.pdb/5A9832E5287241C1838ED98914E9B7FF1/test_app.sym";
    let file = dir.path().join(rel);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(
        &file,
        b"MODULE windows x86 5A9832E5287241C1838ED98914E9B7FF1 test_app.pdb\nPUBLIC 1000 0 main\n",
    )
    .unwrap();
    (dir, rel.to_string())
}

fn module_line_is(path: &Path, id: &str) -> bool {
    std::fs::read_to_string(path).is_ok_and(|t| t.lines().next().is_some_and(|l| l.contains(id)))
}

#[test]
fn downloads_into_the_cache_checks_identity_and_reuses_the_cache() {
    let (served, rel) = store();
    let (url, hits) = serve(served.path().to_path_buf());
    let cache = tempfile::tempdir().unwrap();
    let path = SymbolPath::parse(&[format!("srv*{}*{url}", cache.path().display())]);
    let mut problems = Vec::new();

    let got = path
        .find(
            &rel,
            &|p| module_line_is(p, "5A9832E5287241C1838ED98914E9B7FF1"),
            &mut problems,
        )
        .expect("downloaded");
    assert_eq!(got, cache.path().join(&rel));
    assert_eq!(
        std::fs::read(&got).unwrap(),
        std::fs::read(served.path().join(&rel)).unwrap()
    );
    // The file, and once whether the store is two-tier (index2.txt).
    assert_eq!(hits.load(Ordering::SeqCst), 2);

    // Second time: from the cache, no request.
    let again = path.find(&rel, &|_| true, &mut problems).unwrap();
    assert_eq!(again, got);
    assert_eq!(hits.load(Ordering::SeqCst), 2);

    // A file with the wrong identity is rejected and not kept.
    let other = tempfile::tempdir().unwrap();
    let path = SymbolPath::parse(&[format!("srv*{}*{url}", other.path().display())]);
    let mut problems = Vec::new();
    assert!(
        path.find(&rel, &|p| module_line_is(p, "FFFF"), &mut problems)
            .is_none()
    );
    assert!(!other.path().join(&rel).exists());
    assert!(
        problems[0].contains("does not have the expected identity"),
        "{problems:?}"
    );

    // 404: nothing, no problem reported.
    let mut problems = Vec::new();
    assert!(
        path.find("nothing.pdb/00/nothing.pdb", &|_| true, &mut problems)
            .is_none()
    );
    assert!(problems.is_empty(), "{problems:?}");
}

#[test]
fn time_out_and_size_limit() {
    let (served, _) = store();
    let (url, _) = serve(served.path().to_path_buf());
    let cache = tempfile::tempdir().unwrap();
    let mut path = SymbolPath::parse(&[format!("srv*{}*{url}/slow", cache.path().display())]);
    path.limits.total_timeout = Duration::from_secs(2);
    let started = std::time::Instant::now();
    let mut problems = Vec::new();
    assert!(
        path.find("a.pdb/00/a.pdb", &|_| true, &mut problems)
            .is_none()
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(problems.len(), 1, "{problems:?}");

    let mut path = SymbolPath::parse(&[format!("srv*{}*{url}/huge", cache.path().display())]);
    path.limits.max_bytes = 1 << 20;
    let mut problems = Vec::new();
    assert!(
        path.find("a.pdb/00/a.pdb", &|_| true, &mut problems)
            .is_none()
    );
    assert!(problems[0].contains("limit"), "{problems:?}");
    assert!(!cache.path().join("a.pdb/00/a.pdb").exists());
}
