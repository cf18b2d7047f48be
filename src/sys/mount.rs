//! /proc/self/mountinfo, parsed: which devices are mounted where. Pure parsing; callers read
//! the file (through `HostPaths`) and decide what a mount means for them.

/// One line of mountinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    /// `major:minor` of the mounted filesystem's device.
    pub devno: String,
    pub target: String,
    pub fstype: String,
    pub source: String,
}

/// Undoes the kernel's octal escapes (`\040` for a space) in mountinfo paths.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses mountinfo text; malformed lines are skipped.
pub fn parse_mountinfo(text: &str) -> Vec<MountEntry> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let l: Vec<&str> = left.split(' ').collect();
        let r: Vec<&str> = right.split(' ').collect();
        if l.len() < 5 || r.len() < 2 {
            continue;
        }
        out.push(MountEntry {
            devno: l[2].to_string(),
            target: unescape(l[4]),
            fstype: r[0].to_string(),
            source: unescape(r[1]),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lines_and_escapes() {
        let t = "36 35 98:0 / /sysroot rw,noatime master:1 - ext4 /dev/vda4 rw\n\
                 37 36 0:45 / /sysroot/my\\040dir rw - tmpfs tmpfs rw\n\
                 garbage\n";
        let m = parse_mountinfo(t);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].devno, "98:0");
        assert_eq!(m[0].target, "/sysroot");
        assert_eq!(m[0].source, "/dev/vda4");
        assert_eq!(m[0].fstype, "ext4");
        assert_eq!(m[1].target, "/sysroot/my dir");
    }
}
