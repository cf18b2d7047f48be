//! Kernel-argument editing for `kernelArguments`: each entry may hold several space-separated
//! arguments that must appear together, in order. `shouldExist` appends a missing sequence;
//! `shouldNotExist` removes every occurrence. Pure and idempotent.

/// Splits a command line into arguments, keeping double-quoted values together.
fn split(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in s.chars() {
        if c == '"' {
            quoted = !quoted;
            cur.push(c);
        } else if c.is_whitespace() && !quoted {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        } else {
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn find(hay: &[String], needle: &[String]) -> Option<usize> {
    if needle.is_empty() || needle.len() > hay.len() {
        return None;
    }
    (0..=hay.len() - needle.len()).find(|&i| hay[i..i + needle.len()] == *needle)
}

/// Applies the config's rules to one `options` line; returns the new line.
pub fn edit(options: &str, should_exist: &[String], should_not_exist: &[String]) -> String {
    let mut args = split(options);
    for e in should_not_exist {
        let seq = split(e);
        while let Some(i) = find(&args, &seq) {
            args.drain(i..i + seq.len());
        }
    }
    for e in should_exist {
        let seq = split(e);
        if !seq.is_empty() && find(&args, &seq).is_none() {
            args.extend(seq);
        }
    }
    args.join(" ")
}

/// Rewrites the `options` line of a BLS entry; `None` when nothing changes.
pub fn edit_bls_entry(
    entry: &str,
    should_exist: &[String],
    should_not_exist: &[String],
) -> Option<String> {
    let mut found = false;
    let mut changed = false;
    let mut out = String::with_capacity(entry.len() + 64);
    for line in entry.split_inclusive('\n') {
        let body = line.trim_end_matches('\n');
        if let Some(rest) = body.strip_prefix("options") {
            if rest.is_empty() || rest.starts_with(char::is_whitespace) {
                found = true;
                let new = edit(rest.trim(), should_exist, should_not_exist);
                if new != rest.trim() {
                    changed = true;
                }
                out.push_str("options ");
                out.push_str(&new);
                out.push_str(if line.ends_with('\n') { "\n" } else { "" });
                continue;
            }
        }
        out.push_str(line);
    }
    if !found {
        let new = edit("", should_exist, should_not_exist);
        if new.is_empty() {
            return None;
        }
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&format!("options {new}\n"));
        changed = true;
    }
    changed.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn appends_missing_and_removes_unwanted() {
        assert_eq!(
            edit(
                "root=UUID=x rw quiet",
                &s(&["console=ttyS0"]),
                &s(&["quiet"])
            ),
            "root=UUID=x rw console=ttyS0"
        );
    }

    #[test]
    fn multi_word_entries_are_ordered_sequences() {
        // "a b" exists only as a sequence: "b a" does not satisfy it.
        assert_eq!(edit("b a", &s(&["a b"]), &[]), "b a a b");
        assert_eq!(edit("x a b y", &s(&["a b"]), &[]), "x a b y");
        assert_eq!(edit("x a b y a b", &[], &s(&["a b"])), "x y");
        assert_eq!(
            edit("a x b", &[], &s(&["a b"])),
            "a x b",
            "not a sequence: left alone"
        );
    }

    #[test]
    fn idempotent() {
        let once = edit(
            "ro quiet",
            &s(&["console=tty0 console=ttyS0,115200"]),
            &s(&["quiet"]),
        );
        let twice = edit(
            &once,
            &s(&["console=tty0 console=ttyS0,115200"]),
            &s(&["quiet"]),
        );
        assert_eq!(once, twice);
    }

    #[test]
    fn quoted_values_stay_whole() {
        assert_eq!(edit(r#"a="x y" b"#, &[], &s(&["b"])), r#"a="x y""#);
    }

    #[test]
    fn bls_entries() {
        let e = "title NestOS\nversion 1\nlinux /vmlinuz\noptions root=UUID=x rw\ninitrd /initrd\n";
        let new = edit_bls_entry(e, &s(&["console=ttyS0"]), &[]).unwrap();
        assert_eq!(new, "title NestOS\nversion 1\nlinux /vmlinuz\noptions root=UUID=x rw console=ttyS0\ninitrd /initrd\n");
        assert_eq!(
            edit_bls_entry(&new, &s(&["console=ttyS0"]), &[]),
            None,
            "no change, no rewrite"
        );
        assert_eq!(
            edit_bls_entry("title x\n", &s(&["a"]), &[]).unwrap(),
            "title x\noptions a\n"
        );
    }
}
