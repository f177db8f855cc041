//! aarch64 pointer authentication: return addresses signed with PAC carry a
//! code in the bits above the virtual-address size (and, with top-byte
//! ignore, in the top byte). Bit 55 is never part of the code: it selects
//! the lower (user, bits above the VA size clear) or upper (kernel, set)
//! half of the address space, so stripping sign-extends from it.

use crate::model::Arch;

/// Virtual-address size assumed when the image does not say: the 4-level
/// (48-bit) layout that Linux and Windows use unless 52-bit VAs are
/// configured.
pub const DEFAULT_VA_BITS: u32 = 48;

/// The top byte, ignored by address translation (TBI) and so free for tags
/// and PAC bits whatever the mask says.
const TOP_BYTE: u64 = 0xff00_0000_0000_0000;

const BIT_55: u64 = 1 << 55;

/// The PAC bits of an address space with `va_bits`-bit addresses: bits
/// `va_bits..=54`, as Linux reports them in NT_ARM_PAC_MASK. Sizes outside
/// 32..=55 are clamped.
pub fn pac_mask_for_va_bits(va_bits: u32) -> u64 {
    let va_bits = va_bits.clamp(32, 55);
    // Bits va_bits..55, exclusive of 55.
    (BIT_55 - 1) & !((1u64 << va_bits) - 1)
}

/// `value` without its pointer-authentication code, when `arch` has one:
/// the bits of `pac_mask` (the image's instruction mask; `None`: that of a
/// [`DEFAULT_VA_BITS`] address space) and the top byte are cleared for a
/// lower-half address and set for an upper-half one.
pub fn strip_pointer_authentication(arch: Arch, value: u64, pac_mask: Option<u64>) -> u64 {
    if arch != Arch::Aarch64 {
        return value;
    }
    let mask =
        (pac_mask.unwrap_or_else(|| pac_mask_for_va_bits(DEFAULT_VA_BITS)) | TOP_BYTE) & !BIT_55;
    if value & BIT_55 == 0 {
        value & !mask
    } else {
        value | mask
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_follow_the_va_size() {
        assert_eq!(pac_mask_for_va_bits(48), 0x007f_0000_0000_0000);
        assert_eq!(pac_mask_for_va_bits(52), 0x0070_0000_0000_0000);
        assert_eq!(pac_mask_for_va_bits(39), 0x007f_ff80_0000_0000);
        assert_eq!(pac_mask_for_va_bits(64), 0);
    }

    #[test]
    fn user_address_with_pac_bits() {
        // 48-bit user address, PAC 0x23 in bits 48..54 and 0x5a in the top byte.
        assert_eq!(
            strip_pointer_authentication(Arch::Aarch64, 0x5a23_aaaa_0000_1234, None),
            0x0000_aaaa_0000_1234
        );
        // 52-bit user address under the mask a Linux core reports for it:
        // bits 48..51 are address, not code.
        let mask = Some(pac_mask_for_va_bits(52));
        assert_eq!(
            strip_pointer_authentication(Arch::Aarch64, 0x3d5f_aaaa_0000_1234, mask),
            0x000f_aaaa_0000_1234
        );
        // Unsigned addresses are unchanged.
        assert_eq!(
            strip_pointer_authentication(Arch::Aarch64, 0xffff_8000_0000, None),
            0xffff_8000_0000
        );
    }

    #[test]
    fn kernel_address_with_pac_bits() {
        // 0xffff_8000_1000_2000 signed: PAC 0x3c in bits 48..54, 0x71 on top;
        // bit 55 stays set, so the address is an upper-half one.
        assert_eq!(
            strip_pointer_authentication(Arch::Aarch64, 0x71bc_8000_1000_2000, None),
            0xffff_8000_1000_2000
        );
        let mask = Some(pac_mask_for_va_bits(52));
        assert_eq!(
            strip_pointer_authentication(Arch::Aarch64, 0x00b8_1000_1000_2000, mask),
            0xfff8_1000_1000_2000
        );
        assert_eq!(
            strip_pointer_authentication(Arch::Aarch64, 0xffff_8000_1000_2000, None),
            0xffff_8000_1000_2000
        );
    }

    #[test]
    fn other_architectures_keep_their_bits() {
        for arch in [Arch::X86_64, Arch::X86, Arch::Arm] {
            assert_eq!(
                strip_pointer_authentication(arch, 0x71bc_8000_1000_2000, None),
                0x71bc_8000_1000_2000
            );
        }
    }
}
