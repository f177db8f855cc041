pub mod flattened;
pub mod kdump_compressed;
