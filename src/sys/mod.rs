//! Side effects on the machine itself: the only place where `unsafe` is allowed. Each submodule
//! wraps one hardware or kernel interface behind a safe API; logic that can be pure lives elsewhere.

pub mod vmware_backdoor;
