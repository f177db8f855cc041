//! The container engine's files beside `checkpoint/`: config.dump (Podman's
//! and CRI-O's container config: id, name, image, runtime, times),
//! spec.dump (the OCI runtime spec: command, hostname, mounts,
//! annotations), network.status (Podman's network result), stats-dump
//! (CRIU's dump statistics), deleted.files and rootfs-diff.tar.
//!
//! Which engine wrote the archive comes from the spec's
//! `io.container.manager` annotation, and the name, creation time, pod and
//! namespace are taken where that engine keeps them — the same places
//! checkpointctl reads, so both tools show the same values.

use std::collections::BTreeMap;

use serde_json::Value;

use super::members::{MemberKind, Members};
use crate::finding::{self, Finding};
use crate::image::criu::stats;
use crate::model::{ContainerInfo, ContainerInterface, ContainerMount};

pub const CHECKPOINT_DIR: &str = "checkpoint";
const CONFIG_DUMP: &str = "config.dump";
const SPEC_DUMP: &str = "spec.dump";
const NETWORK_STATUS: &str = "network.status";
const STATS_DUMP: &str = "stats-dump";
const DELETED_FILES: &str = "deleted.files";
const ROOTFS_DIFF: &str = "rootfs-diff.tar";
/// Top-level files that say "this is a container checkpoint" even when
/// `checkpoint/` itself was lost (a cut archive).
pub const MARKER_FILES: &[&str] = &[CONFIG_DUMP, SPEC_DUMP, "checkpointed.pods", "pod.dump"];

/// JSON metadata larger than this is not parsed (real ones are a few KiB;
/// the bound keeps a hostile member from costing much).
const MAX_JSON: usize = 16 << 20;
const MAX_LISTED: usize = 4096;

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// A metadata member parsed as JSON, or a finding saying why not.
fn json(members: &Members, name: &str, findings: &mut Vec<Finding>) -> Option<Value> {
    let bytes = members.file(name)?;
    let problem = if bytes.len() > MAX_JSON {
        format!(
            "{name} is {} bytes, more than the {MAX_JSON} read",
            bytes.len()
        )
    } else {
        match serde_json::from_slice::<Value>(bytes) {
            Ok(v) => return Some(v),
            Err(e) => format!("{name} is not valid JSON ({e})"),
        }
    };
    findings.push(Finding::new(&finding::CONTAINER_METADATA, problem).about_path(name));
    None
}

fn object(v: Option<Value>, name: &str, findings: &mut Vec<Finding>) -> Option<Value> {
    match v {
        Some(v) if v.is_object() => Some(v),
        Some(_) => {
            findings.push(
                Finding::new(
                    &finding::CONTAINER_METADATA,
                    format!("{name} is JSON but not an object"),
                )
                .about_path(name),
            );
            None
        }
        None => None,
    }
}

/// Seconds since the epoch of an RFC 3339 time (`…Z` or `…+05:30`).
pub fn epoch_seconds(time: &str) -> Option<u64> {
    let b = time.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = time.get(r)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut rest = &time[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        rest = frac.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    let offset = match rest {
        "Z" | "z" => 0,
        zone if zone.len() == 6 && matches!(zone.as_bytes()[0], b'+' | b'-') => {
            let oh: i64 = zone.get(1..3)?.parse().ok()?;
            let om: i64 = zone.get(4..6)?.parse().ok()?;
            let o = oh * 3600 + om * 60;
            if zone.starts_with('-') { -o } else { o }
        }
        _ => return None,
    };
    // Days from the civil date (proleptic Gregorian), era-based.
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + s - offset;
    u64::try_from(secs).ok()
}

fn engine_name(manager: &str) -> String {
    match manager {
        "libpod" => "Podman".into(),
        "cri-o" => "CRI-O".into(),
        "containerd" => "containerd".into(),
        other => other.to_string(),
    }
}

/// Interfaces from Podman's network.status: either the netavark form
/// (network -> interfaces -> name -> subnets, mac_address) or the older CNI
/// result list (interfaces[] with mac, ips[] with address and gateway).
fn interfaces(v: &Value) -> Option<Vec<ContainerInterface>> {
    let mut out = Vec::new();
    match v {
        Value::Object(networks) => {
            for (network, n) in networks {
                let ifaces = n.get("interfaces")?.as_object()?;
                for (ifname, i) in ifaces {
                    let subnets = i.get("subnets").and_then(Value::as_array);
                    let list = |key: &str| -> Vec<String> {
                        subnets
                            .into_iter()
                            .flatten()
                            .filter_map(|s| text(s, key))
                            .collect()
                    };
                    out.push(ContainerInterface {
                        network: Some(network.clone()),
                        interface: Some(ifname.clone()),
                        addresses: list("ipnet"),
                        gateways: list("gateway"),
                        mac: text(i, "mac_address"),
                    });
                }
            }
        }
        Value::Array(results) => {
            for r in results {
                let ifaces = r.get("interfaces").and_then(Value::as_array);
                let ips = r.get("ips").and_then(Value::as_array);
                for (idx, i) in ifaces.into_iter().flatten().enumerate() {
                    let mine = ips.into_iter().flatten().filter(|ip| {
                        ip.get("interface").and_then(Value::as_u64) == Some(idx as u64)
                    });
                    out.push(ContainerInterface {
                        network: text(r, "name"),
                        interface: text(i, "name"),
                        addresses: mine.clone().filter_map(|ip| text(ip, "address")).collect(),
                        gateways: mine.filter_map(|ip| text(ip, "gateway")).collect(),
                        mac: text(i, "mac"),
                    });
                }
            }
        }
        _ => return None,
    }
    Some(out)
}

/// The container info of an archive's members, and findings about them.
pub fn container_info(members: &Members, findings: &mut Vec<Finding>) -> ContainerInfo {
    let mut info = ContainerInfo::default();
    for m in &members.list {
        let top_level = !m.name.contains('/');
        if top_level && m.kind != MemberKind::Directory {
            info.metadata_files.push(m.name.clone());
        }
        if m.kind == MemberKind::File
            && let Some(rest) = m.name.strip_prefix("checkpoint/")
        {
            info.checkpoint_size = info.checkpoint_size.saturating_add(m.size);
            if rest.starts_with("pages-") {
                info.pages_size = info.pages_size.saturating_add(m.size);
            }
        }
    }
    info.rootfs_diff_size = members
        .resolve(ROOTFS_DIFF)
        .filter(|m| m.kind == MemberKind::File)
        .map(|m| m.size);

    let config = object(json(members, CONFIG_DUMP, findings), CONFIG_DUMP, findings);
    let spec = object(json(members, SPEC_DUMP, findings), SPEC_DUMP, findings);
    for (name, present) in [(CONFIG_DUMP, &config), (SPEC_DUMP, &spec)] {
        if present.is_none() && members.file(name).is_none() {
            findings.push(
                Finding::new(
                    &finding::CONTAINER_METADATA,
                    format!("{name} is missing from the archive"),
                )
                .about_path(name),
            );
        }
    }
    let annotations: BTreeMap<String, String> = spec
        .as_ref()
        .and_then(|s| s.get("annotations"))
        .and_then(Value::as_object)
        .map(|a| {
            a.iter()
                .take(MAX_LISTED)
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    let note = |key: &str| annotations.get(key).filter(|v| !v.is_empty()).cloned();

    if let Some(c) = &config {
        info.id = text(c, "id");
        info.image = text(c, "rootfsImageName");
        info.image_id = text(c, "rootfsImageRef");
        info.runtime = text(c, "runtime");
        info.created = text(c, "createdTime");
        info.checkpointed = text(c, "checkpointedTime");
    }
    let config_name = config.as_ref().and_then(|c| text(c, "name"));
    match annotations.get("io.container.manager").map(String::as_str) {
        Some("cri-o") => {
            info.engine = Some("CRI-O".into());
            // CRI-O keeps the container's own name in a JSON annotation;
            // config.dump's name is the generated k8s_… one.
            info.name = note("io.kubernetes.cri-o.Metadata")
                .and_then(|m| serde_json::from_str::<Value>(&m).ok())
                .and_then(|m| text(&m, "name"))
                .or_else(|| note("io.kubernetes.container.name"))
                .or(config_name);
            info.created = note("io.kubernetes.cri-o.Created").or(info.created.take());
            info.pod = note("io.kubernetes.pod.name");
            info.namespace = note("io.kubernetes.pod.namespace");
        }
        Some("libpod") | None if note("io.kubernetes.cri.container-name").is_none() => {
            info.engine = annotations
                .get("io.container.manager")
                .map(|m| engine_name(m));
            info.name = config_name;
        }
        manager => {
            // containerd's CRI plugin (and unknown managers) keep the names
            // in io.kubernetes.cri.* annotations.
            info.engine = Some(manager.map_or_else(|| "containerd".into(), engine_name));
            info.name = note("io.kubernetes.cri.container-name").or(config_name);
            info.pod = note("io.kubernetes.cri.sandbox-name");
            info.namespace = note("io.kubernetes.cri.sandbox-namespace");
        }
    }
    if let Some(s) = &spec {
        info.hostname = text(s, "hostname");
        let process = s.get("process");
        info.args = process
            .and_then(|p| p.get("args"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .take(MAX_LISTED)
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        info.cwd = process.and_then(|p| text(p, "cwd"));
        info.mounts = s
            .get("mounts")
            .and_then(Value::as_array)
            .map(|ms| {
                ms.iter()
                    .take(MAX_LISTED)
                    .filter_map(|m| {
                        Some(ContainerMount {
                            destination: text(m, "destination")?,
                            kind: text(m, "type"),
                            source: text(m, "source"),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
    }
    if let Some(v) = json(members, NETWORK_STATUS, findings) {
        match interfaces(&v) {
            Some(list) => info.interfaces = list,
            None => findings.push(
                Finding::new(
                    &finding::CONTAINER_METADATA,
                    "network.status is JSON of a shape ckdump does not know (neither netavark's map nor a CNI result list)",
                )
                .about_path(NETWORK_STATUS),
            ),
        }
    }
    if info.interfaces.is_empty()
        && let Some(ip) = note("io.kubernetes.cri-o.IP.0")
    {
        info.interfaces.push(ContainerInterface {
            network: None,
            interface: None,
            addresses: std::iter::once(ip)
                .chain(note("io.kubernetes.cri-o.IP.1"))
                .collect(),
            gateways: Vec::new(),
            mac: None,
        });
    }
    // Podman keeps stats-dump beside checkpoint/; CRIU itself writes it
    // inside the image directory.
    let stats_name = [STATS_DUMP, "checkpoint/stats-dump"]
        .into_iter()
        .find(|n| members.file(n).is_some());
    if let Some(name) = stats_name
        && let Some(bytes) = members.file(name)
    {
        match stats::dump_statistics(bytes.clone()) {
            Ok(s) => info.dump_statistics = Some(s),
            Err(e) => findings.push(
                Finding::new(&finding::CONTAINER_METADATA, format!("{name}: {e}")).about_path(name),
            ),
        }
    }
    if let Some(v) = json(members, DELETED_FILES, findings) {
        match v.as_array() {
            Some(list) => {
                info.deleted_files = list
                    .iter()
                    .take(MAX_LISTED)
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            }
            None => findings.push(
                Finding::new(
                    &finding::CONTAINER_METADATA,
                    "deleted.files is JSON but not a list of paths",
                )
                .about_path(DELETED_FILES),
            ),
        }
    }
    info.annotations = annotations;
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(
            crate::model::seconds_precision("2026-11-23T05:43:20.283917402Z"),
            "2026-11-23T05:43:20Z"
        );
        assert_eq!(
            crate::model::seconds_precision("2024-01-28T00:10:45.673538606+05:30"),
            "2024-01-28T00:10:45+05:30"
        );
        assert_eq!(
            crate::model::seconds_precision("0001-01-01T00:00:00Z"),
            "0001-01-01T00:00:00Z"
        );
        // date -u -d 2026-11-23T05:55:54Z +%s
        assert_eq!(
            epoch_seconds("2026-11-23T05:55:54.604183377Z"),
            Some(1_795_413_354)
        );
        assert_eq!(
            epoch_seconds("2024-01-28T00:10:45.673538606+05:30"),
            Some(1_706_380_845)
        );
        assert_eq!(epoch_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(epoch_seconds("0001-01-01T00:00:00Z"), None);
        assert_eq!(epoch_seconds("yesterday"), None);
        assert_eq!(epoch_seconds("2026-13-01T00:00:00Z"), None);
    }
}
