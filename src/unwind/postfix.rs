//! Breakpad's postfix programs: the STACK CFI rules and STACK WIN frame
//! programs that the unwinder runs to recover a caller's registers. The
//! symbol files only carry the program text; running it is unwinding, so
//! the evaluator lives here and symbols re-exports it for its users.

use std::collections::HashMap;

/// Postfix programs are short; anything longer is garbage.
const MAX_TOKENS: usize = 1024;
const MAX_STACK: usize = 64;

fn number(token: &str) -> Option<u64> {
    let (negative, digits) = match token.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, token),
    };
    let value = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(h) => u64::from_str_radix(h, 16).ok()?,
        None if digits.bytes().next().is_some_and(|c| c.is_ascii_digit()) => {
            digits.parse::<u64>().ok()?
        }
        None => return None,
    };
    Some(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

/// One binary operator, or None for a division by zero / bad alignment.
fn binary(op: &str, a: u64, b: u64) -> Option<u64> {
    Some(match op {
        "+" => a.wrapping_add(b),
        "-" => a.wrapping_sub(b),
        "*" => a.wrapping_mul(b),
        "/" => a.checked_div(b)?,
        "%" => a.checked_rem(b)?,
        // `a b @`: a rounded down to a multiple of b (a power of two).
        "@" => {
            if !b.is_power_of_two() {
                return None;
            }
            a & !(b - 1)
        }
        _ => return None,
    })
}

/// `value` wrapped to the pointer width.
fn mask(value: u64, pointer_size: u8) -> u64 {
    super::mask_to_width(value, pointer_size)
}

/// An operand: a value, or a name resolved when used (STACK WIN `=` needs
/// the name itself).
#[derive(Clone, Copy)]
enum Operand<'a> {
    Value(u64),
    Name(&'a str),
}

/// Shared evaluator: `assign` is Some for STACK WIN programs.
fn run<'a>(
    expr: &'a str,
    registers: &HashMap<String, u64>,
    mut assign: Option<&mut HashMap<String, u64>>,
    read_memory: &dyn Fn(u64) -> Option<u64>,
    pointer_size: u8,
) -> Option<Vec<Operand<'a>>> {
    let resolve = |op: Operand, assigned: &Option<&mut HashMap<String, u64>>| -> Option<u64> {
        match op {
            Operand::Value(v) => Some(v),
            Operand::Name(n) => {
                let own = assigned.as_ref().and_then(|m| m.get(n).copied());
                own.or_else(|| registers.get(n).copied())
            }
        }
    };
    let mut stack: Vec<Operand<'a>> = Vec::new();
    for (count, token) in expr.split_whitespace().enumerate() {
        if count >= MAX_TOKENS {
            return None;
        }
        match token {
            "+" | "-" | "*" | "/" | "%" | "@" => {
                let b = resolve(stack.pop()?, &assign)?;
                let a = resolve(stack.pop()?, &assign)?;
                stack.push(Operand::Value(mask(binary(token, a, b)?, pointer_size)));
            }
            "^" => {
                let a = resolve(stack.pop()?, &assign)?;
                stack.push(Operand::Value(mask(read_memory(a)?, pointer_size)));
            }
            "=" => {
                let target = assign.as_mut()?;
                let value = stack.pop()?;
                let Operand::Name(name) = stack.pop()? else {
                    return None;
                };
                // Breakpad only lets programs assign `$` variables.
                if !name.starts_with('$') {
                    return None;
                }
                let value = match value {
                    Operand::Value(v) => v,
                    Operand::Name(n) => target
                        .get(n)
                        .copied()
                        .or_else(|| registers.get(n).copied())?,
                };
                target.insert(name.to_string(), value);
            }
            t => match number(t) {
                Some(v) => stack.push(Operand::Value(mask(v, pointer_size))),
                None => stack.push(Operand::Name(t)),
            },
        }
        if stack.len() > MAX_STACK {
            return None;
        }
    }
    Some(stack)
}

/// Evaluates a Breakpad postfix expression (a STACK CFI rule): numbers
/// (decimal, `0x` hex, negative), register names (`$rsp`, `.cfa`, `x29`),
/// `+ - * / % @` (align down) and `^` (dereference through `read_memory`).
/// Arithmetic wraps at the pointer width. Bounded in tokens and depth.
pub fn evaluate_postfix(
    expr: &str,
    registers: &HashMap<String, u64>,
    read_memory: &dyn Fn(u64) -> Option<u64>,
    pointer_size: u8,
) -> Option<u64> {
    let stack = run(expr, registers, None, read_memory, pointer_size)?;
    match stack.as_slice() {
        [Operand::Value(v)] => Some(*v),
        [Operand::Name(n)] => registers.get(*n).copied(),
        _ => None,
    }
}

/// Runs a STACK WIN program string (x86, 32-bit): `$T0 $ebp = $eip $T0 4 +
/// ^ = …`, assigning into `registers`. The caller provides `.cbSavedRegs`,
/// `.cbParams`, `.cbLocals`, `.raSearchStart` / `.raSearch` and the
/// current `$ebp`, `$esp`, ... as entries of `registers`. None when the
/// program reads something unknown or is malformed; then `registers` may
/// hold the assignments made before the failure.
pub fn evaluate_win_program(
    program: &str,
    registers: &mut HashMap<String, u64>,
    read_memory: &dyn Fn(u64) -> Option<u64>,
) -> Option<()> {
    let stack = run(program, &HashMap::new(), Some(registers), read_memory, 4)?;
    stack.is_empty().then_some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(number("16"), Some(16));
        assert_eq!(number("-8"), Some(8u64.wrapping_neg()));
        assert_eq!(number("0x1F"), Some(0x1f));
        assert_eq!(number("$rsp"), None);
        assert_eq!(number("-"), None);
        assert_eq!(number("99999999999999999999"), None);
    }
}
