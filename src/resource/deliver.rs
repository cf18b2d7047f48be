//! The delivery pipeline every scheme shares: source bytes pumped through gzip decompression and
//! hashing into a `Sink`, telling source errors (worth a retry) from the rest.

use super::{hash, Compression, Sink, Spec};
use crate::error::{Error, Result};
use std::io::{self, Read, Write};

/// A writer that hashes and counts what passes to the sink.
struct Tee<'a> {
    sink: &'a mut dyn Sink,
    hasher: Option<hash::Hasher>,
    n: u64,
}

impl Write for Tee<'_> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.sink.write_all(b)?;
        if let Some(h) = &mut self.hasher {
            h.update(b);
        }
        self.n += b.len() as u64;
        Ok(b.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.sink.flush()
    }
}

/// Why a delivery failed: reading the source (worth a retry) or the rest (not).
pub(crate) enum DeliverError {
    Source(io::Error),
    Other(Error),
}

thread_local! {
    /// `pump`'s block, kept between calls: a stage writing thousands of small files would
    /// otherwise map and unmap 64 KiB for each.
    static PUMP_BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Copies `src` into `out` in 64 KiB blocks, telling read errors (worth a retry) from write
/// errors (not).
fn pump(
    src: &mut dyn Read,
    out: &mut dyn Write,
    total: &mut u64,
    progress: &mut dyn FnMut(u64),
    what: &str,
) -> Result<(), DeliverError> {
    let mut buf = PUMP_BUF.with(|b| std::mem::take(&mut *b.borrow_mut()));
    buf.resize(64 * 1024, 0);
    let r = pump_with(&mut buf, src, out, total, progress, what);
    PUMP_BUF.with(|b| *b.borrow_mut() = buf);
    r
}

fn pump_with(
    buf: &mut [u8],
    src: &mut dyn Read,
    out: &mut dyn Write,
    total: &mut u64,
    progress: &mut dyn FnMut(u64),
    what: &str,
) -> Result<(), DeliverError> {
    loop {
        let n = match src.read(buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(DeliverError::Source(e)),
        };
        *total += n as u64;
        progress(*total);
        out.write_all(&buf[..n])
            .map_err(|e| DeliverError::Other(Error::from(e).context(what)))?;
    }
}

/// Copies `src` through decompression and hashing into `sink`; returns the bytes delivered.
pub(crate) fn deliver(
    spec: &Spec,
    src: &mut dyn Read,
    sink: &mut dyn Sink,
    mut progress: impl FnMut(u64),
) -> Result<u64, DeliverError> {
    let tee = Tee {
        sink,
        hasher: spec.hash.as_ref().map(|h| h.hasher()),
        n: 0,
    };
    let bad_data =
        |e: io::Error, what: &str| DeliverError::Other(Error::failed(format!("{what}: {e}")));
    let mut read_total = 0u64;
    let tee = match spec.compression {
        Compression::None => {
            let mut tee = tee;
            pump(src, &mut tee, &mut read_total, &mut progress, "writing")?;
            tee
        }
        Compression::Gzip => {
            let mut gz = super::gunzip::Gunzip::new(tee);
            pump(
                src,
                &mut gz,
                &mut read_total,
                &mut progress,
                "decompressing gzip",
            )?;
            gz.finish().map_err(|e| bad_data(e, "decompressing gzip"))?
        }
    };
    let Tee { sink, hasher, n } = tee;
    sink.flush().map_err(|e| bad_data(e, "writing"))?;
    if let (Some(h), Some(spec_hash)) = (hasher, &spec.hash) {
        spec_hash.check(h).map_err(DeliverError::Other)?;
    }
    Ok(n)
}

pub(crate) fn finish(r: Result<u64, DeliverError>) -> Result<u64> {
    match r {
        Ok(n) => Ok(n),
        Err(DeliverError::Source(e)) => Err(Error::failed(format!("reading: {e}"))),
        Err(DeliverError::Other(e)) => Err(e),
    }
}
