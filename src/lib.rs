//! ignis: a first-boot provisioning agent for NestOS, compatible with Ignition configs (spec 3.x)
//! and its command line. The library holds everything; `main.rs` only maps argv to it.

pub mod cli;
pub mod cmdline;
pub mod config;
pub mod engine;
pub mod error;
pub mod log;
pub mod passwd;
pub mod providers;
pub mod resource;
pub mod stages;
pub mod state;
pub mod validate_cmd;
