//! PDBs come from symbol servers and shared drives: a truncated or damaged
//! one must be rejected or give fewer answers, never panic or hang.

use std::time::{Duration, Instant};

use ckdump::symbols::pdb_symbols::PdbSymbols;

#[test]
fn truncated_and_bit_flipped_pdbs_never_panic() {
    let pdb = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("symbols/wcrash.pdb");
    let Some(file) = std::fs::read_dir(&pdb)
        .ok()
        .and_then(|mut d| d.next())
        .and_then(|e| e.ok())
        .map(|e| e.path().join("wcrash.pdb"))
    else {
        panic!("symbols/wcrash.pdb/<id>/wcrash.pdb is missing");
    };
    let bytes = std::fs::read(&file).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("case.pdb");
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut cases: Vec<Vec<u8>> = (1..24)
        .map(|i| bytes[..bytes.len() * i / 24].to_vec())
        .collect();
    for _ in 0..40 {
        let mut b = bytes.clone();
        for _ in 0..8 {
            let at = (next() as usize) % b.len();
            b[at] ^= 1 << (next() % 8);
        }
        cases.push(b);
    }
    for (i, c) in cases.iter().enumerate() {
        std::fs::write(&case, c).unwrap();
        let started = Instant::now();
        let result = std::panic::catch_unwind(|| {
            if let Ok(p) = PdbSymbols::open(&case) {
                for rva in [0x1000u32, 0x1009, 0x105e, 0x1094, 0x130a] {
                    let _ = p.lookup(rva);
                }
            }
        });
        assert!(result.is_ok(), "case {i} panicked");
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "case {i} too slow"
        );
    }
}
