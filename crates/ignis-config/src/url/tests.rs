//! Tests of URL, S3 ARN and data URL parsing.

use super::*;

/// Decoding across the 8 KiB output blocks, with each padding length.
#[test]
fn base64_across_blocks() {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for len in [0usize, 1, 2, 3, 8189, 8190, 8191, 8192, 8193, 20000] {
        let data: Vec<u8> = (0..len).map(|i| (i * 7 + i / 255) as u8).collect();
        let mut enc = String::new();
        for c in data.chunks(3) {
            let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
            let v = [
                b[0] >> 2,
                (b[0] & 3) << 4 | b[1] >> 4,
                (b[1] & 15) << 2 | b[2] >> 6,
                b[2] & 63,
            ];
            for (k, x) in v.iter().enumerate() {
                enc.push(if k <= c.len() {
                    T[*x as usize] as char
                } else {
                    '='
                });
            }
        }
        let mut out = Vec::new();
        base64_decode_into(&enc, &mut |c| out.extend_from_slice(c)).unwrap();
        assert_eq!(out, data, "{len} bytes");
    }
}

#[test]
fn go_like_parsing() {
    let u = parse("HTTP://example.com:8080/a%20b?x=1#f").unwrap();
    assert_eq!(u.scheme, "http");
    assert_eq!(u.host, "example.com:8080");
    assert_eq!(u.path, "/a%20b");
    assert_eq!(u.raw_query, "x=1");
    assert_eq!(parse("data:,foo").unwrap().opaque, Some(",foo"));
    assert_eq!(parse("/just/a/path").unwrap().scheme, "");
    assert_eq!(parse("").unwrap().scheme, "");
    assert!(parse("http://exa mple.com/").is_err());
    assert!(parse("http://example.com:port/").is_err());
    assert!(parse("http://example.com/%zz").is_err());
    assert!(parse(":foo").is_err());
    assert!(
        parse("a b:c").is_err(),
        "first segment with colon and no scheme"
    );
    assert!(parse("http://x/\n").is_err());
    assert!(parse("http://[::1]:69/x").is_ok());
}

#[test]
fn queries() {
    assert_eq!(
        query_values("versionId=&a=b", "versionId"),
        vec![String::new()]
    );
    assert_eq!(
        query_values("versionId=v1", "versionId"),
        vec!["v1".to_string()]
    );
    assert!(query_values("a=b", "versionId").is_empty());
}

#[test]
fn data_urls() {
    assert_eq!(
        decode_data_url("data:,hello%20world").unwrap(),
        b"hello world"
    );
    assert_eq!(decode_data_url("data:;base64,aGVsbG8=").unwrap(), b"hello");
    assert_eq!(
        decode_data_url("data:text/plain;charset=utf-8;base64,aGk=").unwrap(),
        b"hi"
    );
    assert_eq!(
        decode_data_url("data:text/plain;charset=\"utf-8\",x").unwrap(),
        b"x"
    );
    assert!(decode_data_url("data:foo").is_err());
    assert!(decode_data_url("data:;base64,aGVsbG8").is_err());
    for bad in [
        "data:;base64,aGVsbG8",
        "data:;base64,a===",
        "data:;base64,aG=sbG8=",
    ] {
        assert!(check_data_url(bad).is_err(), "{bad}");
    }
    assert!(check_data_url("data:;base64,aGVsbG8=").is_ok());
    assert!(check_data_url("data:,a%20b").is_ok());
    assert!(decode_data_url("data:;base64,a===").is_err());
    assert!(decode_data_url("data:,%zz").is_err());
    assert!(decode_data_url("data:text,x").is_err());
    assert!(decode_data_url("http:,x").is_err());
    assert!(decode_data_url("data:,{}").is_err());
    assert!(decode_data_url("data:,a b").is_err());
    assert_eq!(decode_data_url("data:,%7B%7D").unwrap(), b"{}");
}

#[test]
fn control_bytes_are_found_anywhere_in_a_word() {
    for len in 0..20 {
        let clean = vec![b'a'; len];
        assert!(!has_control(&clean), "{len}");
        for at in 0..len {
            for bad in [0u8, 0x09, 0x1f, 0x7f] {
                let mut v = clean.clone();
                v[at] = bad;
                assert!(has_control(&v), "{len} {at} {bad:#x}");
            }
            for ok in [0x20u8, 0x7e, 0x80, 0xff, b'%'] {
                let mut v = clean.clone();
                v[at] = ok;
                assert!(!has_control(&v), "{len} {at} {ok:#x}");
            }
        }
    }
}

#[test]
fn control_check_agrees_with_the_plain_loop() {
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    for _ in 0..20_000 {
        let len = (seed % 24) as usize;
        let v: Vec<u8> = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                // Mostly printable and high bytes, sometimes a control byte or DEL.
                match seed % 16 {
                    0 => (seed >> 8) as u8 % 0x20,
                    1 => 0x7f,
                    _ => 0x20 + (seed >> 8) as u8 % 0xe0,
                }
            })
            .collect();
        let want = v.iter().any(|&c| c < 0x20 || c == 0x7f);
        assert_eq!(has_control(&v), want, "{v:?}");
    }
}
