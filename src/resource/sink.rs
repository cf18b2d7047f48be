//! Where fetched bytes go: the `Sink` trait (a writer that can drop a failed attempt's bytes) and
//! its memory, capped-memory and file implementations.

use std::io::{self, Seek, Write};

/// Where fetched bytes go. `reset` discards a failed attempt's bytes before a retry.
pub trait Sink: Write {
    fn reset(&mut self) -> io::Result<()>;
}

impl Sink for Vec<u8> {
    fn reset(&mut self) -> io::Result<()> {
        self.clear();
        Ok(())
    }
}

/// The most a resource held in memory may grow to once decompressed: configs, merge children,
/// CA bundles and key files. Files go to disk and have no such cap. A hostile merge child
/// (a gzip bomb) fails with a clear error instead of taking the machine's memory.
pub const MAX_IN_MEMORY: usize = 256 << 20;

/// A memory sink that refuses to grow past `limit` bytes.
pub(super) struct Capped {
    pub(super) buf: Vec<u8>,
    pub(super) limit: usize,
    pub(super) overflowed: bool,
}

impl Write for Capped {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        if self.buf.len() + b.len() > self.limit {
            self.overflowed = true;
            return Err(io::Error::other(format!(
                "larger than {} MiB once decompressed",
                self.limit >> 20
            )));
        }
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Sink for Capped {
    fn reset(&mut self) -> io::Result<()> {
        self.buf.clear();
        Ok(())
    }
}

impl Sink for std::fs::File {
    fn reset(&mut self) -> io::Result<()> {
        self.set_len(0)?;
        self.rewind()
    }
}
