//! Block-device ioctls: logical sector size, size in bytes, and telling the kernel about
//! partition changes (BLKPG add/delete/resize per partition, BLKRRPART re-read). Only the
//! syscalls live here; deciding what to tell the kernel is the disks stage's job.

use crate::error::{Error, Result};
use std::fs::File;
use std::os::fd::AsRawFd;

// From <linux/fs.h> and <linux/blkpg.h>; stable kernel ABI.
const BLKRRPART: libc::c_ulong = 0x125f; // _IO(0x12, 95)
const BLKSSZGET: libc::c_ulong = 0x1268; // _IO(0x12, 104)
const BLKPG: libc::c_ulong = 0x1269; // _IO(0x12, 105)
const BLKGETSIZE64: libc::c_ulong = 0x8008_1272; // _IOR(0x12, 114, size_t)

const BLKPG_ADD_PARTITION: libc::c_int = 1;
const BLKPG_DEL_PARTITION: libc::c_int = 2;
const BLKPG_RESIZE_PARTITION: libc::c_int = 3;

/// `struct blkpg_partition`: offsets and lengths in bytes.
#[repr(C)]
struct BlkpgPartition {
    start: libc::c_longlong,
    length: libc::c_longlong,
    pno: libc::c_int,
    devname: [libc::c_char; 64],
    volname: [libc::c_char; 64],
}

/// `struct blkpg_ioctl_arg`.
#[repr(C)]
struct BlkpgIoctlArg {
    op: libc::c_int,
    flags: libc::c_int,
    datalen: libc::c_int,
    data: *mut libc::c_void,
}

fn last_err(what: &str) -> Error {
    Error::failed(format!("{what}: {}", std::io::Error::last_os_error()))
}

/// The device's logical sector size (what partition tables count in).
pub fn sector_size(f: &File) -> Result<u32> {
    let mut v: libc::c_int = 0;
    // SAFETY: BLKSSZGET writes one int through the pointer, which points to a live local.
    let rc = unsafe { libc::ioctl(f.as_raw_fd(), BLKSSZGET as _, &mut v as *mut libc::c_int) };
    if rc != 0 {
        return Err(last_err("BLKSSZGET"));
    }
    u32::try_from(v).map_err(|_| Error::failed(format!("BLKSSZGET returned {v}")))
}

/// The device's size in bytes.
pub fn size_bytes(f: &File) -> Result<u64> {
    let mut v: u64 = 0;
    // SAFETY: BLKGETSIZE64 writes one u64 through the pointer, which points to a live local.
    let rc = unsafe { libc::ioctl(f.as_raw_fd(), BLKGETSIZE64 as _, &mut v as *mut u64) };
    if rc != 0 {
        return Err(last_err("BLKGETSIZE64"));
    }
    Ok(v)
}

/// Asks the kernel to re-read the whole partition table (fails with EBUSY when a partition
/// is in use).
pub fn reread_partitions(f: &File) -> Result<()> {
    // SAFETY: BLKRRPART takes no argument.
    let rc = unsafe { libc::ioctl(f.as_raw_fd(), BLKRRPART as _, 0) };
    if rc != 0 {
        return Err(last_err("BLKRRPART"));
    }
    Ok(())
}

/// What to tell the kernel about one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartOp {
    Add,
    Delete,
    Resize,
}

/// Adds, deletes or resizes partition `number` (bytes) in the kernel's view of the disk.
pub fn blkpg(f: &File, op: PartOp, number: u32, start: u64, length: u64) -> Result<()> {
    let mut part = BlkpgPartition {
        start: i64::try_from(start).map_err(|_| Error::failed("partition start out of range"))?,
        length: i64::try_from(length)
            .map_err(|_| Error::failed("partition length out of range"))?,
        pno: libc::c_int::try_from(number)
            .map_err(|_| Error::failed("partition number out of range"))?,
        devname: [0; 64],
        volname: [0; 64],
    };
    let mut arg = BlkpgIoctlArg {
        op: match op {
            PartOp::Add => BLKPG_ADD_PARTITION,
            PartOp::Delete => BLKPG_DEL_PARTITION,
            PartOp::Resize => BLKPG_RESIZE_PARTITION,
        },
        flags: 0,
        datalen: std::mem::size_of::<BlkpgPartition>() as libc::c_int,
        data: (&mut part as *mut BlkpgPartition).cast(),
    };
    // SAFETY: BLKPG reads `arg` and the `datalen` bytes at `arg.data`, both live locals of
    // the declared C layout; the kernel keeps no pointer after the call.
    let rc = unsafe { libc::ioctl(f.as_raw_fd(), BLKPG as _, &mut arg as *mut BlkpgIoctlArg) };
    if rc != 0 {
        return Err(last_err(&format!("BLKPG {op:?} partition {number}")));
    }
    Ok(())
}
