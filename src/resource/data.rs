//! `data:` URLs read as a stream: base64 or percent-escapes decoded a block at a time, never the
//! whole payload at once.

use crate::config::url;
use crate::error::{Error, Result};
use std::io::{self, Read};

/// `bytes` as a base64 data URL (`data:;base64,...`), with the encoder ureq already links.
pub fn data_url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    format!(
        "data:;base64,{}",
        base64::prelude::BASE64_STANDARD.encode(bytes)
    )
}

/// Reads a data URL's payload, decoding base64 or percent-escapes as it goes.
pub(super) struct DataReader<'a> {
    payload: &'a [u8],
    base64: bool,
    pending: Vec<u8>,
    pos: usize,
}

impl<'a> DataReader<'a> {
    pub(super) fn new(s: &'a str) -> Result<Self> {
        let d =
            url::parse_data_url(s).map_err(|e| Error::failed(format!("invalid data URL: {e}")))?;
        Ok(DataReader {
            payload: d.payload.as_bytes(),
            base64: d.base64,
            pending: Vec::new(),
            pos: 0,
        })
    }

    fn refill(&mut self) -> io::Result<()> {
        const CHUNK: usize = 64 * 1024;
        self.pending.clear();
        self.pos = 0;
        if self.payload.is_empty() {
            return Ok(());
        }
        let bad = |e: String| io::Error::new(io::ErrorKind::InvalidData, e);
        if self.base64 {
            // Whole quads only, except at the end.
            let take = if self.payload.len() <= CHUNK {
                self.payload.len()
            } else {
                CHUNK
            };
            let (now, rest) = self.payload.split_at(take);
            let text = std::str::from_utf8(now).map_err(|e| bad(e.to_string()))?;
            let pending = &mut self.pending;
            url::base64_decode_into(text, &mut |c| pending.extend_from_slice(c)).map_err(bad)?;
            self.payload = rest;
        } else {
            let mut take = self.payload.len().min(CHUNK);
            // Do not split a %XX escape.
            while take < self.payload.len()
                && take > 0
                && self.payload[take.saturating_sub(2)..take].contains(&b'%')
            {
                take -= 1;
            }
            let (now, rest) = self.payload.split_at(take);
            let text = std::str::from_utf8(now).map_err(|e| bad(e.to_string()))?;
            self.pending = url::percent_decode(text, false).map_err(bad)?;
            self.payload = rest;
        }
        Ok(())
    }
}

impl Read for DataReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.pending.len() {
            if self.payload.is_empty() {
                return Ok(0);
            }
            self.refill()?;
        }
        let n = out.len().min(self.pending.len() - self.pos);
        out[..n].copy_from_slice(&self.pending[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
