//! x86 frame data reaches the stack walker the same way from a PDB and
//! from the Breakpad `.sym` dump_syms made of it: for every code byte of
//! the fixture programs' 32-bit builds, the symbolizer's answer is equal.
//! (The STACK WIN path itself is checked against minidump-stackwalk on
//! minidump2 in tests/stackwalk_oracle.rs; wine here runs no 32-bit
//! programs, so there is no x86 dump of our own.)

mod common;

use std::path::Path;

use ckdump::Image;
use ckdump::memory::Bytes;
use ckdump::model::{Arch, ImageFormat, Module, ModuleSource, Os, PeIdentity};
use ckdump::symbols::pe_file::PeFile;
use ckdump::symbols::{SymbolConfig, Symbolizer};
use ckdump::unwind::{CodeInfo, WinFrameInfo};
use common::{image_with_modules, root};

const BASE: u64 = 0x40_0000;

fn image(name: &str, pe: &PeFile) -> Image {
    let identity = pe.pdb_identity().expect("RSDS record");
    let modules = vec![Module {
        name: format!("{name}.exe"),
        path: format!("C:\\{name}.exe"),
        base: BASE,
        size: u64::from(pe.size_of_image()),
        build_id: None,
        load_bias: None,
        sources: vec![ModuleSource::FileMappings],
        is_main: true,
        pe: Some(PeIdentity {
            code_id: Some(pe.code_id()),
            debug_file: Some(format!("{name}.pdb")),
            debug_id: Some(identity.debug_id.clone()),
            version: None,
            timestamp: None,
        }),
    }];
    image_with_modules(
        Path::new(&format!("{name}.dmp")),
        ImageFormat::Minidump,
        Os::Windows,
        Arch::X86,
        modules,
    )
}

/// A symbol store holding only `file` (the PDB or the .sym) of `name`.
fn store_with(name: &str, debug_id: &str, file: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let leaf = dir.path().join(format!("{name}.pdb")).join(debug_id);
    std::fs::create_dir_all(&leaf).unwrap();
    std::fs::copy(file, leaf.join(file.file_name().unwrap())).unwrap();
    dir
}

#[test]
fn pdb_frame_data_equals_dump_syms_stack_win() {
    for name in ["wcrash32", "wthreads32", "winline32"] {
        let syms = root().join("symbols");
        let exe_dir = std::fs::read_dir(syms.join(format!("{name}.exe")))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let file = std::fs::File::open(exe_dir.join(format!("{name}.exe"))).unwrap();
        let pe = PeFile::parse(Bytes::map_file(&file).unwrap()).unwrap();
        let debug_id = pe.pdb_identity().unwrap().debug_id;
        let leaf = syms.join(format!("{name}.pdb")).join(&debug_id);
        let from_pdb = store_with(name, &debug_id, &leaf.join(format!("{name}.pdb")));
        let from_sym = store_with(name, &debug_id, &leaf.join(format!("{name}.sym")));

        let img = image(name, &pe);
        let config = |d: &Path| SymbolConfig {
            use_host: false,
            ..SymbolConfig::from_dirs(vec![d.to_path_buf()], None)
        };
        let (pdb_config, sym_config) = (config(from_pdb.path()), config(from_sym.path()));
        let pdb = Symbolizer::new(&img.process, &pdb_config);
        let sym = Symbolizer::new(&img.process, &sym_config);
        let mut covered = 0;
        let mut programs = 0;
        for rva in 0..pe.size_of_image() {
            if !pe.is_executable_rva(rva) {
                continue;
            }
            let pc = BASE + u64::from(rva);
            let a: Option<WinFrameInfo> = pdb.win_frame_info(pc);
            assert_eq!(a, sym.win_frame_info(pc), "{name} rva {rva:#x}");
            if let Some(info) = a {
                covered += 1;
                programs += usize::from(info.program.is_some());
            }
        }
        // Every function of these programs has frame data with a program.
        assert!(covered > 0x100, "{name}: {covered} bytes covered");
        assert_eq!(programs, covered, "{name}");
    }
}
