//! Everything that talks to the kernel, the hardware or other programs directly: the
//! target-root handle, the VMware backdoor, block-device ioctls, libblkid probing, mountinfo
//! and the command runner. The only place `unsafe` may appear, each block with a
//! `// SAFETY:` note; each submodule wraps one interface behind a safe API.

pub mod alloc;
pub mod blockdev;
pub mod cmd;
pub mod journal;
pub mod mount;
pub mod probe;
pub mod root;
pub mod vmware_backdoor;
