//! Initrd network kernel arguments: the default, `ip=` on the command line, OpenStack's network data.

use super::*;

#[test]
fn network_kargs_default_cmdline_ip_and_validation() {
    let c = Case::new("netkargs", "BOOT_IMAGE=/vmlinuz ignition.platform.id=qemu");
    let out = c.dir.join("etc/cmdline.d/50-afterburn-network-kargs.conf");
    let o_str = out.to_str().unwrap();
    let o = c.run(
        &[
            "afterburn",
            "network-kargs",
            "--cmdline",
            "--default-value",
            "ip=auto",
            "--output",
            o_str,
        ],
        None,
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "ip=auto\n");
    std::fs::remove_file(&out).unwrap();
    // network_generator_env_written (#16 item 13): the command line plus our kargs, for
    // systemd-network-generator, as Afterburn 5.11 writes it.
    let env_file = c.dir.join("host/run/afterburn/network-generator.env");
    assert_eq!(
        std::fs::read_to_string(&env_file).unwrap(),
        "SYSTEMD_PROC_CMDLINE=BOOT_IMAGE=/vmlinuz ignition.platform.id=qemu ip=auto\n"
    );
    std::fs::remove_file(&env_file).unwrap();

    // No default and nothing from the platform: fail, on purpose (as Afterburn's unit does).
    let o = c.run(
        &["afterburn", "network-kargs", "--cmdline", "--output", o_str],
        None,
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    // A default that is not a dracut network argument is refused.
    let o = c.run(
        &[
            "afterburn",
            "network-kargs",
            "--cmdline",
            "--default-value",
            "ip=auto;reboot",
            "--output",
            o_str,
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(!out.exists());

    // ip= already on the command line: nothing is written, whatever the default.
    let c2 = Case::new("netkargs-ip", "ignition.platform.id=proxmoxve ip=dhcp");
    let o = c2.run(
        &[
            "afterburn",
            "exp",
            "rd-network-kargs",
            "--cmdline",
            "--default-value",
            "ip=auto",
            "--output",
            o_str,
        ],
        None,
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(!out.exists());
    assert!(text(&o).contains("already configures ip="));
}

#[test]
fn network_kargs_without_a_drive_or_off_vmware_use_the_default() {
    let real_vmware =
        std::fs::read_to_string("/sys/class/dmi/id/sys_vendor").is_ok_and(|v| v.contains("VMware"));
    let mut ids = vec!["proxmoxve", "kubevirt", "aws", "openstack", "huaweicloud"];
    if !real_vmware {
        // On a real VMware host this would read the host's actual guestinfo.
        ids.push("vmware");
    }
    for id in ids {
        let c = Case::new(&format!("netkargs-{id}"), "quiet");
        let out = c.dir.join("kargs.conf");
        // A dead metadata base: nothing may be fetched in the initrd.
        let o = c.run(
            &[
                "afterburn",
                "network-kargs",
                "--provider",
                id,
                "--default-value",
                "ip=dhcp,dhcp6",
                "--output",
                out.to_str().unwrap(),
            ],
            None,
        );
        assert!(o.status.success(), "{id}: {}", text(&o));
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "ip=dhcp,dhcp6\n",
            "{id}"
        );
    }
}

#[test]
fn network_kargs_from_openstack_network_data_once_a_network_is_up() {
    let s = tree_server("openstack/metadata");
    let c = Case::new(
        "netkargs-openstack-svc",
        "quiet ignition.platform.id=openstack",
    );
    let out = c.dir.join("kargs.conf");
    let run = |c: &Case| {
        c.run(
            &[
                "afterburn",
                "network-kargs",
                "--cmdline",
                "--default-value",
                "ip=dhcp",
                "--output",
                out.to_str().unwrap(),
            ],
            Some(&s),
        )
    };
    // In the initrd before networking the main table is empty: the service is not asked.
    std::fs::create_dir_all(c.dir.join("host/proc/net")).unwrap();
    let header =
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n";
    std::fs::write(c.dir.join("host/proc/net/route"), header).unwrap();
    let o = run(&c);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "ip=dhcp\n");
    assert!(
        s.seen.lock().unwrap().is_empty(),
        "no request without a network"
    );
    // With a route, the metadata service's network_data.json becomes the kargs.
    std::fs::write(
        c.dir.join("host/proc/net/route"),
        format!("{header}eth0\t00000000\t0100000A\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"),
    )
    .unwrap();
    let o = run(&c);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "ifname=net0:fa:16:3e:3c:1d:9e ip=203.0.113.77::203.0.113.1:255.255.255.0:nestos-svc:net0:off \
         nameserver=203.0.113.53\n"
    );
}
