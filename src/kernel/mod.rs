//! Kernel structures read out of a kernel dump's memory, guided by
//! VMCOREINFO (and later by BTF or DWARF types).

pub mod printk;
