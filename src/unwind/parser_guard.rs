//! The last line of defence around third-party parsers that read file
//! bytes (goblin, object, gimli, addr2line, pdb, demanglers). Callers check
//! what they can before the call; a panic that still happens inside one of
//! those crates becomes `None` for that one file or lookup instead of
//! taking the whole run down with exit 101.
//!
//! It lives in the unwinder, the lowest layer that runs such parsers
//! (gimli on `.eh_frame`); the symbol readers above use it too.

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Once;

thread_local! {
    /// How many guarded calls are running on this thread (they nest: a
    /// guarded symbol lookup may open a guarded PDB).
    static GUARD_DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// Restores the depth even when `f` unwinds.
struct DepthToken;

impl DepthToken {
    fn enter() -> Self {
        GUARD_DEPTH.with(|d| d.set(d.get().saturating_add(1)));
        DepthToken
    }
}

impl Drop for DepthToken {
    fn drop(&mut self) {
        GUARD_DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    }
}

/// Runs `f`; a panic inside it gives `None`, without printing the panic
/// message (a damaged input file is reported by the caller, not as a
/// crash). Panics outside guarded calls print as usual.
pub fn guarded<T>(f: impl FnOnce() -> T) -> Option<T> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if GUARD_DEPTH.with(Cell::get) == 0 {
                previous(info);
            }
        }));
    });
    let _token = DepthToken::enter();
    catch_unwind(AssertUnwindSafe(f)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_become_none_and_nesting_is_counted() {
        assert_eq!(guarded(|| 7), Some(7));
        let nested = guarded(|| {
            let inner: Option<u8> = guarded(|| panic!("inner parser"));
            assert_eq!(inner, None);
            // Still inside the outer guard after the inner one unwound.
            assert_eq!(GUARD_DEPTH.with(Cell::get), 1);
            let v: Vec<u8> = Vec::new();
            #[allow(clippy::useless_vec)]
            v[usize::from(GUARD_DEPTH.with(Cell::get) == 1)]
        });
        assert_eq!(nested, None);
        assert_eq!(GUARD_DEPTH.with(Cell::get), 0);
    }
}
