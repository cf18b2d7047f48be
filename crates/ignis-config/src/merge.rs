//! Ignition's merge semantics for two configs of the newest types: the child's set values win,
//! keyed lists merge entry by entry, files/directories/links share one key space (a child node
//! of another kind replaces the parent's), a child header without a value deletes the parent's,
//! and kernel arguments move between shouldExist and shouldNotExist. Pure data in, data out.

use super::types::*;

/// Merges `child` over `parent`.
pub fn merge(mut parent: Config, child: Config) -> Config {
    // Merging over nothing (no base configs, the common case) changes nothing but the version.
    if parent == Config::default() {
        return child;
    }
    config(&mut parent, child);
    parent
}

fn opt<T>(p: &mut Option<T>, c: Option<T>) {
    if c.is_some() {
        *p = c;
    }
}

fn string(p: &mut String, c: String) {
    if !c.is_empty() {
        *p = c;
    }
}

/// Merges a list whose entries are identified by a key: equal keys merge, new keys append.
/// Indexed by key, so merging a 10,000-file config into an empty one stays linear.
fn keyed<T, K: Eq + std::hash::Hash>(
    p: &mut Vec<T>,
    c: Vec<T>,
    key: impl Fn(&T) -> K,
    merge: impl Fn(&mut T, T),
) {
    let mut index: std::collections::HashMap<K, usize> =
        p.iter().enumerate().map(|(i, x)| (key(x), i)).collect();
    for item in c {
        let k = key(&item);
        match index.get(&k) {
            Some(&i) => merge(&mut p[i], item),
            None => {
                index.insert(k, p.len());
                p.push(item);
            }
        }
    }
}

/// A list of plain values identified by themselves: duplicates are not repeated.
fn values(p: &mut Vec<String>, c: Vec<String>) {
    keyed(p, c, |s| s.clone(), |_, _| {});
}

/// A list whose duplicates are allowed: the child's entries are appended.
fn concat<T>(p: &mut Vec<T>, c: Vec<T>) {
    p.extend(c);
}

fn config(p: &mut Config, c: Config) {
    ignition(&mut p.ignition, c.ignition);
    kernel_arguments(&mut p.kernel_arguments, c.kernel_arguments);
    keyed(
        &mut p.passwd.users,
        c.passwd.users,
        |u| u.name.clone(),
        user,
    );
    keyed(
        &mut p.passwd.groups,
        c.passwd.groups,
        |g| g.name.clone(),
        group,
    );
    storage(&mut p.storage, c.storage);
    keyed(
        &mut p.systemd.units,
        c.systemd.units,
        |u| u.name.clone(),
        unit,
    );
}

fn ignition(p: &mut Ignition, c: Ignition) {
    string(&mut p.version, c.version);
    keyed(
        &mut p.config.merge,
        c.config.merge,
        |r| r.source.clone(),
        resource,
    );
    resource(&mut p.config.replace, c.config.replace);
    opt(&mut p.proxy.http_proxy, c.proxy.http_proxy);
    opt(&mut p.proxy.https_proxy, c.proxy.https_proxy);
    values(&mut p.proxy.no_proxy, c.proxy.no_proxy);
    keyed(
        &mut p.security.tls.certificate_authorities,
        c.security.tls.certificate_authorities,
        |r| r.source.clone(),
        resource,
    );
    opt(
        &mut p.timeouts.http_response_headers,
        c.timeouts.http_response_headers,
    );
    opt(&mut p.timeouts.http_total, c.timeouts.http_total);
}

fn resource(p: &mut Resource, c: Resource) {
    opt(&mut p.compression, c.compression);
    for h in c.http_headers {
        let pos = p.http_headers.iter().position(|x| x.name == h.name);
        match (pos, h.value.is_some()) {
            (Some(i), true) => p.http_headers[i].value = h.value,
            (Some(i), false) => {
                p.http_headers.remove(i);
            }
            (None, true) => p.http_headers.push(h),
            (None, false) => {}
        }
    }
    opt(&mut p.source, c.source);
    opt(&mut p.verification.hash, c.verification.hash);
}

fn kernel_arguments(p: &mut KernelArguments, c: KernelArguments) {
    for a in c.should_exist {
        p.should_not_exist.retain(|x| *x != a);
        if !p.should_exist.contains(&a) {
            p.should_exist.push(a);
        }
    }
    for a in c.should_not_exist {
        p.should_exist.retain(|x| *x != a);
        if !p.should_not_exist.contains(&a) {
            p.should_not_exist.push(a);
        }
    }
}

fn user(p: &mut PasswdUser, c: PasswdUser) {
    opt(&mut p.gecos, c.gecos);
    values(&mut p.groups, c.groups);
    opt(&mut p.home_dir, c.home_dir);
    opt(&mut p.no_create_home, c.no_create_home);
    opt(&mut p.no_log_init, c.no_log_init);
    opt(&mut p.no_user_group, c.no_user_group);
    opt(&mut p.password_hash, c.password_hash);
    opt(&mut p.primary_group, c.primary_group);
    opt(&mut p.shell, c.shell);
    opt(&mut p.should_exist, c.should_exist);
    values(&mut p.ssh_authorized_keys, c.ssh_authorized_keys);
    opt(&mut p.system, c.system);
    opt(&mut p.uid, c.uid);
}

fn group(p: &mut PasswdGroup, c: PasswdGroup) {
    opt(&mut p.gid, c.gid);
    opt(&mut p.password_hash, c.password_hash);
    opt(&mut p.should_exist, c.should_exist);
    opt(&mut p.system, c.system);
}

fn unit(p: &mut Unit, c: Unit) {
    opt(&mut p.contents, c.contents);
    keyed(
        &mut p.dropins,
        c.dropins,
        |d| d.name.clone(),
        |pd, cd| opt(&mut pd.contents, cd.contents),
    );
    opt(&mut p.enabled, c.enabled);
    opt(&mut p.mask, c.mask);
}

fn owner(
    pid: &mut Option<i64>,
    pname: &mut Option<String>,
    cid: Option<i64>,
    cname: Option<String>,
) {
    opt(pid, cid);
    opt(pname, cname);
}

fn storage(p: &mut Storage, c: Storage) {
    keyed(
        &mut p.disks,
        c.disks,
        |d| d.device.clone(),
        |pd, cd| {
            keyed(
                &mut pd.partitions,
                cd.partitions,
                |x| (x.number, if x.number == 0 { x.label.clone() } else { None }),
                partition,
            );
            opt(&mut pd.wipe_table, cd.wipe_table);
        },
    );
    keyed(
        &mut p.raid,
        c.raid,
        |r| r.name.clone(),
        |pr, cr| {
            values(&mut pr.devices, cr.devices);
            opt(&mut pr.level, cr.level);
            concat(&mut pr.options, cr.options);
            opt(&mut pr.spares, cr.spares);
        },
    );
    keyed(
        &mut p.filesystems,
        c.filesystems,
        |f| f.device.clone(),
        |pf, cf| {
            opt(&mut pf.format, cf.format);
            opt(&mut pf.label, cf.label);
            concat(&mut pf.mount_options, cf.mount_options);
            concat(&mut pf.options, cf.options);
            opt(&mut pf.path, cf.path);
            opt(&mut pf.uuid, cf.uuid);
            opt(&mut pf.wipe_filesystem, cf.wipe_filesystem);
        },
    );
    keyed(&mut p.luks, c.luks, |l| l.name.clone(), luks);
    nodes(p, c.files, c.directories, c.links);
}

fn partition(p: &mut Partition, c: Partition) {
    opt(&mut p.guid, c.guid);
    opt(&mut p.label, c.label);
    opt(&mut p.resize, c.resize);
    opt(&mut p.should_exist, c.should_exist);
    opt(&mut p.size_mib, c.size_mib);
    opt(&mut p.start_mib, c.start_mib);
    opt(&mut p.type_guid, c.type_guid);
    opt(&mut p.wipe_partition_entry, c.wipe_partition_entry);
}

fn luks(p: &mut Luks, c: Luks) {
    opt(&mut p.cex.enabled, c.cex.enabled);
    let (pc, cc) = (&mut p.clevis, c.clevis);
    if let Some(ccu) = cc.custom {
        let pcu = pc.custom.get_or_insert_with(Default::default);
        opt(&mut pcu.config, ccu.config);
        opt(&mut pcu.needs_network, ccu.needs_network);
        opt(&mut pcu.pin, ccu.pin);
    }
    keyed(
        &mut pc.tang,
        cc.tang,
        |t| t.url.clone(),
        |pt, ct| {
            opt(&mut pt.advertisement, ct.advertisement);
            opt(&mut pt.thumbprint, ct.thumbprint);
        },
    );
    opt(&mut pc.threshold, cc.threshold);
    opt(&mut pc.tpm2, cc.tpm2);
    opt(&mut p.device, c.device);
    opt(&mut p.discard, c.discard);
    resource(&mut p.key_file, c.key_file);
    opt(&mut p.label, c.label);
    concat(&mut p.open_options, c.open_options);
    concat(&mut p.options, c.options);
    opt(&mut p.uuid, c.uuid);
    opt(&mut p.wipe_volume, c.wipe_volume);
}

/// Files, directories and links are keyed jointly by path: same kind merges, another kind
/// replaces the parent's entry.
fn nodes(p: &mut Storage, files: Vec<File>, dirs: Vec<Directory>, links: Vec<Link>) {
    use std::collections::HashSet;
    // A child node replaces a parent node of another kind at the same path.
    let fpaths: HashSet<String> = files.iter().map(|f| f.path.clone()).collect();
    let dpaths: HashSet<String> = dirs.iter().map(|d| d.path.clone()).collect();
    let lpaths: HashSet<String> = links.iter().map(|l| l.path.clone()).collect();
    if !dpaths.is_empty() || !lpaths.is_empty() {
        p.files
            .retain(|f| !dpaths.contains(&f.path) && !lpaths.contains(&f.path));
    }
    if !fpaths.is_empty() || !lpaths.is_empty() {
        p.directories
            .retain(|d| !fpaths.contains(&d.path) && !lpaths.contains(&d.path));
    }
    if !fpaths.is_empty() || !dpaths.is_empty() {
        p.links
            .retain(|l| !fpaths.contains(&l.path) && !dpaths.contains(&l.path));
    }
    keyed(
        &mut p.files,
        files,
        |x| x.path.clone(),
        |pf, cf| {
            owner(&mut pf.user.id, &mut pf.user.name, cf.user.id, cf.user.name);
            owner(
                &mut pf.group.id,
                &mut pf.group.name,
                cf.group.id,
                cf.group.name,
            );
            opt(&mut pf.overwrite, cf.overwrite);
            concat(&mut pf.append, cf.append);
            resource(&mut pf.contents, cf.contents);
            opt(&mut pf.mode, cf.mode);
        },
    );
    keyed(
        &mut p.directories,
        dirs,
        |x| x.path.clone(),
        |pd, cd| {
            owner(&mut pd.user.id, &mut pd.user.name, cd.user.id, cd.user.name);
            owner(
                &mut pd.group.id,
                &mut pd.group.name,
                cd.group.id,
                cd.group.name,
            );
            opt(&mut pd.overwrite, cd.overwrite);
            opt(&mut pd.mode, cd.mode);
        },
    );
    keyed(
        &mut p.links,
        links,
        |x| x.path.clone(),
        |pl, cl| {
            owner(&mut pl.user.id, &mut pl.user.name, cl.user.id, cl.user.name);
            owner(
                &mut pl.group.id,
                &mut pl.group.name,
                cl.group.id,
                cl.group.name,
            );
            opt(&mut pl.overwrite, cl.overwrite);
            opt(&mut pl.hard, cl.hard);
            opt(&mut pl.target, cl.target);
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    fn cfg(s: &str) -> Config {
        parse(s.as_bytes()).unwrap().config
    }

    #[test]
    fn child_values_win_and_lists_merge_by_key() {
        let p = cfg(
            r#"{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"/a","mode":420},{"path":"/b"}]},
            "passwd":{"users":[{"name":"core","sshAuthorizedKeys":["k1"]}]}}"#,
        );
        let c = cfg(
            r#"{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"/a","mode":384},{"path":"/c"}]},
            "passwd":{"users":[{"name":"core","sshAuthorizedKeys":["k1","k2"]}]}}"#,
        );
        let m = merge(p, c);
        let paths: Vec<_> = m.storage.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["/a", "/b", "/c"]);
        assert_eq!(m.storage.files[0].mode, Some(0o600));
        assert_eq!(m.passwd.users[0].ssh_authorized_keys, ["k1", "k2"]);
    }

    #[test]
    fn node_of_another_kind_replaces() {
        let p = cfg(r#"{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"/a"}]}}"#);
        let c =
            cfg(r#"{"ignition":{"version":"3.3.0"},"storage":{"directories":[{"path":"/a"}]}}"#);
        let m = merge(p, c);
        assert!(m.storage.files.is_empty());
        assert_eq!(m.storage.directories[0].path, "/a");
    }

    #[test]
    fn header_without_value_deletes() {
        let p = cfg(
            r#"{"ignition":{"version":"3.3.0","config":{"merge":[{"source":"http://x/a","httpHeaders":[{"name":"A","value":"1"},{"name":"B","value":"2"}]}]}}}"#,
        );
        let c = cfg(
            r#"{"ignition":{"version":"3.3.0","config":{"merge":[{"source":"http://x/a","httpHeaders":[{"name":"A"},{"name":"B","value":"3"}]}]}}}"#,
        );
        let m = merge(p, c);
        let h = &m.ignition.config.merge[0].http_headers;
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].name, "B");
        assert_eq!(h[0].value.as_deref(), Some("3"));
    }

    #[test]
    fn kargs_move_between_lists() {
        let p = cfg(
            r#"{"ignition":{"version":"3.3.0"},"kernelArguments":{"shouldExist":["a","b"],"shouldNotExist":["c"]}}"#,
        );
        let c = cfg(
            r#"{"ignition":{"version":"3.3.0"},"kernelArguments":{"shouldExist":["c"],"shouldNotExist":["a"]}}"#,
        );
        let m = merge(p, c);
        assert_eq!(m.kernel_arguments.should_exist, ["b", "c"]);
        assert_eq!(m.kernel_arguments.should_not_exist, ["a"]);
    }

    #[test]
    fn appends_concatenate() {
        let p = cfg(
            r#"{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"/a","append":[{"source":"data:,x"}]}]}}"#,
        );
        let c = cfg(
            r#"{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"/a","append":[{"source":"data:,x"}]}]}}"#,
        );
        assert_eq!(merge(p, c).storage.files[0].append.len(), 2);
    }
}
