//! URL checks with the acceptance rules of Go's `net/url.Parse` (what Ignition validates with),
//! and RFC 2397 `data:` URL decoding. Pure functions: nothing here touches the network.

/// The parts of a URL the config engine needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url<'a> {
    /// Lowercased, as Go does.
    pub scheme: std::borrow::Cow<'a, str>,
    /// Text after `scheme:` when it does not start with `/` (`data:`, `arn:`).
    pub opaque: Option<&'a str>,
    pub host: &'a str,
    pub path: &'a str,
    pub raw_query: &'a str,
}

fn is_hex(b: u8) -> bool {
    b.is_ascii_hexdigit()
}

/// Checks `%XX` escapes. `host` applies Go's stricter host alphabet.
fn check_escapes(s: &str, host: bool) -> Result<(), String> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                if i + 2 >= b.len() {
                    return Err(format!("invalid URL escape {:?}", &s[i..]));
                }
                if !is_hex(b[i + 1]) || !is_hex(b[i + 2]) {
                    let end = (i + 3).min(s.len());
                    return Err(format!(
                        "invalid URL escape {:?}",
                        s.get(i..end).unwrap_or("%")
                    ));
                }
                i += 3;
            }
            c if host && c < 0x80 && !host_char_ok(c) => {
                return Err(format!("invalid character {:?} in host name", c as char));
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// Characters Go's `shouldEscape(c, encodeHost)` leaves alone.
fn host_char_ok(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            b'-' | b'_'
                | b'.'
                | b'~'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'['
                | b']'
                | b'<'
                | b'>'
                | b'"'
        )
}

fn userinfo_ok(s: &str) -> bool {
    s.bytes().all(|c| {
        c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'-' | b'.'
                    | b'_'
                    | b':'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b'%'
                    | b'@'
            )
            || c >= 0x80
    })
}

/// Whether `b` has a byte below 0x20 or 0x7f, eight bytes at a time (URLs in configs carry
/// whole files as data URLs, so this runs over every byte of them).
fn has_control(b: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    let mut words = b.chunks_exact(8);
    for w in &mut words {
        let mut a = [0u8; 8];
        a.copy_from_slice(w);
        let x = u64::from_ne_bytes(a);
        // A byte below 0x20 (exact as a whole-word test for a bound up to 0x80), or a byte
        // equal to 0x7f (a zero byte after the xor).
        let below = x.wrapping_sub(ONES * 0x20) & !x & HIGH;
        let y = x ^ (ONES * 0x7f);
        let del = y.wrapping_sub(ONES) & !y & HIGH;
        if below | del != 0 {
            return true;
        }
    }
    words.remainder().iter().any(|&c| c < 0x20 || c == 0x7f)
}

/// Parses like Go's `url.Parse`; the error text is for humans, not compared.
pub fn parse(raw: &str) -> Result<Url<'_>, String> {
    if has_control(raw.as_bytes()) {
        return Err("invalid control character in URL".into());
    }
    let (u, frag) = match raw.split_once('#') {
        Some((u, f)) => (u, Some(f)),
        None => (raw, None),
    };
    if let Some(f) = frag {
        check_escapes(f, false)?;
    }
    let (scheme, rest) = split_scheme(u)?;
    let scheme: std::borrow::Cow<'_, str> = if scheme.bytes().any(|b| b.is_ascii_uppercase()) {
        scheme.to_ascii_lowercase().into()
    } else {
        scheme.into()
    };
    let (rest, raw_query) = if rest.ends_with('?') && rest.matches('?').count() == 1 {
        (&rest[..rest.len() - 1], "")
    } else {
        match rest.split_once('?') {
            Some((r, q)) => (r, q),
            None => (rest, ""),
        }
    };
    if !rest.starts_with('/') {
        if !scheme.is_empty() {
            return Ok(Url {
                scheme,
                opaque: Some(rest),
                host: "",
                path: "",
                raw_query,
            });
        }
        let first = rest.split('/').next().unwrap_or("");
        if first.contains(':') {
            return Err("first path segment in URL cannot contain colon".into());
        }
    }
    let mut host = "";
    let mut path = rest;
    if (!scheme.is_empty() || !rest.starts_with("///")) && rest.starts_with("//") {
        let after = &rest[2..];
        let (authority, p) = match after.find('/') {
            Some(i) => (&after[..i], &after[i..]),
            None => (after, ""),
        };
        path = p;
        let hostport = match authority.rfind('@') {
            Some(i) => {
                if !userinfo_ok(&authority[..i]) {
                    return Err("invalid userinfo".into());
                }
                &authority[i + 1..]
            }
            None => authority,
        };
        check_host(hostport)?;
        host = hostport;
    }
    check_escapes(path, false)?;
    Ok(Url {
        scheme,
        opaque: None,
        host,
        path,
        raw_query,
    })
}

fn split_scheme(u: &str) -> Result<(&str, &str), String> {
    for (i, c) in u.bytes().enumerate() {
        match c {
            b'a'..=b'z' | b'A'..=b'Z' => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' => {
                if i == 0 {
                    return Ok(("", u));
                }
            }
            b':' => {
                if i == 0 {
                    return Err("missing protocol scheme".into());
                }
                return Ok((&u[..i], &u[i + 1..]));
            }
            _ => return Ok(("", u)),
        }
    }
    Ok(("", u))
}

fn check_host(hostport: &str) -> Result<(), String> {
    if let Some(rest) = hostport.strip_prefix('[') {
        let Some(end) = rest.find(']') else {
            return Err("missing ']' in host".into());
        };
        let after = &rest[end + 1..];
        if !after.is_empty() {
            let Some(port) = after.strip_prefix(':') else {
                return Err(format!("invalid port {after:?} after host"));
            };
            if !port.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("invalid port {after:?} after host"));
            }
        }
        return check_escapes(&rest[..end], true);
    }
    let (host, port) = match hostport.rfind(':') {
        Some(i) => (&hostport[..i], Some(&hostport[i + 1..])),
        None => (hostport, None),
    };
    if let Some(p) = port {
        if !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("invalid port \":{p}\" after host"));
        }
    }
    check_escapes(host, true)
}

/// An S3 object named by an ARN: the one grammar shared by validation and the fetcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Arn<'a> {
    /// `aws`, `aws-cn`, ... (may be empty, as Go's arn.Parse allows).
    pub partition: &'a str,
    /// Empty when the ARN names none (bucket ARNs usually do not).
    pub region: &'a str,
    pub account: &'a str,
    /// The bucket, or the access point's name.
    pub bucket: &'a str,
    pub access_point: bool,
    /// The object key as written (ARNs are opaque: not percent-decoded).
    pub key: &'a str,
}

/// Parses `arn:PARTITION:s3:REGION:ACCOUNT:RESOURCE[?query]` naming an object:
/// - a bucket: `RESOURCE` = `bucket/key`; as Ignition's fetcher does, the bucket is the text
///   after the last `:` before the first `/`, so `arn:aws:s3:us-west-2:123456789012:b/k`
///   names bucket `b` (in us-west-2);
/// - an access point: `accesspoint/NAME/object/KEY` with a region and an account.
///
/// The key must not be empty: shapes that upstream's validator accepts but its fetcher then
/// refuses (`bucket/`, `accesspoint/ap/`, `accesspoint/ap/some/nested/object`) are refused
/// here, at validation.
pub fn parse_s3_arn(s: &str) -> Result<S3Arn<'_>, &'static str> {
    let body = s.split(['?', '#']).next().unwrap_or("");
    let parts: Vec<&str> = body.splitn(6, ':').collect();
    if parts.len() != 6 || parts[0] != "arn" {
        return Err("not an ARN");
    }
    if parts[2] != "s3" {
        return Err("not an S3 ARN");
    }
    let (partition, region, account, resource) = (parts[1], parts[3], parts[4], parts[5]);
    if let Some(rest) = resource.strip_prefix("accesspoint/") {
        let mut segs = rest.splitn(3, '/');
        let (name, object, key) = (segs.next(), segs.next(), segs.next());
        let (Some(name), Some("object"), Some(key)) = (name, object, key) else {
            return Err("expected accesspoint/NAME/object/KEY");
        };
        if name.is_empty() || key.is_empty() {
            return Err("expected accesspoint/NAME/object/KEY");
        }
        if region.is_empty() || account.is_empty() {
            return Err("an access point ARN needs a region and an account");
        }
        return Ok(S3Arn {
            partition,
            region,
            account,
            bucket: name,
            access_point: true,
            key,
        });
    }
    let Some(slash) = body.find('/') else {
        return Err("no object key");
    };
    let (head, key) = (&body[..slash], &body[slash + 1..]);
    let bucket = head.rsplit(':').next().unwrap_or("");
    if bucket.is_empty() || key.is_empty() {
        return Err("expected BUCKET/KEY");
    }
    Ok(S3Arn {
        partition,
        region,
        account,
        bucket,
        access_point: false,
        key,
    })
}

/// Query parameters, decoded like Go's `url.ParseQuery` (invalid pairs are skipped).
pub fn query_values(raw: &str, key: &str) -> Vec<String> {
    raw.split('&')
        .filter(|p| !p.is_empty() && !p.contains(';'))
        .filter_map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let k = percent_decode(k, true).ok()?;
            let v = percent_decode(v, true).ok()?;
            (String::from_utf8_lossy(&k) == key).then(|| String::from_utf8_lossy(&v).into_owned())
        })
        .collect()
}

/// Decodes `%XX` escapes (and `+` as space when `plus` is set).
pub fn percent_decode(s: &str, plus: bool) -> Result<Vec<u8>, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                if i + 2 >= b.len() || !is_hex(b[i + 1]) || !is_hex(b[i + 2]) {
                    return Err("invalid URL escape".into());
                }
                let hi = (b[i + 1] as char).to_digit(16).unwrap_or(0);
                let lo = (b[i + 2] as char).to_digit(16).unwrap_or(0);
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            b'+' if plus => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// A parsed `data:` URL header; the payload is left where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataUrl<'a> {
    pub media_type: String,
    pub base64: bool,
    pub payload: &'a str,
}

fn is_token_char(c: u8) -> bool {
    c.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?=".contains(&c)
}

/// Splits a data URL into media type, encoding and payload, checking the header's grammar
/// and the payload's characters.
pub fn parse_data_url(s: &str) -> Result<DataUrl<'_>, String> {
    let d = split_data_url(s)?;
    check_data_chars(d.payload)?;
    Ok(d)
}

/// [`parse_data_url`] without the payload's characters.
fn split_data_url(s: &str) -> Result<DataUrl<'_>, String> {
    let rest = s
        .get(..5)
        .filter(|p| p.eq_ignore_ascii_case("data:"))
        .map(|_| &s[5..])
        .ok_or("missing data prefix")?;
    let comma = rest.find(',').ok_or("missing comma")?;
    let (header, payload) = (&rest[..comma], &rest[comma + 1..]);
    let mut parts = header.split(';');
    let mt = parts.next().unwrap_or("");
    let mut media_type = String::new();
    if !mt.is_empty() {
        let (t, sub) = mt.split_once('/').ok_or("invalid media type")?;
        if t.is_empty()
            || sub.is_empty()
            || !t.bytes().all(is_token_char)
            || !sub.bytes().all(is_token_char)
        {
            return Err("invalid media type".into());
        }
        media_type = mt.to_ascii_lowercase();
    }
    let mut base64 = false;
    let params: Vec<&str> = parts.collect();
    for (i, p) in params.iter().enumerate() {
        if i == params.len() - 1 && *p == "base64" {
            base64 = true;
            continue;
        }
        let (k, v) = p.split_once('=').ok_or("invalid media type parameter")?;
        let quoted = v.len() >= 2 && v.starts_with('"') && v.ends_with('"');
        if k.is_empty()
            || !k.bytes().all(is_token_char)
            || (!quoted && (v.is_empty() || !v.bytes().all(is_token_char)))
        {
            return Err("invalid media type parameter".into());
        }
    }
    Ok(DataUrl {
        media_type,
        base64,
        payload,
    })
}

/// Byte classes for the hot loops over (possibly huge) data URL payloads.
const URLCHAR: u8 = 1;
const BASE64: u8 = 2;

const fn byte_classes() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        let alnum = b.is_ascii_alphanumeric();
        let mut k = 0;
        let mark = b"-_.!~*'();/?:@&=+$,";
        let mut is_mark = false;
        while k < mark.len() {
            if mark[k] == b {
                is_mark = true;
            }
            k += 1;
        }
        if alnum || is_mark {
            t[c] |= URLCHAR;
        }
        if alnum || b == b'+' || b == b'/' {
            t[c] |= BASE64;
        }
        c += 1;
    }
    t
}

static CLASSES: [u8; 256] = byte_classes();

/// RFC 2397's `data := *urlchar` (RFC 2396 reserved, unreserved or `%XX`), as Ignition's
/// data URL parser enforces it: `data:,{}` is refused, `data:,%7B%7D` is fine.
fn check_data_chars(payload: &str) -> Result<(), String> {
    let b = payload.as_bytes();
    // Most payloads (base64, plain text) have no escape: one branch-free pass decides.
    if b.iter().fold(URLCHAR, |acc, &c| acc & CLASSES[c as usize]) != 0 {
        return Ok(());
    }
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'%' {
            if i + 2 >= b.len() || !is_hex(b[i + 1]) || !is_hex(b[i + 2]) {
                return Err("invalid data character".into());
            }
            i += 3;
            continue;
        }
        if CLASSES[c as usize] & URLCHAR == 0 {
            return Err("invalid data character".into());
        }
        i += 1;
    }
    Ok(())
}

/// Standard base64 (with padding; CR and LF ignored), streaming into `out` in chunks.
pub fn base64_decode_into(s: &str, out: &mut dyn FnMut(&[u8])) -> Result<(), String> {
    let mut quad = [0u8; 4];
    let mut n = 0;
    // On the stack: decoding thousands of small payloads allocates nothing.
    let mut buf = [0u8; 8192];
    let mut len = 0;
    let mut pad = 0;
    for &c in s.as_bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'\r' | b'\n' => continue,
            b'=' => {
                pad += 1;
                if n < 2 || pad > 2 {
                    return Err("illegal base64 data".into());
                }
                quad[n] = 0;
                n += 1;
                if n == 4 {
                    let bytes = [quad[0] << 2 | quad[1] >> 4, quad[1] << 4 | quad[2] >> 2];
                    // A padded quad ends the data; a full buffer was flushed below.
                    if len + 3 > buf.len() {
                        out(&buf[..len]);
                        len = 0;
                    }
                    buf[len..len + 3 - pad].copy_from_slice(&bytes[..3 - pad]);
                    len += 3 - pad;
                    n = 0;
                }
                continue;
            }
            _ => return Err("illegal base64 data".into()),
        };
        if pad > 0 {
            return Err("illegal base64 data".into());
        }
        quad[n] = v;
        n += 1;
        if n == 4 {
            buf[len] = quad[0] << 2 | quad[1] >> 4;
            buf[len + 1] = quad[1] << 4 | quad[2] >> 2;
            buf[len + 2] = quad[2] << 6 | quad[3];
            len += 3;
            n = 0;
            if len + 3 > buf.len() {
                out(&buf[..len]);
                len = 0;
            }
        }
    }
    if n != 0 {
        return Err("illegal base64 data".into());
    }
    out(&buf[..len]);
    Ok(())
}

/// Decodes a whole data URL's payload into memory (for configs, CAs and small files).
pub fn decode_data_url(s: &str) -> Result<Vec<u8>, String> {
    let d = parse_data_url(s)?;
    if d.base64 {
        let mut v = Vec::with_capacity(d.payload.len() / 4 * 3);
        base64_decode_into(d.payload, &mut |c| v.extend_from_slice(c))?;
        Ok(v)
    } else {
        percent_decode(d.payload, false)
    }
}

/// Checks a data URL without decoding it: the header's grammar, the payload's characters and,
/// for base64, the shape of the padding (the characters were checked already).
pub fn check_data_url(s: &str) -> Result<(), String> {
    let d = split_data_url(s)?;
    // Well-formed base64 is made of URL characters: one pass over the payload settles both.
    if d.base64 && base64_shape_ok(d.payload) {
        return Ok(());
    }
    check_data_chars(d.payload)?;
    if d.base64 {
        return Err("illegal base64 data".into());
    }
    Ok(())
}

/// Whether `payload` is padded base64: whole quads, at most two `=`, the alphabet before them.
fn base64_shape_ok(payload: &str) -> bool {
    let b = payload.as_bytes();
    let pad = b.iter().rev().take_while(|&&c| c == b'=').count();
    let body = &b[..b.len() - pad];
    b.len() % 4 == 0
        && pad <= 2
        && body
            .iter()
            .fold(BASE64, |acc, &c| acc & CLASSES[c as usize])
            != 0
}

#[cfg(test)]
mod tests;
