//! A findings list that keeps at most N findings per check, so a corrupt
//! image with 100 000 overlapping regions gets a summary line instead of
//! 100 000 lines. Readers and checks all collect through it.

use std::collections::HashMap;

use super::{Check, Finding, check_by_code};

/// Findings, at most `limit` listed per check code; the rest are counted
/// and summarised by [`CappedFindings::finish`].
#[derive(Debug)]
pub struct CappedFindings {
    limit: usize,
    list: Vec<Finding>,
    /// Per check code: (check, findings made, findings listed).
    counts: HashMap<&'static str, (&'static Check, usize, usize)>,
}

impl CappedFindings {
    pub fn new(limit: usize) -> Self {
        CappedFindings {
            limit,
            list: Vec::new(),
            counts: HashMap::new(),
        }
    }

    /// Adds a finding of `check`, or counts it when `limit` are listed.
    pub fn push(&mut self, check: &'static Check, finding: Finding) {
        let entry = self.counts.entry(check.code).or_insert((check, 0, 0));
        entry.1 += 1;
        if entry.1 <= self.limit {
            entry.2 += 1;
            self.list.push(finding);
        }
    }

    /// Lists `finding` even past the limit: for a finding made at most
    /// once per image that many lesser ones of its check would hide. It
    /// still counts, so the summary stays "made minus listed".
    pub fn push_always(&mut self, check: &'static Check, finding: Finding) {
        let entry = self.counts.entry(check.code).or_insert((check, 0, 0));
        entry.1 += 1;
        entry.2 += 1;
        self.list.push(finding);
    }

    /// Adds a finding whose check is known only by its code (one another
    /// collector produced); unregistered codes are always listed.
    pub fn push_coded(&mut self, finding: Finding) {
        match check_by_code(finding.code) {
            Some(check) => self.push(check, finding),
            None => self.list.push(finding),
        }
    }

    /// The findings listed so far.
    pub fn listed(&self) -> &[Finding] {
        &self.list
    }

    /// Takes in another collector's findings, listed and counted, each
    /// passed through `adjust` first (to name the process or the parent
    /// snapshot they concern; None drops it).
    pub fn absorb(
        &mut self,
        other: CappedFindings,
        mut adjust: impl FnMut(Finding) -> Option<Finding>,
    ) {
        let mut unlisted: HashMap<&'static str, (&'static Check, usize)> = HashMap::new();
        for (code, (check, made, listed)) in &other.counts {
            if made > listed {
                unlisted.insert(code, (check, made - listed));
            }
        }
        for f in other.list {
            if let Some(f) = adjust(f) {
                self.push_coded(f);
            }
        }
        for (code, (check, n)) in unlisted {
            let entry = self.counts.entry(code).or_insert((check, 0, 0));
            // Made but not listed by the other collector: these only
            // raise the summary.
            entry.1 += n;
        }
    }

    /// The listed findings, then one summary finding per check that had
    /// findings left unlisted, in code order.
    pub fn finish(mut self) -> Vec<Finding> {
        let mut over: Vec<_> = self
            .counts
            .into_values()
            .filter(|(_, made, listed)| made > listed)
            .collect();
        over.sort_by_key(|(c, _, _)| c.code);
        for (check, made, listed) in over {
            self.list.push(Finding::new(
                check,
                format!("{} more findings of this check not listed", made - listed),
            ));
        }
        self.list
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{ELF_SEGMENT_OVERLAP, THREAD_SP};

    #[test]
    fn lists_up_to_the_limit_per_check_and_summarises_the_rest() {
        let mut f = CappedFindings::new(2);
        for i in 0..5 {
            f.push(
                &ELF_SEGMENT_OVERLAP,
                Finding::new(&ELF_SEGMENT_OVERLAP, format!("overlap {i}")),
            );
        }
        f.push(&THREAD_SP, Finding::new(&THREAD_SP, "sp"));
        let out = f.finish();
        let messages: Vec<&str> = out.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "overlap 0",
                "overlap 1",
                "sp",
                "3 more findings of this check not listed"
            ]
        );
    }

    #[test]
    fn a_finding_pushed_always_is_listed_past_the_limit_and_not_summarised() {
        let mut f = CappedFindings::new(1);
        for i in 0..3 {
            f.push(
                &ELF_SEGMENT_OVERLAP,
                Finding::new(&ELF_SEGMENT_OVERLAP, format!("overlap {i}")),
            );
        }
        f.push_always(
            &ELF_SEGMENT_OVERLAP,
            Finding::new(&ELF_SEGMENT_OVERLAP, "the one that matters"),
        );
        let messages: Vec<String> = f.finish().into_iter().map(|f| f.message).collect();
        assert_eq!(
            messages,
            [
                "overlap 0",
                "the one that matters",
                "2 more findings of this check not listed"
            ]
        );
    }

    #[test]
    fn absorbed_findings_keep_their_unlisted_count() {
        let mut child = CappedFindings::new(1);
        for i in 0..3 {
            child.push(&THREAD_SP, Finding::new(&THREAD_SP, format!("t{i}")));
        }
        let mut root = CappedFindings::new(1);
        root.absorb(child, |mut f| {
            f.message = format!("process 7: {}", f.message);
            Some(f)
        });
        let messages: Vec<String> = root.finish().into_iter().map(|f| f.message).collect();
        assert_eq!(
            messages,
            ["process 7: t0", "2 more findings of this check not listed"]
        );
    }
}
