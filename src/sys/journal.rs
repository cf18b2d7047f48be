//! systemd-journald's native protocol: one datagram per entry to
//! `/run/systemd/journal/socket`, fields as `KEY=value` lines (or a length-prefixed binary
//! form when a value holds a newline). Also tells whether a file descriptor is the journal's
//! stdout stream (`$JOURNAL_STREAM`). Encoding and sending only: what to log is `log.rs`'s job.

use std::os::fd::AsFd;
use std::os::unix::net::UnixDatagram;
use std::path::Path;

/// Where journald listens for native entries (under the host root in tests).
pub const SOCKET: &str = "/run/systemd/journal/socket";

/// A connected datagram socket to journald.
#[derive(Debug)]
pub struct Journal {
    sock: UnixDatagram,
}

impl Journal {
    /// Connects to the socket at `path`; `None` when there is no journald listening there.
    pub fn connect(path: &Path) -> Option<Journal> {
        let sock = UnixDatagram::unbound().ok()?;
        sock.connect(path).ok()?;
        Some(Journal { sock })
    }

    /// Sends one entry; the caller decides what a failure means (journald gone, entry too big).
    pub fn send(&self, fields: &[(&str, &str)]) -> std::io::Result<()> {
        let buf = encode(fields);
        self.sock.send(&buf).map(|_| ())
    }
}

/// Encodes an entry. Keys must be journald field names (upper case, digits, `_`, not starting
/// with `_`); a key that is not is dropped rather than corrupting the datagram.
pub fn encode(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in fields {
        if !valid_key(k) {
            continue;
        }
        out.extend_from_slice(k.as_bytes());
        if v.contains('\n') {
            out.push(b'\n');
            out.extend_from_slice(&(v.len() as u64).to_le_bytes());
            out.extend_from_slice(v.as_bytes());
        } else {
            out.push(b'=');
            out.extend_from_slice(v.as_bytes());
        }
        out.push(b'\n');
    }
    out
}

fn valid_key(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 64
        && !k.starts_with('_')
        && !k.starts_with(|c: char| c.is_ascii_digit())
        && k.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// Decodes an entry: what tests check was sent (unit tests and the `testing` feature only).
#[cfg(any(test, feature = "testing"))]
pub fn decode(mut b: &[u8]) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let nl = b.iter().position(|&c| c == b'\n')?;
        let line = &b[..nl];
        if let Some(eq) = line.iter().position(|&c| c == b'=') {
            out.push((
                String::from_utf8_lossy(&line[..eq]).into_owned(),
                String::from_utf8_lossy(&line[eq + 1..]).into_owned(),
            ));
            b = &b[nl + 1..];
        } else {
            let rest = &b[nl + 1..];
            let len = u64::from_le_bytes(rest.get(..8)?.try_into().ok()?) as usize;
            let val = rest.get(8..8 + len)?;
            if rest.get(8 + len) != Some(&b'\n') {
                return None;
            }
            out.push((
                String::from_utf8_lossy(line).into_owned(),
                String::from_utf8_lossy(val).into_owned(),
            ));
            b = &rest[9 + len..];
        }
    }
    Some(out)
}

/// Whether `fd` is the journal stream systemd connected this service's output to:
/// `$JOURNAL_STREAM` holds its `device:inode`.
pub fn is_journal_stream(fd: impl AsFd, journal_stream: Option<&str>) -> bool {
    let Some((dev, ino)) = journal_stream.and_then(|s| s.split_once(':')) else {
        return false;
    };
    let (Ok(dev), Ok(ino)) = (dev.parse::<u64>(), ino.parse::<u64>()) else {
        return false;
    };
    rustix::fs::fstat(fd).is_ok_and(|st| st.st_dev == dev && st.st_ino == ino)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn encode_decode_round_trip() {
        let fields = [
            ("MESSAGE", "one line"),
            ("PRIORITY", "4"),
            ("IGNITION_PATH", "two\nlines"),
            ("lower", "dropped"),
            ("_PID", "dropped"),
        ];
        let b = encode(&fields);
        assert!(b.starts_with(b"MESSAGE=one line\nPRIORITY=4\nIGNITION_PATH\n"));
        assert_eq!(
            decode(&b).unwrap(),
            [
                ("MESSAGE".to_string(), "one line".to_string()),
                ("PRIORITY".into(), "4".into()),
                ("IGNITION_PATH".into(), "two\nlines".into()),
            ]
        );
        assert_eq!(decode(b"MESSAGE\n\x05\0\0\0\0\0\0\0ab"), None);
    }

    #[test]
    fn sends_datagrams_to_a_listening_socket() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().to_path_buf();
        std::fs::create_dir_all(&d).unwrap();
        let path = d.join("socket");
        assert!(Journal::connect(&path).is_none(), "nobody listening");
        let server = UnixDatagram::bind(&path).unwrap();
        let j = Journal::connect(&path).unwrap();
        j.send(&[("MESSAGE", "hello"), ("PRIORITY", "6")]).unwrap();
        let mut buf = vec![0u8; 4096];
        let n = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"MESSAGE=hello\nPRIORITY=6\n");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn journal_stream_matches_device_and_inode() {
        let f = std::fs::File::open("/proc/self/exe").unwrap();
        let m = f.metadata().unwrap();
        let js = format!("{}:{}", m.dev(), m.ino());
        assert!(is_journal_stream(&f, Some(&js)));
        assert!(!is_journal_stream(&f, Some("1:2")));
        assert!(!is_journal_stream(&f, Some("garbage")));
        assert!(!is_journal_stream(&f, None));
    }
}
