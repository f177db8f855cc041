//! What a container checkpoint archive says about the container around the
//! checkpointed processes (Podman `container checkpoint --export`, CRI-O and
//! the kubelet's checkpoint API), beside the process view.
//!
//! It lives in [`super::FormatDetails`] rather than on `Image`: it is what
//! one family of images carries, and every other reader keeps building its
//! details with `..FormatDetails::default()`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Compression;

/// The archive itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArchiveInfo {
    /// `tar`, `tar.gz`, `tar.zst`, `tar.xz` or `tar.bz2`.
    pub kind: String,
    pub compression: Option<Compression>,
    /// Members listed by the tar headers (directories and links included).
    pub members: u64,
    /// Size of the archive file.
    pub file_size: u64,
    /// Size of the tar stream (after decompression).
    pub tar_size: u64,
}

/// One mount of the OCI spec (spec.dump).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerMount {
    pub destination: String,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub source: Option<String>,
}

/// One network interface of network.status (or the CRI-O IP annotation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerInterface {
    /// The network (Podman network name), if recorded.
    pub network: Option<String>,
    pub interface: Option<String>,
    /// Addresses with prefix length (`10.88.0.17/16`).
    pub addresses: Vec<String>,
    pub gateways: Vec<String>,
    pub mac: Option<String>,
}

/// CRIU's measurements of the dump (stats-dump).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DumpStatistics {
    pub freezing_time_us: u64,
    pub frozen_time_us: u64,
    pub memdump_time_us: u64,
    pub memwrite_time_us: u64,
    pub pages_scanned: u64,
    pub pages_skipped_parent: u64,
    pub pages_written: u64,
    pub pages_lazy: u64,
    pub page_pipes: Option<u64>,
    pub page_pipe_bufs: Option<u64>,
}

/// The container a checkpoint archive was taken of.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ContainerInfo {
    /// `Podman`, `CRI-O` or `containerd`, from the spec's
    /// `io.container.manager` annotation (the raw value when unknown).
    pub engine: Option<String>,
    pub name: Option<String>,
    pub id: Option<String>,
    /// The image the container ran (`rootfsImageName`).
    pub image: Option<String>,
    /// The image's id (`rootfsImageRef`).
    pub image_id: Option<String>,
    /// OCI runtime (`runc`, `crun`).
    pub runtime: Option<String>,
    /// When the container was created, as recorded (RFC 3339).
    pub created: Option<String>,
    /// When the checkpoint was taken, as recorded (RFC 3339).
    pub checkpointed: Option<String>,
    pub hostname: Option<String>,
    /// Kubernetes pod and namespace (CRI-O, containerd).
    pub pod: Option<String>,
    pub namespace: Option<String>,
    /// The container's command (spec `process.args`) and working directory.
    pub args: Vec<String>,
    pub cwd: Option<String>,
    pub mounts: Vec<ContainerMount>,
    pub interfaces: Vec<ContainerInterface>,
    /// Spec annotations.
    pub annotations: BTreeMap<String, String>,
    pub dump_statistics: Option<DumpStatistics>,
    /// Bytes of the regular files under `checkpoint/` (what checkpointctl
    /// calls the checkpoint size) and of its `pages-*.img` among them.
    pub checkpoint_size: u64,
    pub pages_size: u64,
    /// Size of rootfs-diff.tar (files the container changed), if present.
    pub rootfs_diff_size: Option<u64>,
    /// Files deleted from the root file system (deleted.files).
    pub deleted_files: Vec<String>,
    /// Which metadata files the archive holds, in archive order.
    pub metadata_files: Vec<String>,
    /// The archive itself; reports show it with the image summary.
    #[serde(skip)]
    pub archive: Option<ArchiveInfo>,
}

/// Drops fractional seconds from an RFC 3339 time, as checkpointctl shows
/// it (`2026-11-23T05:43:20.283917402Z` -> `2026-11-23T05:43:20Z`).
pub fn seconds_precision(time: &str) -> String {
    match time.find('.') {
        Some(dot) if time.len() > 19 && dot == 19 => {
            let rest = &time[dot + 1..];
            let zone = rest.trim_start_matches(|c: char| c.is_ascii_digit());
            format!("{}{zone}", &time[..dot])
        }
        _ => time.to_string(),
    }
}
