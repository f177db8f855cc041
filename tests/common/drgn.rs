//! The drgn reference files next to the kernel fixtures
//! (testdata/kernel/reference/*/drgn.txt, written by reference/drgn-probe.py):
//! `key: value` header lines, then `--- name` sections of lines.

use std::collections::BTreeMap;
use std::path::Path;

pub struct DrgnReference {
    pub header: BTreeMap<String, String>,
    pub sections: BTreeMap<String, Vec<String>>,
}

impl DrgnReference {
    pub fn read(path: &Path) -> DrgnReference {
        let text =
            std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        DrgnReference::parse(&text)
    }

    pub fn parse(text: &str) -> DrgnReference {
        let mut header = BTreeMap::new();
        let mut sections: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut current: Option<String> = None;
        for line in text.lines() {
            if let Some(name) = line.strip_prefix("--- ") {
                current = Some(name.to_string());
                sections.entry(name.to_string()).or_default();
            } else if let Some(name) = &current {
                if !line.is_empty() {
                    sections.get_mut(name).unwrap().push(line.to_string());
                }
            } else if let Some((k, v)) = line.split_once(": ") {
                header.insert(k.to_string(), v.to_string());
            }
        }
        DrgnReference { header, sections }
    }

    /// The first section whose name starts with `prefix`.
    pub fn section(&self, prefix: &str) -> &[String] {
        self.sections
            .iter()
            .find(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v.as_slice())
            .unwrap_or_else(|| panic!("no drgn section {prefix}"))
    }

    /// The crashed thread's physical frames (inline ones dropped) in the
    /// kernel: (function, pc, sp).
    pub fn crashed_frames(&self) -> Vec<(String, u64, u64)> {
        self.section("crashed thread: tid")
            .iter()
            .filter(|l| !l.contains("(inline)"))
            .filter_map(|l| {
                let words: Vec<&str> = l.split_whitespace().collect();
                let at = |key: &str| {
                    let i = words.iter().position(|w| *w == key)?;
                    u64::from_str_radix(words.get(i + 1)?.trim_start_matches("0x"), 16).ok()
                };
                let pc = at("pc")?;
                // User-space frames end the kernel stack.
                (pc >= 0xffff_8000_0000_0000).then(|| (words[1].to_string(), pc, at("sp").unwrap()))
            })
            .collect()
    }

    /// The task list: (pid, ppid, tgid, comm, state, on_cpu, cpu, task).
    pub fn tasks(&self) -> Vec<DrgnTask> {
        self.section("tasks")
            .iter()
            .filter_map(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                if w.len() < 8 {
                    return None;
                }
                let n = w.len();
                Some(DrgnTask {
                    pid: w[0].parse().ok()?,
                    ppid: w[1].parse().ok()?,
                    tgid: w[2].parse().ok()?,
                    comm: w[3..n - 4].join(" "),
                    state: w[n - 4].chars().next()?,
                    on_cpu: w[n - 3] == "1",
                    cpu: w[n - 2].parse().ok()?,
                    task: u64::from_str_radix(w[n - 1].trim_start_matches("0x"), 16).ok()?,
                })
            })
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrgnTask {
    pub pid: i32,
    pub ppid: i32,
    pub tgid: i32,
    pub comm: String,
    pub state: char,
    pub on_cpu: bool,
    pub cpu: u32,
    pub task: u64,
}
