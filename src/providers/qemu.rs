//! QEMU: the config in fw_cfg `opt/com.coreos/config`, read in one large read after its size
//! (Ignition's small reads are quadratic on big configs); on machines without fw_cfg
//! (s390x, ppc64le) the `virtio-ignition` block device.

use super::Env;
use crate::error::{Context, Error, Result};

/// Where the kernel's qemu_fw_cfg driver exposes the entry.
const FW_CFG: &str = "/sys/firmware/qemu_fw_cfg/by_name/opt/com.coreos/config";

pub fn fetch_config(env: &Env) -> Result<Option<Vec<u8>>> {
    let dir = env.host.path(FW_CFG);
    if !env.host.path("/sys/firmware/qemu_fw_cfg").exists() {
        // The driver is a module on most kernels; load it once. Failing here only means no fw_cfg.
        let _ = env
            .runner
            .run(&crate::sys::cmd::Cmd::new("modprobe").arg("qemu_fw_cfg"));
    }
    if !dir.exists() {
        return virtio_device(env);
    }
    let size: usize = std::fs::read_to_string(dir.join("size"))
        .context(|| "reading fw_cfg size")?
        .trim()
        .parse()
        .map_err(|e| Error::failed(format!("fw_cfg size is not a number: {e}")))?;
    let mut buf = Vec::with_capacity(size);
    let mut f = std::fs::File::open(dir.join("raw")).context(|| "opening fw_cfg raw")?;
    std::io::Read::read_to_end(&mut f, &mut buf).context(|| "reading fw_cfg raw")?;
    if buf.len() != size {
        return Err(Error::failed(format!(
            "fw_cfg config: read {} bytes, expected {size}",
            buf.len()
        )));
    }
    log::info!("qemu: read {size} bytes of config from fw_cfg");
    Ok(Some(buf))
}

/// The `virtio-ignition` disk: the config padded with NUL bytes.
fn virtio_device(env: &Env) -> Result<Option<Vec<u8>>> {
    let dev = env.host.path("/dev/disk/by-id/virtio-ignition");
    match std::fs::read(&dev) {
        Ok(mut b) => {
            let end = b.iter().rposition(|&c| c != 0).map_or(0, |i| i + 1);
            b.truncate(end);
            Ok(Some(b))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::failed(format!("reading {}: {e}", dev.display()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testserver::Bench;

    #[test]
    fn the_fw_cfg_module_is_loaded_through_the_runner() {
        // #12 item 2: modprobe goes through the seam, so a test never runs it on the host.
        let b = Bench::new();
        assert_eq!(fetch_config(&b.env(None)).unwrap(), None);
        assert_eq!(b.runner.argvs(), [["modprobe", "qemu_fw_cfg"]]);
    }
}
