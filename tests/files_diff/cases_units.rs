//! The differential cases for systemd units, drop-ins and presets.

use super::*;

pub(crate) const APP_UNIT: &str = r#"[Unit]\nDescription=app\n[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n"#;

pub(crate) fn seed_old_unit(r: &Path) {
    write(
        r,
        "/usr/lib/systemd/system/old.service",
        "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\nAlias=old-alias.service\n",
    );
    symlink(
        r,
        "/usr/lib/systemd/system/old.service",
        "/etc/systemd/system/multi-user.target.wants/old.service",
    );
    symlink(
        r,
        "/usr/lib/systemd/system/old.service",
        "/etc/systemd/system/old-alias.service",
    );
}

pub(crate) fn unit_cases() -> Vec<Case> {
    vec![
        case(
            "units: contents, enabled, disabled",
            "3.0.0",
            &format!(
                r#""systemd":{{"units":[
                {{"name":"app.service","enabled":true,"contents":"{APP_UNIT}"}},
                {{"name":"off.service","enabled":false,"contents":"[Service]\nExecStart=/bin/true\n"}},
                {{"name":"plain.service","contents":"[Service]\nExecStart=/bin/true\n"}}]}}"#
            ),
            no_seed,
            true,
        ),
        case(
            "units: dropins, empty dropin, dropins only",
            "3.1.0",
            &format!(
                r#""systemd":{{"units":[
                {{"name":"app.service","contents":"{APP_UNIT}","dropins":[
                    {{"name":"10-env.conf","contents":"[Service]\nEnvironment=A=1\n"}},
                    {{"name":"20-empty.conf","contents":""}}]}},
                {{"name":"sshd.service","dropins":[{{"name":"50-x.conf","contents":"[Service]\nNice=5\n"}}]}},
                {{"name":"nocontent.service","dropins":[{{"name":"no.conf"}}]}}]}}"#
            ),
            no_seed,
            true,
        ),
        case(
            "units: mask, with and without contents",
            "3.2.0",
            &format!(
                r#""systemd":{{"units":[
                {{"name":"bad.service","mask":true}},
                {{"name":"both.service","mask":true,"contents":"{APP_UNIT}"}},
                {{"name":"existing.service","mask":true}}]}}"#
            ),
            |r| write(r, "/etc/systemd/system/existing.service", "[Service]\n"),
            true,
        ),
        case(
            "units: unmask",
            "3.3.0",
            r#""systemd":{"units":[
                {"name":"masked.service","mask":false},
                {"name":"regular.service","mask":false},
                {"name":"elsewhere.service","mask":false}]}"#,
            |r| {
                symlink(r, "/dev/null", "/etc/systemd/system/masked.service");
                write(r, "/etc/systemd/system/regular.service", "[Service]\n");
                symlink(
                    r,
                    "/usr/lib/systemd/system/x.service",
                    "/etc/systemd/system/elsewhere.service",
                );
            },
            true,
        ),
        case(
            "units: disable an enabled unit",
            "3.3.0",
            r#""systemd":{"units":[{"name":"old.service","enabled":false}]}"#,
            seed_old_unit,
            true,
        ),
        case(
            "units: enable a unit that exists only in /usr/lib",
            "3.3.0",
            r#""systemd":{"units":[{"name":"old.service","enabled":true},{"name":"ghost.service","enabled":true}]}"#,
            seed_old_unit,
            true,
        ),
        case(
            "units: mask and disable a unit",
            "3.3.0",
            r#""systemd":{"units":[{"name":"old.service","mask":true,"enabled":false}]}"#,
            seed_old_unit,
            true,
        ),
        case(
            "units: disable a unit linked under other names",
            "3.3.0",
            r#""systemd":{"units":[{"name":"old.service","enabled":false}]}"#,
            |r| {
                seed_old_unit(r);
                let t = "/usr/lib/systemd/system/old.service";
                symlink(r, t, "/etc/systemd/system/x.target.wants/renamed.service");
                symlink(
                    r,
                    t,
                    "/etc/systemd/system/sockets.target.requires/old.service",
                );
                symlink(
                    r,
                    "/usr/lib/systemd/system/y.service",
                    "/etc/systemd/system/x.target.wants/y.service",
                );
                mkdir(r, "/etc/systemd/system/empty.target.wants");
            },
            true,
        ),
        case(
            "units: template instances and sorted presets",
            "3.3.0",
            r#""systemd":{"units":[
                {"name":"zeta.service","enabled":true},
                {"name":"getty@tty2.service","enabled":true},
                {"name":"getty@tty1.service","enabled":true},
                {"name":"echo@a.service","enabled":false},
                {"name":"echo@.service","enabled":true},
                {"name":"echo@b.service","enabled":true},
                {"name":"alpha.timer","enabled":false},
                {"name":"untouched.service"}]}"#,
            no_seed,
            true,
        ),
        case(
            "units: existing preset file and unit",
            "3.3.0",
            &format!(
                r#""systemd":{{"units":[
                {{"name":"app.service","enabled":true,"contents":"{APP_UNIT}","dropins":[{{"name":"new.conf","contents":"[Unit]\n"}}]}}]}}"#
            ),
            |r| {
                write(
                    r,
                    "/etc/systemd/system-preset/20-ignition.preset",
                    "enable before.service\n",
                );
                write(r, "/etc/systemd/system/app.service", "old contents\n");
                chmod(r, "/etc/systemd/system/app.service", 0o600);
                write(r, "/etc/systemd/system/app.service.d/old.conf", "[Unit]\n");
            },
            true,
        ),
        case(
            "units: preset file without a final newline",
            "3.3.0",
            r#""systemd":{"units":[{"name":"a.service","enabled":true}]}"#,
            |r| {
                write(
                    r,
                    "/etc/systemd/system-preset/20-ignition.preset",
                    "enable before.service",
                );
            },
            true,
        ),
        case(
            "units: enabled template instance disabled with an existing wants link",
            "3.3.0",
            r#""systemd":{"units":[{"name":"getty@tty3.service","enabled":false}]}"#,
            |r| {
                write(
                    r,
                    "/usr/lib/systemd/system/getty@.service",
                    "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=getty.target\n",
                );
                symlink(
                    r,
                    "/usr/lib/systemd/system/getty@.service",
                    "/etc/systemd/system/getty.target.wants/getty@tty3.service",
                );
            },
            true,
        ),
    ]
}
