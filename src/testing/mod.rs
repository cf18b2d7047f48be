//! Test doubles shared by the unit tests and, through the `testing` feature, the integration
//! tests in tests/: never built into the shipped binary.

pub mod http;
