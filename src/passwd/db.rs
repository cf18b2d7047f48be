//! The six account databases (/etc/passwd, shadow, group, gshadow, subuid, subgid) as
//! shadow-utils' commonio keeps them: a list of lines, each parsed if it can be, where untouched
//! lines are written back byte for byte and only changed entries are re-rendered. Pure data.

/// One entry type of a colon-separated database.
pub trait Entry: Clone {
    fn parse(line: &str) -> Option<Self>;
    fn render(&self) -> String;
    fn key(&self) -> &str;
}

#[derive(Clone, Debug)]
struct Line<T> {
    /// The original text (no newline); `None` for entries we added.
    text: Option<String>,
    ent: Option<T>,
    changed: bool,
}

/// A database file held as lines, in file order.
#[derive(Clone, Debug)]
pub struct Db<T> {
    lines: Vec<Line<T>>,
    original: Vec<u8>,
    present: bool,
}

impl<T: Entry> Db<T> {
    /// Parses a file's contents; `None` means the file does not exist.
    pub fn load(bytes: Option<&[u8]>) -> Self {
        let present = bytes.is_some();
        let original = bytes.unwrap_or_default().to_vec();
        let text = String::from_utf8_lossy(&original).into_owned();
        let mut lines = Vec::new();
        let mut rest = text.as_str();
        while !rest.is_empty() {
            let (line, next) = match rest.find('\n') {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, ""),
            };
            lines.push(Line {
                text: Some(line.to_string()),
                ent: T::parse(line),
                changed: false,
            });
            rest = next;
        }
        Db {
            lines,
            original,
            present,
        }
    }

    pub fn present(&self) -> bool {
        self.present
    }

    /// Parsed entries in file order.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.lines.iter().filter_map(|l| l.ent.as_ref())
    }

    /// The first entry with this name, as commonio's `locate` finds it.
    pub fn locate(&self, key: &str) -> Option<&T> {
        self.iter().find(|e| e.key() == key)
    }

    /// Replaces the first entry with the same name, or adds a new one: at the end, or before the
    /// first NIS `+`/`-` line if the file has one (commonio keeps those last).
    pub fn update(&mut self, ent: T) {
        if let Some(l) = self
            .lines
            .iter_mut()
            .find(|l| l.ent.as_ref().is_some_and(|e| e.key() == ent.key()))
        {
            l.ent = Some(ent);
            l.changed = true;
            return;
        }
        let new = Line {
            text: None,
            ent: Some(ent),
            changed: true,
        };
        let nis = self.lines.iter().position(|l| {
            l.text
                .as_deref()
                .is_some_and(|t| t.starts_with('+') || t.starts_with('-'))
        });
        match nis {
            Some(i) => self.lines.insert(i, new),
            None => self.lines.push(new),
        }
    }

    /// Appends an entry at the end whatever its name (subordinate id ranges share owners).
    pub fn append(&mut self, ent: T) {
        self.lines.push(Line {
            text: None,
            ent: Some(ent),
            changed: true,
        });
    }

    /// Removes the first entry with this name; false if there was none.
    pub fn remove(&mut self, key: &str) -> bool {
        match self
            .lines
            .iter()
            .position(|l| l.ent.as_ref().is_some_and(|e| e.key() == key))
        {
            Some(i) => {
                self.lines.remove(i);
                true
            }
            None => false,
        }
    }

    /// Removes every entry the predicate selects.
    pub fn remove_where(&mut self, mut f: impl FnMut(&T) -> bool) {
        self.lines.retain(|l| !l.ent.as_ref().is_some_and(&mut f));
    }

    /// Calls `f` on every parsed entry; entries for which it returns true are marked changed.
    pub fn modify_each(&mut self, mut f: impl FnMut(&mut T) -> bool) {
        for l in &mut self.lines {
            if let Some(e) = l.ent.as_mut() {
                if f(e) {
                    l.changed = true;
                }
            }
        }
    }

    /// Stable sort of the parsed entries (unparsable lines keep their place at the end), as
    /// commonio_sort does before subordinate ids are allocated.
    pub fn sort_by(&mut self, mut cmp: impl FnMut(&T, &T) -> std::cmp::Ordering) {
        let (mut parsed, rest): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.lines).into_iter().partition(|l| {
                l.ent.is_some()
                    && !l
                        .text
                        .as_deref()
                        .is_some_and(|t| t.starts_with('+') || t.starts_with('-'))
            });
        parsed.sort_by(|a, b| match (&a.ent, &b.ent) {
            (Some(x), Some(y)) => cmp(x, y),
            _ => std::cmp::Ordering::Equal,
        });
        self.lines = parsed;
        self.lines.extend(rest);
    }

    /// The file's new contents.
    pub fn render(&self) -> Vec<u8> {
        let mut out = String::new();
        for l in &self.lines {
            match (&l.text, &l.ent, l.changed) {
                (Some(t), _, false) => out.push_str(t),
                (_, Some(e), _) => out.push_str(&e.render()),
                (Some(t), None, true) => out.push_str(t),
                (None, None, _) => {}
            }
            out.push('\n');
        }
        out.into_bytes()
    }

    /// The new contents if they differ from what was read; `None` if nothing changed (a file that
    /// did not exist stays absent unless something was added to it).
    pub fn changed_contents(&self) -> Option<Vec<u8>> {
        let new = self.render();
        let unchanged = self.present && new == self.original;
        let still_absent = !self.present && new.is_empty();
        (!unchanged && !still_absent).then_some(new)
    }
}

fn fields(line: &str) -> Vec<&str> {
    line.split(':').collect()
}

fn parse_id(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn list(s: &str) -> Vec<String> {
    if s.is_empty() {
        Vec::new()
    } else {
        s.split(',').map(str::to_string).collect()
    }
}

/// A /etc/passwd entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PwEnt {
    pub name: String,
    pub passwd: String,
    pub uid: u32,
    pub gid: u32,
    pub gecos: String,
    pub dir: String,
    pub shell: String,
}

impl Entry for PwEnt {
    fn parse(line: &str) -> Option<Self> {
        let f = fields(line);
        if f.len() != 7 {
            return None;
        }
        Some(PwEnt {
            name: f[0].to_string(),
            passwd: f[1].to_string(),
            uid: parse_id(f[2])?,
            gid: parse_id(f[3])?,
            gecos: f[4].to_string(),
            dir: f[5].to_string(),
            shell: f[6].to_string(),
        })
    }
    fn render(&self) -> String {
        format!(
            "{}:{}:{}:{}:{}:{}:{}",
            self.name, self.passwd, self.uid, self.gid, self.gecos, self.dir, self.shell
        )
    }
    fn key(&self) -> &str {
        &self.name
    }
}

/// A /etc/shadow entry; `None` numbers are empty fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpEnt {
    pub name: String,
    pub passwd: String,
    pub lastchg: Option<i64>,
    pub min: Option<i64>,
    pub max: Option<i64>,
    pub warn: Option<i64>,
    pub inact: Option<i64>,
    pub expire: Option<i64>,
    pub flag: String,
}

fn opt_num(s: &str) -> Option<Option<i64>> {
    if s.is_empty() {
        return Some(None);
    }
    let v: i64 = s.parse().ok()?;
    Some(if v == -1 { None } else { Some(v) })
}

fn num_field(v: Option<i64>) -> String {
    v.map(|n| n.to_string()).unwrap_or_default()
}

impl Entry for SpEnt {
    fn parse(line: &str) -> Option<Self> {
        let f = fields(line);
        if f.len() != 9 && f.len() != 5 {
            return None;
        }
        let get = |i: usize| f.get(i).copied().unwrap_or("");
        Some(SpEnt {
            name: f[0].to_string(),
            passwd: f[1].to_string(),
            lastchg: opt_num(get(2))?,
            min: opt_num(get(3))?,
            max: opt_num(get(4))?,
            warn: opt_num(get(5))?,
            inact: opt_num(get(6))?,
            expire: opt_num(get(7))?,
            flag: get(8).to_string(),
        })
    }
    fn render(&self) -> String {
        format!(
            "{}:{}:{}:{}:{}:{}:{}:{}:{}",
            self.name,
            self.passwd,
            num_field(self.lastchg),
            num_field(self.min),
            num_field(self.max),
            num_field(self.warn),
            num_field(self.inact),
            num_field(self.expire),
            self.flag
        )
    }
    fn key(&self) -> &str {
        &self.name
    }
}

/// A /etc/group entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrEnt {
    pub name: String,
    pub passwd: String,
    pub gid: u32,
    pub members: Vec<String>,
}

impl Entry for GrEnt {
    fn parse(line: &str) -> Option<Self> {
        let f = fields(line);
        if f.len() != 4 {
            return None;
        }
        Some(GrEnt {
            name: f[0].to_string(),
            passwd: f[1].to_string(),
            gid: parse_id(f[2])?,
            members: list(f[3]),
        })
    }
    fn render(&self) -> String {
        format!(
            "{}:{}:{}:{}",
            self.name,
            self.passwd,
            self.gid,
            self.members.join(",")
        )
    }
    fn key(&self) -> &str {
        &self.name
    }
}

/// A /etc/gshadow entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SgEnt {
    pub name: String,
    pub passwd: String,
    pub admins: Vec<String>,
    pub members: Vec<String>,
}

impl Entry for SgEnt {
    fn parse(line: &str) -> Option<Self> {
        let f = fields(line);
        if f.len() != 4 {
            return None;
        }
        Some(SgEnt {
            name: f[0].to_string(),
            passwd: f[1].to_string(),
            admins: list(f[2]),
            members: list(f[3]),
        })
    }
    fn render(&self) -> String {
        format!(
            "{}:{}:{}:{}",
            self.name,
            self.passwd,
            self.admins.join(","),
            self.members.join(",")
        )
    }
    fn key(&self) -> &str {
        &self.name
    }
}

/// A /etc/subuid or /etc/subgid range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubEnt {
    pub owner: String,
    pub start: u64,
    pub count: u64,
}

impl Entry for SubEnt {
    fn parse(line: &str) -> Option<Self> {
        let f = fields(line);
        if f.len() != 3 || f[0].is_empty() {
            return None;
        }
        let num = |s: &str| -> Option<u64> {
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                None
            } else {
                s.parse().ok()
            }
        };
        Some(SubEnt {
            owner: f[0].to_string(),
            start: num(f[1])?,
            count: num(f[2])?,
        })
    }
    fn render(&self) -> String {
        format!("{}:{}:{}", self.owner, self.start, self.count)
    }
    fn key(&self) -> &str {
        &self.owner
    }
}

/// Adds `name` to a member list unless it is there (shadow's add_list).
pub fn add_member(list: &mut Vec<String>, name: &str) -> bool {
    if list.iter().any(|m| m == name) {
        false
    } else {
        list.push(name.to_string());
        true
    }
}

/// Removes every occurrence of `name` from a member list (shadow's del_list).
pub fn del_member(list: &mut Vec<String>, name: &str) -> bool {
    let before = list.len();
    list.retain(|m| m != name);
    list.len() != before
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untouched_lines_roundtrip_byte_for_byte() {
        let src = b"# comment\nroot:x:0:0:root:/root:/bin/bash\n\nbroken line\nbin:x:1:1::/:/sbin/nologin";
        let db: Db<PwEnt> = Db::load(Some(src));
        assert_eq!(db.iter().count(), 2);
        // Only the missing final newline differs, as commonio writes every line with one.
        let mut want = src.to_vec();
        want.push(b'\n');
        assert_eq!(db.render(), want);
    }

    #[test]
    fn update_replaces_in_place_and_appends_before_nis() {
        let mut db: Db<GrEnt> = Db::load(Some(b"a:x:1:\n+::::\n"));
        let mut a = db.locate("a").cloned().unwrap();
        a.members.push("u".into());
        db.update(a);
        db.update(GrEnt {
            name: "b".into(),
            passwd: "x".into(),
            gid: 2,
            members: vec![],
        });
        assert_eq!(db.render(), b"a:x:1:u\nb:x:2:\n+::::\n");
    }

    #[test]
    fn shadow_fields_keep_empty_and_numbers() {
        let e = SpEnt::parse("u:$6$h:19000:0:99999:7:::").unwrap();
        assert_eq!(e.min, Some(0));
        assert_eq!(e.inact, None);
        assert_eq!(e.render(), "u:$6$h:19000:0:99999:7:::");
        assert!(SpEnt::parse("u:x:notanumber::::::").is_none());
        assert_eq!(
            SpEnt::parse("old:x:1:2:3").unwrap().render(),
            "old:x:1:2:3::::"
        );
    }

    #[test]
    fn absent_file_stays_absent_when_untouched() {
        let db: Db<SubEnt> = Db::load(None);
        assert!(!db.present());
        assert_eq!(db.changed_contents(), None);
        let same: Db<SubEnt> = Db::load(Some(b"a:1:2\n"));
        assert_eq!(same.changed_contents(), None);
    }
}
