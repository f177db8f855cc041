//! Prints a kernel's symbol table as ckdump reads it from the kernel's own
//! memory — the kallsyms tables, then each loaded module's own symbol
//! table — in /proc/kallsyms's format (`ADDRESS TYPE NAME`, module
//! functions as `ADDRESS t NAME\t[MODULE]`), to hold against what the
//! kernel itself prints:
//!
//! ```sh
//! sudo ./kernel_symbols --kernel > ckdump-kallsyms.txt     # the running kernel (/proc/kcore)
//! diff <(sort ckdump-kallsyms.txt) <(sudo sort /proc/kallsyms)
//! cargo run --example kernel_symbols -- testdata/kernel/dumps/process.kdump
//! ```
//!
//! testdata/kernel/gen.sh runs it in its QEMU guest (`gen.sh live`);
//! tests/kernel_live.rs compares the output with the guest's /proc/kallsyms.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use ckdump::kernel::{btf, kallsyms::KernelSymbols, modules};

fn main() -> ExitCode {
    let Some(arg) = std::env::args_os().nth(1) else {
        eprintln!("usage: kernel_symbols --kernel | DUMP");
        return ExitCode::from(2);
    };
    let image = if arg == "--kernel" {
        open_running_kernel()
    } else {
        ckdump::open(Path::new(&arg), &ckdump::OpenOptions::default())
    };
    let image = match image {
        Ok(image) => image,
        Err(e) => {
            eprintln!("kernel_symbols: {e}");
            return ExitCode::from(2);
        }
    };
    let memory = &*image.process.memory;
    let Some(info) = image
        .details
        .kernel
        .as_ref()
        .and_then(|k| k.vmcoreinfo.as_ref())
    else {
        eprintln!("kernel_symbols: not a kernel image with VMCOREINFO");
        return ExitCode::from(2);
    };
    let symbols = match KernelSymbols::from_memory(memory, info) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kernel_symbols: {e}");
            return ExitCode::from(2);
        }
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for s in symbols.iter() {
        let _ = writeln!(out, "{:016x} {} {}", s.address, s.kind, s.name);
    }
    let list = btf::from_memory(memory, &symbols)
        .and_then(|b| modules::ModuleLayout::from_btf(&b))
        .map(|layout| modules::read_modules(memory, &symbols, &layout));
    match list {
        Ok(list) => {
            for m in &list.modules {
                for (address, _, name) in &m.functions {
                    let _ = writeln!(out, "{address:016x} t {name}\t[{}]", m.name);
                }
            }
        }
        Err(e) => eprintln!("kernel_symbols: modules not read: {e}"),
    }
    if out.flush().is_err() {
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

#[cfg(target_os = "linux")]
fn open_running_kernel() -> Result<ckdump::Image, ckdump::Error> {
    ckdump::live::kernel::open()
}

#[cfg(not(target_os = "linux"))]
fn open_running_kernel() -> Result<ckdump::Image, ckdump::Error> {
    Err(ckdump::Error::new(
        Path::new("/proc/kcore"),
        ckdump::ErrorKind::Unsupported("Linux only".into()),
    ))
}
