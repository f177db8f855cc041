//! `stats-dump`: what CRIU measured while dumping (times in microseconds,
//! page counts). Messages written from the field numbers of CRIU's
//! `images/stats.proto`.

use prost::Message;

use super::image_file::ImageFile;
use crate::memory::Bytes;
use crate::model::DumpStatistics;

/// The STATS image magic (service image).
pub const STATS: u32 = 0x5709_3306;

#[derive(Clone, PartialEq, Message)]
struct StatsEntry {
    #[prost(message, optional, tag = "1")]
    dump: Option<DumpStatsEntry>,
}

#[derive(Clone, PartialEq, Message)]
struct DumpStatsEntry {
    #[prost(uint32, required, tag = "1")]
    freezing_time: u32,
    #[prost(uint32, required, tag = "2")]
    frozen_time: u32,
    #[prost(uint32, required, tag = "3")]
    memdump_time: u32,
    #[prost(uint32, required, tag = "4")]
    memwrite_time: u32,
    #[prost(uint64, required, tag = "5")]
    pages_scanned: u64,
    #[prost(uint64, required, tag = "6")]
    pages_skipped_parent: u64,
    #[prost(uint64, required, tag = "7")]
    pages_written: u64,
    #[prost(uint64, required, tag = "9")]
    pages_lazy: u64,
    #[prost(uint64, optional, tag = "10")]
    page_pipes: Option<u64>,
    #[prost(uint64, optional, tag = "11")]
    page_pipe_bufs: Option<u64>,
}

/// Decodes a `stats-dump` file; Err says what is wrong with it.
pub fn dump_statistics(bytes: Bytes) -> Result<DumpStatistics, String> {
    let file = ImageFile::parse("stats-dump", bytes);
    if file.header.magic() != Some(STATS) {
        return Err("stats-dump does not start with the STATS image magic".into());
    }
    let entry: StatsEntry = file.decode(0).map_err(|p| p.message)?;
    let d = entry
        .dump
        .ok_or_else(|| "stats-dump holds no dump statistics".to_string())?;
    Ok(DumpStatistics {
        freezing_time_us: u64::from(d.freezing_time),
        frozen_time_us: u64::from(d.frozen_time),
        memdump_time_us: u64::from(d.memdump_time),
        memwrite_time_us: u64::from(d.memwrite_time),
        pages_scanned: d.pages_scanned,
        pages_skipped_parent: d.pages_skipped_parent,
        pages_written: d.pages_written,
        pages_lazy: d.pages_lazy,
        page_pipes: d.page_pipes,
        page_pipe_bufs: d.page_pipe_bufs,
    })
}
