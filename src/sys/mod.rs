//! Everything that talks to the kernel or the outside world directly: the target-root handle,
//! block-device ioctls, libblkid probing, mountinfo, and the command runner (and, on its own
//! branch, the VMware backdoor). The only place `unsafe` may appear, each block with a
//! `// SAFETY:` note.

pub mod blockdev;
pub mod cmd;
pub mod mount;
pub mod probe;
pub mod root;
