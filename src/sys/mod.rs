//! Everything that talks to the kernel or the hardware directly: the target-root handle and
//! the VMware backdoor. The only place `unsafe` may appear, each block with a `// SAFETY:`
//! note; each submodule wraps one interface behind a safe API.

pub mod root;
pub mod vmware_backdoor;
