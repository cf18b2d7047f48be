//! The stages, one module each, in the order the dracut units run them; each takes the
//! engine's context (`crate::engine`, which dispatches) and, after fetch, the cached config.
//! What several stages share lives in `util`; stages never import each other.

pub mod disks;
pub mod fetch;
pub mod files;
pub mod kargs;
pub mod mount;
pub mod util;
