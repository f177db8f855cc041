//! The one size-limited copy of a download into a file, shared by the
//! symbol-server and debuginfod clients.

use std::io::{Read, Write};

/// Why a limited copy stopped.
pub(super) enum CopyError {
    /// The body is longer than the limit.
    TooLarge,
    Read(std::io::Error),
    Write(std::io::Error),
}

/// Copies `reader` into `out`, at most `limit` bytes; a body of more is
/// refused with [`CopyError::TooLarge`] as soon as the limit is passed.
pub(super) fn copy_limited(
    reader: &mut dyn Read,
    out: &mut dyn Write,
    limit: u64,
) -> Result<u64, CopyError> {
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Read(e)),
        };
        total += n as u64;
        if total > limit {
            return Err(CopyError::TooLarge);
        }
        out.write_all(&buf[..n]).map_err(CopyError::Write)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_up_to_the_limit_and_refuses_more() {
        let mut out = Vec::new();
        let got = copy_limited(&mut &[7u8; 100][..], &mut out, 100);
        assert!(matches!(got, Ok(100)));
        assert_eq!(out, [7u8; 100]);
        let mut out = Vec::new();
        assert!(matches!(
            copy_limited(&mut &[7u8; 101][..], &mut out, 100),
            Err(CopyError::TooLarge)
        ));
    }
}
