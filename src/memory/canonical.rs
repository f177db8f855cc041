//! x86_64 canonical addresses. With 4-level paging an address is canonical
//! when bits 47..63 are equal (48-bit addresses); with 5-level paging (LA57)
//! when bits 56..63 are (57-bit addresses). A dump rarely says which mode
//! its machine ran in, so an address is judged under both.

/// How an x86_64 address fares under the two paging modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum X86_64Canonical {
    /// Canonical under 4-level paging, and so under 5-level too.
    Yes,
    /// Canonical only with 5-level paging (57-bit addresses): on a machine
    /// with the usual 4-level paging no access to it can succeed.
    OnlyWith5LevelPaging,
    /// Non-canonical under either paging mode.
    No,
}

/// Whether `address` is `bits` wide once sign-extended from bit `bits - 1`.
fn sign_extends_from(address: u64, bits: u32) -> bool {
    let shift = 64 - bits;
    (((address << shift) as i64) >> shift) as u64 == address
}

/// Classifies an x86_64 virtual address.
pub fn x86_64_canonical(address: u64) -> X86_64Canonical {
    if sign_extends_from(address, 48) {
        X86_64Canonical::Yes
    } else if sign_extends_from(address, 57) {
        X86_64Canonical::OnlyWith5LevelPaging
    } else {
        X86_64Canonical::No
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_and_five_level_paging() {
        use X86_64Canonical::*;
        for (address, expected) in [
            (0, Yes),
            (0x0000_7fff_ffff_ffff, Yes),
            (0xffff_8000_0000_0000, Yes),
            (u64::MAX, Yes),
            // Past 48 bits: user and kernel halves of a 57-bit space.
            (0x0000_8000_0000_0000, OnlyWith5LevelPaging),
            (0x00ff_ffff_ffff_ffff, OnlyWith5LevelPaging),
            (0xff00_0000_0000_0000, OnlyWith5LevelPaging),
            (0xffff_7fff_ffff_ffff, OnlyWith5LevelPaging),
            // Past 57 bits: wild under either mode.
            (0x0100_0000_0000_0000, No),
            (0xfeff_ffff_ffff_ffff, No),
            (0xfefe_fefe_fefe_fefe, No),
            (0x8000_0000_0000_0000, No),
        ] {
            assert_eq!(x86_64_canonical(address), expected, "{address:#x}");
        }
    }
}
