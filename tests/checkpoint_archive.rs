//! Container checkpoint archives (testdata/criu/archive: images/mt packed
//! as `podman container checkpoint --export` does, zstd and gzip): the
//! same process as the image directory, the container metadata as
//! checkpointctl shows it, zero-copy reads of a plain tar, the metadata of
//! ../shared/corpus/checkpointctl, hostile members, truncation anywhere,
//! and decompression bombs.

mod common;

use std::path::{Path, PathBuf};

use ckdump::image::checkpoint_archive;
use ckdump::model::{Compression, Image, ImageFormat};
use ckdump::{ErrorKind, OpenOptions};
use common::*;
use serde_json::Value;

const PID: u64 = 134;
const TIDS: [u64; 4] = [134, 139, 140, 141];
const HEAP_MARKER: u64 = 0x562b606c82a0;

fn testdata() -> PathBuf {
    root().join("testdata/criu")
}

fn archive(ext: &str) -> PathBuf {
    testdata().join(format!("archive/mt-checkpoint.tar.{ext}"))
}

fn options() -> OpenOptions {
    OpenOptions {
        sysroot: Some(root().join("testdata/sysroot")),
        ..OpenOptions::default()
    }
}

fn open(path: &Path) -> Image {
    open_with(path, &options())
}

fn json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap()
}

/// The archive's tar stream, decompressed by the test itself.
fn tar_bytes() -> Vec<u8> {
    let packed = std::fs::read(archive("zst")).unwrap();
    zstd::decode_all(&packed[..]).unwrap()
}

/// One member for [`build_tar`]: name, tar type byte, link target, data.
#[derive(Clone)]
struct Raw {
    name: Vec<u8>,
    kind: u8,
    link: Vec<u8>,
    data: Vec<u8>,
    /// Size to write in the header when it should lie.
    claimed: Option<u64>,
}

fn file(name: &str, data: &[u8]) -> Raw {
    Raw {
        name: name.as_bytes().to_vec(),
        kind: b'0',
        link: Vec::new(),
        data: data.to_vec(),
        claimed: None,
    }
}

fn link(name: &str, kind: u8, target: &str) -> Raw {
    Raw {
        name: name.as_bytes().to_vec(),
        kind,
        link: target.as_bytes().to_vec(),
        data: Vec::new(),
        claimed: None,
    }
}

fn dir(name: &str) -> Raw {
    Raw {
        kind: b'5',
        ..file(name, b"")
    }
}

/// A ustar header written byte by byte, so names the `tar` crate's
/// builder refuses (absolute, `..`) can be written too. Sizes past the
/// octal field use GNU base-256.
fn header(m: &Raw) -> [u8; 512] {
    let mut h = [0u8; 512];
    assert!(m.name.len() <= 100 && m.link.len() <= 100);
    h[..m.name.len()].copy_from_slice(&m.name);
    h[100..108].copy_from_slice(b"0000644\0");
    h[108..116].copy_from_slice(b"0000000\0");
    h[116..124].copy_from_slice(b"0000000\0");
    let size = m.claimed.unwrap_or(m.data.len() as u64);
    if size < 0o77777777777 {
        h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
    } else {
        h[124] = 0x80;
        h[128..136].copy_from_slice(&size.to_be_bytes());
    }
    h[136..148].copy_from_slice(b"15001617672\0");
    h[156] = m.kind;
    h[157..157 + m.link.len()].copy_from_slice(&m.link);
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    h
}

fn build_tar(members: &[Raw]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in members {
        out.extend_from_slice(&header(m));
        out.extend_from_slice(&m.data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

/// The members of the fixture archive, through the `tar` crate.
fn fixture_members() -> Vec<Raw> {
    let bytes = tar_bytes();
    let mut a = tar::Archive::new(&bytes[..]);
    let mut out = Vec::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path_bytes().into_owned();
        let kind = e.header().entry_type().as_byte();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut data).unwrap();
        out.push(Raw {
            name,
            kind,
            link: Vec::new(),
            data,
            claimed: None,
        });
    }
    out
}

/// Members of an image directory under `prefix/` (no dump.log, no link).
fn directory_members(dir: &Path, prefix: &str) -> Vec<Raw> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != "dump.log" && n != "parent")
        .collect();
    names.sort();
    let mut out = vec![dir_raw(prefix)];
    for n in names {
        out.push(file(
            &format!("{prefix}/{n}"),
            &std::fs::read(dir.join(&n)).unwrap(),
        ));
    }
    out
}

fn dir_raw(name: &str) -> Raw {
    dir(&format!("{name}/"))
}

fn metadata_members() -> Vec<Raw> {
    ["config.dump", "spec.dump", "network.status"]
        .iter()
        .map(|n| {
            file(
                n,
                &std::fs::read(testdata().join("archive/metadata").join(n)).unwrap(),
            )
        })
        .collect()
}

fn write_temp(bytes: &[u8], name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    (dir, path)
}

fn open_members(members: &[Raw]) -> Image {
    let (_dir, path) = write_temp(&build_tar(members), "hostile.tar");
    ckdump::open(&path, &no_host_files()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn archives_hold_the_same_process_as_the_image_directory() {
    let from_dir = open(&testdata().join("images/mt"));
    assert!(from_dir.findings.is_empty(), "{:?}", from_dir.findings);
    for (ext, compression) in [("zst", Compression::Zstd), ("gz", Compression::Gzip)] {
        let image = open(&archive(ext));
        assert_eq!(image.format, ImageFormat::ContainerCheckpoint);
        assert_eq!(image.compression, Some(compression));
        assert_eq!(image.size, 174_080, "the tar stream");
        assert!(image.findings.is_empty(), "{ext}: {:?}", image.findings);
        let p = image.process.facts.as_ref().unwrap();
        assert_eq!(p.pid, Some(PID));
        assert_eq!(p.name.as_deref(), Some("mt"));
        assert_eq!(p.args.as_deref(), Some("/opt/ckdump/mt"));
        assert_eq!(p.executable.as_deref(), Some("/opt/ckdump/mt"));
        let tids: Vec<u64> = image.process.threads.iter().map(|t| t.tid).collect();
        assert_eq!(tids, TIDS);
        let names: Vec<&str> = image
            .process
            .threads
            .iter()
            .map(|t| t.name.as_deref().unwrap())
            .collect();
        assert_eq!(names, ["mt", "worker-0", "worker-1", "worker-2"]);
        assert_eq!(
            image.process.threads[0].registers.pc(),
            Some(0x7fec8788cdf0)
        );
        for t in &image.process.threads[1..] {
            assert_eq!(t.registers.pc(), Some(0x7fec87888545), "tid {}", t.tid);
        }
        // Registers (with FPU/xsave), regions, modules and the tree are
        // those of the directory, value for value.
        assert_eq!(
            json(&image.process.threads),
            json(&from_dir.process.threads),
            "{ext}"
        );
        assert_eq!(
            json(&image.process.regions),
            json(&from_dir.process.regions),
            "{ext}"
        );
        assert_eq!(
            json(&image.process.modules),
            json(&from_dir.process.modules),
            "{ext}"
        );
        assert_eq!(
            json(&image.details.processes),
            json(&from_dir.details.processes)
        );
        assert_eq!(
            json(&image.details.annotations),
            json(&from_dir.details.annotations)
        );
        // Memory through pagemap -> pages-1.img inside the archive.
        let mut tag = [0u8; 23];
        image
            .process
            .memory
            .read_exact(HEAP_MARKER, &mut tag)
            .unwrap();
        assert_eq!(&tag, b"ckdump-criu-heap-marker");
        assert_eq!(
            image.process.memory.read_u64(HEAP_MARKER + 32).unwrap(),
            0x1122334455667788
        );
        for (i, tid) in [139u64, 140, 141].iter().enumerate() {
            let at = HEAP_MARKER + 40 + 8 * i as u64;
            assert_eq!(image.process.memory.read_u64(at).unwrap(), *tid);
        }
        for r in image.process.regions.iter().take(40) {
            let len = (r.end - r.start).min(8192) as usize;
            let (mut a, mut b) = (vec![0u8; len], vec![0u8; len]);
            let na = image.process.memory.read_available(r.start, &mut a);
            let nb = from_dir.process.memory.read_available(r.start, &mut b);
            assert_eq!((na, &a[..na]), (nb, &b[..nb]), "{:#x}", r.start);
        }
        // The listing names archive members.
        let names: Vec<&str> = image
            .details
            .files
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        assert!(names.contains(&"checkpoint/pagemap-134.img"), "{names:?}");
        assert!(names.contains(&"config.dump"));
        let stats = image
            .details
            .files
            .iter()
            .find(|f| f.name == "stats-dump")
            .unwrap();
        assert_eq!(
            (stats.kind, stats.entries, stats.size),
            (Some("STATS"), Some(1), 50)
        );
    }
}

#[test]
fn stacks_match_the_directory() {
    let stacks = |path: &Path| {
        let doc = inspect_json(
            path,
            &[
                "--symbols",
                testdata().join("bin").to_str().unwrap(),
                "--sysroot",
                root().join("testdata/sysroot").to_str().unwrap(),
                "--no-host-symbols",
            ],
        );
        TIDS.map(|tid| physical_functions(thread(&doc, tid)))
    };
    let from_dir = stacks(&testdata().join("images/mt"));
    let from_archive = stacks(&archive("zst"));
    assert_eq!(from_archive, from_dir);
    assert_eq!(&from_archive[0][..2], ["pause", "main"]);
    for worker in &from_archive[1..] {
        assert_eq!(
            &worker[..6],
            [
                "clock_nanosleep",
                "__nanosleep",
                "usleep",
                "worker_leaf",
                "worker_mid",
                "worker"
            ]
        );
    }
}

/// checkpointctl's `show` / `inspect` of the same archive, line by line.
fn checkpointctl_value(label: &str) -> String {
    let text =
        std::fs::read_to_string(testdata().join("reference/archive.checkpointctl.txt")).unwrap();
    text.lines()
        .find_map(|l| {
            let l = l.trim_start_matches(['│', '├', '└', '─', ' ']);
            l.strip_prefix(&format!("{label}: "))
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_else(|| panic!("no {label} in checkpointctl's output"))
}

/// `17.685 ms` -> 17685 microseconds.
fn micros(ms: &str) -> u64 {
    let v: f64 = ms.trim_end_matches(" ms").parse().unwrap();
    (v * 1000.0).round() as u64
}

#[test]
fn container_metadata_matches_checkpointctl() {
    let image = open(&archive("zst"));
    let c = image.details.container.as_ref().unwrap();
    assert_eq!(c.engine.as_deref(), Some("Podman"));
    assert_eq!(checkpointctl_value("Engine"), "Podman");
    assert_eq!(c.name.as_deref(), Some("ckdump-mt"));
    assert_eq!(
        c.id.as_deref(),
        Some("3f6c8e21b0a94d57c2e1f80b6d4a9c3e75b2d018f6a4c9e3b7d5102a8e6f4c91")
    );
    assert_eq!(c.id.clone().unwrap(), checkpointctl_value("ID"));
    assert_eq!(c.image.as_deref(), Some("quay.io/ckdump/mt-fixture:latest"));
    assert_eq!(c.image.clone().unwrap(), checkpointctl_value("Image"));
    assert_eq!(
        c.image_id.as_deref(),
        Some("8d2f1c6b4e9a07532c1f8e6d5b4a3920718f6e5d4c3b2a19f8e7d6c5b4a39281")
    );
    assert_eq!(c.runtime.as_deref(), Some("runc"));
    assert_eq!(c.runtime.clone().unwrap(), checkpointctl_value("Runtime"));
    assert_eq!(c.created.as_deref(), Some("2026-11-23T05:43:20.283917402Z"));
    assert_eq!(
        ckdump::model::seconds_precision(c.created.as_deref().unwrap()),
        checkpointctl_value("Created")
    );
    assert_eq!(
        c.checkpointed.as_deref(),
        Some("2026-11-23T05:55:54.604183377Z")
    );
    assert_eq!(image.timestamp, Some(1_795_413_354));
    assert_eq!(c.hostname.as_deref(), Some("ckdump-mt"));
    assert_eq!((c.pod.as_deref(), c.namespace.as_deref()), (None, None));
    assert_eq!(c.args, ["/opt/ckdump/mt"]);
    assert_eq!(c.cwd.as_deref(), Some("/tmp"));
    let mounts: Vec<(&str, &str, &str)> = c
        .mounts
        .iter()
        .map(|m| {
            (
                m.destination.as_str(),
                m.kind.as_deref().unwrap(),
                m.source.as_deref().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        mounts,
        [
            ("/proc", "proc", "proc"),
            ("/tmp", "tmpfs", "tmpfs"),
            (
                "/etc/hostname",
                "bind",
                "/run/containers/storage/overlay-containers/3f6c8e21b0a94d57c2e1f80b6d4a9c3e75b2d018f6a4c9e3b7d5102a8e6f4c91/userdata/hostname"
            )
        ]
    );
    // checkpointctl's "Overview of mounts": destination, type, source.
    let reference =
        std::fs::read_to_string(testdata().join("reference/archive.checkpointctl.txt")).unwrap();
    for (dest, kind, source) in &mounts {
        let at = reference
            .find(&format!("Destination: {dest}\n"))
            .unwrap_or_else(|| panic!("{dest}"));
        let block: Vec<&str> = reference[at..].lines().take(3).collect();
        assert!(block[1].ends_with(&format!("Type: {kind}")), "{block:?}");
        assert!(
            block[2].ends_with(&format!("Source: {source}")),
            "{block:?}"
        );
    }
    assert_eq!(c.interfaces.len(), 1);
    let eth0 = &c.interfaces[0];
    assert_eq!(eth0.network.as_deref(), Some("podman"));
    assert_eq!(eth0.interface.as_deref(), Some("eth0"));
    assert_eq!(eth0.addresses, ["10.88.0.17/16"]);
    assert_eq!(eth0.gateways, ["10.88.0.1"]);
    assert_eq!(eth0.mac.as_deref(), Some("6e:3a:91:c4:27:b5"));
    assert_eq!(
        c.annotations
            .get("io.container.manager")
            .map(String::as_str),
        Some("libpod")
    );
    assert_eq!(c.annotations.len(), 6);
    assert_eq!(
        c.metadata_files,
        ["config.dump", "spec.dump", "network.status", "stats-dump"]
    );
    assert_eq!((c.rootfs_diff_size, c.deleted_files.len()), (None, 0));
    // Sizes: the regular files under checkpoint/ and its pages.
    assert_eq!(c.checkpoint_size, 153_789);
    assert_eq!(c.pages_size, 147_456);
    // CRIU's stats-dump: crit's decoding, and checkpointctl's rendering.
    let s = c.dump_statistics.as_ref().unwrap();
    assert_eq!(
        (
            s.freezing_time_us,
            s.frozen_time_us,
            s.memdump_time_us,
            s.memwrite_time_us
        ),
        (17_685, 189_281, 19_214, 3_840)
    );
    assert_eq!(
        (
            s.pages_scanned,
            s.pages_written,
            s.pages_skipped_parent,
            s.pages_lazy
        ),
        (672, 36, 0, 0)
    );
    assert_eq!((s.page_pipes, s.page_pipe_bufs), (Some(8), Some(8)));
    assert_eq!(
        micros(&checkpointctl_value("Freezing time")),
        s.freezing_time_us
    );
    assert_eq!(
        micros(&checkpointctl_value("Memdump time")),
        s.memdump_time_us
    );
    assert_eq!(
        micros(&checkpointctl_value("Memwrite time")),
        s.memwrite_time_us
    );
    // checkpointctl prints the frozen time rounded to 10 µs.
    assert!(micros(&checkpointctl_value("Frozen time")).abs_diff(s.frozen_time_us) < 10);
    assert_eq!(
        checkpointctl_value("Pages scanned"),
        s.pages_scanned.to_string()
    );
    assert_eq!(
        checkpointctl_value("Pages written"),
        s.pages_written.to_string()
    );
    let crit: Value = serde_json::from_str(
        &std::fs::read_to_string(testdata().join("reference/mt/stats-dump.json")).unwrap(),
    )
    .unwrap();
    let dump = &crit["entries"][0]["dump"];
    assert_eq!(dump["frozen_time"], 189_281);
    assert_eq!(dump["pages_scanned"], 672);

    // The text report shows it as checkpointctl does.
    let out = ckdump(&["inspect", archive("zst").to_str().unwrap()]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for line in [
        "  archive  tar.zst, 20 members, 14 KiB (170 KiB of tar)",
        "Container ckdump-mt (Podman)",
        "  id            3f6c8e21b0a94d57c2e1f80b6d4a9c3e75b2d018f6a4c9e3b7d5102a8e6f4c91",
        "  image         quay.io/ckdump/mt-fixture:latest",
        "  runtime       runc",
        "  created       2026-11-23T05:43:20Z",
        "  checkpointed  2026-11-23T05:55:54Z",
        "  hostname      ckdump-mt",
        "  command       /opt/ckdump/mt  (cwd /tmp)",
        "  network       podman eth0 10.88.0.17/16 via 10.88.0.1 mac 6e:3a:91:c4:27:b5",
        "  mounts        /proc (proc), /tmp (tmpfs), /etc/hostname (bind)",
    ] {
        assert!(text.lines().any(|l| l == line), "{line:?} not in\n{text}");
    }
    let size_line = format!(
        "  checkpoint    {} (memory pages {})",
        checkpointctl_value("Checkpoint size"),
        checkpointctl_value("Memory pages size")
    );
    assert_eq!(
        size_line,
        "  checkpoint    150.2 KiB (memory pages 144.0 KiB)"
    );
    assert!(text.lines().any(|l| l == size_line), "{text}");
}

#[test]
fn json_sarif_and_junit_for_archives() {
    let path = archive("gz");
    let doc = inspect_json(&path, &["--regions", "--sysroot", "testdata/sysroot"]);
    assert_valid(&schema("inspect.schema.json"), &doc, "inspect");
    assert_eq!(doc["image"]["format"], "container-checkpoint");
    assert_eq!(
        doc["image"]["archive"],
        serde_json::json!({"kind": "tar.gz", "compression": "gzip", "members": 20,
                           "file_size": 16631, "tar_size": 174080})
    );
    let c = &doc["container"];
    assert_eq!(c["engine"], "Podman");
    assert_eq!(c["name"], "ckdump-mt");
    assert_eq!(c["dump_statistics"]["frozen_time_us"], 189_281);
    assert_eq!(c["interfaces"][0]["mac"], "6e:3a:91:c4:27:b5");
    assert_eq!(
        c["annotations"]["io.podman.annotations.autoremove"],
        "FALSE"
    );
    // Every VMA of crit's mm-134.img decoding.
    let crit: Value = serde_json::from_str(
        &std::fs::read_to_string(testdata().join("reference/mt/mm-134.json")).unwrap(),
    )
    .unwrap();
    let vmas = crit["entries"][0]["vmas"].as_array().unwrap();
    assert_eq!(vmas.len(), 28);
    let regions = doc["regions"].as_array().unwrap();
    assert_eq!(regions.len(), vmas.len());
    for (r, v) in regions.iter().zip(vmas) {
        assert_eq!(r["start"], v["start"]);
        assert_eq!(r["end"], v["end"]);
    }
    assert_eq!(doc["processes"][0]["threads"], serde_json::json!(TIDS));

    let out = ckdump(&[
        "verify",
        path.to_str().unwrap(),
        "--sysroot",
        "testdata/sysroot",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_valid(&schema("verify.schema.json"), &doc, "verify");
    let status = |code: &str| {
        doc["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["code"] == code)
            .unwrap()["status"]
            .clone()
    };
    for code in [
        "CKD-E6101",
        "CKD-E6102",
        "CKD-E6103",
        "CKD-E6104",
        "CKD-W6105",
        "CKD-W6106",
        // The CRIU checks apply to the images inside.
        "CKD-E6005",
        "CKD-E6006",
    ] {
        assert_eq!(status(code), "passed", "{code}");
    }
    for format in ["sarif", "junit"] {
        let out = ckdump(&["verify", path.to_str().unwrap(), "--format", format]);
        assert_eq!(out.status.code(), Some(0), "{format}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("CKD-E6103"));
    }
}

#[test]
fn a_plain_tar_is_read_in_place_zero_copy() {
    let (_dir, path) = write_temp(&tar_bytes(), "mt-checkpoint.tar");
    let loaded = checkpoint_archive::load(&path, None, u64::MAX, &no_host_files()).unwrap();
    assert!(
        loaded.bytes.is_mapped(),
        "a plain tar is mapped, not copied"
    );
    assert!(loaded.findings.is_empty() && loaded.members.findings.is_empty());
    assert_eq!(loaded.members.headers, 20);
    let pages = loaded.members.file("checkpoint/pages-1.img").unwrap();
    assert_eq!(pages.len(), 147_456);
    assert!(pages.shares_source_with(&loaded.bytes));
    // The member is a window on the map at its data offset (512 after its
    // header), not a copy.
    let member = loaded.members.get("checkpoint/pages-1.img").unwrap();
    let offset = pages.as_ptr() as usize - loaded.bytes.as_ptr() as usize;
    assert_eq!(offset as u64, member.header_offset + 512);
    assert_eq!(offset, 16_896);
    assert_eq!(
        &pages[..],
        &std::fs::read(testdata().join("images/mt/pages-1.img")).unwrap()[..]
    );

    let image = ckdump::open(&path, &no_host_files()).unwrap();
    assert_eq!(image.compression, None);
    assert!(image.findings.is_empty(), "{:?}", image.findings);
    let info = image
        .details
        .container
        .as_ref()
        .unwrap()
        .archive
        .clone()
        .unwrap();
    assert_eq!(
        (
            info.kind.as_str(),
            info.members,
            info.file_size,
            info.tar_size
        ),
        ("tar", 20, 174_080, 174_080)
    );
    let mut tag = [0u8; 23];
    image
        .process
        .memory
        .read_exact(HEAP_MARKER, &mut tag)
        .unwrap();
    assert_eq!(&tag, b"ckdump-criu-heap-marker");
}

/// An archive of the fixture's CRIU images with other metadata files.
fn with_metadata(replace: &[(&str, Vec<u8>)]) -> Image {
    let mut members: Vec<Raw> = fixture_members()
        .into_iter()
        .filter(|m| !replace.iter().any(|(n, _)| m.name == n.as_bytes()))
        .collect();
    for (name, data) in replace {
        members.push(file(name, data));
    }
    open_members(&members)
}

#[test]
fn checkpointctl_corpus_metadata() {
    let Some(shared) = shared() else { return };
    let corpus = shared.join("corpus/checkpointctl/test-data");
    let read = |n: &str| std::fs::read(corpus.join(n)).unwrap();

    // Podman's files: an empty config.dump, a spec with two mounts.
    let image = with_metadata(&[
        ("config.dump", read("config.dump")),
        ("spec.dump", read("spec.dump")),
        ("network.status", read("network.status")),
    ]);
    assert!(image.findings.is_empty(), "{:?}", image.findings);
    let c = image.details.container.as_ref().unwrap();
    assert_eq!(c.engine.as_deref(), Some("Podman"));
    assert_eq!((c.name.as_deref(), c.id.as_deref()), (None, None));
    assert_eq!(c.mounts.len(), 2);
    assert_eq!(c.mounts[1].destination, "/etc/hostname");
    assert_eq!(
        c.mounts[1].source.as_deref(),
        Some(
            "/run/containers/storage/overlay-containers/d5eee7931a29b2d6bf51469e3ab7284bb22a9e6dad073277e30e2a29256efc84/userdata/hostname"
        )
    );
    assert_eq!(c.interfaces[0].addresses, ["10.88.0.9/16"]);
    assert_eq!(c.interfaces[0].mac.as_deref(), Some("f2:99:8d:fb:5a:57"));
    assert_eq!(image.process.facts.as_ref().unwrap().pid, Some(PID));

    // Two networks.
    let image = with_metadata(&[("network.status", read("network.status.multi"))]);
    let c = image.details.container.as_ref().unwrap();
    let ifaces: Vec<(String, String, String, String, String)> = c
        .interfaces
        .iter()
        .map(|i| {
            (
                i.network.clone().unwrap(),
                i.interface.clone().unwrap(),
                i.addresses.join(","),
                i.gateways.join(","),
                i.mac.clone().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ifaces,
        [
            (
                "net1".into(),
                "eth0".into(),
                "10.89.0.2/24".into(),
                "10.89.0.1".into(),
                "32:ba:b8:45:bc:84".into()
            ),
            (
                "net2".into(),
                "eth1".into(),
                "10.89.1.2/24".into(),
                "10.89.1.1".into(),
                "5e:b7:fe:ee:e0:d8".into()
            )
        ]
    );

    // A Kubernetes (CRI-O) checkpoint: the name from the CRI-O metadata
    // annotation, pod and namespace from the kubernetes ones.
    let image = with_metadata(&[
        ("config.dump", read("list_config_spec.dump/config.dump")),
        ("spec.dump", read("list_config_spec.dump/spec.dump")),
    ]);
    let c = image.details.container.as_ref().unwrap();
    assert_eq!(c.engine.as_deref(), Some("CRI-O"));
    assert_eq!(c.name.as_deref(), Some("container-name"));
    assert_eq!(c.pod.as_deref(), Some("pod-name"));
    assert_eq!(c.namespace.as_deref(), Some("default"));
    assert_eq!(
        c.id.as_deref(),
        Some("6924be1bd90c23f10e2667102b0ee0f74f09bba78b6661871e733cb3b1737821")
    );
    assert_eq!(c.image.as_deref(), Some("docker.io/library/nginx:latest"));
    assert_eq!(c.runtime.as_deref(), Some("runc"));
    // No io.kubernetes.cri-o.Created annotation: config.dump's time.
    assert_eq!(c.created.as_deref(), Some("2024-01-27T14:45:26.083444055Z"));
    assert_eq!(
        c.checkpointed.as_deref(),
        Some("2024-01-28T00:10:45.673538606+05:30")
    );
    assert_eq!(image.timestamp, Some(1_706_380_845));
    let out_text = {
        let members: Vec<Raw> = fixture_members()
            .into_iter()
            .filter(|m| m.name != b"config.dump" && m.name != b"spec.dump")
            .chain([
                file("config.dump", &read("list_config_spec.dump/config.dump")),
                file("spec.dump", &read("list_config_spec.dump/spec.dump")),
            ])
            .collect();
        let (_d, path) = write_temp(&build_tar(&members), "crio.tar");
        let out = ckdump(&["inspect", path.to_str().unwrap()]);
        String::from_utf8(out.stdout).unwrap()
    };
    assert!(
        out_text.contains("Container container-name (CRI-O)\n"),
        "{out_text}"
    );
    assert!(out_text.contains("\n  pod           pod-name (namespace default)\n"));
    assert!(out_text.contains("\n  checkpointed  2024-01-28T00:10:45+05:30\n"));

    // CRI-O's own spec.dump: an empty metadata annotation, so the name
    // falls back to config.dump's.
    let image = with_metadata(&[("spec.dump", read("spec.dump.cri-o"))]);
    let c = image.details.container.as_ref().unwrap();
    assert_eq!(c.engine.as_deref(), Some("CRI-O"));
    assert_eq!(c.name.as_deref(), Some("ckdump-mt"));
}

#[test]
fn hostile_members_are_refused_and_never_followed() {
    let base = fixture_members();
    let with = |extra: Vec<Raw>| {
        let mut m = base.clone();
        m.extend(extra);
        open_members(&m)
    };
    // Each alone gives its own code, and the process is still read.
    let cases: Vec<(Vec<Raw>, &str, &str)> = vec![
        (
            vec![file("/etc/cron.d/ckdump-evil", b"* * * * * root sh\n")],
            "CKD-E6101",
            "absolute path",
        ),
        (vec![file("../x", b"up")], "CKD-E6101", "`..` component"),
        (
            vec![file("checkpoint/../../escape.img", b"up")],
            "CKD-E6101",
            "`..` component",
        ),
        (
            vec![link("passwd", b'2', "/etc/passwd")],
            "CKD-E6102",
            "absolute path /etc/passwd",
        ),
        (
            vec![link("checkpoint/up", b'2', "../../../etc/shadow")],
            "CKD-E6102",
            "outside the archive",
        ),
        (
            vec![link("checkpoint/hard", b'1', "../etc/passwd")],
            "CKD-E6102",
            "outside the archive",
        ),
        (
            vec![Raw {
                kind: b'3',
                ..file("checkpoint/tty", b"")
            }],
            "CKD-W6105",
            "tar type '3'",
        ),
    ];
    for (extra, code, words) in cases {
        let image = with(extra);
        assert_eq!(codes(&image), [code], "{:?}", image.findings);
        assert!(
            image.findings[0].message.contains(words),
            "{}",
            image.findings[0].message
        );
        assert_eq!(image.process.threads.len(), 4);
    }

    // An image replaced by a link to /etc/passwd: refused, and the image
    // counts as missing rather than being read from the host.
    let mut m: Vec<Raw> = base
        .iter()
        .filter(|r| r.name != b"checkpoint/inventory.img")
        .cloned()
        .collect();
    m.push(link("checkpoint/inventory.img", b'2', "/etc/passwd"));
    let image = open_members(&m);
    assert_eq!(
        codes(&image),
        ["CKD-E6102", "CKD-E6004"],
        "{:?}",
        image.findings
    );
    assert!(
        !image
            .details
            .files
            .iter()
            .any(|f| f.name == "checkpoint/inventory.img")
    );
    assert!(
        !image
            .details
            .annotations
            .iter()
            .any(|(k, _)| k == "criu.img_version")
    );

    // Links inside the archive are followed: a hard link and a symlink
    // standing in for images, and a cycle that leads nowhere.
    let mut m: Vec<Raw> = base
        .iter()
        .filter(|r| r.name != b"checkpoint/core-139.img" && r.name != b"checkpoint/core-140.img")
        .cloned()
        .collect();
    m.push(file(
        "checkpoint-copies/core-139.img",
        &std::fs::read(testdata().join("images/mt/core-139.img")).unwrap(),
    ));
    m.push(link(
        "checkpoint/core-139.img",
        b'1',
        "checkpoint-copies/core-139.img",
    ));
    m.push(file(
        "checkpoint-copies/core-140.img",
        &std::fs::read(testdata().join("images/mt/core-140.img")).unwrap(),
    ));
    m.push(link(
        "checkpoint/core-140.img",
        b'2',
        "../checkpoint-copies/core-140.img",
    ));
    m.push(link("checkpoint/loop-a.img", b'2', "loop-b.img"));
    m.push(link("checkpoint/loop-b.img", b'2', "loop-a.img"));
    let image = open_members(&m);
    assert!(image.findings.is_empty(), "{:?}", image.findings);
    let tids: Vec<u64> = image.process.threads.iter().map(|t| t.tid).collect();
    assert_eq!(tids, TIDS);

    // Two members of one name: a finding, and the last one is read.
    let evil = br#"{"id": "ffff", "name": "second-copy", "runtime": "crun"}"#;
    let image = with(vec![file("config.dump", evil)]);
    assert_eq!(codes(&image), ["CKD-E6104"], "{:?}", image.findings);
    assert!(
        image.findings[0]
            .message
            .contains("config.dump appears more than once")
    );
    let c = image.details.container.as_ref().unwrap();
    assert_eq!(c.name.as_deref(), Some("second-copy"));
    assert_eq!(c.runtime.as_deref(), Some("crun"));
}

#[test]
fn the_parent_snapshot_is_read_from_inside_the_archive() {
    let images = testdata().join("images");
    let from_dir = open(&images.join("static-incr"));
    assert!(from_dir.findings.is_empty(), "{:?}", from_dir.findings);
    let child = directory_members(&images.join("static-incr"), "checkpoint");
    let parent = directory_members(&images.join("static"), "pre-checkpoint");

    // As Podman lays out a checkpoint taken with --with-previous:
    // checkpoint/parent -> ../pre-checkpoint.
    let mut m = child.clone();
    m.push(link("checkpoint/parent", b'2', "../pre-checkpoint"));
    m.extend(parent.clone());
    m.extend(metadata_members());
    let image = open_members(&m);
    assert!(
        !codes(&image).contains(&"CKD-N6009"),
        "{:?}",
        image.findings
    );
    assert_eq!(
        json(&image.process.regions),
        json(&from_dir.process.regions)
    );
    for r in &image.process.regions {
        let len = (r.end - r.start).min(1 << 16) as usize;
        let (mut a, mut b) = (vec![0u8; len], vec![0u8; len]);
        let na = image.process.memory.read_available(r.start, &mut a);
        let nb = from_dir.process.memory.read_available(r.start, &mut b);
        assert_eq!((na, &a[..na]), (nb, &b[..nb]), "{:#x}", r.start);
    }
    // g_ticks of the later dump (its page is in the child).
    assert_eq!(image.process.memory.read_u64(0x4a7330).unwrap(), 11);
    let parent_note = image
        .details
        .annotations
        .iter()
        .find(|(k, _)| k == "criu.parent")
        .map(|(_, v)| v.clone());
    assert_eq!(parent_note.as_deref(), Some("pre-checkpoint"));

    // parent/ as a directory of members works the same.
    let mut m = child.clone();
    m.extend(directory_members(
        &images.join("static"),
        "checkpoint/parent",
    ));
    m.extend(metadata_members());
    let image = open_members(&m);
    assert!(
        !codes(&image).contains(&"CKD-N6009"),
        "{:?}",
        image.findings
    );
    assert_eq!(
        json(&image.process.regions),
        json(&from_dir.process.regions)
    );

    // Without the parent, and with a parent link leading out: the in-parent
    // pages are a note, exactly as for a directory without parent/.
    let mut m = child.clone();
    m.extend(metadata_members());
    let image = open_members(&m);
    assert_eq!(codes(&image), ["CKD-N6009"], "{:?}", image.findings);
    let mut m = child;
    m.push(link("checkpoint/parent", b'2', "../../static"));
    m.extend(metadata_members());
    let image = open_members(&m);
    assert_eq!(
        codes(&image),
        ["CKD-E6102", "CKD-N6009"],
        "{:?}",
        image.findings
    );
}

/// Opens a cut archive; it must give findings or a one-line error.
fn open_cut(bytes: &[u8], name: &str) -> Result<Image, ckdump::Error> {
    let (_dir, path) = write_temp(bytes, name);
    ckdump::open(&path, &no_host_files())
}

#[test]
fn truncation_anywhere_gives_findings_never_a_panic() {
    let tar = tar_bytes();
    // Every 509 bytes (so cuts land at every position within headers and
    // members), plus the block boundaries around the first members.
    let mut cuts: Vec<usize> = (1..tar.len()).step_by(509).collect();
    cuts.extend([262, 263, 511, 512, 513, 1023, 1024, 1536, 16_896, 16_897]);
    // Past the first zero block after the last member the archive is
    // whole; the rest is padding to GNU tar's 10 KiB record.
    let complete_at = {
        let mut a = tar::Archive::new(&tar[..]);
        let last = a.entries().unwrap().map(|e| e.unwrap()).last().unwrap();
        (last.raw_file_position() + last.size()).div_ceil(512) * 512 + 512
    };
    assert_eq!(complete_at, 173_568);
    for cut in cuts {
        match open_cut(&tar[..cut], "cut.tar") {
            Ok(image) if cut >= complete_at as usize => {
                assert!(image.findings.is_empty(), "{:?}", image.findings);
            }
            Ok(image) => {
                assert!(
                    codes(&image).contains(&"CKD-E6103"),
                    "cut at {cut}: {:?}",
                    image.findings
                );
                assert_eq!(image.format, ImageFormat::ContainerCheckpoint);
            }
            Err(e) => {
                // Only a cut inside the first header is unreadable.
                assert!(cut <= 512, "cut at {cut}: {e}");
                assert!(!e.to_string().contains('\n'));
            }
        }
    }
    // A cut in the middle of pages-1.img: the process tree is after it, so
    // it is missing, and the report says so instead of failing.
    let image = open_cut(&tar[..100_000], "cut.tar").unwrap();
    assert_eq!(
        codes(&image),
        ["CKD-E6103", "CKD-W6106", "CKD-W6106", "CKD-E6004"],
        "{:?}",
        image.findings
    );
    assert!(image.process.threads.is_empty() && image.process.facts.is_none());
    // Cut inside the end-of-archive marker: every member is there, but
    // nothing proves the archive ended there.
    let image = open_cut(&tar[..complete_at as usize - 1], "cut.tar").unwrap();
    assert_eq!(codes(&image), ["CKD-E6103"], "{:?}", image.findings);
    assert!(
        image.findings[0]
            .message
            .contains("after member stats-dump")
    );
    // Cut exactly between the last member and the marker.
    let image = open_cut(&tar[..complete_at as usize - 512], "cut.tar").unwrap();
    assert_eq!(codes(&image), ["CKD-E6103"], "{:?}", image.findings);
    assert!(
        image.findings[0]
            .message
            .contains("no end-of-archive marker after member stats-dump")
    );
    assert_eq!(image.process.threads.len(), 4);

    // Compressed streams cut anywhere: E1012 from the decompressor, then
    // whatever the tar and CRIU checks say about what is left.
    for ext in ["gz", "zst"] {
        let packed = std::fs::read(archive(ext)).unwrap();
        let mut opened = 0;
        for cut in (20..packed.len()).step_by(397) {
            match open_cut(&packed[..cut], &format!("cut.tar.{ext}")) {
                Ok(image) => {
                    let c = codes(&image);
                    assert_eq!(c[0], "CKD-E1012", "{ext} cut at {cut}: {c:?}");
                    assert!(c.contains(&"CKD-E6103"), "{ext} cut at {cut}: {c:?}");
                    opened += 1;
                }
                Err(e) => {
                    // Nothing decompressed at all (zstd emits whole blocks
                    // only; `zstd -19` made the first one 128 KiB of tar).
                    assert!(
                        matches!(e.kind, ErrorKind::Decompression { .. }),
                        "{ext} cut at {cut}: {e}"
                    );
                    assert!(!e.to_string().contains('\n'), "{e}");
                }
            }
        }
        // gzip streams out as it goes: all but the cuts inside the first
        // tar header open. zstd opens once its first block is complete.
        let cuts = (20..packed.len()).step_by(397).count();
        let expected = if ext == "gz" { cuts - 3 } else { 12 };
        assert!(opened >= expected, "{ext}: {opened} of {cuts} cuts opened");
    }
}

#[test]
fn claimed_sizes_and_bombs_do_not_allocate() {
    // A member claiming 1 TiB with 4 KiB behind it: a finding, and its
    // bytes are what the archive holds (nothing is sized from the header).
    let mut m = fixture_members();
    m.push(Raw {
        claimed: Some(1 << 40),
        ..file("rootfs-diff.tar", &[0x5a; 4096])
    });
    let bytes = build_tar(&m);
    let (_dir, path) = write_temp(&bytes[..bytes.len() - 1024], "claims.tar");
    let loaded = checkpoint_archive::load(&path, None, u64::MAX, &no_host_files()).unwrap();
    let diff = loaded.members.get("rootfs-diff.tar").unwrap();
    assert_eq!((diff.size, diff.data.len()), (1 << 40, 4096));
    let image = ckdump::open(&path, &no_host_files()).unwrap();
    assert_eq!(codes(&image), ["CKD-E6103"], "{:?}", image.findings);
    assert!(
        image.findings[0]
            .message
            .contains("claims 1099511627776 bytes")
    );
    assert_eq!(
        image.details.container.as_ref().unwrap().rootfs_diff_size,
        Some(1 << 40)
    );

    // A gzip bomb: 256 MiB of zeros in one member, a few hundred KiB
    // compressed. Under a 1 MiB limit it is refused as soon as the output
    // passes the limit.
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let mut header_only = build_tar(&[Raw {
        claimed: Some(256 << 20),
        ..file("checkpoint/pages-1.img", b"")
    }]);
    header_only.truncate(512);
    std::io::Write::write_all(&mut enc, &header_only).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..256 {
        std::io::Write::write_all(&mut enc, &zeros).unwrap();
    }
    let bomb = enc.finish().unwrap();
    assert!(bomb.len() < 1 << 20);
    let (_dir, path) = write_temp(&bomb, "bomb.tar.gz");
    let e = checkpoint_archive::read_with_limit(
        &path,
        Some(Compression::Gzip),
        1 << 20,
        &no_host_files(),
    )
    .err()
    .unwrap();
    assert!(matches!(e.kind, ErrorKind::Decompression { .. }), "{e}");
    assert!(e.to_string().contains("more than 1048576 bytes"), "{e}");
    // The same through the CLI and its environment variable.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ckdump"))
        .args(["verify", path.to_str().unwrap()])
        .env("CKDUMP_MAX_DECOMPRESSED", "1000000")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("CKDUMP_MAX_DECOMPRESSED"), "{err}");
}

#[test]
fn a_tar_that_is_not_a_checkpoint_is_a_one_line_error() {
    let bytes = build_tar(&[dir("docs/"), file("docs/readme.txt", b"hello\n")]);
    let (_dir, path) = write_temp(&bytes, "docs.tar");
    let out = ckdump(&["inspect", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("a tar archive of 2 members, the first is docs, but not a container checkpoint: expected checkpoint/"),
        "{err}"
    );
    // Gzip of the same: detected by content, same answer.
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut enc, &bytes).unwrap();
    let (_dir2, gz) = write_temp(&enc.finish().unwrap(), "docs.bin");
    let out = ckdump(&["verify", gz.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("a tar.gz archive of 2 members"));
}

#[test]
fn a_process_tree_in_an_archive_matches_its_directory() {
    // testdata/criu/images/tree (four processes: root, zombie, child,
    // grandchild) packed as a Podman-style archive in the test.
    let mut members = metadata_members();
    members.extend(directory_members(
        &testdata().join("images/tree"),
        "checkpoint",
    ));
    let (_dir, path) = write_temp(&build_tar(&members), "tree.tar");
    let report = |path: &Path| {
        let doc = inspect_json(
            path,
            &[
                "--symbols",
                testdata().join("bin").to_str().unwrap(),
                "--sysroot",
                root().join("testdata/sysroot").to_str().unwrap(),
                "--no-host-symbols",
            ],
        );
        let mut out = vec![(
            doc["image"]["pid"].as_u64().unwrap(),
            doc["threads"].clone(),
            doc["modules"].clone(),
        )];
        for p in doc["other_processes"].as_array().unwrap() {
            out.push((
                p["pid"].as_u64().unwrap(),
                p["threads"].clone(),
                p["modules"].clone(),
            ));
        }
        out
    };
    let from_dir = report(&testdata().join("images/tree"));
    let from_archive = report(&path);
    let pids: Vec<u64> = from_archive.iter().map(|p| p.0).collect();
    assert_eq!(pids, [135, 139, 140, 141]);
    assert_eq!(from_archive, from_dir);
    // The child's workers unwind in the child's own memory.
    let child = &from_archive[2].1;
    let tids: Vec<u64> = child
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["tid"].as_u64().unwrap())
        .collect();
    assert_eq!(tids, [140, 143, 144]);
    let names = physical_functions(&child[1]);
    assert!(
        names
            .windows(2)
            .any(|w| w == ["child_worker_leaf", "child_worker_mid"]),
        "{names:?}"
    );
    let image = ckdump::open(&path, &no_host_files()).unwrap();
    assert!(image.findings.is_empty(), "{:?}", image.findings);
    // Every process is a view of this one image: the archive's path and
    // format are the only ones there are.
    assert_eq!(
        image.format,
        ckdump::model::ImageFormat::ContainerCheckpoint
    );
    assert_eq!(image.path, path);
    assert!(!image.other_processes.is_empty());
}
