//! Gathered positional writes: one `pwritev` for many buffers, so a produce request's batches
//! (patched headers plus the records as the producer sent them) reach the page cache in one
//! system call without first being copied into one contiguous buffer.

use std::fs::File;
use std::io::{self, IoSlice};
use std::os::fd::AsRawFd;

/// The most buffers one `pwritev` takes (Linux's IOV_MAX).
const IOV_MAX: usize = 1024;

/// Writes all of `bufs` at `offset`, retrying short writes and interrupts, `IOV_MAX` buffers at
/// a time. `bufs` is consumed (advanced) as it is written.
pub(crate) fn write_all_vectored_at(
    file: &File,
    mut bufs: &mut [IoSlice<'_>],
    mut offset: u64,
) -> io::Result<()> {
    // Leading empty slices would make a zero-length write look like no progress.
    IoSlice::advance_slices(&mut bufs, 0);
    while !bufs.is_empty() {
        let count = bufs.len().min(IOV_MAX);
        let pos = libc::off_t::try_from(offset)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "offset out of range"))?;
        // SAFETY: IoSlice is ABI-compatible with iovec on Unix (std guarantees it), the
        // pointers stay valid for the call, and `count` does not exceed `bufs.len()`.
        let n = unsafe {
            libc::pwritev(
                file.as_raw_fd(),
                bufs.as_ptr().cast::<libc::iovec>(),
                count as libc::c_int,
                pos,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "pwritev wrote nothing",
            ));
        }
        offset += n as u64;
        IoSlice::advance_slices(&mut bufs, n as usize);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileExt;

    #[test]
    fn writes_every_buffer_in_order_at_the_offset() {
        let file = tempfile::tempfile().unwrap();
        file.write_all_at(b"0123", 0).unwrap();
        // More buffers than one call takes, with empty ones among them.
        let parts: Vec<Vec<u8>> = (0..2500u32)
            .map(|i| {
                if i % 7 == 0 {
                    Vec::new()
                } else {
                    i.to_be_bytes().to_vec()
                }
            })
            .collect();
        let mut slices: Vec<IoSlice> = parts.iter().map(|p| IoSlice::new(p)).collect();
        write_all_vectored_at(&file, &mut slices, 4).unwrap();
        let expected: Vec<u8> = b"0123"
            .iter()
            .copied()
            .chain(parts.iter().flatten().copied())
            .collect();
        let mut got = vec![0u8; expected.len()];
        file.read_exact_at(&mut got, 0).unwrap();
        assert_eq!(got, expected);
    }
}
