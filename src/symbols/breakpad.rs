//! Breakpad text symbol files (`.sym`, as `dump_syms` writes them), so a
//! team that already produces them can switch without regenerating.
//!
//! Parsed once into sorted vectors; lookups are binary searches. Both
//! INLINE / INLINE_ORIGIN syntaxes are read (the old one has no call-site
//! file in INLINE and a file id in INLINE_ORIGIN).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::memory::Bytes;
use crate::symbols::SymbolFrame;

/// The MODULE line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModuleRecord {
    pub os: String,
    pub arch: String,
    pub debug_id: String,
    pub name: String,
}

#[derive(Debug, Clone, Copy)]
struct LineRecord {
    address: u64,
    size: u64,
    line: u32,
    file: u32,
}

#[derive(Debug, Clone)]
struct InlineRecord {
    depth: u32,
    call_line: u32,
    call_file: Option<u32>,
    origin: u32,
    ranges: Vec<(u64, u64)>,
}

#[derive(Debug, Clone)]
struct Function {
    address: u64,
    size: u64,
    name: String,
    lines: Vec<LineRecord>,
    inlines: Vec<InlineRecord>,
}

/// A parsed `.sym` file.
#[derive(Debug, Default)]
pub struct BreakpadSymbols {
    module: ModuleRecord,
    files: HashMap<u32, String>,
    origins: HashMap<u32, String>,
    functions: Vec<Function>,
    publics: Vec<(u64, String)>,
    /// STACK CFI INIT address, size, rules; then deltas (address, rules).
    cfi_init: Vec<(u64, u64, String)>,
    cfi_delta: Vec<(u64, String)>,
}

/// Why a `.sym` file was rejected.
#[derive(Debug, thiserror::Error)]
pub enum BreakpadError {
    #[error("line 1: not a Breakpad symbol file (no MODULE record)")]
    NoModule,
}

fn hex(s: &str) -> Option<u64> {
    u64::from_str_radix(s, 16).ok()
}

fn dec(s: &str) -> Option<u32> {
    s.parse().ok()
}

/// Splits off the first `n` whitespace-separated fields; the rest (which may
/// contain spaces, like a C++ name) is returned whole.
fn fields(line: &str, n: usize) -> Option<(Vec<&str>, &str)> {
    let mut out = Vec::with_capacity(n);
    let mut rest = line.trim_start();
    for _ in 0..n {
        let end = rest.find(' ').unwrap_or(rest.len());
        if end == 0 {
            return None;
        }
        out.push(&rest[..end]);
        rest = rest[end..].trim_start();
    }
    Some((out, rest))
}

impl BreakpadSymbols {
    /// Parses a `.sym` file. Malformed lines are skipped (dump_syms output
    /// is regular; a damaged file still gives what it can).
    pub fn parse(bytes: &Bytes) -> Result<Self, BreakpadError> {
        let text = String::from_utf8_lossy(bytes);
        let mut sym = BreakpadSymbols::default();
        let mut lines = text.lines();
        let first = lines.next().ok_or(BreakpadError::NoModule)?;
        let (f, name) = fields(first, 4).ok_or(BreakpadError::NoModule)?;
        if f[0] != "MODULE" {
            return Err(BreakpadError::NoModule);
        }
        sym.module = ModuleRecord {
            os: f[1].into(),
            arch: f[2].into(),
            debug_id: f[3].into(),
            name: name.into(),
        };
        // The old syntax is told by its INLINE records (one field fewer);
        // INLINE_ORIGIN lines come first in the file, so look ahead.
        let old_inline_syntax = text
            .lines()
            .find(|l| l.starts_with("INLINE "))
            .map(|l| l.split_whitespace().count() % 2 == 0);
        for line in lines {
            let keyword = line.split(' ').next().unwrap_or("");
            match keyword {
                "FILE" => {
                    if let Some((f, name)) = fields(line, 2)
                        && let Some(id) = dec(f[1])
                    {
                        sym.files.insert(id, name.to_string());
                    }
                }
                "INLINE_ORIGIN" => {
                    // Old: INLINE_ORIGIN id file name; new: INLINE_ORIGIN id name.
                    let Some((f, rest)) = fields(line, 2) else {
                        continue;
                    };
                    let Some(id) = dec(f[1]) else { continue };
                    let name = match fields(rest, 1) {
                        Some((g, tail))
                            if old_inline_syntax == Some(true) && dec(g[0]).is_some() =>
                        {
                            tail
                        }
                        _ => rest,
                    };
                    sym.origins.insert(id, name.to_string());
                }
                "FUNC" => {
                    let skip = usize::from(line.starts_with("FUNC m "));
                    let Some((f, name)) = fields(line, 4 + skip) else {
                        continue;
                    };
                    let (Some(address), Some(size)) = (hex(f[1 + skip]), hex(f[2 + skip])) else {
                        continue;
                    };
                    sym.functions.push(Function {
                        address,
                        size,
                        name: name.to_string(),
                        lines: Vec::new(),
                        inlines: Vec::new(),
                    });
                }
                "INLINE" => {
                    let nums: Vec<&str> = line.split_whitespace().skip(1).collect();
                    // Old: depth line origin (addr size)+ = odd count;
                    // new: depth line file origin (addr size)+ = even count.
                    let old = nums.len() % 2 == 1;
                    let head = if old { 3 } else { 4 };
                    if nums.len() < head + 2 {
                        continue;
                    }
                    let (Some(depth), Some(call_line)) = (dec(nums[0]), dec(nums[1])) else {
                        continue;
                    };
                    let (call_file, origin) = if old {
                        (None, dec(nums[2]))
                    } else {
                        (dec(nums[2]), dec(nums[3]))
                    };
                    let Some(origin) = origin else { continue };
                    let ranges = nums[head..]
                        .chunks_exact(2)
                        .filter_map(|p| Some((hex(p[0])?, hex(p[1])?)))
                        .collect();
                    if let Some(func) = sym.functions.last_mut() {
                        func.inlines.push(InlineRecord {
                            depth,
                            call_line,
                            call_file,
                            origin,
                            ranges,
                        });
                    }
                }
                "PUBLIC" => {
                    let skip = usize::from(line.starts_with("PUBLIC m "));
                    let Some((f, name)) = fields(line, 3 + skip) else {
                        continue;
                    };
                    if let Some(address) = hex(f[1 + skip]) {
                        sym.publics.push((address, name.to_string()));
                    }
                }
                "STACK" => {
                    if let Some(rest) = line.strip_prefix("STACK CFI INIT ") {
                        if let Some((f, rules)) = fields(rest, 2)
                            && let (Some(a), Some(s)) = (hex(f[0]), hex(f[1]))
                        {
                            sym.cfi_init.push((a, s, rules.to_string()));
                        }
                    } else if let Some(rest) = line.strip_prefix("STACK CFI ")
                        && let Some((f, rules)) = fields(rest, 1)
                        && let Some(a) = hex(f[0])
                    {
                        sym.cfi_delta.push((a, rules.to_string()));
                    }
                }
                "MODULE" | "INFO" | "" => {}
                _ => {
                    // A line record: address size line file.
                    let mut it = line.split_whitespace();
                    let rec = (|| {
                        Some(LineRecord {
                            address: hex(it.next()?)?,
                            size: hex(it.next()?)?,
                            line: dec(it.next()?)?,
                            file: dec(it.next()?)?,
                        })
                    })();
                    if let (Some(rec), Some(func)) = (rec, sym.functions.last_mut()) {
                        func.lines.push(rec);
                    }
                }
            }
        }
        sym.functions.sort_by_key(|f| f.address);
        for f in &mut sym.functions {
            f.lines.sort_by_key(|l| l.address);
            f.inlines.sort_by_key(|i| i.depth);
        }
        sym.publics.sort_by_key(|p| p.0);
        sym.cfi_init.sort_by_key(|c| c.0);
        sym.cfi_delta.sort_by_key(|c| c.0);
        Ok(sym)
    }

    pub fn module(&self) -> &ModuleRecord {
        &self.module
    }

    fn function_at(&self, rva: u64) -> Option<&Function> {
        let i = self.functions.partition_point(|f| f.address <= rva);
        let f = self.functions.get(i.checked_sub(1)?)?;
        (rva - f.address < f.size.max(1)).then_some(f)
    }

    /// Frames for a module-relative address, innermost inlined first, the
    /// containing function last.
    pub fn lookup(&self, rva: u64) -> Vec<SymbolFrame> {
        let Some(func) = self.function_at(rva) else {
            // PUBLIC symbols cover up to the next one.
            let i = self.publics.partition_point(|p| p.0 <= rva);
            return match i.checked_sub(1).and_then(|i| self.publics.get(i)) {
                Some((address, name)) => vec![SymbolFrame {
                    function: Some(name.clone()),
                    function_offset: Some(rva - address),
                    ..Default::default()
                }],
                None => Vec::new(),
            };
        };
        let file = |id: u32| self.files.get(&id).cloned();
        let line = func
            .lines
            .iter()
            .rev()
            .find(|l| l.address <= rva && rva - l.address < l.size.max(1));
        // Inline records covering rva, outermost (depth 0) first.
        let chain: Vec<&InlineRecord> = func
            .inlines
            .iter()
            .filter(|i| i.ranges.iter().any(|(a, s)| *a <= rva && rva - a < *s))
            .collect();
        let mut frames = Vec::with_capacity(chain.len() + 1);
        // The innermost frame has the line record's location; every outer
        // frame is at the call site recorded by the next-deeper INLINE.
        let mut location = (line.and_then(|l| file(l.file)), line.map(|l| l.line));
        for inl in chain.iter().rev() {
            frames.push(SymbolFrame {
                function: self.origins.get(&inl.origin).cloned(),
                function_offset: None,
                file: location.0.clone(),
                line: location.1,
                column: None,
                inlined: true,
            });
            let call_file = inl.call_file.and_then(file).or_else(|| location.0.clone());
            location = (call_file, Some(inl.call_line));
        }
        frames.push(SymbolFrame {
            function: Some(func.name.clone()),
            function_offset: Some(rva - func.address),
            file: location.0,
            line: location.1,
            column: None,
            inlined: false,
        });
        frames
    }

    /// STACK CFI rules in effect at `rva`: the INIT record's rules with
    /// every delta up to `rva` applied, as (register, expression) pairs.
    pub fn cfi_rules(&self, rva: u64) -> Option<Vec<(String, String)>> {
        let i = self.cfi_init.partition_point(|c| c.0 <= rva);
        let (start, size, init) = self.cfi_init.get(i.checked_sub(1)?)?;
        if rva - start >= *size {
            return None;
        }
        let mut rules: Vec<(String, String)> = Vec::new();
        let mut apply = |text: &str| {
            for (reg, expr) in parse_rules(text) {
                match rules.iter_mut().find(|(r, _)| *r == reg) {
                    Some(slot) => slot.1 = expr,
                    None => rules.push((reg, expr)),
                }
            }
        };
        apply(init);
        let from = self.cfi_delta.partition_point(|d| d.0 < *start);
        for (addr, text) in &self.cfi_delta[from..] {
            if *addr > rva {
                break;
            }
            apply(text);
        }
        Some(rules)
    }
}

/// `.cfa: $rsp 8 + .ra: .cfa -8 + ^` → [(".cfa", "$rsp 8 +"), (".ra", ".cfa -8 + ^")].
fn parse_rules(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for token in text.split_whitespace() {
        if let Some(reg) = token.strip_suffix(':') {
            out.push((reg.to_string(), String::new()));
        } else if let Some(last) = out.last_mut() {
            if !last.1.is_empty() {
                last.1.push(' ');
            }
            last.1.push_str(token);
        }
    }
    out
}

/// Evaluates a Breakpad postfix expression: numbers, `$reg` / `.cfa`
/// values, `+ - * / % @` (align) and `^` (dereference). Bounded.
pub fn evaluate_postfix(
    expr: &str,
    registers: &HashMap<String, u64>,
    read_memory: &dyn Fn(u64) -> Option<u64>,
) -> Option<u64> {
    let mut stack: Vec<u64> = Vec::new();
    for token in expr.split_whitespace().take(256) {
        match token {
            "+" | "-" | "*" | "/" | "%" | "@" => {
                let b = stack.pop()?;
                let a = stack.pop()?;
                stack.push(match token {
                    "+" => a.wrapping_add(b),
                    "-" => a.wrapping_sub(b),
                    "*" => a.wrapping_mul(b),
                    "/" => a.checked_div(b)?,
                    "%" => a.checked_rem(b)?,
                    _ => {
                        if b == 0 || !b.is_power_of_two() {
                            return None;
                        }
                        a & !(b - 1)
                    }
                });
            }
            "^" => {
                let a = stack.pop()?;
                stack.push(read_memory(a)?);
            }
            t => {
                let value = if let Some(n) = t.strip_prefix('-') {
                    n.parse::<u64>().ok().map(|v| v.wrapping_neg())
                } else if let Some(h) = t.strip_prefix("0x") {
                    u64::from_str_radix(h, 16).ok()
                } else {
                    t.parse::<u64>().ok()
                };
                stack.push(match value {
                    Some(v) => v,
                    None => *registers.get(t)?,
                });
            }
        }
        if stack.len() > 64 {
            return None;
        }
    }
    (stack.len() == 1).then(|| stack[0])
}

/// `DIR/NAME/DEBUGID/NAME.sym`, where NAME is the debug file and the `.sym`
/// replaces a `.pdb` extension (Breakpad's store layout).
pub fn sym_relative_path(debug_file: &str, debug_id: &str) -> String {
    let stem = debug_file.strip_suffix(".pdb").unwrap_or(debug_file);
    format!("{debug_file}/{debug_id}/{stem}.sym")
}

/// The `.sym` path under one directory.
pub fn sym_path(dir: &Path, debug_file: &str, debug_id: &str) -> PathBuf {
    dir.join(sym_relative_path(debug_file, debug_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postfix_and_rules() {
        let regs: HashMap<String, u64> = [("$rsp".to_string(), 0x1000u64)].into_iter().collect();
        let mem = |a: u64| (a == 0x1008).then_some(0xdead);
        assert_eq!(evaluate_postfix("$rsp 16 +", &regs, &mem), Some(0x1010));
        assert_eq!(evaluate_postfix("$rsp 8 + ^", &regs, &mem), Some(0xdead));
        assert_eq!(evaluate_postfix("$rsp 0 /", &regs, &mem), None);
        assert_eq!(evaluate_postfix("+", &regs, &mem), None);
        assert_eq!(
            parse_rules(".cfa: $rsp 8 + .ra: .cfa -8 + ^"),
            [
                (".cfa".to_string(), "$rsp 8 +".to_string()),
                (".ra".to_string(), ".cfa -8 + ^".to_string())
            ]
        );
        assert_eq!(
            sym_relative_path("test_app.pdb", "ABC1"),
            "test_app.pdb/ABC1/test_app.sym"
        );
        assert_eq!(
            sym_relative_path("libc.so.6", "EC61"),
            "libc.so.6/EC61/libc.so.6.sym"
        );
    }
}
