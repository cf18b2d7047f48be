//! Everything that talks to the kernel directly: the target-root handle (and, on its own
//! branch, the VMware backdoor). The only place `unsafe` may appear, each block with a
//! `// SAFETY:` note.

pub mod root;
