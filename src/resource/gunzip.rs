//! gzip decompression for `compression: gzip`, as Go's gzip reader (Ignition's) reads it:
//! RFC 1952 members one after another (a concatenation is one stream), header CRC checked
//! when present, each member's CRC-32 and size checked. The inflater (about 43 KiB) and its
//! output block are kept per thread between resources: a stage writing thousands of small
//! gzip files would otherwise allocate, zero and unmap them for each.

use flate2::{Decompress, FlushDecompress, Status};
use std::io::{self, Write};

const FHCRC: u8 = 2;
const FEXTRA: u8 = 4;
const FNAME: u8 = 8;
const FCOMMENT: u8 = 16;

enum Phase {
    Header,
    Body,
    Trailer,
}

struct State {
    inflate: Decompress,
    out: Vec<u8>,
    /// The header or trailer bytes seen so far.
    held: Vec<u8>,
    phase: Phase,
    crc: crc32fast::Hasher,
    size: u32,
    members: u32,
}

impl State {
    fn new() -> State {
        State {
            inflate: Decompress::new(false),
            out: vec![0; 32 * 1024],
            held: Vec::new(),
            phase: Phase::Header,
            crc: crc32fast::Hasher::new(),
            size: 0,
            members: 0,
        }
    }

    fn next_member(&mut self) {
        self.inflate.reset(false);
        self.held.clear();
        self.phase = Phase::Header;
        self.crc = crc32fast::Hasher::new();
        self.size = 0;
    }
}

thread_local! {
    static SPARE: std::cell::Cell<Option<Box<State>>> = const { std::cell::Cell::new(None) };
}

fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

/// The length of the member header at the start of `h`; `None` while incomplete.
fn header_len(h: &[u8]) -> io::Result<Option<usize>> {
    if h.first().is_some_and(|&b| b != 0x1f) || h.get(1).is_some_and(|&b| b != 0x8b) {
        return Err(bad("invalid gzip header"));
    }
    if h.get(2).is_some_and(|&b| b != 8) {
        return Err(bad("unsupported gzip compression method"));
    }
    if h.len() < 10 {
        return Ok(None);
    }
    let flags = h[3];
    let mut i = 10;
    if flags & FEXTRA != 0 {
        let Some(x) = h.get(i..i + 2) else {
            return Ok(None);
        };
        i += 2 + u16::from_le_bytes([x[0], x[1]]) as usize;
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            let Some(z) = h.get(i..).and_then(|r| r.iter().position(|&b| b == 0)) else {
                return Ok(None);
            };
            i += z + 1;
        }
    }
    if flags & FHCRC != 0 {
        let Some(x) = h.get(i..i + 2) else {
            return Ok(None);
        };
        let want = u16::from_le_bytes([x[0], x[1]]);
        if crc32fast::hash(&h[..i]) as u16 != want {
            return Err(bad("gzip header checksum mismatch"));
        }
        i += 2;
    }
    Ok((h.len() >= i).then_some(i))
}

/// A writer that decompresses what it is given into `W`.
pub struct Gunzip<W: Write> {
    w: Option<W>,
    st: Option<Box<State>>,
}

impl<W: Write> Gunzip<W> {
    pub fn new(w: W) -> Gunzip<W> {
        let st = match SPARE.with(|s| s.take()) {
            Some(mut st) => {
                st.next_member();
                st.members = 0;
                st
            }
            None => Box::new(State::new()),
        };
        Gunzip {
            w: Some(w),
            st: Some(st),
        }
    }

    fn feed(&mut self, mut data: &[u8]) -> io::Result<()> {
        let (Some(w), Some(st)) = (self.w.as_mut(), self.st.as_mut()) else {
            return Err(bad("gzip decoder already finished"));
        };
        while !data.is_empty() {
            match st.phase {
                Phase::Header => {
                    // Headers are a few bytes: taken a byte at a time until complete.
                    st.held.push(data[0]);
                    data = &data[1..];
                    if header_len(&st.held)?.is_some() {
                        st.held.clear();
                        st.phase = Phase::Body;
                    }
                }
                Phase::Body => {
                    let (in0, out0) = (st.inflate.total_in(), st.inflate.total_out());
                    let status = st
                        .inflate
                        .decompress(data, &mut st.out, FlushDecompress::None)
                        .map_err(|_| bad("corrupt deflate stream"))?;
                    let used = (st.inflate.total_in() - in0) as usize;
                    let made = (st.inflate.total_out() - out0) as usize;
                    data = &data[used..];
                    st.crc.update(&st.out[..made]);
                    st.size = st.size.wrapping_add(made as u32);
                    w.write_all(&st.out[..made])?;
                    match status {
                        Status::StreamEnd => st.phase = Phase::Trailer,
                        _ if used == 0 && made == 0 => {
                            return Err(bad("corrupt deflate stream"));
                        }
                        _ => {}
                    }
                }
                Phase::Trailer => {
                    let take = (8 - st.held.len()).min(data.len());
                    st.held.extend_from_slice(&data[..take]);
                    data = &data[take..];
                    if st.held.len() == 8 {
                        let t = &st.held;
                        let crc = u32::from_le_bytes([t[0], t[1], t[2], t[3]]);
                        let size = u32::from_le_bytes([t[4], t[5], t[6], t[7]]);
                        if crc != st.crc.clone().finalize() || size != st.size {
                            return Err(bad("gzip checksum mismatch"));
                        }
                        st.members += 1;
                        st.next_member();
                    }
                }
            }
        }
        Ok(())
    }

    /// Ends the stream (it must end between members) and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        let st = self
            .st
            .as_mut()
            .ok_or_else(|| bad("gzip decoder already finished"))?;
        // Output the inflater still holds (its block was full when the input ran out).
        if let (Phase::Body, Some(w)) = (&st.phase, self.w.as_mut()) {
            loop {
                let out0 = st.inflate.total_out();
                let status = st
                    .inflate
                    .decompress(&[], &mut st.out, FlushDecompress::None)
                    .map_err(|_| bad("corrupt deflate stream"))?;
                let made = (st.inflate.total_out() - out0) as usize;
                st.crc.update(&st.out[..made]);
                st.size = st.size.wrapping_add(made as u32);
                w.write_all(&st.out[..made])?;
                if matches!(status, Status::StreamEnd) {
                    st.phase = Phase::Trailer;
                }
                if made == 0 || !matches!(st.phase, Phase::Body) {
                    break;
                }
            }
        }
        let ended = matches!(st.phase, Phase::Header) && st.held.is_empty() && st.members > 0;
        if !ended {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "unexpected end of gzip stream",
            ));
        }
        self.w
            .take()
            .ok_or_else(|| bad("gzip decoder already finished"))
    }
}

impl<W: Write> Write for Gunzip<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.feed(data)?;
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.w.as_mut().map_or(Ok(()), Write::flush)
    }
}

impl<W: Write> Drop for Gunzip<W> {
    fn drop(&mut self) {
        if let Some(st) = self.st.take() {
            SPARE.with(|s| s.set(Some(st)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gz(data: &[u8], level: u32) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn gunzip(z: &[u8], chunk: usize) -> io::Result<Vec<u8>> {
        let mut g = Gunzip::new(Vec::new());
        for c in z.chunks(chunk.max(1)) {
            g.write_all(c)?;
        }
        g.finish()
    }

    #[test]
    fn round_trips_in_any_chunking_and_reuses_its_state() {
        let data: Vec<u8> = (0..200_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        for level in [0, 1, 9] {
            let z = gz(&data, level);
            for chunk in [1, 7, 4096, z.len()] {
                assert_eq!(
                    gunzip(&z, chunk).unwrap(),
                    data,
                    "level {level} chunk {chunk}"
                );
            }
        }
        assert_eq!(gunzip(&gz(b"", 6), 3).unwrap(), b"");
    }

    #[test]
    fn members_concatenate_as_go_reads_them() {
        let mut z = gz(b"hello ", 6);
        z.extend(gz(b"world", 1));
        assert_eq!(gunzip(&z, 5).unwrap(), b"hello world");
    }

    #[test]
    fn optional_header_fields_are_skipped_and_the_header_crc_checked() {
        // FEXTRA + FNAME + FCOMMENT + FHCRC around a stored deflate block of "hi".
        let mut h = vec![
            0x1f,
            0x8b,
            8,
            FEXTRA | FNAME | FCOMMENT | FHCRC,
            0,
            0,
            0,
            0,
            0,
            3,
        ];
        h.extend([2, 0, b'x', b'y']);
        h.extend(b"name\0comment\0");
        let c = crc32fast::hash(&h) as u16;
        let mut z = h.clone();
        z.extend(c.to_le_bytes());
        let body = [1u8, 2, 0, 0xfd, 0xff, b'h', b'i'];
        z.extend(body);
        z.extend(crc32fast::hash(b"hi").to_le_bytes());
        z.extend(2u32.to_le_bytes());
        assert_eq!(gunzip(&z, 3).unwrap(), b"hi");
        let mut bad_hcrc = h;
        bad_hcrc.extend((c ^ 1).to_le_bytes());
        bad_hcrc.extend(body);
        let e = gunzip(&bad_hcrc, 100).unwrap_err();
        assert!(e.to_string().contains("header checksum"), "{e}");
    }

    #[test]
    fn damage_is_an_error() {
        let z = gz(b"some text that compresses", 6);
        // Truncated anywhere, including inside the trailer.
        for cut in [0, 5, 12, z.len() - 4, z.len() - 1] {
            assert!(gunzip(&z[..cut], 4).is_err(), "cut at {cut}");
        }
        let mut crc = z.clone();
        let n = crc.len();
        crc[n - 8] ^= 1;
        assert!(gunzip(&crc, 64)
            .unwrap_err()
            .to_string()
            .contains("checksum"));
        let mut magic = z.clone();
        magic[0] = 0;
        assert!(gunzip(&magic, 64)
            .unwrap_err()
            .to_string()
            .contains("header"));
        let mut trailing = z;
        trailing.extend(b"junk");
        assert!(gunzip(&trailing, 64).is_err());
    }
}
