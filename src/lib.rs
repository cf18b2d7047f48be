//! ignis: a first-boot provisioning agent for NestOS, compatible with Ignition configs (spec 3.x)
//! and its command line. The library holds everything; `main.rs` only maps argv to it.

pub mod afterburn;
#[cfg(feature = "butane")]
pub mod butane_cmd;
pub mod cli;
pub mod cmdline;
pub mod distro;
#[cfg(feature = "plan")]
pub mod plan_cmd;
/// The config engine lives in its own crate (built for speed); it is `ignis::config` here.
pub use ignis_config as config;
pub mod engine;
pub mod error;
pub mod kargs;
pub mod log;
pub mod merged;
pub mod passwd;
pub mod providers;
pub mod resource;
pub mod rmcfg;
pub mod selinux;
pub mod signing;
pub mod stages;
pub mod state;
pub mod sys;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod validate_cmd;

/// Every allocation of the process, the tests' included (see `sys::alloc`).
#[global_allocator]
static ALLOC: sys::alloc::Alloc = sys::alloc::Alloc::new();
