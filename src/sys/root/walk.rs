//! Walking a config path inside the root component by component, the way Ignition resolves
//! paths (its `JoinPath`): symlinks in the directories are followed even when their target does
//! not exist yet (NestOS's `/home -> var/home` with an empty /var at first boot), and
//! `mkdir_all` creates the missing directories where the links lead. Confined by construction:
//! every step is an `openat`/`mkdirat` of one plain name relative to a directory fd already
//! inside the root, `..` pops that stack (never above the root) and an absolute target starts
//! again from the root, exactly as RESOLVE_IN_ROOT would.

use super::{io_err, Root};
use crate::error::{Error, Result};
use rustix::fd::OwnedFd;
use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;
use std::collections::VecDeque;

/// As many symlinks as the kernel follows in one lookup before giving up with ELOOP.
const MAX_LINKS: u32 = 40;

/// Where a walk stands: the real directories it went through (an fd for each, the root first)
/// and their names; once a component is missing (in a dry run) or not a directory, the names
/// run ahead of the fds and the rest is taken as written.
struct Walk {
    fds: Vec<OwnedFd>,
    names: Vec<String>,
    links: u32,
}

/// What a walk does with a missing directory.
enum Missing {
    /// Takes it and what follows as written (planning: nothing is created).
    Assume,
    /// Creates it (0755, or `last` for the final directory), root-owned like the stage, and
    /// records it.
    Create { last: u32, created: Vec<String> },
}

impl Walk {
    fn real(&self) -> String {
        format!("/{}", self.names.join("/"))
    }

    /// Still on real directories (the top of the fd stack is the last name).
    fn on_real(&self) -> bool {
        self.fds.len() == self.names.len() + 1
    }

    fn up(&mut self) {
        if self.names.pop().is_some() && self.fds.len() > self.names.len() + 1 {
            self.fds.pop();
        }
    }
}

fn components(p: &str) -> impl Iterator<Item = String> + '_ {
    p.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .map(str::to_string)
}

fn open_dir(parent: &OwnedFd, name: &str, flags: OFlags) -> std::result::Result<OwnedFd, Errno> {
    rfs::openat(
        parent,
        name,
        flags | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

impl Root {
    /// Follows the directories of `comps` from the root, symlinks included (dangling ones too:
    /// their target is where the path goes on), handling missing directories as `missing`
    /// says. `what` names the config path in errors.
    fn walk(&self, comps: VecDeque<String>, what: &str, missing: &mut Missing) -> Result<Walk> {
        let top = rfs::openat(
            &self.fd,
            ".",
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| io_err("opening", "/", e))?;
        let mut w = Walk {
            fds: vec![top],
            names: Vec::new(),
            links: 0,
        };
        let mut queue = comps;
        while let Some(c) = queue.pop_front() {
            if c == ".." {
                w.up();
                continue;
            }
            if !w.on_real() {
                w.names.push(c);
                continue;
            }
            let here = format!("{}/{c}", w.real().trim_end_matches('/'));
            let parent = w.fds.last().ok_or_else(|| Error::failed("empty walk"))?;
            let st = match rfs::statat(parent, c.as_str(), AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) => Some(st),
                Err(Errno::NOENT) => None,
                Err(e) => return Err(io_err("stat", &here, e)),
            };
            match st.map(|st| FileType::from_raw_mode(st.st_mode)) {
                Some(FileType::Directory) => {
                    let fd = open_dir(parent, &c, OFlags::PATH)
                        .map_err(|e| io_err("opening", &here, e))?;
                    w.fds.push(fd);
                    w.names.push(c);
                }
                Some(FileType::Symlink) => {
                    w.links += 1;
                    if w.links > MAX_LINKS {
                        return Err(Error::failed(format!(
                            "resolving {what}: too many levels of symbolic links at {here}"
                        )));
                    }
                    let target = rfs::readlinkat(parent, c.as_str(), Vec::new())
                        .map_err(|e| io_err("readlink", &here, e))?;
                    let target = target.into_string().map_err(|_| {
                        Error::failed(format!(
                            "resolving {what}: the symlink {here} has a target that is not UTF-8"
                        ))
                    })?;
                    if target.starts_with('/') {
                        // Absolute: from the root of the target, never the host's.
                        w.fds.truncate(1);
                        w.names.clear();
                    }
                    for t in components(&target).collect::<Vec<_>>().into_iter().rev() {
                        queue.push_front(t);
                    }
                }
                Some(_) => match missing {
                    Missing::Create { .. } => {
                        return Err(Error::failed(format!(
                            "{here} exists and is not a directory"
                        )))
                    }
                    // Planning: whatever writes there fails later with the real error.
                    Missing::Assume => w.names.push(c),
                },
                None => match missing {
                    Missing::Assume => w.names.push(c),
                    Missing::Create { last, created } => {
                        let m = if queue.is_empty() { *last } else { 0o755 };
                        match rfs::mkdirat(parent, c.as_str(), Mode::from_raw_mode(m)) {
                            Ok(()) => {}
                            Err(Errno::EXIST) => {
                                return Err(Error::failed(format!(
                                    "{here} appeared while its directories were being created"
                                )))
                            }
                            Err(e) => return Err(io_err("creating directory", &here, e)),
                        }
                        let fd = open_dir(parent, &c, OFlags::RDONLY)
                            .map_err(|e| io_err("opening", &here, e))?;
                        // mkdir applies the umask; set the mode we mean.
                        rfs::fchmod(&fd, Mode::from_raw_mode(m))
                            .map_err(|e| io_err("chmod", &here, e))?;
                        created.push(here);
                        w.fds.push(fd);
                        w.names.push(c);
                    }
                },
            }
        }
        Ok(w)
    }

    /// Creates `p` and its missing parents (0755 unless `mode` says otherwise for `p`, owned
    /// by root), following symlinks on the way inside the root, dangling ones included: the
    /// directories are created where the links lead. Returns the directories it created, as
    /// real paths (no symlink in them), shallowest first.
    pub fn mkdir_all(&self, p: &str, mode: u32) -> Result<Vec<String>> {
        let mut m = Missing::Create {
            last: mode,
            created: Vec::new(),
        };
        self.walk(components(p).collect(), p, &mut m)?;
        match m {
            Missing::Create { created, .. } => Ok(created),
            Missing::Assume => Ok(Vec::new()),
        }
    }

    /// Where the directory `p` will be: `resolve` of an entry in it is this plus the entry's
    /// name, so a plan resolves each directory once for all its entries.
    pub fn resolve_dir(&self, p: &str) -> Result<String> {
        Ok(self
            .walk(components(p).collect(), p, &mut Missing::Assume)?
            .real())
    }

    /// Where the entry `p` names will be: its directories resolved as `mkdir_all` would
    /// create them (symlinks followed inside the root, dangling ones too; missing directories
    /// and anything below a non-directory as written), its last component kept as it is.
    /// Two config paths with the same answer write the same node.
    pub fn resolve(&self, p: &str) -> Result<String> {
        let mut comps: VecDeque<String> = components(p).collect();
        let Some(last) = comps.pop_back() else {
            return Ok("/".to_string());
        };
        let w = self.walk(comps, p, &mut Missing::Assume)?;
        if last == ".." {
            let mut names = w.names;
            names.pop();
            return Ok(format!("/{}", names.join("/")));
        }
        Ok(format!("{}/{last}", w.real().trim_end_matches('/')))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{outside_dir, snapshot, tmp_root};
    use crate::sys::root::Kind;
    use std::os::unix::fs::symlink;
    use std::path::Path;

    /// NestOS's links into /var, with /var empty as at first boot.
    fn ostree_shaped(d: &Path) {
        std::fs::create_dir_all(d.join("var")).unwrap();
        std::fs::create_dir_all(d.join("usr")).unwrap();
        for (l, t) in [
            ("home", "var/home"),
            ("opt", "var/opt"),
            ("srv", "var/srv"),
            ("mnt", "var/mnt"),
            ("root", "var/roothome"),
            ("usr/local", "../var/usrlocal"),
        ] {
            symlink(t, d.join(l)).unwrap();
        }
    }

    #[test]
    fn dangling_links_into_var_create_their_targets() {
        let (d, r) = tmp_root("walk-ostree");
        ostree_shaped(&d);
        let created = r.mkdir_all("/home/nest/.ssh", 0o700).unwrap();
        assert_eq!(
            created,
            vec!["/var/home", "/var/home/nest", "/var/home/nest/.ssh"]
        );
        assert_eq!(r.lstat("/var/home").unwrap().unwrap().mode, 0o755);
        assert_eq!(r.lstat("/var/home/nest/.ssh").unwrap().unwrap().mode, 0o700);
        assert_eq!(
            r.lstat("/home").unwrap().unwrap().kind,
            Kind::Symlink,
            "kept"
        );
        assert_eq!(
            r.mkdir_all("/home/nest", 0o755).unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(
            r.mkdir_all("/usr/local/bin", 0o755).unwrap(),
            vec!["/var/usrlocal", "/var/usrlocal/bin"]
        );
        r.write_atomic("/root/.bashrc", b"x", 0o644, 0, 0).unwrap();
        assert_eq!(std::fs::read(d.join("var/roothome/.bashrc")).unwrap(), b"x");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn resolve_plans_where_entries_land_without_creating() {
        let (d, r) = tmp_root("walk-resolve");
        ostree_shaped(&d);
        std::fs::write(d.join("file"), b"").unwrap();
        let cases = [
            (
                "/home/nest/.ssh/authorized_keys",
                "/var/home/nest/.ssh/authorized_keys",
            ),
            ("/usr/local/bin/tool", "/var/usrlocal/bin/tool"),
            ("/root", "/root"),
            ("/root/.bashrc", "/var/roothome/.bashrc"),
            ("/opt/app/../other/f", "/var/opt/other/f"),
            ("/../../etc/x", "/etc/x"),
            ("/file/x/y", "/file/x/y"),
            ("/", "/"),
        ];
        for (p, want) in cases {
            assert_eq!(r.resolve(p).unwrap(), want, "{p}");
        }
        assert!(r.lstat("/var/home").unwrap().is_none(), "nothing created");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn absolute_dotdot_and_chained_links_stay_in_the_root() {
        let (d, r) = tmp_root("walk-chain");
        let out = outside_dir("walk-chain");
        let before = snapshot(&out);
        std::fs::create_dir_all(d.join("escape")).unwrap();
        std::fs::create_dir_all(d.join("a/b")).unwrap();
        // Dangling absolute, a host directory by its absolute path, `..` above the root, and
        // a chain of links ending in `..`.
        symlink("/some/dir", d.join("escape/abs")).unwrap();
        symlink(&out, d.join("host")).unwrap();
        symlink("../../../../../../up", d.join("a/b/climb")).unwrap();
        symlink("c2", d.join("c1")).unwrap();
        symlink("/a/b/../c3", d.join("c2")).unwrap();
        r.mkdir_all("/escape/abs/sub", 0o700).unwrap();
        assert!(d.join("some/dir/sub").is_dir());
        let inside = out.strip_prefix("/").unwrap();
        assert_eq!(
            r.mkdir_all("/host/x", 0o755).unwrap().last().unwrap(),
            &format!("/{}/x", inside.display())
        );
        assert!(d.join(inside).join("x").is_dir());
        assert_eq!(r.mkdir_all("/a/b/climb", 0o755).unwrap(), vec!["/up"]);
        assert_eq!(r.resolve("/c1/f").unwrap(), "/a/c3/f");
        assert_eq!(r.mkdir_all("/c1", 0o755).unwrap(), vec!["/a/c3"]);
        assert_eq!(r.resolve("/c1/f").unwrap(), "/a/c3/f", "same once created");
        assert_eq!(snapshot(&out), before, "nothing written outside");
        std::fs::remove_dir_all(&d).unwrap();
        std::fs::remove_dir_all(&out).unwrap();
    }

    #[test]
    fn loops_and_files_in_the_way_are_errors() {
        let (d, r) = tmp_root("walk-loop");
        symlink("l2", d.join("l1")).unwrap();
        symlink("/l1", d.join("l2")).unwrap();
        std::fs::write(d.join("f"), b"").unwrap();
        symlink("f", d.join("tof")).unwrap();
        let e = r.mkdir_all("/l1/x", 0o755).unwrap_err().to_string();
        assert!(e.contains("too many levels of symbolic links"), "{e}");
        assert!(r.resolve("/l2/x").is_err());
        let e = r.mkdir_all("/tof/x", 0o755).unwrap_err().to_string();
        assert!(e.contains("/f exists and is not a directory"), "{e}");
        assert_eq!(r.list_dir("/").unwrap(), vec!["f", "l1", "l2", "tof"]);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
