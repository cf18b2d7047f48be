//! Data URLs as Butane writes them: the shortest of percent-encoding, base64 and gzip+base64.

use std::io::Write;

/// The shortest of a percent-encoded, base64 and (when allowed) gzip+base64 data URL, and
/// the compression to record ("" or "gzip").
pub fn data_url(contents: &[u8], allow_gzip: bool) -> (String, &'static str) {
    let mut opaque = String::from(",");
    for &b in contents {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            opaque.push(b as char);
        } else {
            opaque.push_str(&format!("%{b:02X}"));
        }
    }
    let b64 = format!(";base64,{}", base64(contents));
    if b64.len() < opaque.len() {
        opaque = b64;
    }
    let mut compression = "";
    if allow_gzip {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        if enc.write_all(contents).is_ok() {
            if let Ok(gz) = enc.finish() {
                let gz = format!(";base64,{}", base64(&gz));
                if gz.len() + "gzip".len() < opaque.len() {
                    opaque = gz;
                    compression = "gzip";
                }
            }
        }
    }
    (format!("data:{opaque}"), compression)
}

fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | (u32::from(b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                s.push(T[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_shortest_encoding() {
        // Text: percent-encoding, Go's unreserved set kept as is.
        assert_eq!(
            data_url(b"a b~*'()!", true),
            ("data:,a%20b~*'()!".into(), "")
        );
        // Binary: base64 is shorter than %XX for every byte.
        assert_eq!(
            data_url(&[0xff; 6], true),
            ("data:;base64,////////".into(), "")
        );
        assert_eq!(data_url(&[0xff; 3], true), ("data:,%FF%FF%FF".into(), ""));
        // Repetitive: gzip wins, unless compression is not allowed.
        let (url, comp) = data_url(&[b'a'; 1000], true);
        assert_eq!(comp, "gzip");
        assert!(url.starts_with("data:;base64,H4sI"), "{url}");
        assert_eq!(data_url(&[b'a'; 1000], false).1, "");
        assert_eq!(data_url(b"", true), ("data:,".into(), ""));
    }
}
