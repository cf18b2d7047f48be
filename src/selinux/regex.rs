//! The regular expressions of SELinux file_contexts: the PCRE subset policies use (literals,
//! `.`, bracket classes, groups, `|`, `* + ? {m,n}`, `^ $`, `\d \w \s` and escaped
//! punctuation), matched over bytes with `.` matching any byte, as libselinux compiles them
//! (PCRE2_DOTALL, no UTF). Anything else (backreferences, lookaround, `\b`, POSIX classes)
//! is refused at compile time so the caller can hand the policy to setfiles instead.
//! Matching is a Pike VM without captures: linear in the subject, no backtracking blow-up.

/// A 256-bit byte set.
type Set = [u64; 4];

fn set_has(s: &Set, b: u8) -> bool {
    s[(b >> 6) as usize] & (1 << (b & 63)) != 0
}

/// The one byte of a single-byte set.
fn only_byte(s: &Set) -> Option<u8> {
    if s.iter().map(|w| w.count_ones()).sum::<u32>() != 1 {
        return None;
    }
    let i = s.iter().position(|&w| w != 0)?;
    Some((i * 64) as u8 + s[i].trailing_zeros() as u8)
}

fn set_add(s: &mut Set, lo: u8, hi: u8) {
    for b in lo..=hi {
        s[(b >> 6) as usize] |= 1 << (b & 63);
    }
}

enum Node {
    Empty,
    Bytes(Set),
    Bol,
    Eol,
    Cat(Vec<Node>),
    Alt(Vec<Node>),
    Rep(Box<Node>, u32, Option<u32>),
}

#[derive(Clone, Copy)]
enum Inst {
    Set(u32),
    Split(u32, u32),
    Jmp(u32),
    Bol,
    Eol,
    Match,
}

/// A compiled pattern, searched as PCRE searches it (unanchored unless the pattern anchors).
pub struct Regex {
    prog: Vec<Inst>,
    sets: Vec<Set>,
    /// Every match starts at 0 (the pattern begins with `^` outside any alternation).
    anchored: bool,
    /// Bytes every match starts with (anchored patterns only): a cheap first test.
    prefix: Vec<u8>,
}

/// Program size cap: `{m,n}` copies its operand, and a policy line never needs this much.
const MAX_INSTS: usize = 20_000;

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

type PResult<T> = std::result::Result<T, String>;

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn alt(&mut self, depth: u32) -> PResult<Node> {
        if depth > 64 {
            return Err("groups nested too deeply".into());
        }
        let mut arms = vec![self.cat(depth)?];
        while self.peek() == Some(b'|') {
            self.i += 1;
            arms.push(self.cat(depth)?);
        }
        Ok(if arms.len() == 1 {
            arms.pop().unwrap_or(Node::Empty)
        } else {
            Node::Alt(arms)
        })
    }

    fn cat(&mut self, depth: u32) -> PResult<Node> {
        let mut items = Vec::new();
        while let Some(c) = self.peek() {
            if c == b'|' || c == b')' {
                break;
            }
            let atom = self.atom(depth)?;
            items.push(self.quantified(atom)?);
        }
        Ok(Node::Cat(items))
    }

    fn quantified(&mut self, mut atom: Node) -> PResult<Node> {
        loop {
            let (min, max) = match self.peek() {
                Some(b'{') => match self.counted() {
                    Some(q) => q,
                    None => return Ok(atom),
                },
                Some(c @ (b'*' | b'+' | b'?')) => {
                    self.i += 1;
                    match c {
                        b'*' => (0, None),
                        b'+' => (1, None),
                        _ => (0, Some(1)),
                    }
                }
                _ => return Ok(atom),
            };
            // A lazy `?` after a quantifier changes which match PCRE reports, not whether
            // there is one; a possessive `+` can change that, so it is refused.
            match self.peek() {
                Some(b'?') => self.i += 1,
                Some(b'+') => return Err("possessive quantifier".into()),
                _ => {}
            }
            if matches!(atom, Node::Bol | Node::Eol) {
                return Err("quantified anchor".into());
            }
            atom = Node::Rep(Box::new(atom), min, max);
        }
    }

    /// `{m}`, `{m,}`, `{m,n}` (consumed); `None` (nothing consumed) when the brace is a
    /// literal, as PCRE reads it then.
    fn counted(&mut self) -> Option<(u32, Option<u32>)> {
        let rest = &self.s[self.i + 1..];
        let end = rest.iter().position(|&c| c == b'}')?;
        let body = std::str::from_utf8(&rest[..end]).ok()?;
        let num = |t: &str| -> Option<u32> {
            if t.is_empty() || !t.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            t.parse().ok().filter(|&n| n <= 1000)
        };
        let q = match body.split_once(',') {
            None => {
                let n = num(body)?;
                (n, Some(n))
            }
            Some((a, "")) => (num(a)?, None),
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                if b < a {
                    return None;
                }
                (a, Some(b))
            }
        };
        self.i += end + 2;
        Some(q)
    }

    fn atom(&mut self, depth: u32) -> PResult<Node> {
        let c = self.s[self.i];
        self.i += 1;
        Ok(match c {
            b'(' => {
                if self.peek() == Some(b'?') {
                    if self.s.get(self.i + 1) == Some(&b':') {
                        self.i += 2;
                    } else {
                        return Err("group extension (?...)".into());
                    }
                }
                let inner = self.alt(depth + 1)?;
                if self.peek() != Some(b')') {
                    return Err("unbalanced parenthesis".into());
                }
                self.i += 1;
                inner
            }
            b'[' => Node::Bytes(self.class()?),
            b'.' => Node::Bytes([u64::MAX; 4]),
            b'^' => Node::Bol,
            b'$' => Node::Eol,
            b'\\' => Node::Bytes(self.escape()?),
            b'*' | b'+' | b'?' => return Err("quantifier without operand".into()),
            _ => Node::Bytes(one(c)),
        })
    }

    /// The byte set of the escape after a backslash (outside or inside a class).
    fn escape(&mut self) -> PResult<Set> {
        let Some(c) = self.peek() else {
            return Err("trailing backslash".into());
        };
        self.i += 1;
        let mut s = [0u64; 4];
        match c {
            b'd' | b'D' => set_add(&mut s, b'0', b'9'),
            b'w' | b'W' => {
                set_add(&mut s, b'0', b'9');
                set_add(&mut s, b'a', b'z');
                set_add(&mut s, b'A', b'Z');
                set_add(&mut s, b'_', b'_');
            }
            b's' | b'S' => {
                for b in [b' ', b'\t', b'\n', b'\x0b', b'\x0c', b'\r'] {
                    set_add(&mut s, b, b);
                }
            }
            b'n' => return Ok(one(b'\n')),
            b't' => return Ok(one(b'\t')),
            b'r' => return Ok(one(b'\r')),
            b'f' => return Ok(one(b'\x0c')),
            b'e' => return Ok(one(b'\x1b')),
            c if !c.is_ascii_alphanumeric() => return Ok(one(c)),
            _ => return Err(format!("escape \\{}", c as char)),
        }
        if c.is_ascii_uppercase() {
            for w in &mut s {
                *w = !*w;
            }
        }
        Ok(s)
    }

    fn class(&mut self) -> PResult<Set> {
        let mut s = [0u64; 4];
        let negate = self.peek() == Some(b'^');
        if negate {
            self.i += 1;
        }
        let mut first = true;
        loop {
            let Some(c) = self.peek() else {
                return Err("unterminated class".into());
            };
            if c == b']' && !first {
                self.i += 1;
                break;
            }
            first = false;
            if c == b'[' && matches!(self.s.get(self.i + 1), Some(b':' | b'.' | b'=')) {
                return Err("POSIX class".into());
            }
            self.i += 1;
            let lo = if c == b'\\' {
                let e = self.escape()?;
                match only_byte(&e) {
                    Some(b) => b,
                    None => {
                        for (a, b) in s.iter_mut().zip(e) {
                            *a |= b;
                        }
                        continue;
                    }
                }
            } else {
                c
            };
            // A range, unless the dash is last.
            if self.peek() == Some(b'-') && self.s.get(self.i + 1).is_some_and(|&n| n != b']') {
                self.i += 1;
                let mut hi = self.s[self.i];
                self.i += 1;
                if hi == b'\\' {
                    let e = self.escape()?;
                    hi = only_byte(&e).ok_or("class range ends in a class")?;
                }
                if hi < lo {
                    return Err("class range out of order".into());
                }
                set_add(&mut s, lo, hi);
            } else {
                set_add(&mut s, lo, lo);
            }
        }
        if negate {
            for w in &mut s {
                *w = !*w;
            }
        }
        Ok(s)
    }
}

fn one(c: u8) -> Set {
    let mut s = [0u64; 4];
    set_add(&mut s, c, c);
    s
}

struct Compiler {
    prog: Vec<Inst>,
    sets: Vec<Set>,
}

impl Compiler {
    fn push(&mut self, i: Inst) -> PResult<u32> {
        if self.prog.len() >= MAX_INSTS {
            return Err("pattern too large".into());
        }
        self.prog.push(i);
        Ok((self.prog.len() - 1) as u32)
    }

    fn node(&mut self, n: &Node) -> PResult<()> {
        match n {
            Node::Empty => {}
            Node::Bytes(s) => {
                let idx = match self.sets.iter().position(|x| x == s) {
                    Some(i) => i,
                    None => {
                        self.sets.push(*s);
                        self.sets.len() - 1
                    }
                };
                self.push(Inst::Set(idx as u32))?;
            }
            Node::Bol => {
                self.push(Inst::Bol)?;
            }
            Node::Eol => {
                self.push(Inst::Eol)?;
            }
            Node::Cat(items) => {
                for i in items {
                    self.node(i)?;
                }
            }
            Node::Alt(arms) => {
                let mut jumps = Vec::new();
                for (k, arm) in arms.iter().enumerate() {
                    if k + 1 < arms.len() {
                        let split = self.push(Inst::Split(0, 0))?;
                        self.node(arm)?;
                        jumps.push(self.push(Inst::Jmp(0))?);
                        let next = self.prog.len() as u32;
                        self.prog[split as usize] = Inst::Split(split + 1, next);
                    } else {
                        self.node(arm)?;
                    }
                }
                let end = self.prog.len() as u32;
                for j in jumps {
                    self.prog[j as usize] = Inst::Jmp(end);
                }
            }
            Node::Rep(body, min, max) => {
                for _ in 0..*min {
                    self.node(body)?;
                }
                match max {
                    None => {
                        let split = self.push(Inst::Split(0, 0))?;
                        self.node(body)?;
                        self.push(Inst::Jmp(split))?;
                        let end = self.prog.len() as u32;
                        self.prog[split as usize] = Inst::Split(split + 1, end);
                    }
                    Some(max) => {
                        let mut splits = Vec::new();
                        for _ in *min..*max {
                            splits.push(self.push(Inst::Split(0, 0))?);
                            self.node(body)?;
                        }
                        let end = self.prog.len() as u32;
                        for s in splits {
                            self.prog[s as usize] = Inst::Split(s + 1, end);
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

impl Regex {
    /// Compiles `pattern`; the error says which construct is not supported.
    pub fn new(pattern: &[u8]) -> PResult<Regex> {
        let mut p = Parser { s: pattern, i: 0 };
        let tree = p.alt(0)?;
        if p.i != pattern.len() {
            return Err("unbalanced parenthesis".into());
        }
        // Anchored, and the literal bytes every match starts with, when the top level is a
        // sequence that begins with `^`.
        let (anchored, prefix) = match &tree {
            Node::Cat(items) if matches!(items.first(), Some(Node::Bol)) => {
                let mut prefix = Vec::new();
                for it in &items[1..] {
                    match it {
                        Node::Bytes(s) => match only_byte(s) {
                            Some(b) => prefix.push(b),
                            None => break,
                        },
                        _ => break,
                    }
                }
                (true, prefix)
            }
            _ => (false, Vec::new()),
        };
        let mut c = Compiler {
            prog: Vec::new(),
            sets: Vec::new(),
        };
        c.node(&tree)?;
        c.push(Inst::Match)?;
        Ok(Regex {
            prog: c.prog,
            sets: c.sets,
            anchored,
            prefix,
        })
    }

    /// Whether the pattern matches somewhere in `h` (PCRE's `$` also matches before a final
    /// newline).
    pub fn is_match(&self, h: &[u8], vm: &mut Vm) -> bool {
        if self.anchored && !h.starts_with(&self.prefix) {
            return false;
        }
        vm.reset(self.prog.len());
        let (mut cur, mut next) = (std::mem::take(&mut vm.a), std::mem::take(&mut vm.b));
        let mut found = false;
        for pos in 0..=h.len() {
            if (pos == 0 || !self.anchored) && self.add(&mut cur, vm, 0, pos, h) {
                found = true;
                break;
            }
            if pos == h.len() || (cur.is_empty() && self.anchored) {
                break;
            }
            vm.stamp += 1;
            next.clear();
            for &pc in &cur {
                if let Inst::Set(s) = self.prog[pc as usize] {
                    if set_has(&self.sets[s as usize], h[pos])
                        && self.add(&mut next, vm, pc + 1, pos + 1, h)
                    {
                        found = true;
                        break;
                    }
                }
            }
            if found {
                break;
            }
            // `cur` now holds the threads at `pos + 1`, marked with the current stamp, so
            // the new thread at 0 joins them without duplicates.
            std::mem::swap(&mut cur, &mut next);
        }
        vm.a = cur;
        vm.b = next;
        found
    }

    /// Adds the thread at `pc` (following jumps, splits and anchors at `pos`) to `list`;
    /// true when it reaches Match.
    fn add(&self, list: &mut Vec<u32>, vm: &mut Vm, pc: u32, pos: usize, h: &[u8]) -> bool {
        vm.stack.clear();
        vm.stack.push(pc);
        while let Some(pc) = vm.stack.pop() {
            let seen = &mut vm.seen[pc as usize];
            if *seen == vm.stamp {
                continue;
            }
            *seen = vm.stamp;
            match self.prog[pc as usize] {
                Inst::Match => return true,
                Inst::Set(_) => list.push(pc),
                Inst::Jmp(t) => vm.stack.push(t),
                Inst::Split(a, b) => {
                    vm.stack.push(b);
                    vm.stack.push(a);
                }
                Inst::Bol => {
                    if pos == 0 {
                        vm.stack.push(pc + 1);
                    }
                }
                Inst::Eol => {
                    if pos == h.len() || (pos + 1 == h.len() && h[pos] == b'\n') {
                        vm.stack.push(pc + 1);
                    }
                }
            }
        }
        false
    }
}

/// Scratch space for matching, reused across patterns and subjects.
#[derive(Default)]
pub struct Vm {
    a: Vec<u32>,
    b: Vec<u32>,
    stack: Vec<u32>,
    seen: Vec<u32>,
    stamp: u32,
}

impl Vm {
    fn reset(&mut self, n: usize) {
        if self.seen.len() < n || self.stamp > u32::MAX - 1_000_000 {
            self.seen = vec![0; n.max(self.seen.len())];
            self.stamp = 0;
        }
        self.stamp += 1;
        self.a.clear();
        self.b.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, h: &str) -> bool {
        Regex::new(format!("^{p}$").as_bytes())
            .unwrap()
            .is_match(h.as_bytes(), &mut Vm::default())
    }

    #[test]
    fn policy_shapes() {
        assert!(m("/etc/foo(/.*)?", "/etc/foo"));
        assert!(m("/etc/foo(/.*)?", "/etc/foo/a/b"));
        assert!(!m("/etc/foo(/.*)?", "/etc/foobar"));
        assert!(m("/usr/lib/[^/]+\\.so(\\.[0-9]+)*", "/usr/lib/libx.so.1.2"));
        assert!(!m("/usr/lib/[^/]+\\.so(\\.[0-9]+)*", "/usr/lib/a/libx.so"));
        assert!(m("/dev/tty[0-9]{1,2}", "/dev/tty12"));
        assert!(!m("/dev/tty[0-9]{1,2}", "/dev/tty123"));
        assert!(m("/dev/(a|bc|)x", "/dev/x"));
        assert!(m("/a\\+b", "/a+b"));
        assert!(m("/x[]a]", "/x]"));
        assert!(m("/x[a-]", "/x-"));
        assert!(m("/\\d+", "/123") && !m("/\\d+", "/12a"));
        assert!(m("/x{", "/x{"), "a brace that is no quantifier is literal");
        assert!(m("/a.b", "/a\nb"), "dot matches newline (DOTALL)");
        assert!(m("/a", "/a\n"), "$ matches before a final newline");
        assert!(m("(a*)*b", "aaab"));
        assert!(m("/x+?y", "/xxy"));
    }

    #[test]
    fn single_byte_sets_and_escaped_ranges() {
        for b in [0u8, 1, 63, 64, 127, 128, 200, 255] {
            assert_eq!(only_byte(&one(b)), Some(b));
        }
        assert_eq!(only_byte(&[0; 4]), None);
        assert!(m(r"/[\.-z]", "/y") && m(r"/[a\-]", "/-") && !m(r"/[a\-]", "/b"));
        assert!(m(r"/[\.-\/]", "/.") && m(r"/[\.-\/]", "//"));
        assert!(
            Regex::new(br"[a-\d]").is_err(),
            "a range cannot end in a class"
        );
        assert!(
            Regex::new(br"\x41").is_err(),
            "hex escapes are left to setfiles"
        );
    }

    #[test]
    fn top_level_alternation_is_not_anchored_on_both_ends() {
        // "^/a|/b$": anything starting /a, or ending /b.
        let r = Regex::new(b"^/a|/b$").unwrap();
        let vm = &mut Vm::default();
        assert!(r.is_match(b"/a/zzz", vm));
        assert!(r.is_match(b"/zzz/b", vm));
        assert!(!r.is_match(b"/zzz/c", vm));
    }

    #[test]
    fn unsupported_constructs_are_refused() {
        for p in [
            "(a)\\1",
            "(?=a)",
            "\\bx",
            "[[:alpha:]]",
            "a++",
            "(a",
            "a)",
            "*a",
            "\\",
        ] {
            assert!(Regex::new(p.as_bytes()).is_err(), "{p}");
        }
    }

    #[test]
    fn long_subjects_stay_linear() {
        let r = Regex::new(b"^(a|a)*(a|a)*b$").unwrap();
        assert!(!r.is_match(&[b'a'; 5000], &mut Vm::default()));
    }
}
