//! The config types of the newest spec (3.7.0-experimental, a superset of 3.0.0-3.6.0).
//! Older versions decode into these same types; a field newer than 3.0.0 carries `since(V)`
//! on its declaration, the one place its version gate is written.
//! Plain data: no I/O, no validation here.

use crate::version::Version;
use serde::{Deserialize, Serialize};

macro_rules! spec_structs {
    ($($(#[$m:meta])* pub struct $name:ident {
        $($(since($v:ident))? $(#[$fm:meta])* pub $f:ident : $t:ty,)*
    })*) => {
        $(
            $(#[$m])*
            #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
            #[serde(default, rename_all = "camelCase")]
            pub struct $name {
                $($(#[$fm])* pub $f: $t,)*
            }

            impl $name {
                /// The fields newer than 3.0.0 (by their Rust names) and the version that
                /// introduced each, from the `since(...)` marks on the declaration. The
                /// decoder matches them to serde's camelCase names, so a gated field must not
                /// carry its own `serde(rename)`.
                pub const GATES: &'static [(&'static str, Version)] =
                    &[$($((stringify!($f), Version::$v),)?)*];
            }

            impl Strings for $name {
                // Out of line: a rare path (huge documents), kept small in the binary.
                #[inline(never)]
                fn each_string_mut(&mut self, f: &mut dyn FnMut(&mut String)) {
                    $(self.$f.each_string_mut(f);)*
                }
            }
        )*

        /// The gates of the spec struct serde names `name` (its Rust name); none for others.
        pub(crate) fn gates_of(name: &str) -> &'static [(&'static str, Version)] {
            match name {
                $(stringify!($name) => $name::GATES,)*
                _ => &[],
            }
        }
    };
}

spec_structs! {
    pub struct Config {
        pub ignition: Ignition,
        since(V3_3)
        #[serde(skip_serializing_if = "KernelArguments::is_empty")]
        pub kernel_arguments: KernelArguments,
        pub passwd: Passwd,
        pub storage: Storage,
        pub systemd: Systemd,
    }

    pub struct Ignition {
        pub config: IgnitionConfig,
        since(V3_1)
        pub proxy: Proxy,
        pub security: Security,
        pub timeouts: Timeouts,
        pub version: String,
    }

    pub struct IgnitionConfig {
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub merge: Vec<Resource>,
        pub replace: Resource,
    }

    pub struct Proxy {
        #[serde(skip_serializing_if = "Option::is_none")]
        pub http_proxy: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub https_proxy: Option<String>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub no_proxy: Vec<String>,
    }

    pub struct Security {
        pub tls: Tls,
    }

    pub struct Tls {
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub certificate_authorities: Vec<Resource>,
    }

    pub struct Timeouts {
        #[serde(skip_serializing_if = "Option::is_none")]
        pub http_response_headers: Option<i64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub http_total: Option<i64>,
    }

    /// Anything fetched: a config, a CA bundle, file contents, an append fragment, a key file.
    pub struct Resource {
        since(V3_1)
        #[serde(skip_serializing_if = "Option::is_none")]
        pub compression: Option<String>,
        since(V3_1)
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub http_headers: Vec<HttpHeader>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub source: Option<String>,
        #[serde(skip_serializing_if = "Verification::is_empty")]
        pub verification: Verification,
    }

    pub struct HttpHeader {
        pub name: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub value: Option<String>,
    }

    pub struct Verification {
        #[serde(skip_serializing_if = "Option::is_none")]
        pub hash: Option<String>,
    }

    pub struct KernelArguments {
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub should_exist: Vec<String>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub should_not_exist: Vec<String>,
    }

    pub struct Passwd {
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub groups: Vec<PasswdGroup>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub users: Vec<PasswdUser>,
    }

    pub struct PasswdGroup {
        #[serde(skip_serializing_if = "Option::is_none")]
        pub gid: Option<i64>,
        pub name: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub password_hash: Option<String>,
        since(V3_2)
        #[serde(skip_serializing_if = "Option::is_none")]
        pub should_exist: Option<bool>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub system: Option<bool>,
    }

    pub struct PasswdUser {
        #[serde(skip_serializing_if = "Option::is_none")]
        pub gecos: Option<String>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub groups: Vec<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub home_dir: Option<String>,
        pub name: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub no_create_home: Option<bool>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub no_log_init: Option<bool>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub no_user_group: Option<bool>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub password_hash: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub primary_group: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub shell: Option<String>,
        since(V3_2)
        #[serde(skip_serializing_if = "Option::is_none")]
        pub should_exist: Option<bool>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub ssh_authorized_keys: Vec<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub system: Option<bool>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub uid: Option<i64>,
    }

    pub struct Storage {
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub directories: Vec<Directory>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub disks: Vec<Disk>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub files: Vec<File>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub filesystems: Vec<Filesystem>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub links: Vec<Link>,
        since(V3_2)
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub luks: Vec<Luks>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub raid: Vec<Raid>,
    }

    /// Owner of a node: by id or by name, never both.
    pub struct NodeUser {
        #[serde(skip_serializing_if = "Option::is_none")]
        pub id: Option<i64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub name: Option<String>,
    }

    pub struct NodeGroup {
        #[serde(skip_serializing_if = "Option::is_none")]
        pub id: Option<i64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub name: Option<String>,
    }

    pub struct Directory {
        #[serde(skip_serializing_if = "NodeGroup::is_empty")]
        pub group: NodeGroup,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub overwrite: Option<bool>,
        pub path: String,
        #[serde(skip_serializing_if = "NodeUser::is_empty")]
        pub user: NodeUser,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub mode: Option<i64>,
    }

    pub struct File {
        #[serde(skip_serializing_if = "NodeGroup::is_empty")]
        pub group: NodeGroup,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub overwrite: Option<bool>,
        pub path: String,
        #[serde(skip_serializing_if = "NodeUser::is_empty")]
        pub user: NodeUser,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub append: Vec<Resource>,
        #[serde(skip_serializing_if = "Resource::is_empty")]
        pub contents: Resource,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub mode: Option<i64>,
    }

    pub struct Link {
        #[serde(skip_serializing_if = "NodeGroup::is_empty")]
        pub group: NodeGroup,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub overwrite: Option<bool>,
        pub path: String,
        #[serde(skip_serializing_if = "NodeUser::is_empty")]
        pub user: NodeUser,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub hard: Option<bool>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub target: Option<String>,
    }

    pub struct Disk {
        pub device: String,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub partitions: Vec<Partition>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub wipe_table: Option<bool>,
    }

    pub struct Partition {
        #[serde(skip_serializing_if = "Option::is_none")]
        pub guid: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub label: Option<String>,
        #[serde(skip_serializing_if = "is_zero")]
        pub number: i64,
        since(V3_2)
        #[serde(skip_serializing_if = "Option::is_none")]
        pub resize: Option<bool>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub should_exist: Option<bool>,
        #[serde(rename = "sizeMiB", skip_serializing_if = "Option::is_none")]
        pub size_mib: Option<i64>,
        #[serde(rename = "startMiB", skip_serializing_if = "Option::is_none")]
        pub start_mib: Option<i64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub type_guid: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub wipe_partition_entry: Option<bool>,
    }

    pub struct Filesystem {
        pub device: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub format: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub label: Option<String>,
        since(V3_1)
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub mount_options: Vec<String>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub options: Vec<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub path: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub uuid: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub wipe_filesystem: Option<bool>,
    }

    pub struct Luks {
        since(V3_5)
        #[serde(skip_serializing_if = "Cex::is_empty")]
        pub cex: Cex,
        #[serde(skip_serializing_if = "Clevis::is_empty")]
        pub clevis: Clevis,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub device: Option<String>,
        since(V3_4)
        #[serde(skip_serializing_if = "Option::is_none")]
        pub discard: Option<bool>,
        #[serde(skip_serializing_if = "Resource::is_empty")]
        pub key_file: Resource,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub label: Option<String>,
        pub name: String,
        since(V3_4)
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub open_options: Vec<String>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub options: Vec<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub uuid: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub wipe_volume: Option<bool>,
    }

    pub struct Cex {
        #[serde(skip_serializing_if = "Option::is_none")]
        pub enabled: Option<bool>,
    }

    pub struct Clevis {
        /// Optional because 3.2.0 judged it by presence; later versions by content.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub custom: Option<ClevisCustom>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub tang: Vec<Tang>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub threshold: Option<i64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub tpm2: Option<bool>,
    }

    pub struct ClevisCustom {
        #[serde(skip_serializing_if = "Option::is_none")]
        pub config: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub needs_network: Option<bool>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub pin: Option<String>,
    }

    pub struct Tang {
        since(V3_4)
        #[serde(skip_serializing_if = "Option::is_none")]
        pub advertisement: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub thumbprint: Option<String>,
        pub url: String,
    }

    pub struct Raid {
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub devices: Vec<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub level: Option<String>,
        pub name: String,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub options: Vec<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub spares: Option<i64>,
    }

    pub struct Systemd {
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub units: Vec<Unit>,
    }

    pub struct Unit {
        #[serde(skip_serializing_if = "Option::is_none")]
        pub contents: Option<String>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub dropins: Vec<Dropin>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub enabled: Option<bool>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub mask: Option<bool>,
        pub name: String,
    }

    pub struct Dropin {
        #[serde(skip_serializing_if = "Option::is_none")]
        pub contents: Option<String>,
        pub name: String,
    }
}

/// Every string a config value holds, reachable for in-place edits (the parser puts a huge
/// string back where the decoder left a stand-in for it; see `crate::parse_owned`).
pub(crate) trait Strings {
    fn each_string_mut(&mut self, f: &mut dyn FnMut(&mut String));
}

impl Strings for String {
    fn each_string_mut(&mut self, f: &mut dyn FnMut(&mut String)) {
        f(self)
    }
}

impl<T: Strings> Strings for Option<T> {
    fn each_string_mut(&mut self, f: &mut dyn FnMut(&mut String)) {
        if let Some(v) = self {
            v.each_string_mut(f);
        }
    }
}

impl<T: Strings> Strings for Vec<T> {
    fn each_string_mut(&mut self, f: &mut dyn FnMut(&mut String)) {
        for v in self {
            v.each_string_mut(f);
        }
    }
}

impl Strings for i64 {
    fn each_string_mut(&mut self, _: &mut dyn FnMut(&mut String)) {}
}

impl Strings for bool {
    fn each_string_mut(&mut self, _: &mut dyn FnMut(&mut String)) {}
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

macro_rules! is_empty_via_default {
    ($($t:ty),*) => {$(
        impl $t {
            /// True when every field is unset: serialisation leaves it out.
            pub fn is_empty(&self) -> bool {
                *self == <$t>::default()
            }
        }
    )*};
}

is_empty_via_default!(
    KernelArguments,
    Resource,
    Verification,
    NodeUser,
    NodeGroup,
    Cex,
    Clevis
);

impl Config {
    /// Every resource of the config with the JSON path of its entry, in config order.
    pub fn resources(&self) -> Vec<(String, &Resource)> {
        let mut out = Vec::new();
        let ign = &self.ignition;
        for (i, r) in ign.config.merge.iter().enumerate() {
            out.push((format!("$.ignition.config.merge.{i}"), r));
        }
        if !ign.config.replace.is_empty() {
            out.push(("$.ignition.config.replace".to_string(), &ign.config.replace));
        }
        for (i, r) in ign.security.tls.certificate_authorities.iter().enumerate() {
            out.push((
                format!("$.ignition.security.tls.certificateAuthorities.{i}"),
                r,
            ));
        }
        for (i, f) in self.storage.files.iter().enumerate() {
            out.push((format!("$.storage.files.{i}.contents"), &f.contents));
            for (j, a) in f.append.iter().enumerate() {
                out.push((format!("$.storage.files.{i}.append.{j}"), a));
            }
        }
        for (i, l) in self.storage.luks.iter().enumerate() {
            out.push((format!("$.storage.luks.{i}.keyFile"), &l.key_file));
        }
        out
    }
}
